//! What the tasks of a run are before they start: a plan for one stream on one server and
//! message stream, the per-record reads of one server and partition, or a server's set-up; and
//! the plans of the account and of a server, in the stream table's order.

use super::full_table::TableSpec;
use super::reads::ReadsSpec;
use super::search::fetch::{Found, Partition};
use super::servers::{MessageStream, Server};
use super::stats::{StatsSpec, StatsTag};
use crate::client::{Counters, Token};
use crate::config::StatsTags;
use crate::log;
use crate::record::Selected;
use crate::streams::{Expand, Kind, Partitions, Search, Stats, TokenKind, TAGGED_MESSAGES};
use std::sync::{Arc, Mutex};

/// A task not started yet.
pub enum Plan<'a> {
    /// A server's message streams, then its streams' tasks (account mode).
    Setup(Arc<Server>),
    Search(Arc<Partition<'a>>),
    Reads(Arc<ReadsSpec<'a>>),
    Stats(Arc<StatsSpec<'a>>),
    Table(Arc<TableSpec<'a>>),
}

impl Plan<'_> {
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
}

/// The account-level streams' tasks; without the account token they are skipped, each with a
/// warning.
pub fn account_plans<'a>(selection: &'a [Selected], token: Option<&Token>) -> Vec<Plan<'a>> {
    let mut plans = Vec::new();
    for sel in selection
        .iter()
        .filter(|s| s.def.token == TokenKind::Account)
    {
        let Some(token) = token else {
            log::warn_for(
                sel.def.name,
                &format!(
                "stream {} needs postmark_account_token, which the config does not have; skipped",
                sel.def.name
            ),
            );
            continue;
        };
        let spec = TableSpec {
            sel,
            server: None,
            token: token.clone(),
            tally: Counters::default(),
        };
        plans.push(Plan::Table(Arc::new(spec)));
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
    tags: &StatsTags,
) -> Vec<Plan<'a>> {
    let mut plans = Vec::new();
    let mut grouped: Vec<&'static str> = Vec::new();
    for sel in selection
        .iter()
        .filter(|s| s.def.token == TokenKind::Server)
    {
        match sel.def.kind {
            Kind::Search(Search {
                expand: Some(expand),
                ..
            }) if grouped.contains(&expand.group()) => {}
            Kind::Search(
                spec @ Search {
                    expand: Some(expand),
                    ..
                },
            ) => {
                grouped.push(expand.group());
                let serves: Vec<&Selected> = selection
                    .iter()
                    .filter(|o| o.def.expands_to().map(Expand::group) == Some(expand.group()))
                    .collect();
                for id in partitions(spec.partitions, server) {
                    let spec = reads_spec(server, id, expand, &serves, activity);
                    plans.push(Plan::Reads(Arc::new(spec)));
                }
            }
            Kind::Search(spec) => {
                // The tags `stats_tags: ["*"]` reads are found on this stream's records.
                let gather = tags.found_max.is_some() && sel.def.name == TAGGED_MESSAGES;
                for id in partitions(spec.partitions, server) {
                    let mut part = search_partition(sel, spec, server, id);
                    part.tags = gather.then(Mutex::default);
                    plans.push(Plan::Search(Arc::new(part)));
                }
            }
            Kind::Stats(shape) => {
                for ms in server.message_streams().iter().filter(|m| !m.is_inbound()) {
                    let all = match tags.on() {
                        true => StatsTag::All,
                        false => StatsTag::Untagged,
                    };
                    let listed = tags.listed.iter().map(|t| StatsTag::One(t.clone()));
                    for tag in std::iter::once(all).chain(listed) {
                        plans.push(stats_plan(sel, shape, server, ms, tag));
                    }
                }
            }
            Kind::FullTable(_) => {
                let spec = TableSpec {
                    sel,
                    server: Some(Arc::clone(server)),
                    token: server.token.clone(),
                    tally: Counters::default(),
                };
                plans.push(Plan::Table(Arc::new(spec)));
            }
        }
    }
    plans
}

/// A statistics stream's task on one message stream, for one tag (or all messages).
fn stats_plan<'a>(
    sel: &'a Selected,
    shape: Stats,
    server: &Arc<Server>,
    ms: &MessageStream,
    tag: StatsTag,
) -> Plan<'a> {
    Plan::Stats(Arc::new(StatsSpec {
        sel,
        shape,
        server: Arc::clone(server),
        stream: ms.clone(),
        tag,
        tally: Counters::default(),
    }))
}

/// The statistics tasks of the tags found on a server's message stream `ms` (`stats_tags:
/// ["*"]`): every selected statistics stream, each for every tag.
pub fn found_tag_plans<'a>(
    server: &Arc<Server>,
    selection: &'a [Selected],
    ms: &str,
    tags: &[String],
) -> Vec<Plan<'a>> {
    let Some(ms) = server.message_streams().iter().find(|m| m.id == ms) else {
        return Vec::new();
    };
    let mut plans = Vec::new();
    for sel in selection {
        if let Kind::Stats(shape) = sel.def.kind {
            for tag in tags {
                plans.push(stats_plan(
                    sel,
                    shape,
                    server,
                    ms,
                    StatsTag::One(tag.clone()),
                ));
            }
        }
    }
    plans
}

/// A search stream's own search on one partition, its records written.
fn search_partition<'a>(
    sel: &'a Selected,
    spec: Search,
    server: &Arc<Server>,
    id: String,
) -> Partition<'a> {
    Partition {
        sel,
        spec,
        server: Arc::clone(server),
        id,
        tally: Arc::default(),
        found: Found::Lines,
        filters: Vec::new(),
        expect: None,
        tags: None,
    }
}

/// The per-record reads of one partition, serving `serves`.
fn reads_spec<'a>(
    server: &Arc<Server>,
    id: String,
    expand: Expand,
    serves: &[&'a Selected],
    activity: &'a [Selected],
) -> ReadsSpec<'a> {
    let follows = serves
        .iter()
        .any(|s| s.def.expands_to().is_some_and(Expand::follows_activity));
    ReadsSpec {
        server: Arc::clone(server),
        id,
        expand,
        serves: serves.to_vec(),
        activity: match follows {
            true => activity.iter().collect(),
            false => Vec::new(),
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
