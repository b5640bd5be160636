//! tap-postmark: a Singer tap for the Postmark API, and the Postmark simulator that proves it.
//!
//! Layout, in the order a record travels: `cli` parses arguments and maps errors to exit codes;
//! `config` validates settings; `streams` is the table of stream facts; `sync` conducts the run
//! (tasks per stream, server and message stream, one ordered pipeline of requests); `client` is
//! the one HTTP client; `record` turns an answer into RECORD lines (fast path from the JSON text,
//! `Value` path otherwise); `singer` holds the protocol messages, catalog, state and metrics;
//! `timefmt` converts between Postmark's Eastern time and UTC. The Postmark simulator used by
//! the tests, the benchmarks and `--demo` is its own crate, `postmark-sim`.

pub mod about;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod error;
pub mod log;
pub mod metrics;
pub mod record;
pub mod signals;
pub mod singer;
pub mod streams;
pub mod sync;
pub mod timefmt;
