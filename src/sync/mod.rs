//! The sync: resolves the servers to read, plans a task for every selected stream (per server
//! and message stream where it is read so), and runs every task's requests through one ordered
//! pipeline, writing SCHEMA, RECORD and STATE messages as the answers are handled.
//!
//! Tasks are started in a fixed order (account-level streams, then each server's streams in the
//! stream table's order) whenever fewer than [`ADMIT_BELOW`] requests are queued or in flight,
//! and only ever while an answer is handled. Which requests exist, and the order their answers
//! are handled and written in, therefore depend on the answers alone, never on timing or on
//! `max_concurrent_requests`; that setting only bounds how many are in flight. A server whose
//! request fails is dropped (its other requests skipped, its bookmarks left where its last
//! complete window put them) and the others go on; the run then ends with exit code 4.

pub mod context;
pub mod digest;
pub mod expand;
pub mod full_table;
pub mod job;
pub mod pager;
pub mod pipeline;
pub mod search;
pub mod servers;
pub mod stats;
pub mod windows;

use crate::client::{Client, Counters, Token};
use crate::config::Config;
use crate::error::Error;
use crate::log;
use crate::singer::catalog::Selected;
use crate::singer::metrics;
use crate::singer::output::Output;
use crate::singer::state::State;
use crate::streams::{Kind, Partitions, TokenKind};
use crate::timefmt::{floor_second, format_utc};
use chrono::{Duration, Utc};
use context::{Ctx, Report, Totals};
use job::{Answer, Job, Request};
use search::fetch::Partition;
use servers::Server;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// Search windows end this long before now, so records still being written are left for the
/// next run (a window must be closed before it is paged; Postmark lists newest first).
pub const SAFETY_MARGIN: Duration = Duration::minutes(5);

/// Tasks are started while fewer requests than this are queued or in flight: enough to keep
/// the widest pipeline busy, few enough that only a handful of tasks hold their state at once.
/// It is a constant, not derived from `max_concurrent_requests`, so that the output does not
/// depend on that setting.
const ADMIT_BELOW: usize = 64;

/// Runs a whole sync.
pub fn run<W: Write>(
    config: &Config,
    client: &Client,
    selection: &[Selected],
    state: &mut State,
    out: &mut Output<W>,
) -> Result<(), Error> {
    let started = Instant::now();
    let now = Utc::now();
    let mut search_end = floor_second(now - SAFETY_MARGIN);
    if let Some(end) = config.end {
        search_end = search_end.min(floor_second(end));
    }
    let servers = servers::resolve(config, client)?;
    log::info(&format!(
        "syncing {} stream(s) for {} server(s), searches up to {}",
        selection.len(),
        servers.len(),
        format_utc(search_end)
    ));
    let mut ctx = Ctx {
        config,
        out,
        state,
        now,
        search_end,
        report: Report::new(),
    };
    let mut conductor = Conductor::new(config, selection, servers);
    for sel in conductor.read_streams() {
        ctx.out.schema(
            sel.def.name,
            &sel.schema,
            &sel.key_properties,
            &sel.bookmark_properties,
        )?;
    }
    let initial = conductor.admit(&mut ctx)?;
    pipeline::run(
        config.concurrency,
        2 * config.concurrency,
        initial,
        |job: &Job| job::fetch(client, job),
        |job, answer, queue| conductor.handle(&mut ctx, job, answer, queue),
    )?;
    ctx.checkpoint()?;
    ctx.report.summary();
    conductor.finish(client, started)
}

/// A task not started yet.
enum Plan<'a> {
    /// A server's message streams, then its streams' tasks.
    Setup,
    Search(Arc<Partition<'a>>),
    Stats(Arc<stats::Spec<'a>>),
    Table(Arc<full_table::Spec<'a>>),
}

enum Task<'a> {
    Setup,
    Search(search::Reader<'a>),
    Stats(stats::Task<'a>),
    Table(full_table::Task<'a>),
}

impl Task<'_> {
    fn done(&self) -> bool {
        match self {
            Task::Setup => false,
            Task::Search(t) => t.done(),
            Task::Stats(t) => t.done(),
            Task::Table(t) => t.done(),
        }
    }
}

/// A task being run: which server and stream it reads.
struct Slot<'a> {
    task: Task<'a>,
    server: Option<usize>,
    stream: &'static str,
    tally: Arc<dyn Tally + 'a>,
}

/// A task's requests and retries so far.
trait Tally: Send + Sync {
    fn counters(&self) -> &Counters;
}

impl Tally for Partition<'_> {
    fn counters(&self) -> &Counters {
        &self.tally
    }
}

impl Tally for stats::Spec<'_> {
    fn counters(&self) -> &Counters {
        &self.tally
    }
}

impl Tally for full_table::Spec<'_> {
    fn counters(&self) -> &Counters {
        &self.tally
    }
}

impl Tally for Counters {
    fn counters(&self) -> &Counters {
        self
    }
}

/// What a server's tasks came to.
struct ServerBook {
    server: Arc<Server>,
    /// Its tasks planned and not finished (its setup included).
    open: usize,
    started: Option<Instant>,
    totals: Totals,
}

/// What a stream's tasks on one server (or on the account) came to.
struct StreamBook {
    stream: &'static str,
    server: Option<usize>,
    open: usize,
    started: Option<Instant>,
    totals: Totals,
}

struct Conductor<'a> {
    selection: &'a [Selected],
    account_token: Option<Token>,
    /// The tasks being run, by the number they were started under.
    tasks: HashMap<usize, Slot<'a>>,
    started: usize,
    pending: VecDeque<(Plan<'a>, Option<usize>, &'static str)>,
    /// Requests queued or in flight (asked for and not yet handled).
    outstanding: usize,
    servers: Vec<ServerBook>,
    streams: Vec<StreamBook>,
    failed: Vec<(u64, Error)>,
}

impl<'a> Conductor<'a> {
    fn new(config: &Config, selection: &'a [Selected], servers: Vec<Server>) -> Conductor<'a> {
        let account_token = config.account_token.as_ref().map(|t| Token {
            kind: TokenKind::Account,
            value: t.clone(),
            label: "account token".into(),
        });
        let mut c = Conductor {
            selection,
            account_token,
            tasks: HashMap::new(),
            started: 0,
            pending: VecDeque::new(),
            outstanding: 0,
            servers: Vec::new(),
            streams: Vec::new(),
            failed: Vec::new(),
        };
        for sel in selection
            .iter()
            .filter(|s| s.def.token == TokenKind::Account)
        {
            let Some(token) = c.account_token.clone() else {
                log::warn(&format!(
                    "stream {} needs postmark_account_token, which the config does not have; skipped",
                    sel.def.name
                ));
                continue;
            };
            let spec = Arc::new(full_table::Spec {
                sel,
                server: None,
                token,
                tally: Counters::default(),
            });
            c.plan(Plan::Table(spec), None, sel.def.name, false);
        }
        for server in servers {
            let index = c.servers.len();
            let listed = server.is_listed();
            c.servers.push(ServerBook {
                server: Arc::new(server),
                open: 0,
                started: None,
                totals: Totals::default(),
            });
            if listed {
                for (plan, stream) in c.server_plans(index) {
                    c.plan(plan, Some(index), stream, false);
                }
            } else {
                c.plan(Plan::Setup, Some(index), "", false);
            }
        }
        c
    }

    /// The streams this run reads (an account-level stream needs the account token).
    fn read_streams(&self) -> impl Iterator<Item = &'a Selected> + '_ {
        self.selection
            .iter()
            .filter(|s| s.def.token == TokenKind::Server || self.account_token.is_some())
    }

    /// Adds a task to the plan, at the end (or at the front, where a server's streams go once
    /// its message streams are known).
    fn plan(&mut self, plan: Plan<'a>, server: Option<usize>, stream: &'static str, front: bool) {
        if let Some(i) = server {
            self.servers[i].open += 1;
        }
        if !stream.is_empty() {
            match self
                .streams
                .iter_mut()
                .find(|b| b.stream == stream && b.server == server)
            {
                Some(book) => book.open += 1,
                None => self.streams.push(StreamBook {
                    stream,
                    server,
                    open: 1,
                    started: None,
                    totals: Totals::default(),
                }),
            }
        }
        if front {
            self.pending.push_front((plan, server, stream));
        } else {
            self.pending.push_back((plan, server, stream));
        }
    }

    /// The tasks of a server whose message streams are known, in the stream table's order.
    fn server_plans(&self, index: usize) -> Vec<(Plan<'a>, &'static str)> {
        let server = &self.servers[index].server;
        let mut plans = Vec::new();
        for sel in self
            .selection
            .iter()
            .filter(|s| s.def.token == TokenKind::Server)
        {
            let name = sel.def.name;
            match sel.def.kind {
                Kind::Search(spec) => {
                    for id in partitions(spec.partitions, server) {
                        let part = Partition {
                            sel,
                            spec,
                            server: Arc::clone(server),
                            id,
                            tally: Counters::default(),
                        };
                        plans.push((Plan::Search(Arc::new(part)), name));
                    }
                }
                Kind::Stats(shape) => {
                    for ms in server.message_streams().iter().filter(|m| !m.is_inbound()) {
                        let spec = stats::Spec {
                            sel,
                            shape,
                            server: Arc::clone(server),
                            stream: ms.clone(),
                            tally: Counters::default(),
                        };
                        plans.push((Plan::Stats(Arc::new(spec)), name));
                    }
                }
                Kind::FullTable(_) => {
                    let spec = full_table::Spec {
                        sel,
                        server: Some(Arc::clone(server)),
                        token: server.token.clone(),
                        tally: Counters::default(),
                    };
                    plans.push((Plan::Table(Arc::new(spec)), name));
                }
            }
        }
        plans
    }

    /// Starts planned tasks while few requests are outstanding; gives their first requests.
    fn admit<W: Write>(&mut self, ctx: &mut Ctx<'_, W>) -> Result<Vec<Job<'a>>, Error> {
        let mut jobs = Vec::new();
        while self.outstanding < ADMIT_BELOW {
            let Some((plan, server, stream)) = self.pending.pop_front() else {
                break;
            };
            if server.is_some_and(|i| self.servers[i].server.failed()) {
                continue;
            }
            let index = self.started;
            self.started += 1;
            match self.start(ctx, plan, server, stream) {
                Ok((slot, requests)) => {
                    self.outstanding += requests.len();
                    jobs.extend(requests.into_iter().map(|request| Job {
                        task: index,
                        request,
                    }));
                    self.tasks.insert(index, slot);
                    self.finish_task(ctx, index);
                }
                Err(e) => self.fail(server, e)?,
            }
        }
        Ok(jobs)
    }

    fn start<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        plan: Plan<'a>,
        server: Option<usize>,
        stream: &'static str,
    ) -> Result<(Slot<'a>, Vec<Request<'a>>), Error> {
        let now = Some(Instant::now());
        if let Some(i) = server {
            self.servers[i].started = self.servers[i].started.or(now);
        }
        if let Some(book) = self.stream_book(stream, server) {
            book.started = book.started.or(now);
        }
        let (task, requests, tally): (Task, Vec<Request>, Arc<dyn Tally>) = match plan {
            Plan::Setup => {
                let s = Arc::clone(&self.servers[server.unwrap_or_default()].server);
                (
                    Task::Setup,
                    vec![Request::Streams(s)],
                    Arc::new(Counters::default()),
                )
            }
            Plan::Search(part) => {
                let (t, r) = search::Reader::start(ctx, Arc::clone(&part))?;
                let r = r.into_iter().map(Request::Search).collect();
                (Task::Search(t), r, part)
            }
            Plan::Stats(spec) => {
                let (t, r) = stats::Task::start(ctx, Arc::clone(&spec))?;
                (
                    Task::Stats(t),
                    r.into_iter().map(Request::Stats).collect(),
                    spec,
                )
            }
            Plan::Table(spec) => {
                let (t, r) = full_table::Task::start(ctx, Arc::clone(&spec))?;
                (
                    Task::Table(t),
                    r.into_iter().map(Request::Table).collect(),
                    spec,
                )
            }
        };
        Ok((
            Slot {
                task,
                server,
                stream,
                tally,
            },
            requests,
        ))
    }

    /// Handles one answer, in job order; starts more tasks.
    fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        job: Job<'a>,
        answer: Result<Answer, Error>,
        queue: &mut VecDeque<Job<'a>>,
    ) -> Result<(), Error> {
        self.outstanding -= 1;
        let index = job.task;
        // A task of a server that failed is gone: its answers are dropped.
        if let Some(slot) = self.tasks.get_mut(&index) {
            let server = slot.server;
            let mut requests = Vec::new();
            let outcome = match answer {
                Ok(Answer::Skipped) => Ok(()),
                Ok(Answer::Streams(listed)) => {
                    self.tasks.remove(&index);
                    self.set_up(server, listed);
                    Ok(())
                }
                Ok(answer) => Self::answer(slot, ctx, job.request, answer, &mut requests),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {
                    self.outstanding += requests.len();
                    queue.extend(requests.into_iter().map(|request| Job {
                        task: index,
                        request,
                    }));
                    self.finish_task(ctx, index);
                }
                Err(e) => self.fail(server, e)?,
            }
        }
        let more = self.admit(ctx)?;
        queue.extend(more);
        Ok(())
    }

    /// Gives an answer to its task.
    fn answer<W: Write>(
        slot: &mut Slot<'a>,
        ctx: &mut Ctx<'_, W>,
        request: Request<'a>,
        answer: Answer,
        requests: &mut Vec<Request<'a>>,
    ) -> Result<(), Error> {
        match (&mut slot.task, request, answer) {
            (Task::Search(t), Request::Search(r), Answer::Search(a)) => {
                let mut asked = Vec::new();
                t.handle(ctx, r, a, &mut asked)?;
                requests.extend(asked.into_iter().map(Request::Search));
            }
            (Task::Stats(t), Request::Stats(r), Answer::Stats(a)) => t.handle(ctx, &r, a)?,
            (Task::Table(t), Request::Table(_), Answer::Table(a)) => {
                let mut asked = Vec::new();
                t.handle(ctx, a, &mut asked)?;
                requests.extend(asked.into_iter().map(Request::Table));
            }
            _ => return Err(Error::Internal("an answer for another kind of task".into())),
        }
        Ok(())
    }

    /// A server's message streams are listed: its streams' tasks go first in the plan.
    fn set_up(&mut self, server: Option<usize>, listed: servers::Listed) {
        let Some(i) = server else { return };
        let book = &mut self.servers[i];
        book.server = Arc::new(book.server.with_listed(listed));
        book.open -= 1;
        let plans = self.server_plans(i);
        for (plan, stream) in plans.into_iter().rev() {
            self.plan(plan, Some(i), stream, true);
        }
    }

    fn stream_book(&mut self, stream: &str, server: Option<usize>) -> Option<&mut StreamBook> {
        self.streams
            .iter_mut()
            .find(|b| b.stream == stream && b.server == server)
    }

    /// If the task is done: adds what it came to to its stream's and server's books, and
    /// reports each of them that is complete.
    fn finish_task<W: Write>(&mut self, ctx: &mut Ctx<'_, W>, index: usize) {
        let Some(slot) = self.tasks.get(&index) else {
            return;
        };
        if !slot.task.done() {
            return;
        }
        let (requests, retries) = slot.tally.counters().snapshot();
        let (records, expired) = match &slot.task {
            Task::Search(t) => (t.written, t.expired),
            Task::Stats(t) => (t.written, 0),
            Task::Table(t) => (t.written, 0),
            Task::Setup => (0, 0),
        };
        let t = Totals {
            records,
            requests,
            retries,
            seconds: 0.0,
            expired,
        };
        let (server, stream) = (slot.server, slot.stream);
        self.tasks.remove(&index);
        if let Some(book) = self.stream_book(stream, server) {
            book.totals.add(&t);
            book.open -= 1;
            if book.open == 0 {
                let mut totals = book.totals;
                totals.seconds = book.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
                stream_done(
                    ctx,
                    stream,
                    server.map(|i| self.servers[i].server.id),
                    &totals,
                );
            }
        }
        if let Some(i) = server {
            let book = &mut self.servers[i];
            book.totals.add(&t);
            book.open -= 1;
            if book.open == 0 {
                let seconds = book.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
                let totals = Totals {
                    seconds,
                    ..book.totals
                };
                log::info(&format!(
                    "server {} ({}) finished: {}",
                    book.server.id,
                    book.server.name,
                    totals.describe()
                ));
            }
        }
    }

    /// A task failed. Account-level streams, a run of one server, and errors that are not
    /// about the API end the run; otherwise the server is dropped and the others go on.
    fn fail(&mut self, server: Option<usize>, e: Error) -> Result<(), Error> {
        if matches!(
            e,
            Error::BrokenPipe | Error::Interrupted | Error::Internal(_) | Error::Input(_)
        ) {
            return Err(e);
        }
        let Some(i) = server.filter(|_| self.servers.len() > 1) else {
            return Err(e);
        };
        let book = &self.servers[i];
        book.server.fail();
        log::error(&format!(
            "server {}: {e}; continuing with the other servers",
            book.server.id
        ));
        self.failed.push((book.server.id, e));
        self.tasks.retain(|_, slot| slot.server != Some(i));
        self.pending.retain(|(_, s, _)| *s != Some(i));
        Ok(())
    }

    /// The closing lines, and the error of a run in which some servers failed.
    fn finish(self, client: &Client, started: Instant) -> Result<(), Error> {
        let wall = started.elapsed().as_secs_f64();
        if !self.failed.is_empty() {
            let detail: Vec<String> = self
                .failed
                .iter()
                .map(|(id, e)| format!("server {id}: {e}"))
                .collect();
            return Err(Error::Partial(format!(
                "{} of {} servers failed (the others finished; the last STATE resumes the failed ones): {}",
                self.failed.len(),
                self.servers.len(),
                detail.join("; ")
            )));
        }
        metrics::job_duration("sync", wall, true);
        let c = &client.counters;
        let (requests, retries) = c.snapshot();
        let busy = c.busy_micros.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6;
        log::info(&format!(
            "sync finished in {wall:.1}s: {requests} requests, {retries} retries, {:.1} requests in flight on average",
            busy / wall.max(1e-9)
        ));
        Ok(())
    }
}

/// Reports what a stream came to on a server (or on the account): metric, log line, summary.
fn stream_done<W: Write>(
    ctx: &mut Ctx<'_, W>,
    stream: &'static str,
    server: Option<u64>,
    t: &Totals,
) {
    let tags = match server {
        Some(id) => serde_json::json!({"server_id": id}),
        None => serde_json::json!({}),
    };
    metrics::record_count(stream, t.records, tags);
    if let Some(id) = server {
        log::info(&format!("{stream}: server {id}: {}", t.describe()));
    }
    ctx.report.add(stream, t);
}

/// The partitions a search is read in on a server: message stream IDs (the inbound search has
/// one, named after the server's inbound stream).
fn partitions(which: Partitions, server: &Server) -> Vec<String> {
    let streams = server.message_streams();
    match which {
        Partitions::Outbound => streams
            .iter()
            .filter(|ms| !ms.is_inbound())
            .map(|ms| ms.id.clone())
            .collect(),
        Partitions::Every => streams.iter().map(|ms| ms.id.clone()).collect(),
        Partitions::Inbound => vec![streams
            .iter()
            .find(|ms| ms.is_inbound())
            .map_or("inbound", |ms| ms.id.as_str())
            .to_string()],
    }
}
