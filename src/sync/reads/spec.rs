//! What the requests of one server and partition's per-record reads share, and why a record
//! is read.

use super::super::servers::Server;
use crate::client::Counters;
use crate::record::Selected;
use crate::streams::Expand;
use std::sync::Arc;

/// What a task's requests share: the server and partition, the request made per record, and
/// the streams its answer serves.
pub struct ReadsSpec<'a> {
    pub server: Arc<Server>,
    /// The message stream (or inbound stream) read.
    pub id: String,
    /// The request made per record (the first served stream's).
    pub expand: Expand,
    /// The selected streams built from the answer, in the stream table's order.
    pub serves: Vec<&'a Selected>,
    /// The activity searches' streams, when a served stream follows activity.
    pub activity: Vec<&'a Selected>,
    pub tally: Arc<Counters>,
}

impl ReadsSpec<'_> {
    pub fn name(&self) -> &'static str {
        self.serves[0].def.name
    }

    pub fn label(&self) -> String {
        format!("server {} stream {}", self.server.id, self.id)
    }

    pub fn follows_activity(&self) -> bool {
        self.serves
            .iter()
            .any(|s| s.def.expands_to().is_some_and(Expand::follows_activity))
    }
}

/// Why a record is read (the first source that asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// New since the bookmark (or within a lookback set for the stream).
    New,
    /// An activity search shows it changed.
    Activity,
    /// Its last read was not settled.
    Pending,
    /// It lies in the range of unsettled records past the pending bound.
    Overflow,
    /// New, found in the hour before the search's start: it reached the search after the
    /// previous run read that hour.
    Late,
}
