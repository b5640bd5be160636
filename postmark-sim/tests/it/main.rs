//! The simulator's integration tests, built as one test binary (`cargo test -p postmark-sim`
//! runs it; `cargo test -p postmark-sim --test it rules::` runs one module's tests).
//!
//! Where a new test goes: into the module of the part of the simulator it tests (a rule of
//! Postmark's API in `rules`, a fault in `faults`, the ground truth in `truth`, …), or into a
//! new module declared below when it opens a new subject. HTTP helpers shared by several
//! modules go into `common`. Each module is a `tests/it/NAME.rs` file, or a `tests/it/NAME/`
//! folder when it has parts of its own (`import_loops`); no test file goes directly under
//! `tests/` (each of those would be a test binary of its own, built and linked apart).

mod common;

mod ahead;
mod binary;
mod content;
mod controls;
mod faults;
mod import_loops;
mod late;
mod late_arrivals;
mod rules;
mod stats;
mod suppressions;
mod truth;
mod writes;
