//! The account and its traffic, derived from the seed: the account's structure, the message
//! send times and the one derivation of every message's facts, the delays after which records
//! arrive and change, what shows at the clock's now, the per-day statistics counters, and the
//! identifiers, vocabularies and Eastern time they are all built from.

pub mod account;
pub mod day_counters;
pub mod eastern;
pub mod facts;
pub mod ids;
pub mod late;
pub mod model;
pub mod names;
pub mod stream_type;
pub mod traffic;
pub mod visible;
