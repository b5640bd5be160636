//! What a simulator is asked to be: the data knobs (`SimConfig`, with the demo account of
//! `SimConfig::small`) and the faults injected into its answers (`Faults`), with their defaults.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What to generate and serve.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Data seed (default 42).
    pub seed: u64,
    /// Number of servers (default 3, at least 1).
    pub servers: u32,
    /// Generated traffic covers the `days` days before `now` (default 30).
    pub days: u32,
    /// Traffic also goes on for this many hours after `now` (default 0), at the same rates and
    /// curves: what is stamped after the clock's now stays invisible until the clock gets there,
    /// so moving the clock brings new messages and new activity on older ones.
    pub ahead_hours: u32,
    /// Base outbound-stream messages per server per day (default 200).
    pub messages_per_day: u32,
    /// Multiplies every per-day volume (default 1.0).
    pub scale: f64,
    /// Extra messages on one Eastern day in the first server's `outbound` stream (default 12,000).
    pub spike_messages: u32,
    /// Records older than now − retention are gone (stats are kept forever). Default 45.
    pub retention_days: u32,
    /// Anchor of the generated data; `None` = the wall clock at start.
    pub now: Option<DateTime<Utc>>,
    /// Whether the clock also runs with real time (default false: it stands at the anchor and
    /// moves only by `Simulator::advance`/`set_now` and live arrivals, so answers repeat).
    pub clock_runs: bool,
    /// Whether records change after the fact (default true, as Postmark's do): arrival delays,
    /// Queued → Sent, bounce flags, late statistics.
    pub late_changes: bool,
    /// Fraction of records (outbound messages, opens, clicks, bounces, inbound messages; not
    /// live arrivals) that arrive 6–40 minutes after their own time instead of within 4 minutes
    /// (default 0; within `[0, 1]`). Chosen per record by the seed; a higher rate keeps every
    /// record a lower rate made late. No effect without `late_changes`.
    pub late_arrival_rate: f64,
    /// When set, every token and webhook password contains this string.
    pub secret_marker: Option<String>,
    /// Multiplies the size every message body is drawn at (default 1.0: HTML bodies of 1–20 KiB
    /// for 90 % of messages, 20–200 KiB for 9.5 %, 200 KiB–1 MiB for 0.5 %; 0 gives the
    /// smallest bodies the layouts allow). Large bodies (below) are not scaled.
    pub body_size_scale: f64,
    /// Fraction of messages (outbound and inbound) whose body is drawn between 960 KiB and
    /// 1 MiB instead (default 0). Chosen per message by the seed; a higher rate keeps every
    /// message a lower rate made large.
    pub large_body_rate: f64,
    /// Faults active from the first request.
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 42,
            servers: 3,
            days: 30,
            ahead_hours: 0,
            messages_per_day: 200,
            scale: 1.0,
            spike_messages: 12_000,
            retention_days: 45,
            now: None,
            clock_runs: false,
            late_changes: true,
            late_arrival_rate: 0.0,
            secret_marker: None,
            body_size_scale: 1.0,
            large_body_rate: 0.0,
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// A fast account for demos: 2 servers, 7 days, no spike, every kind of record present.
    pub fn small() -> SimConfig {
        SimConfig {
            servers: 2,
            days: 7,
            messages_per_day: 60,
            spike_messages: 0,
            ..SimConfig::default()
        }
    }
}

/// Injected faults (all off by default).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Fraction of requests answered 500, 503 (ErrorCode 100) or 429, evenly.
    pub error_rate: f64,
    /// The next N requests are answered 429.
    pub burst_429: u32,
    /// Fraction whose connection is closed mid-response.
    pub drop_rate: f64,
    /// Fraction answered 200 with a JSON body cut short.
    pub truncate_rate: f64,
    /// Fraction answered 200 or 502 with an HTML page.
    pub non_json_rate: f64,
    /// Fraction answered 200 with a non-zero ErrorCode body.
    pub error_code_200_rate: f64,
    /// Fraction of the answers of the count/offset-paged full-table lists (`/servers`,
    /// `/domains`, `/senders`, `/templates`, `/triggers/inboundrules`) that keep only the first
    /// half of their items (rounded down; a page of one item is left whole), `TotalCount`
    /// unchanged. Searches are never shortened.
    pub short_page_rate: f64,
    /// Fraction of the answers of those same lists that hold no items at all, `TotalCount`
    /// unchanged.
    pub empty_page_rate: f64,
    /// New outbound messages (with opens) appended before each search request.
    pub live_arrivals_per_request: u32,
    /// Fault RNG seed (0 = derived from the data seed).
    pub seed: u64,
}
