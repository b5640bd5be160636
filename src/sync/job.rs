//! The requests of a run as the pipeline carries them: the task that asked, what to fetch, and
//! the fetch itself, which runs on a worker thread and hands back an answer already shaped.

use super::search::expand;
use super::servers::{self, Listed, Server};
use super::{full_table, search, stats};
use crate::client::Client;
use crate::error::Error;
use std::sync::Arc;

/// A request, and the task (its index in the run) that handles the answer.
#[derive(Clone)]
pub struct Job<'a> {
    pub task: usize,
    pub request: Request<'a>,
}

#[derive(Clone)]
pub enum Request<'a> {
    Search(search::Request<'a>),
    Stats(stats::Request<'a>),
    Table(full_table::Request<'a>),
    /// A server's message streams, the first request of its turn (account mode).
    Streams(Arc<Server>),
}

pub enum Answer {
    Search(search::Answer),
    Stats(stats::Fetched),
    Table(full_table::Fetched),
    Streams(Listed),
    /// Not fetched: the server failed before the request's turn came.
    Skipped,
}

impl Request<'_> {
    /// The server the request reads, if any.
    pub fn server(&self) -> Option<&Server> {
        match self {
            Request::Search(search::Request::Page(r)) => Some(&r.part.server),
            Request::Search(search::Request::Details(r)) => Some(&r.part.server),
            Request::Stats(r) => Some(&r.spec.server),
            Request::Table(r) => r.spec.server.as_deref(),
            Request::Streams(s) => Some(s),
        }
    }
}

/// Fetches a job's request (on a worker thread).
pub fn fetch(client: &Client, job: &Job) -> Result<Answer, Error> {
    if job.request.server().is_some_and(Server::failed) {
        return Ok(Answer::Skipped);
    }
    Ok(match &job.request {
        Request::Search(search::Request::Page(r)) => {
            Answer::Search(search::Answer::Page(search::fetch::fetch(client, r)?))
        }
        Request::Search(search::Request::Details(r)) => {
            Answer::Search(search::Answer::Details(expand::fetch(client, r)?))
        }
        Request::Stats(r) => Answer::Stats(stats::fetch(client, r)?),
        Request::Table(r) => Answer::Table(full_table::fetch(client, r)?),
        Request::Streams(server) => {
            Answer::Streams(servers::message_streams(client, &server.token, None)?)
        }
    })
}
