//! Postmark API simulator: a deterministic, seeded Postmark account served over HTTP on
//! loopback, with Postmark's rules (tokens, paging limits, Eastern wall-time filters,
//! retention), injectable faults, live arrivals, a request log and a ground-truth export.
//!
//! ```no_run
//! use postmark_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::small()).unwrap();
//! println!("{} {}", sim.base_url(), sim.servers()[0].token);
//! ```

mod content;
mod endpoints;
mod generate;
mod knobs;
mod render;
mod serve;
mod truth;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use generate::eastern::{duration_ticks, from_ticks, to_ticks};
use generate::visible::due_count;
use serve::http::{HttpServer, Request};
use serve::shared::Shared;
use truth::{changed_messages, expected_answer, ground_truth};

pub use knobs::{Faults, SimConfig};
pub use serve::request_log::RequestLogEntry;

/// A server of the generated account.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub id: u64,
    pub name: String,
    pub token: String,
}

/// Counts of generated records stamped by the clock's now (retained or not).
#[derive(Clone, Copy, Debug, Default)]
pub struct GeneratedCounts {
    pub messages: u64,
    pub opens: u64,
    pub clicks: u64,
    pub bounces: u64,
    pub inbound: u64,
}

/// Why live arrivals and traffic ahead of the clock do not go together: live arrivals are
/// appended at the clock's now to the end of indexes that then hold records stamped later.
const AHEAD_WITH_LIVE_ARRIVALS: &str = "SimConfig::ahead_hours (--ahead-hours) > 0 cannot be \
    combined with Faults::live_arrivals_per_request (--live-arrivals) > 0: live arrivals are \
    stamped at the clock's now, before the traffic generated ahead of it";

/// Why a `late_arrival_rate` is refused.
const LATE_ARRIVAL_RATE: &str = "SimConfig::late_arrival_rate (--late-arrival-rate) must be a \
    fraction between 0 and 1";

/// A running simulator; stops on [`Simulator::stop`] or drop.
pub struct Simulator {
    shared: Arc<Shared>,
    server: HttpServer,
}

impl Simulator {
    /// Generates the account and listens on `127.0.0.1:0`.
    pub fn start(config: SimConfig) -> std::io::Result<Simulator> {
        Simulator::start_on(config, "127.0.0.1:0")
    }

    /// Generates the account and listens on `addr`. Refuses (`InvalidInput`) traffic ahead
    /// together with live arrivals, and a `late_arrival_rate` outside `[0, 1]` or not finite.
    pub fn start_on(config: SimConfig, addr: &str) -> std::io::Result<Simulator> {
        if config.ahead_hours > 0 && config.faults.live_arrivals_per_request > 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                AHEAD_WITH_LIVE_ARRIVALS,
            ));
        }
        if !(0.0..=1.0).contains(&config.late_arrival_rate) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{LATE_ARRIVAL_RATE}, not {}", config.late_arrival_rate),
            ));
        }
        let mut config = config;
        config.servers = config.servers.clamp(1, 1000);
        if !config.scale.is_finite() || config.scale < 0.0 {
            config.scale = 0.0;
        }
        if !config.body_size_scale.is_finite() || config.body_size_scale < 0.0 {
            config.body_size_scale = 0.0;
        }
        if !config.large_body_rate.is_finite() {
            config.large_body_rate = 0.0;
        }
        let anchor = to_ticks(config.now.unwrap_or_else(Utc::now));
        let model = generate::traffic::build(&config, anchor);
        let shared = Arc::new(Shared::new(model, config.faults.clone(), config.clock_runs));
        let handler_state = shared.clone();
        let server = HttpServer::start(
            addr,
            Arc::new(move |req: &Request| handler_state.serve(req)),
        )?;
        Ok(Simulator { shared, server })
    }

    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// The account token.
    pub fn account_token(&self) -> String {
        self.shared.model_read().account_token.clone()
    }

    /// The servers with their tokens.
    pub fn servers(&self) -> Vec<ServerInfo> {
        self.shared
            .model_read()
            .servers
            .iter()
            .map(|s| ServerInfo {
                id: s.id,
                name: s.name.clone(),
                token: s.token.clone(),
            })
            .collect()
    }

    /// The simulator clock: the anchor (`SimConfig::now`), plus real time elapsed since start
    /// when `SimConfig::clock_runs`, plus every move forward ([`Simulator::advance`],
    /// [`Simulator::set_now`], live arrivals).
    pub fn now(&self) -> DateTime<Utc> {
        from_ticks(self.shared.now_ticks())
    }

    /// Moves the clock forward by `d` (a negative `d` does nothing: the clock never goes back).
    /// Records that arrive (traffic generated ahead of the clock included), statuses and flags
    /// that change, and statistics that grow in that time show from the next request on.
    pub fn advance(&self, d: Duration) {
        self.shared.advance(duration_ticks(d));
    }

    /// Moves the clock forward to `t`; an earlier `t` does nothing.
    pub fn set_now(&self, t: DateTime<Utc>) {
        self.shared.advance_to(to_ticks(t));
    }

    /// Revokes (or restores) a server's token: requests carrying it get 401, while `/servers`
    /// still lists it, as after a token rotation the caller has not picked up.
    pub fn set_server_token_revoked(&self, server_id: u64, revoked: bool) {
        let mut model = self.shared.model_write();
        if let Some(s) = model.servers.iter_mut().find(|s| s.id == server_id) {
            s.revoked = revoked;
        }
    }

    /// Makes a server's token answer 403 on every server endpoint (a token scoped away from
    /// the data), or restores it.
    pub fn set_server_token_forbidden(&self, server_id: u64, forbidden: bool) {
        let mut model = self.shared.model_write();
        if let Some(s) = model.servers.iter_mut().find(|s| s.id == server_id) {
            s.forbidden = forbidden;
        }
    }

    /// Replaces the faults; takes effect for the next request.
    ///
    /// # Panics
    ///
    /// When `faults` asks for live arrivals on a simulator generated with
    /// `SimConfig::ahead_hours > 0` (the two do not go together; `start` refuses them as well).
    pub fn set_faults(&self, faults: Faults) {
        let ahead = {
            let m = self.shared.model_read();
            m.horizon > m.anchor
        };
        assert!(
            !(ahead && faults.live_arrivals_per_request > 0),
            "{AHEAD_WITH_LIVE_ARRIVALS}"
        );
        self.shared.set_faults(faults);
    }

    /// Record keys the tap stream `stream` should emit for `server_id` over `[from, to)`;
    /// `None` for an unknown stream name.
    pub fn ground_truth(
        &self,
        server_id: u64,
        stream: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<BTreeSet<Vec<String>>> {
        let now = self.shared.now_ticks();
        let m = self.shared.model_read();
        ground_truth::ground_truth(&m, now, server_id, stream, to_ticks(from), to_ticks(to))
    }

    /// The statistics tap stream `stream` reads for tag `tag` (`None`: all messages) on message
    /// stream `ms` of `server_id`, as of the clock's now, Eastern day by Eastern day over
    /// `days` (both included): each day the endpoint reports, keyed `YYYY-MM-DD`, as it answers
    /// for that day alone (its `Days` row without `Date`; the overview's whole answer, every
    /// day). Rendered by the endpoint's own handler from the per-day, per-tag counters. `None`
    /// for an unknown stream, server or message stream.
    pub fn stats_days(
        &self,
        server_id: u64,
        stream: &str,
        ms: &str,
        tag: Option<&str>,
        days: (chrono::NaiveDate, chrono::NaiveDate),
    ) -> Option<std::collections::BTreeMap<String, serde_json::Value>> {
        let now = self.shared.now_ticks();
        let m = self.shared.model_read();
        ground_truth::stats_days(&m, now, server_id, stream, ms, tag, days)
    }

    /// The JSON answer of the endpoint tap stream `stream` reads for `key` on `server_id`, as
    /// of the clock's now: the outbound details (`messages_outbound_details`, key a MessageID),
    /// the inbound details (`messages_inbound_details`, key a MessageID) or the bounce dump
    /// (`bounce_dumps`, key a bounce ID in decimal). `None` when the endpoint answers
    /// not-found (unknown, expired, not arrived, another server's), and for an unknown server
    /// or stream. Rendered by the endpoint's own handler, so it equals the HTTP answer.
    pub fn expected_answer(
        &self,
        server_id: u64,
        stream: &str,
        key: &str,
    ) -> Option<serde_json::Value> {
        let now = self.shared.now_ticks();
        let m = self.shared.model_read();
        expected_answer::expected_answer(&m, now, server_id, stream, key)
    }

    /// The `Status` the outbound details of message `id` on server `server_id` give at the
    /// clock's now (`Queued` or `Sent`), as [`Simulator::expected_answer`] renders it, without
    /// rendering the rest; `None` when they answer not-found.
    pub fn outbound_status(&self, server_id: u64, id: &str) -> Option<&'static str> {
        let now = self.shared.now_ticks();
        let m = self.shared.model_read();
        expected_answer::status(&m, now, server_id, id)
    }

    /// The MessageIDs of server `server_id`'s outbound messages that changed in `[from, to)`:
    /// those retained at the clock's now whose `ReceivedAt` lies in it, or that have a
    /// `MessageEvents` entry (any type, as `/details` lists it once it shows) stamped in it, or
    /// that turn from `Queued` to `Sent` in it. Nothing stamped after the clock's now counts.
    /// This is the least a scheduled sync that read up to `from` last time and up to `to` now
    /// must read the details of again. Empty for an unknown server.
    pub fn changed_messages(
        &self,
        server_id: u64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BTreeSet<String> {
        let now = self.shared.now_ticks();
        let m = self.shared.model_read();
        let (from, to) = (to_ticks(from), to_ticks(to));
        changed_messages::changed_messages(&m, now, server_id, from, to)
    }

    /// Every request answered so far.
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        self.shared.log.snapshot()
    }

    /// Forgets the request log.
    pub fn clear_request_log(&self) {
        self.shared.log.clear();
    }

    /// Totals of the generated records stamped by the clock's now, arrived or not, retained or
    /// not (live arrivals included; the traffic ahead of the clock counts as the clock gets
    /// there).
    pub fn generated_counts(&self) -> GeneratedCounts {
        let now = self.shared.now_ticks();
        let m = self.shared.model_read();
        let count = |n: usize| n as u64;
        let mut c = GeneratedCounts {
            bounces: count(due_count(&m.bounces, |b| b.at, m.horizon, now)),
            ..GeneratedCounts::default()
        };
        for s in &m.servers {
            c.inbound += count(due_count(&s.inbound, |t| *t, m.horizon, now));
            for st in &s.streams {
                c.messages += count(due_count(&st.messages, |t| *t, m.horizon, now));
                c.opens += count(due_count(&st.opens, |h| h.at, m.horizon, now));
                c.clicks += count(due_count(&st.clicks, |h| h.at, m.horizon, now));
            }
        }
        c
    }

    /// Stops listening and joins the worker threads.
    pub fn stop(mut self) {
        self.server.stop();
    }
}
