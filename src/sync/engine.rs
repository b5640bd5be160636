//! What every kind of task is to the conductor: an engine with its own request type (what it
//! asks for, carried to a worker) and its own answer type (the request with what the worker
//! fetched, so a request can only ever meet its own kind of answer), handled on the main thread
//! in the order asked.

use super::context::{Ctx, ReadCounts};
use super::servers::Server;
use crate::client::{Client, Counters};
use crate::error::Error;
use std::io::Write;

/// One task of one kind: a search stream on a partition, the per-record reads of a partition, a
/// statistics stream on a message stream, or a full-table stream.
pub trait Engine<'a>: Sized {
    /// What the task asks for.
    type Ask: Clone + Send + Sync + 'a;
    /// A request with its answer, as a worker fetched it.
    type Done: Send + 'a;

    /// Fetches what `ask` asks for (on a worker thread).
    fn fetch(client: &Client, ask: &Self::Ask) -> Result<Self::Done, Error>;

    /// The server a request reads, if any (its requests are skipped once it failed).
    fn server(ask: &Self::Ask) -> Option<&Server>;

    /// Handles an answer, in the order the requests were made; asks for more in `asked`.
    fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        done: Self::Done,
        asked: &mut Vec<Self::Ask>,
    ) -> Result<(), Error>;

    /// Every request asked for is handled and nothing is left to ask.
    fn done(&self) -> bool;

    /// What the task came to so far.
    fn outcome(&self) -> Outcome;

    /// Its requests and retries.
    fn counters(&self) -> &Counters;
}

/// What a task came to: the records written to each of its streams (in the order of its plan's
/// streams) and, for per-record reads, what they read.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub written: Vec<u64>,
    pub reads: ReadCounts,
}

impl Outcome {
    /// A task of one stream that wrote `written` records.
    pub fn single(written: u64) -> Outcome {
        Outcome {
            written: vec![written],
            ..Outcome::default()
        }
    }
}
