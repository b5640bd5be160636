//! The tasks of a run: what a task is before it starts (a plan: one stream on one server and
//! message stream, or a server's set-up) and while it runs (an engine's write side), and the
//! plans of the account and of a server, in the stream table's order.

use super::context::Ctx;
use super::job::Request;
use super::search::fetch::Partition;
use super::servers::Server;
use super::{full_table, search, stats};
use crate::client::{Counters, Token};
use crate::error::Error;
use crate::log;
use crate::singer::catalog::Selected;
use crate::streams::{Kind, Partitions, TokenKind, STREAMS};
use std::io::Write;
use std::sync::Arc;

/// A task not started yet.
pub enum Plan<'a> {
    /// A server's message streams, then its streams' tasks (account mode).
    Setup(Arc<Server>),
    Search(Arc<Partition<'a>>),
    Stats(Arc<stats::Spec<'a>>),
    Table(Arc<full_table::Spec<'a>>),
}

pub enum Task<'a> {
    Setup,
    Search(search::Reader<'a>),
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
    /// The stream a search writes from the same answers as its own, if any.
    pub fn also(&self) -> Option<&'static str> {
        match self {
            Plan::Search(part) => part.also.map(|sel| sel.def.name),
            _ => None,
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
                let (t, r) = search::Reader::start(ctx, Arc::clone(&part))?;
                let r = r.into_iter().map(Request::Search).collect();
                (Task::Search(t), r, part)
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
            Task::Stats(t) => t.done(),
            Task::Table(t) => t.done(),
        }
    }

    /// The stream served by the same answers, and its records written.
    pub fn also(&self) -> Option<(&'static str, u64)> {
        match self {
            Task::Search(t) => t.also(),
            _ => None,
        }
    }

    /// Records written, messages whose details were asked for, and those that had expired.
    pub fn records(&self) -> (u64, u64, u64) {
        match self {
            Task::Search(t) => (t.written, t.details, t.expired),
            Task::Stats(t) => (t.written, 0, 0),
            Task::Table(t) => (t.written, 0, 0),
            Task::Setup => (0, 0, 0),
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

/// The tasks of a server whose message streams are known, in the stream table's order.
pub fn server_plans<'a>(
    server: &Arc<Server>,
    selection: &'a [Selected],
) -> Vec<(Plan<'a>, &'static str)> {
    let mut plans = Vec::new();
    for sel in selection
        .iter()
        .filter(|s| s.def.token == TokenKind::Server)
    {
        let name = sel.def.name;
        match sel.def.kind {
            Kind::Search(spec) => {
                let (also, served) = sharing(sel, selection);
                if served {
                    continue;
                }
                for id in partitions(spec.partitions, server) {
                    let part = Partition {
                        sel,
                        spec,
                        server: Arc::clone(server),
                        id,
                        tally: Counters::default(),
                        also,
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

/// Two selected streams that expand the same search through the same request share it: the
/// first in the table reads it for both. Gives the stream `sel` also writes, and whether `sel`
/// is written by an earlier one.
fn sharing<'a>(sel: &'a Selected, selection: &'a [Selected]) -> (Option<&'a Selected>, bool) {
    let Some(expand) = sel.def.expands_to() else {
        return (None, false);
    };
    let mut partners = selection.iter().filter(|o| {
        o.def.name != sel.def.name
            && o.def.path == sel.def.path
            && o.def
                .expands_to()
                .is_some_and(|e| e.path() == expand.path())
    });
    let Some(partner) = partners.next() else {
        return (None, false);
    };
    let position = |name: &str| STREAMS.iter().position(|d| d.name == name);
    if position(partner.def.name) < position(sel.def.name) {
        (None, true)
    } else {
        (Some(partner), false)
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
