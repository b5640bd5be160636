//! The Singer protocol: strict output messages, lenient input catalog and state.

pub mod catalog;
pub mod output;
pub mod state;
