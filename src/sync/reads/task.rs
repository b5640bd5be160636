//! A task of per-record reads and its core: its requests and answers, its sources, and how an
//! answer is handled: a search page's records ask for reads (each record read once per run),
//! a read's lines are written and its record's settledness kept.

use super::late::{HourCheck, Trail};
use super::pending;
use super::read::{self, Emit, ReadRequest};
use super::spec::{ReadsSpec, Why};
use super::suppressions::{DumpRequest, Suppressed};
use crate::client::{Client, Counters};
use crate::error::Error;
use crate::log;
use crate::singer::state::Kept;
use crate::streams::{Expand, ACTIVITY};
use crate::sync::context::Ctx;
use crate::sync::context::ReadCounts;
use crate::sync::digest::KeyMap;
use crate::sync::engine::{Engine, Outcome};
use crate::sync::search::fetch::{self, MessageRef, PageRequest};
use crate::sync::search::Reader;
use crate::sync::servers::Server;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

/// A request of a task.
#[derive(Clone)]
pub enum ReadsAsk<'a> {
    Page {
        source: usize,
        page: PageRequest<'a>,
    },
    Read(ReadRequest<'a>),
    Dump(DumpRequest<'a>),
}

/// A request of a task with its answer, as a worker fetched it.
pub enum ReadsDone<'a> {
    Page {
        source: usize,
        page: PageRequest<'a>,
        answer: fetch::PageAnswer,
    },
    Read(ReadRequest<'a>, read::ReadAnswer),
    Dump(DumpRequest<'a>, Vec<Suppressed>),
}

impl<'a> ReadsAsk<'a> {
    /// Fetches the request's answer (on a worker thread).
    pub fn fetch(&self, client: &Client) -> Result<ReadsDone<'a>, Error> {
        Ok(match self {
            ReadsAsk::Page { source, page } => ReadsDone::Page {
                source: *source,
                page: page.clone(),
                answer: fetch::fetch(client, page)?,
            },
            ReadsAsk::Read(r) => ReadsDone::Read(r.clone(), read::fetch(client, r)?),
            ReadsAsk::Dump(d) => ReadsDone::Dump(d.clone(), super::suppressions::fetch(client, d)?),
        })
    }

    /// The server it reads.
    pub fn server(&self) -> &Server {
        match self {
            ReadsAsk::Page { page, .. } => &page.part.server,
            ReadsAsk::Read(r) => &r.spec.server,
            ReadsAsk::Dump(d) => &d.spec.server,
        }
    }
}

/// What a source of reads is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    New,
    /// An [`ACTIVITY`] search, by its position there.
    Activity(usize),
    /// The outbound search by a suppressed address.
    Recipient,
    /// The outbound search of the messages still queued.
    Queued,
    Overflow,
    /// The hour before where another source (by its index) starts, read again for the records
    /// that reached it late (`late`).
    Late(usize),
}

impl Role {
    /// The name the hour before where this search starts is kept under (`Kept::late`).
    pub(super) fn late_name(self) -> Option<&'static str> {
        match self {
            Role::New => Some("new"),
            Role::Activity(i) => Some(ACTIVITY[i].name),
            _ => None,
        }
    }
}

pub(super) struct Source<'a> {
    pub(super) role: Role,
    pub(super) reader: Reader<'a>,
    /// What a search checked for late records found, by instant.
    pub(super) trail: Option<Trail>,
    /// The check of a search's hour, for a [`Role::Late`] source.
    pub(super) check: Option<HourCheck>,
}

/// The suppression dump as a source: whether its answer is in.
pub(super) struct Dump {
    pub(super) answered: bool,
}

/// One server and partition's per-record reads: the write side, on the main thread.
pub struct ReadsTask<'a> {
    pub(super) spec: Arc<ReadsSpec<'a>>,
    pub(super) sources: Vec<Source<'a>>,
    pub(super) kept: Kept,
    pub(super) kept_changed: bool,
    /// The number of the last read asked for, and of the last handled (reads are handled in
    /// the order they are asked for).
    pub(super) asked: u64,
    pub(super) handled: u64,
    /// Records asked for this run, by their ID's digest, when more than one source can ask.
    pub(super) seen: Option<KeyMap<u64>>,
    /// Each served stream's bookmark, and where reading it starts.
    pub(super) bookmarks: Vec<Option<DateTime<Utc>>>,
    pub(super) starts: Vec<DateTime<Utc>>,
    /// Pending records read only once the search of queued messages is in, and the messages
    /// it lists (still queued).
    pub(super) after_queued: Vec<MessageRef>,
    pub(super) still_queued: HashSet<String>,
    pub(super) dump: Option<Dump>,
    /// The overflow range is being read again; whether one of its records is still unsettled.
    pub(super) overflow: Option<bool>,
    pub(super) end: DateTime<Utc>,
    pub(super) now: DateTime<Utc>,
    pub(super) counts: ReadCounts,
    /// Records written per served stream.
    pub(super) written: Vec<u64>,
    pub(super) finished: bool,
}

impl<'a> Engine<'a> for ReadsTask<'a> {
    type Ask = ReadsAsk<'a>;
    type Done = ReadsDone<'a>;

    fn fetch(client: &Client, ask: &ReadsAsk<'a>) -> Result<ReadsDone<'a>, Error> {
        ask.fetch(client)
    }

    fn server<'r>(ask: &'r ReadsAsk<'a>) -> Option<&'r Server> {
        Some(ask.server())
    }

    fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        done: ReadsDone<'a>,
        asked: &mut Vec<ReadsAsk<'a>>,
    ) -> Result<(), Error> {
        self.handle_done(ctx, done, asked)
    }

    fn done(&self) -> bool {
        self.finished
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            written: self.written.clone(),
            reads: self.counts,
        }
    }

    fn counters(&self) -> &Counters {
        &self.spec.tally
    }
}

impl<'a> ReadsTask<'a> {
    pub(super) fn group(&self) -> &'static str {
        self.spec.expand.group()
    }

    /// Handles an answer, in the order the requests were made.
    fn handle_done<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        done: ReadsDone<'a>,
        requests: &mut Vec<ReadsAsk<'a>>,
    ) -> Result<(), Error> {
        match done {
            ReadsDone::Page {
                source,
                page,
                answer,
            } => self.handle_page(ctx, source, page, answer, requests)?,
            ReadsDone::Read(req, answer) => self.handle_read(ctx, &req, answer)?,
            ReadsDone::Dump(req, list) => self.handle_dump(ctx, &req, list, requests)?,
        }
        self.complete(ctx)
    }

    fn handle_page<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        index: usize,
        page: PageRequest<'a>,
        fetched: fetch::PageAnswer,
        requests: &mut Vec<ReadsAsk<'a>>,
    ) -> Result<(), Error> {
        let mut pages = Vec::new();
        let mut found = Vec::new();
        let source = &mut self.sources[index];
        source
            .reader
            .handle(ctx, page, fetched, &mut pages, &mut found)?;
        let role = source.role;
        requests.extend(pages.into_iter().map(|page| ReadsAsk::Page {
            source: index,
            page,
        }));
        match role {
            Role::Queued => return self.queued_found(found, index, requests),
            Role::Late(_) => return self.late_found(index, found, requests),
            _ => {}
        }
        for (window, key, mut message) in found {
            if let Some(trail) = self.sources[index].trail.as_mut() {
                trail.add(message.at, key);
            }
            let why = match role {
                Role::New => Why::New,
                Role::Overflow => Why::Overflow,
                Role::Recipient => Why::Activity,
                _ => {
                    // An activity record's time is not its message's.
                    (message.time, message.at) = (None, None);
                    Why::Activity
                }
            };
            let seq = self.ask(message, why, requests);
            self.sources[index].reader.wait(window, seq)?;
        }
        Ok(())
    }

    /// Asks for a record's read, unless it was asked for already this run; gives the number
    /// of the read that answers for it.
    pub(super) fn ask(
        &mut self,
        message: MessageRef,
        why: Why,
        requests: &mut Vec<ReadsAsk<'a>>,
    ) -> u64 {
        if let Some(seen) = &mut self.seen {
            let key = message_key(&message.id);
            if let Some(&seq) = seen.get(&key) {
                return seq;
            }
            seen.insert(key, self.asked + 1);
        }
        self.asked += 1;
        match why {
            Why::New => self.counts.new += 1,
            Why::Late => self.counts.late += 1,
            Why::Activity => self.counts.activity += 1,
            Why::Pending | Why::Overflow => self.counts.pending += 1,
        }
        let emit = self.emit(&message, why);
        requests.push(ReadsAsk::Read(ReadRequest {
            spec: Arc::clone(&self.spec),
            message,
            seq: self.asked,
            why,
            emit,
        }));
        self.asked
    }

    /// What each served stream does with a record read for `why`: `message_events` writes
    /// every read; a content stream writes a record new to it, and one whose last read found
    /// it queued (its `Status` may have changed).
    fn emit(&self, message: &MessageRef, why: Why) -> Vec<Emit> {
        let was_queued = self.kept.pending.iter().any(|p| p.4 && p.0 == message.id);
        self.spec
            .serves
            .iter()
            .zip(&self.starts)
            .map(|(sel, &start)| {
                if sel.def.expands_to().is_some_and(Expand::follows_activity) {
                    return Emit::Always;
                }
                match why {
                    _ if was_queued => Emit::Always,
                    Why::Overflow | Why::Late => Emit::Always,
                    Why::New => match message.at {
                        Some(at) if at < start => Emit::Never,
                        _ => Emit::Always,
                    },
                    Why::Activity | Why::Pending => Emit::From(start),
                }
            })
            .collect()
    }

    fn handle_read<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        req: &ReadRequest<'a>,
        fetched: read::ReadAnswer,
    ) -> Result<(), Error> {
        if req.seq <= self.handled {
            return Err(Error::Internal("a read handled out of order".into()));
        }
        self.handled = req.seq;
        let id = &req.message.id;
        let (found, unsettled) = match fetched {
            read::ReadAnswer::Lines {
                lines,
                settled,
                found,
            } => {
                for (i, (buf, records)) in lines.into_iter().enumerate() {
                    ctx.write(self.spec.serves[i].def.name, &buf)?;
                    self.written[i] += records;
                }
                (found, self.unsettled(settled))
            }
            read::ReadAnswer::Expired => {
                self.counts.expired += 1;
                log::debug_for(
                    self.spec.name(),
                    &format!("{}: {id} expired before it was read", self.spec.name()),
                );
                (None, None)
            }
        };
        let found = found.or(req.message.at).unwrap_or(self.now);
        if req.why == Why::Overflow && unsettled.is_some() {
            self.overflow = Some(true);
        }
        let known = self.kept.pending.iter().any(|p| p.0 == *id);
        if unsettled.is_some() || known {
            pending::update(&mut self.kept, id, found, unsettled, self.now);
            self.kept_changed = true;
        }
        Ok(())
    }

    /// `Some(queued)` when the record may still change for a served stream: a queued message
    /// changes for every stream, one awaiting its outcome for `message_events` only.
    pub(super) fn unsettled(&self, settled: read::Settled) -> Option<bool> {
        if settled.queued {
            return Some(true);
        }
        (settled.awaiting && self.spec.follows_activity()).then_some(false)
    }
}

/// The digest of a record's ID, for the set of records asked for.
fn message_key(id: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0x5Au8.hash(&mut b);
    id.hash(&mut a);
    id.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}
