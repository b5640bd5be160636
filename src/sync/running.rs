//! The tasks of a run while they run, kept by kind: a plan started becomes a task of its kind,
//! an answer goes to the task of its own kind that asked for it (or nowhere, when that task's
//! server failed), and a task done gives what it came to, for the books.

use super::context::{Ctx, Totals};
use super::engine::Engine;
use super::full_table::TableTask;
use super::job::{Done, Work};
use super::reads::{self, ReadsTask};
use super::search::SearchTask;
use super::stats::StatsTask;
use super::task::Plan;
use crate::error::Error;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

/// A task running: the engine, the server it reads (its number in the books) and the streams
/// it writes.
pub struct Slot<E> {
    pub task: E,
    pub server: Option<usize>,
    pub streams: Vec<&'static str>,
}

/// What a finished task came to: its server, and its totals per stream (its requests counted
/// on its first stream).
pub struct Finished {
    pub server: Option<usize>,
    pub streams: Vec<(&'static str, Totals)>,
}

/// What handling an answer or starting a task gave: the work asked for next, and what the
/// task came to if it is done.
#[derive(Default)]
pub struct Step<'a> {
    pub work: Vec<Work<'a>>,
    pub finished: Option<Finished>,
}

type Slots<E> = HashMap<usize, Slot<E>>;

/// The tasks running, by the number they were started under.
#[derive(Default)]
pub struct Running<'a> {
    search: Slots<SearchTask<'a>>,
    reads: Slots<ReadsTask<'a>>,
    stats: Slots<StatsTask<'a>>,
    table: Slots<TableTask<'a>>,
    /// Servers whose message streams are being listed (account mode), by task number.
    listing: HashMap<usize, usize>,
}

impl<'a> Running<'a> {
    /// Starts `plan` as task `index` of `server`: reads its bookmark, plans its first requests.
    pub fn start<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        index: usize,
        plan: Plan<'a>,
        server: Option<usize>,
    ) -> Result<Step<'a>, Error> {
        let streams = plan.streams();
        Ok(match plan {
            Plan::Setup(s) => {
                self.listing.insert(index, server.unwrap_or_default());
                Step {
                    work: vec![Work::Listing(s)],
                    finished: None,
                }
            }
            Plan::Search(part) => {
                let (task, asked) = SearchTask::start(ctx, Arc::clone(&part))?;
                let slot = Slot {
                    task,
                    server,
                    streams,
                };
                admit(&mut self.search, index, slot, asked, Work::Search)
            }
            Plan::Reads(spec) => {
                let (task, asked) = reads::start(ctx, Arc::clone(&spec))?;
                let slot = Slot {
                    task,
                    server,
                    streams,
                };
                admit(&mut self.reads, index, slot, asked, Work::Reads)
            }
            Plan::Stats(spec) => {
                let (task, asked) = StatsTask::start(ctx, Arc::clone(&spec))?;
                let slot = Slot {
                    task,
                    server,
                    streams,
                };
                admit(&mut self.stats, index, slot, asked, Work::Stats)
            }
            Plan::Table(spec) => {
                let (task, asked) = TableTask::start(ctx, Arc::clone(&spec))?;
                let slot = Slot {
                    task,
                    server,
                    streams,
                };
                admit(&mut self.table, index, slot, asked, Work::Table)
            }
        })
    }

    /// Hands an answer to task `index` of its kind. A listing's answer is given back, with the
    /// server it lists, for the conductor to set the server up.
    pub fn deliver<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        index: usize,
        done: Done<'a>,
    ) -> Result<Delivered<'a>, Error> {
        let step = match done {
            Done::Skipped => Step::default(),
            Done::Listing(listed) => {
                return Ok(match self.listing.remove(&index) {
                    Some(server) => Delivered::Listed(server, listed),
                    None => Delivered::Step(Step::default()),
                })
            }
            Done::Search(d) => deliver(&mut self.search, ctx, index, d, Work::Search)?,
            Done::Reads(d) => deliver(&mut self.reads, ctx, index, d, Work::Reads)?,
            Done::Stats(d) => deliver(&mut self.stats, ctx, index, d, Work::Stats)?,
            Done::Table(d) => deliver(&mut self.table, ctx, index, d, Work::Table)?,
        };
        Ok(Delivered::Step(step))
    }

    /// The server (its number in the books) task `index` reads, if it is running.
    pub fn server_of(&self, index: usize) -> Option<usize> {
        let of = |s: Option<Option<usize>>| s.flatten();
        of(self.search.get(&index).map(|s| s.server))
            .or(of(self.reads.get(&index).map(|s| s.server)))
            .or(of(self.stats.get(&index).map(|s| s.server)))
            .or(of(self.table.get(&index).map(|s| s.server)))
            .or(self.listing.get(&index).copied())
    }

    /// Forgets every task of a server that failed.
    pub fn drop_server(&mut self, server: usize) {
        let other = |s: &Option<usize>| *s != Some(server);
        self.search.retain(|_, slot| other(&slot.server));
        self.reads.retain(|_, slot| other(&slot.server));
        self.stats.retain(|_, slot| other(&slot.server));
        self.table.retain(|_, slot| other(&slot.server));
        self.listing.retain(|_, s| *s != server);
    }

    /// The tasks still running: their streams and server numbers.
    pub fn open(&self) -> Vec<(String, Option<usize>)> {
        let mut open = Vec::new();
        fn add<E>(slots: &Slots<E>, open: &mut Vec<(String, Option<usize>)>) {
            open.extend(slots.values().map(|s| (s.streams.join("+"), s.server)));
        }
        add(&self.search, &mut open);
        add(&self.reads, &mut open);
        add(&self.stats, &mut open);
        add(&self.table, &mut open);
        open.extend(
            self.listing
                .values()
                .map(|s| ("setup".to_string(), Some(*s))),
        );
        open.sort();
        open
    }
}

/// What an answer came to: a step of a task, or a server's message streams listed.
pub enum Delivered<'a> {
    Step(Step<'a>),
    Listed(usize, super::servers::Listed),
}

/// Keeps a started task (unless it is done at once: its records were at hand).
fn admit<'a, E: Engine<'a>>(
    slots: &mut Slots<E>,
    index: usize,
    slot: Slot<E>,
    asked: Vec<E::Ask>,
    wrap: fn(E::Ask) -> Work<'a>,
) -> Step<'a> {
    let work = asked.into_iter().map(wrap).collect();
    if slot.task.done() {
        return Step {
            work,
            finished: Some(finished(slot)),
        };
    }
    slots.insert(index, slot);
    Step {
        work,
        finished: None,
    }
}

/// Hands an answer to its task; nothing when the task is gone (its server failed).
fn deliver<'a, E: Engine<'a>, W: Write>(
    slots: &mut Slots<E>,
    ctx: &mut Ctx<'_, W>,
    index: usize,
    done: E::Done,
    wrap: fn(E::Ask) -> Work<'a>,
) -> Result<Step<'a>, Error> {
    let Some(slot) = slots.get_mut(&index) else {
        return Ok(Step::default());
    };
    let mut asked = Vec::new();
    slot.task.handle(ctx, done, &mut asked)?;
    let work = asked.into_iter().map(wrap).collect();
    let finished = match slot.task.done() {
        true => slots.remove(&index).map(finished),
        false => None,
    };
    Ok(Step { work, finished })
}

/// What a done task came to, per stream.
fn finished<'a, E: Engine<'a>>(slot: Slot<E>) -> Finished {
    let tally = slot.task.counters().snapshot();
    let outcome = slot.task.outcome();
    let streams = slot
        .streams
        .iter()
        .zip(outcome.written)
        .enumerate()
        .map(|(i, (&stream, records))| {
            let first = i == 0;
            let t = Totals {
                records,
                requests: if first { tally.requests } else { 0 },
                retries: if first { tally.retries } else { 0 },
                seconds: 0.0,
                reads: if first {
                    outcome.reads
                } else {
                    Default::default()
                },
            };
            (stream, t)
        })
        .collect();
    Finished {
        server: slot.server,
        streams,
    }
}
