//! Shared helpers for the tap's integration tests: run the built binary against the simulator,
//! parse and check its Singer output, compare it with the simulator's ground truth.
//!
//! - `run`: running the tap, one way ([`Tap`]), and what a run produced ([`Run`]).
//! - `setup`: the simulated account ([`sim`], [`account`]), configs for it, the discovered
//!   catalog with streams selected.
//! - `singer`: Singer output as a target reads it.
//! - `truth`: records against the simulator's ground truth.
//! - `table`: the tap's stream table, by kind.
//! - `time`: the tap's timestamps.
//! - `props`: the property tests' runner settings.
//! - `repo`: files of the repository the tap is held to.
//! - `hostile`: a hostile or broken Postmark on loopback.
//! - `replay`: recorded and documented Postmark answers served on loopback.
//! - `schedule`: a schedule of runs as a target that upserts sees it.
//! - `tier`: how much of the slow tests runs ([`full`], [`cases`]).

pub mod hostile;
pub mod props;
pub mod replay;
pub mod repo;
pub mod run;
pub mod schedule;
pub mod setup;
pub mod singer;
pub mod table;
pub mod tier;
pub mod time;
pub mod truth;

// What most tests use, at `common::`.
pub use {run::*, setup::*, singer::*, tier::*, truth::*};
