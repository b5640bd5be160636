//! What a handler sees of one admitted request: the model, the authenticated server, the
//! query, the simulator clock and the path's ID, with the helpers every handler shares
//! (retention cutoff, `messagestream` lookup, a stream's rendering view).

use super::query::{ApiError, Query};
use crate::generate::facts::Ctx;
use crate::generate::model::{Model, Server};
use crate::render::view::StreamView;

/// What a handler sees.
pub struct Env<'a> {
    pub m: &'a Model,
    /// Index of the authenticated server (0 for account routes).
    pub s: usize,
    pub q: &'a Query,
    pub now: i64,
    pub id: &'a str,
}

impl Env<'_> {
    /// The authenticated server.
    pub fn server(&self) -> &Server {
        &self.m.servers[self.s]
    }

    /// Oldest instant still retained.
    pub fn cutoff(&self) -> i64 {
        self.now - self.m.retention
    }

    /// The `messagestream` parameter (default `outbound`); unknown → 422/1235.
    pub fn stream_param(&self, _code: i64) -> Result<usize, ApiError> {
        match self.q.text("messagestream") {
            None => Ok(0),
            Some(id) => self.server().stream_index(&id).ok_or_else(unknown_stream),
        }
    }

    /// Rendering context of stream `k`.
    pub fn view(&self, k: usize) -> StreamView<'_> {
        let sv = self.server();
        StreamView {
            ctx: Ctx {
                seed: self.m.seed,
                server: self.s,
                stream: k,
                kind: sv.streams[k].kind,
                pool: sv.pool,
                horizon: self.m.horizon,
                late: self.m.late,
                late_rate: self.m.late_arrival_rate,
                max_arrival: self.m.max_arrival,
            },
            stream_id: &sv.streams[k].id,
            from_domain: &sv.from_domain,
            sandboxed: sv.sandbox,
            now: self.now,
        }
    }
}

/// 422/1235 for a `messagestream` the server does not have.
pub fn unknown_stream() -> ApiError {
    ApiError::unprocessable(
        1235,
        "The MessageStream provided does not exist on this server.",
    )
}
