//! tap-postmark: a Singer tap for the Postmark API, and the Postmark simulator that proves it.
//!
//! Layout: `cli` parses arguments and maps errors to exit codes; `config` validates settings;
//! `streams` is the table of stream facts that the engines in `sync` read; `client` is the one
//! HTTP client; `record` shapes records to their schema
//! (`transcode` does it straight from their JSON text); `singer` holds the protocol messages,
//! catalog and state; `timefmt` converts between Postmark's Eastern time and UTC; `sim` is the
//! Postmark simulator used by the tests, the benchmarks and `--demo`.

pub mod about;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod error;
pub mod log;
pub mod record;
pub mod signals;
pub mod sim;
pub mod singer;
pub mod streams;
pub mod sync;
pub mod timefmt;
