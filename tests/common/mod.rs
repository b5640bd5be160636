//! Shared helpers for the tap's integration tests: run the built binary against the simulator,
//! parse and check its Singer output, compare it with the simulator's ground truth.
//!
//! - `run`: running the tap ([`Tap`], [`run_tap`], ...) and what a run produced ([`Run`]).
//! - `setup`: configs for the simulator, the discovered catalog with streams selected.
//! - `singer`: Singer output as a target reads it.
//! - `truth`: records against the simulator's ground truth.
//! - `table`: the tap's stream table, by kind.
//! - `time`: the tap's timestamps.
//! - `props`: the property tests' runner settings.
//! - `repo`: files of the repository the tap is held to.
//! - `hostile`: a hostile or broken Postmark on loopback.
//! - `replay`: recorded and documented Postmark answers served on loopback.
//! - `schedule`: a schedule of runs as a target that upserts sees it.
#![allow(dead_code)]

pub mod hostile;
pub mod props;
pub mod replay;
pub mod repo;
pub mod run;
pub mod schedule;
pub mod setup;
pub mod singer;
pub mod table;
pub mod time;
pub mod truth;

// What most tests use, at `common::`; a test binary may use none of one module's.
#[allow(unused_imports)]
pub use {run::*, setup::*, singer::*, truth::*};
