//! The requests of a run as the pipeline carries them: the task that asked and what it asked
//! for, by kind of task. A worker fetches each one and gives it back with its answer, in the
//! same kind ([`Done`]), so the conductor can only hand an answer to a task of its own kind.

use super::engine::Engine;
use super::full_table::{TableAnswer, TableRequest, TableTask};
use super::reads::{ReadsAsk, ReadsDone, ReadsTask};
use super::search::fetch::PageRequest;
use super::search::{SearchDone, SearchTask};
use super::servers::{self, Listed, Server};
use super::stats::{StatsDone, StatsRequest, StatsTask};
use crate::client::Client;
use crate::error::Error;
use std::sync::Arc;

/// A request, and the task (its number in the run) that handles the answer.
#[derive(Clone)]
pub struct Job<'a> {
    pub task: usize,
    pub work: Work<'a>,
}

/// What a task asks for, by kind of task.
#[derive(Clone)]
pub enum Work<'a> {
    Search(PageRequest<'a>),
    Reads(ReadsAsk<'a>),
    Stats(StatsRequest<'a>),
    Table(TableRequest<'a>),
    /// A server's message streams, the first request of its turn (account mode).
    Listing(Arc<Server>),
}

/// A request with its answer, by kind of task.
pub enum Done<'a> {
    Search(SearchDone<'a>),
    Reads(ReadsDone<'a>),
    Stats(StatsDone<'a>),
    Table(TableAnswer),
    Listing(Listed),
    /// Not fetched: the server failed before the request's turn came.
    Skipped,
}

impl Work<'_> {
    /// The server the request reads, if any.
    pub fn server(&self) -> Option<&Server> {
        match self {
            Work::Search(a) => SearchTask::server(a),
            Work::Reads(a) => ReadsTask::server(a),
            Work::Stats(a) => StatsTask::server(a),
            Work::Table(a) => TableTask::server(a),
            Work::Listing(s) => Some(s),
        }
    }
}

/// Fetches a job's request (on a worker thread).
pub fn fetch<'a>(client: &Client, job: &Job<'a>) -> Result<Done<'a>, Error> {
    if job.work.server().is_some_and(Server::failed) {
        return Ok(Done::Skipped);
    }
    Ok(match &job.work {
        Work::Search(a) => Done::Search(SearchTask::fetch(client, a)?),
        Work::Reads(a) => Done::Reads(ReadsTask::fetch(client, a)?),
        Work::Stats(a) => Done::Stats(StatsTask::fetch(client, a)?),
        Work::Table(a) => Done::Table(TableTask::fetch(client, a)?),
        Work::Listing(server) => {
            Done::Listing(servers::message_streams(client, &server.token, None)?)
        }
    })
}
