//! The requests of a run as the pipeline carries them: the task that asked, what to fetch, and
//! the fetch itself, which runs on a worker thread and hands back an answer already shaped.

use super::reads;
use super::search::fetch::{self as search_fetch, PageRequest};
use super::servers::{self, Listed, Server};
use super::{full_table, stats};
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
    /// A page of a search stream's own search.
    Search(PageRequest<'a>),
    /// A request of per-record reads: a search page of one of their sources, a record's
    /// read, or a suppression dump.
    Reads(reads::Request<'a>),
    Stats(stats::Request<'a>),
    Table(full_table::Request<'a>),
    /// A server's message streams, the first request of its turn (account mode).
    Streams(Arc<Server>),
}

pub enum Answer {
    Search(search_fetch::Fetched),
    Reads(reads::Answer),
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
            Request::Search(r) => Some(&r.part.server),
            Request::Reads(reads::Request::Page { page, .. }) => Some(&page.part.server),
            Request::Reads(reads::Request::Read(r)) => Some(&r.spec.server),
            Request::Reads(reads::Request::Dump(r)) => Some(&r.spec.server),
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
        Request::Search(r) => Answer::Search(search_fetch::fetch(client, r)?),
        Request::Reads(r) => Answer::Reads(match r {
            reads::Request::Page { page, .. } => {
                reads::Answer::Page(search_fetch::fetch(client, page)?)
            }
            reads::Request::Read(r) => reads::Answer::Read(reads::read::fetch(client, r)?),
            reads::Request::Dump(r) => reads::Answer::Dump(reads::suppressions::fetch(client, r)?),
        }),
        Request::Stats(r) => Answer::Stats(stats::fetch(client, r)?),
        Request::Table(r) => Answer::Table(full_table::fetch(client, r)?),
        Request::Streams(server) => {
            Answer::Streams(servers::message_streams(client, &server.token, None)?)
        }
    })
}
