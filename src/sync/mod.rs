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

pub mod books;
pub mod context;
pub mod digest;
pub mod engine;
pub mod full_table;
pub mod job;
pub mod pager;
pub mod pipeline;
pub mod reads;
pub mod running;
pub mod search;
pub mod servers;
pub mod stats;
pub mod tags;
pub mod task;
pub mod windows;

use crate::client::{Client, Token};
use crate::config::{Config, StatsTags};
use crate::error::Error;
use crate::log;
use crate::metrics;
use crate::singer::catalog::{self, Selected};
use crate::singer::output::Output;
use crate::singer::state::State;
use crate::streams::{TokenKind, ACTIVITY};
use crate::timefmt::{floor_second, format_utc};
use books::Books;
use chrono::{Duration, Utc};
use context::{Ctx, Report};
use job::{Done, Job};
use running::{Delivered, Running, Step};
use search::fetch::Partition;
use servers::Server;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;
use task::Plan;

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
    let tags = tags::for_run(config, selection)?;
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
    let activity = activity_streams()?;
    let mut conductor = Conductor::new(config, tags, selection, &activity, servers);
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
    conductor.all_finished()?;
    let any_failed = !conductor.failed.is_empty();
    conductor
        .books
        .activate_versions(&mut ctx, selection, any_failed)?;
    ctx.checkpoint()?;
    ctx.report.summary(selection);
    conductor.finish(client, started)
}

/// The streams whose searches the activity of `message_events` is read from (selected or
/// not), in [`ACTIVITY`]'s order.
fn activity_streams() -> Result<Vec<Selected>, Error> {
    ACTIVITY
        .iter()
        .map(|a| {
            let def = crate::streams::find(a.stream)
                .ok_or_else(|| Error::Internal(format!("no stream {}", a.stream)))?;
            catalog::for_reading(def)
        })
        .collect()
}

/// A server that failed, and why.
struct Failure {
    server: u64,
    error: Error,
}

/// A plan waiting to start, for a server (its number in the books) or the account.
struct Waiting<'a> {
    plan: Plan<'a>,
    server: Option<usize>,
}

struct Conductor<'a> {
    selection: &'a [Selected],
    /// `stats_tags`.
    tags: StatsTags,
    /// The searches gathering the tags `stats_tags: ["*"]` reads, by task number.
    gathering: HashMap<usize, Arc<Partition<'a>>>,
    /// The activity searches' streams ([`activity_streams`]).
    activity: &'a [Selected],
    account_token: Option<Token>,
    /// The tasks being run, by kind.
    running: Running<'a>,
    started: usize,
    pending: VecDeque<Waiting<'a>>,
    /// Requests queued or in flight (asked for and not yet handled).
    outstanding: usize,
    books: Books,
    failed: Vec<Failure>,
}

impl<'a> Conductor<'a> {
    fn new(
        config: &Config,
        tags: StatsTags,
        selection: &'a [Selected],
        activity: &'a [Selected],
        servers: Vec<Server>,
    ) -> Conductor<'a> {
        let account_token = config.account_token.as_ref().map(|t| Token {
            kind: TokenKind::Account,
            value: t.clone(),
            label: "account token".into(),
        });
        let mut c = Conductor {
            selection,
            tags,
            gathering: HashMap::new(),
            activity,
            account_token,
            running: Running::default(),
            started: 0,
            pending: VecDeque::new(),
            outstanding: 0,
            books: Books::default(),
            failed: Vec::new(),
        };
        for plan in task::account_plans(selection, c.account_token.as_ref()) {
            c.plan(plan, None, false);
        }
        for server in servers {
            let listed = server.is_listed();
            let i = c.books.add_server(server);
            let server = Arc::clone(c.books.server(i));
            if listed {
                for plan in task::server_plans(&server, selection, activity, &c.tags) {
                    c.plan(plan, Some(i), false);
                }
            } else {
                c.plan(Plan::Setup(server), Some(i), false);
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
    fn plan(&mut self, plan: Plan<'a>, server: Option<usize>, front: bool) {
        self.books.planned(server, &plan.streams());
        let waiting = Waiting { plan, server };
        match front {
            true => self.pending.push_front(waiting),
            false => self.pending.push_back(waiting),
        }
    }

    /// Starts planned tasks while few requests are outstanding; gives their first requests.
    fn admit<W: Write>(&mut self, ctx: &mut Ctx<'_, W>) -> Result<Vec<Job<'a>>, Error> {
        let mut jobs = Vec::new();
        while self.outstanding < ADMIT_BELOW {
            let Some(Waiting { plan, server }) = self.pending.pop_front() else {
                break;
            };
            if server.is_some_and(|i| self.books.server(i).failed()) {
                continue;
            }
            let index = self.started;
            self.started += 1;
            self.books.started(server, &plan.streams());
            if let Plan::Search(part) = &plan {
                if part.tags.is_some() {
                    self.gathering.insert(index, Arc::clone(part));
                }
            }
            match self.running.start(ctx, index, plan, server) {
                Ok(step) => jobs.extend(self.take(ctx, index, step)?),
                Err(e) => self.fail(server, e)?,
            }
        }
        Ok(jobs)
    }

    /// A task's step: its work becomes jobs, and what it came to, if it is done, goes into
    /// the books (and a search that gathered tags plans their statistics).
    fn take<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        index: usize,
        step: Step<'a>,
    ) -> Result<Vec<Job<'a>>, Error> {
        self.outstanding += step.work.len();
        if let Some(f) = step.finished {
            self.books.finished(ctx, f.server, &f.streams);
            if let (Some(part), Some(i)) = (self.gathering.remove(&index), f.server) {
                self.plan_found_tags(ctx, i, &part)?;
            }
        }
        Ok(step
            .work
            .into_iter()
            .map(|work| Job { task: index, work })
            .collect())
    }

    /// A search that gathered tags is done (`stats_tags: ["*"]`): the statistics of the tags
    /// to read on its server and message stream go first in the plan.
    fn plan_found_tags<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        i: usize,
        part: &Partition,
    ) -> Result<(), Error> {
        let server = Arc::clone(self.books.server(i));
        let found = tags::found(ctx, &self.tags, server.id, part)?;
        let plans = task::found_tag_plans(&server, self.selection, &part.id, &found);
        for plan in plans.into_iter().rev() {
            self.plan(plan, Some(i), true);
        }
        Ok(())
    }

    /// Handles one answer, in job order; starts more tasks.
    fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        job: Job<'a>,
        done: Result<Done<'a>, Error>,
        queue: &mut VecDeque<Job<'a>>,
    ) -> Result<(), Error> {
        self.outstanding -= 1;
        let index = job.task;
        let server = self.running.server_of(index);
        let delivered = done.and_then(|done| self.running.deliver(ctx, index, done));
        match delivered {
            Ok(Delivered::Step(step)) => queue.extend(self.take(ctx, index, step)?),
            Ok(Delivered::Listed(i, listed)) => self.set_up(i, listed),
            // A failed request of a task already gone (its server failed) changes nothing.
            Err(_) if server.is_none() && job.work.server().is_some_and(Server::failed) => {}
            Err(e) => self.fail(server, e)?,
        }
        let more = self.admit(ctx)?;
        queue.extend(more);
        Ok(())
    }

    /// A server's message streams are listed: its streams' tasks go first in the plan.
    fn set_up(&mut self, i: usize, listed: servers::Listed) {
        let listed = self.books.server(i).with_listed(listed);
        self.books.replace_server(i, listed);
        self.books.set_up(i);
        let server = Arc::clone(self.books.server(i));
        let plans = task::server_plans(&server, self.selection, self.activity, &self.tags);
        for plan in plans.into_iter().rev() {
            self.plan(plan, Some(i), true);
        }
    }

    /// Every task started finished once no request is left: one that did not would leave its
    /// streams short without a word, so it ends the run.
    fn all_finished(&self) -> Result<(), Error> {
        let open = self.running.open();
        match open.first() {
            None => Ok(()),
            Some((streams, server)) => {
                let server = server.map(|i| self.books.server(i).id);
                Err(Error::Internal(format!(
                    "{} task(s) had no request left but did not finish, {streams} on server {server:?} first",
                    open.len()
                )))
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
        let Some(i) = server.filter(|_| self.books.server_count() > 1) else {
            return Err(e);
        };
        let failed = self.books.server(i);
        failed.fail();
        let message = format!(
            "server {}: {e}; continuing with the other servers",
            failed.id
        );
        log::log_about(log::Level::Error, &message, log::About::error(e.kind()));
        self.failed.push(Failure {
            server: failed.id,
            error: e,
        });
        self.running.drop_server(i);
        self.pending.retain(|w| w.server != Some(i));
        Ok(())
    }

    /// The closing lines, and the error of a run in which some servers failed.
    fn finish(self, client: &Client, started: Instant) -> Result<(), Error> {
        let wall = started.elapsed().as_secs_f64();
        if !self.failed.is_empty() {
            let detail: Vec<String> = self
                .failed
                .iter()
                .map(|f| format!("server {}: {}", f.server, f.error))
                .collect();
            return Err(Error::Partial(format!(
                "{} of {} servers failed (the others finished; the last STATE resumes the failed ones): {}",
                self.failed.len(),
                self.books.server_count(),
                detail.join("; ")
            )));
        }
        metrics::job_duration("sync", wall, true);
        let c = &client.counters;
        let tally = c.snapshot();
        let (requests, retries) = (tally.requests, tally.retries);
        let busy = c.busy_micros.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6;
        log::info(&format!(
            "sync finished in {wall:.1}s: {requests} requests, {retries} retries, {:.1} requests in flight on average",
            busy / wall.max(1e-9)
        ));
        Ok(())
    }
}
