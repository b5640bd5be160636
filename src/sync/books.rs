//! What each server and each stream (on a server, or on the account) came to: how many of their
//! tasks are still open, their totals, and the log lines and metrics given when they are done.

use super::context::{Ctx, Totals};
use super::servers::Server;
use crate::error::Error;
use crate::log;
use crate::metrics;
use crate::record::Selected;
use crate::streams::TokenKind;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// What a server's tasks came to.
struct ServerBook {
    server: Arc<Server>,
    /// Its tasks planned and not finished (its set-up included).
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

#[derive(Default)]
pub struct Books {
    servers: Vec<ServerBook>,
    streams: Vec<StreamBook>,
}

impl Books {
    /// Keeps the books of a server; gives its number.
    pub fn add_server(&mut self, server: Server) -> usize {
        self.servers.push(ServerBook {
            server: Arc::new(server),
            open: 0,
            started: None,
            totals: Totals::default(),
        });
        self.servers.len() - 1
    }

    pub fn server(&self, i: usize) -> &Arc<Server> {
        &self.servers[i].server
    }

    /// The server, once its message streams are listed.
    pub fn replace_server(&mut self, i: usize, server: Server) {
        self.servers[i].server = Arc::new(server);
    }

    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// A task of `streams` (none for a server's set-up) on `server` was planned.
    pub fn planned(&mut self, server: Option<usize>, streams: &[&'static str]) {
        if let Some(i) = server {
            self.servers[i].open += 1;
        }
        for &stream in streams {
            match self.stream_mut(stream, server) {
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
    }

    /// A task of `streams` on `server` started: their clocks run from the first.
    pub fn started(&mut self, server: Option<usize>, streams: &[&'static str]) {
        let now = Some(Instant::now());
        if let Some(i) = server {
            self.servers[i].started = self.servers[i].started.or(now);
        }
        for &stream in streams {
            if let Some(book) = self.stream_mut(stream, server) {
                book.started = book.started.or(now);
            }
        }
    }

    /// A server's set-up is done.
    pub fn set_up(&mut self, i: usize) {
        self.servers[i].open -= 1;
    }

    fn stream_mut(&mut self, stream: &str, server: Option<usize>) -> Option<&mut StreamBook> {
        self.streams
            .iter_mut()
            .find(|b| b.stream == stream && b.server == server)
    }

    /// A task finished with what it came to for each of its streams: adds it to their books
    /// and its server's, and reports each of them that is now complete.
    pub fn finished<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        server: Option<usize>,
        streams: &[(&'static str, Totals)],
    ) {
        let server_id = server.map(|i| self.servers[i].server.id);
        for &(stream, ref t) in streams {
            if let Some(book) = self.stream_mut(stream, server) {
                book.totals.add(t);
                book.open -= 1;
                if book.open == 0 {
                    stream_done(ctx, stream, server_id, &closing(&book.totals, book.started));
                }
            }
        }
        let Some(i) = server else { return };
        let book = &mut self.servers[i];
        for (_, t) in streams {
            book.totals.add(t);
        }
        book.open -= 1;
        if book.open == 0 {
            log::info(&format!(
                "server {} ({}) finished: {}",
                book.server.id,
                book.server.name,
                closing(&book.totals, book.started).describe()
            ));
        }
    }
}

impl Books {
    /// Whether a stream was read whole: it has books, and every one of them is closed.
    pub fn stream_complete(&self, stream: &str) -> bool {
        let mut books = self
            .streams
            .iter()
            .filter(|b| b.stream == stream)
            .peekable();
        books.peek().is_some() && books.all(|b| b.open == 0)
    }

    /// ACTIVATE_VERSION for each versioned stream read whole, on every server: only then may
    /// the target drop the rows this run did not send again. None for a server's stream when a
    /// server failed.
    pub fn activate_versions<W: Write>(
        &self,
        ctx: &mut Ctx<'_, W>,
        selection: &[Selected],
        any_failed: bool,
    ) -> Result<(), Error> {
        for sel in selection {
            let Some(version) = sel.version else { continue };
            let name = sel.def.name;
            if sel.def.token == TokenKind::Server && any_failed {
                log::warn_for(
                    name,
                    &format!(
                    "{name}: no ACTIVATE_VERSION, as a server failed: its rows stay as they were"
                ),
                );
            } else if self.stream_complete(name) {
                ctx.out.activate_version(name, version)?;
            }
        }
        Ok(())
    }
}

/// The totals of a book closed now: its time is the time since its first task started.
fn closing(totals: &Totals, started: Option<Instant>) -> Totals {
    Totals {
        seconds: started.map_or(0.0, |s| s.elapsed().as_secs_f64()),
        ..*totals
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
        log::info_for(stream, &format!("{stream}: server {id}: {}", t.describe()));
    }
    ctx.report.add(stream, t);
}
