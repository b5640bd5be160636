//! The tasks of a run: what a task is before it starts (a plan: one stream on one server and
//! message stream, the per-record reads of one server and partition, or a server's set-up) and
//! while it runs (an engine's write side), and the plans of the account and of a server, in the
//! stream table's order.

use super::context::Ctx;
use super::job::Request;
use super::reads;
use super::search::fetch::{Found, Partition};
use super::servers::Server;
use super::{full_table, search, stats};
use crate::client::{Counters, Token};
use crate::error::Error;
use crate::log;
use crate::singer::catalog::Selected;
use crate::streams::{Kind, Partitions, TokenKind};
use std::io::Write;
use std::sync::Arc;

/// A task not started yet.
pub enum Plan<'a> {
    /// A server's message streams, then its streams' tasks (account mode).
    Setup(Arc<Server>),
    Search(Arc<Partition<'a>>),
    Reads(Arc<reads::Spec<'a>>),
    Stats(Arc<stats::Spec<'a>>),
    Table(Arc<full_table::Spec<'a>>),
}

pub enum Task<'a> {
    Setup,
    Search(search::Task<'a>),
    Reads(Box<reads::Task<'a>>),
    Stats(stats::Task<'a>),
    Table(full_table::Task<'a>),
}

/// A task's requests and retries so far.
pub trait Tally: Send + Sync {
    fn counters(&self) -> &Counters;
}

impl Tally for Partition<'_> {
    fn counters(&self) -> &Counters {
        &self.tally
    }
}

impl Tally for reads::Spec<'_> {
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

/// A started task, its first requests, and where its requests are counted.
pub type Started<'a> = (Task<'a>, Vec<Request<'a>>, Arc<dyn Tally + 'a>);

impl<'a> Plan<'a> {
    /// The streams the task writes (none for a server's set-up).
    pub fn streams(&self) -> Vec<&'static str> {
        match self {
            Plan::Setup(_) => Vec::new(),
            Plan::Search(part) => vec![part.sel.def.name],
            Plan::Reads(spec) => spec.serves.iter().map(|s| s.def.name).collect(),
            Plan::Stats(spec) => vec![spec.sel.def.name],
            Plan::Table(spec) => vec![spec.sel.def.name],
        }
    }

    /// Starts the task: reads its bookmark, plans its first requests.
    pub fn start<W: Write>(self, ctx: &mut Ctx<'_, W>) -> Result<Started<'a>, Error> {
        Ok(match self {
            Plan::Setup(server) => (
                Task::Setup,
                vec![Request::Streams(server)],
                Arc::new(Counters::default()),
            ),
            Plan::Search(part) => {
                let (t, r) = search::Task::start(ctx, Arc::clone(&part))?;
                let r = r.into_iter().map(Request::Search).collect();
                (Task::Search(t), r, part)
            }
            Plan::Reads(spec) => {
                let (t, r) = reads::start(ctx, Arc::clone(&spec))?;
                let r = r.into_iter().map(Request::Reads).collect();
                (Task::Reads(Box::new(t)), r, spec)
            }
            Plan::Stats(spec) => {
                let (t, r) = stats::Task::start(ctx, Arc::clone(&spec))?;
                let r = r.into_iter().map(Request::Stats).collect();
                (Task::Stats(t), r, spec)
            }
            Plan::Table(spec) => {
                let (t, r) = full_table::Task::start(ctx, Arc::clone(&spec))?;
                let r = r.into_iter().map(Request::Table).collect();
                (Task::Table(t), r, spec)
            }
        })
    }
}

impl Task<'_> {
    pub fn done(&self) -> bool {
        match self {
            Task::Setup => false,
            Task::Search(t) => t.done(),
            Task::Reads(t) => t.done(),
            Task::Stats(t) => t.done(),
            Task::Table(t) => t.done(),
        }
    }

    /// Records written to each stream the task writes (in [`Plan::streams`]' order), and
    /// what its per-record reads came to.
    pub fn records(&self) -> (Vec<u64>, reads::Counts) {
        match self {
            Task::Search(t) => (vec![t.written()], reads::Counts::default()),
            Task::Reads(t) => (t.written.clone(), t.counts),
            Task::Stats(t) => (vec![t.written], reads::Counts::default()),
            Task::Table(t) => (vec![t.written], reads::Counts::default()),
            Task::Setup => (Vec::new(), reads::Counts::default()),
        }
    }
}

/// The account-level streams' tasks; without the account token they are skipped, each with a
/// warning.
pub fn account_plans<'a>(
    selection: &'a [Selected],
    token: Option<&Token>,
) -> Vec<(Plan<'a>, &'static str)> {
    let mut plans = Vec::new();
    for sel in selection
        .iter()
        .filter(|s| s.def.token == TokenKind::Account)
    {
        let Some(token) = token else {
            log::warn(&format!(
                "stream {} needs postmark_account_token, which the config does not have; skipped",
                sel.def.name
            ));
            continue;
        };
        let spec = Arc::new(full_table::Spec {
            sel,
            server: None,
            token: token.clone(),
            tally: Counters::default(),
        });
        plans.push((Plan::Table(spec), sel.def.name));
    }
    plans
}

/// The tasks of a server whose message streams are known, in the stream table's order. The
/// streams that expand their search's records through the same request share one task per
/// partition, planned where the first of them is (`activity`: the activity searches' streams).
pub fn server_plans<'a>(
    server: &Arc<Server>,
    selection: &'a [Selected],
    activity: &'a [Selected],
) -> Vec<(Plan<'a>, &'static str)> {
    let mut plans = Vec::new();
    let mut grouped: Vec<&'static str> = Vec::new();
    for sel in selection
        .iter()
        .filter(|s| s.def.token == TokenKind::Server)
    {
        let name = sel.def.name;
        match sel.def.kind {
            Kind::Search(spec) => match spec.expand {
                Some(expand) if grouped.contains(&expand.group()) => {}
                Some(expand) => {
                    grouped.push(expand.group());
                    let serves: Vec<&Selected> = selection
                        .iter()
                        .filter(|o| {
                            o.def
                                .expands_to()
                                .is_some_and(|e| e.group() == expand.group())
                        })
                        .collect();
                    for id in partitions(spec.partitions, server) {
                        let spec = reads_spec(server, id, expand, &serves, activity);
                        plans.push((Plan::Reads(Arc::new(spec)), name));
                    }
                }
                None => {
                    for id in partitions(spec.partitions, server) {
                        let part = Partition {
                            sel,
                            spec,
                            server: Arc::clone(server),
                            id,
                            tally: Arc::default(),
                            found: Found::Lines,
                            filters: Vec::new(),
                            expect: None,
                        };
                        plans.push((Plan::Search(Arc::new(part)), name));
                    }
                }
            },
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

/// The per-record reads of one partition, serving `serves`.
fn reads_spec<'a>(
    server: &Arc<Server>,
    id: String,
    expand: crate::streams::Expand,
    serves: &[&'a Selected],
    activity: &'a [Selected],
) -> reads::Spec<'a> {
    let follows = serves
        .iter()
        .any(|s| s.def.expands_to().is_some_and(|e| e.follows_activity()));
    reads::Spec {
        server: Arc::clone(server),
        id,
        expand,
        serves: serves.to_vec(),
        activity: if follows {
            activity.iter().collect()
        } else {
            Vec::new()
        },
        tally: Arc::default(),
    }
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
