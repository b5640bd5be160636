//! Postmark's endpoints, one module per family (searches, per-ID details, bounces, message
//! streams and their suppressions, statistics, configuration resources, writes), with what
//! every handler shares: the request's view of the model and the query's validation.

pub mod bounces;
pub mod details;
pub mod env;
pub mod lift;
pub mod message_search;
pub mod message_streams;
pub mod pending_stats;
pub mod query;
pub mod resources;
pub mod statistics;
pub mod writes;
