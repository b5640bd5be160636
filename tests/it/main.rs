//! The tap's integration tests, one binary (`cargo test --test it`): each module below holds the
//! tests of one subject, and `common` the helpers they share.
//!
//! Where a new test goes: in the module of its subject (a new file here, and a `mod` line below,
//! only for a subject none covers). Start the simulator with `common::sim` and run the tap with
//! `common::Tap` (`Scratch::tap`, or `Tap::bare` for a run without a config). A test whose full
//! strength takes minutes runs a smaller case by default and the full one when
//! `TAP_POSTMARK_FULL_TESTS=1` (`common::cases`; the README lists them). Data the tests read stays
//! outside this folder: `tests/fixtures/` (recorded Postmark answers) and `tests/snapshots/`
//! (insta's pinned outputs, named `it__<module>__<name>.snap`).

mod common;

mod activate_version;
mod archive;
mod bad_input;
mod catalog;
mod catalog_schemas;
mod cli;
mod coverage;
mod crash;
mod faults;
mod fixtures;
mod hostile;
mod import_loops;
mod logs;
mod metrics;
mod plugin_definition;
mod prop_drift;
mod prop_parsers;
mod prop_time;
mod prop_transcode;
mod retention;
mod schedule;
mod servers;
mod signals;
mod stats_tags;
mod sync;
