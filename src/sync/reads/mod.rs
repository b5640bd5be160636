//! Per-record reads: for one server and partition, the one request per record (a message's
//! details, an inbound message's details, a bounce's dump) that serves every selected stream
//! built from that answer, asked for by every source that says the record is new or may have
//! changed, and made at most once per record and run.
//!
//! The sources ([`Role`]): the search of the records new since the served streams' bookmarks
//! (less a lookback, when one is set); for `message_events`, the activity searches (opens,
//! clicks, bounces, and the suppression dump then the outbound search by recipient), each read
//! from where it was read up to last time; the records whose last read was not settled
//! (`pending`), with the search of the messages still queued; and the range of those past the
//! pending bound. A source's window completes (and its bookmark or cursor moves, with a STATE)
//! only once every read its records asked for is handled, so a run stopped anywhere resumes
//! without losing one.

mod complete;
mod late;
mod pending;
pub mod read;
mod sources;
pub mod spec;
pub mod suppressions;
mod task;

pub use sources::start;
pub use spec::{ReadsSpec, Why};
pub use task::{ReadsAsk, ReadsDone, ReadsTask};
