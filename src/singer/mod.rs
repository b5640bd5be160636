//! The Singer protocol: strict output messages, lenient input catalog and state, metrics.

pub mod catalog;
pub mod metrics;
pub mod output;
pub mod state;
