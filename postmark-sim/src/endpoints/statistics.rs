//! The statistics endpoints: `GET /stats/outbound` (the overview, every key even when 0) and
//! the eleven `/stats/outbound/{…}` per-day endpoints (zero keys and empty days omitted), summed
//! from the per-day counters less what has not arrived at the clock's now.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::env::{unknown_stream, Env};
use super::pending_stats;
use super::query::{day_range, ApiError, ApiResult};
use crate::generate::day_counters::{self, DayStats, N_CLIENTS};
use crate::generate::eastern::{self, day_string};
use crate::generate::model::Server;
use crate::generate::names::{self, BOUNCE_TYPES, CLICK_PLATFORMS, OPEN_PLATFORMS};
use crate::generate::stream_type::StreamType;

/// Streams a stats request covers: the `messagestream` one, or every non-inbound stream.
pub fn stats_streams(server: &Server, param: Option<String>) -> Result<Vec<usize>, ApiError> {
    match param {
        Some(id) => server
            .stream_index(&id)
            .map(|k| vec![k])
            .ok_or_else(unknown_stream),
        None => Ok((0..server.streams.len())
            .filter(|&k| server.streams[k].kind != StreamType::Inbound)
            .collect()),
    }
}

/// `GET /stats/outbound` (`endpoint` empty) and `/stats/outbound/{endpoint}`.
pub fn stats(env: &Env, endpoint: &str) -> ApiResult {
    let server = env.server();
    let streams = stats_streams(server, env.q.text("messagestream"))?;
    let tag = env.q.text("tag").map(|t| {
        names::TAGS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(&t))
            .map_or(usize::MAX, |p| p + 1)
    });
    let (first, last, nothing) = day_range(env.q, 900)?;
    let days = if nothing {
        Default::default()
    } else {
        let last = Some(last.unwrap_or_else(|| eastern::eastern_day(env.now)));
        let pending = pending_stats::pending_stats(env);
        day_counters::per_day(&server.stats, &pending, &streams, tag, first, last)
    };
    Ok(if endpoint.is_empty() {
        render_overview(&days)
    } else {
        render_days(endpoint, &days)
    })
}

/// The per-day endpoints, by the path after `/stats/outbound/`.
pub const ENDPOINTS: &[&str] = &[
    "sends",
    "bounces",
    "spam",
    "tracked",
    "opens",
    "opens/platforms",
    "opens/emailclients",
    "clicks",
    "clicks/browserfamilies",
    "clicks/platforms",
    "clicks/location",
];

/// The non-zero keys an endpoint reports for one day's counters.
pub fn row(endpoint: &str, d: &DayStats) -> Vec<(&'static str, u64)> {
    let mut v: Vec<(&'static str, u64)> = match endpoint {
        "sends" => vec![("Sent", d.sent)],
        "bounces" => BOUNCE_TYPES
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != names::SPAM_COMPLAINT)
            .map(|(i, b)| (b.key, d.bounces[i]))
            .collect(),
        "spam" => vec![("SpamComplaint", d.spam())],
        "tracked" => vec![("Tracked", d.tracked)],
        "opens" => vec![("Opens", d.opens), ("Unique", d.unique_opens)],
        "opens/platforms" => OPEN_PLATFORMS
            .iter()
            .copied()
            .zip(d.open_platforms)
            .collect(),
        "opens/emailclients" => names::CLIENTS
            .iter()
            .enumerate()
            .filter(|(_, c)| c.0 != "unknown")
            .map(|(i, c)| (c.0, d.clients[i]))
            .collect(),
        "clicks" => vec![("Clicks", d.clicks), ("Unique", d.unique_clicks)],
        "clicks/browserfamilies" => names::BROWSERS
            .iter()
            .map(|b| b.0)
            .zip(d.browsers)
            .collect(),
        "clicks/platforms" => CLICK_PLATFORMS
            .iter()
            .copied()
            .zip(d.click_platforms)
            .collect(),
        "clicks/location" => vec![
            ("HTML", d.click_locations[0]),
            ("Text", d.click_locations[1]),
        ],
        _ => Vec::new(),
    };
    v.retain(|(_, n)| *n > 0);
    v
}

/// Renders a per-day endpoint: totals (non-zero keys) and `Days` (non-empty rows only).
pub fn render_days(endpoint: &str, days: &BTreeMap<i32, DayStats>) -> Value {
    let mut rows = Vec::new();
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (day, d) in days {
        let keys = row(endpoint, d);
        if keys.is_empty() {
            continue;
        }
        let mut m = Map::new();
        m.insert("Date".to_string(), Value::String(day_string(*day)));
        for (k, n) in keys {
            m.insert(k.to_string(), json!(n));
            *totals.entry(k).or_default() += n;
        }
        rows.push(Value::Object(m));
    }
    let mut out = Map::new();
    out.insert("Days".to_string(), Value::Array(rows));
    for (k, n) in totals {
        out.insert(k.to_string(), json!(n));
    }
    Value::Object(out)
}

fn rate(n: u64, sent: u64) -> f64 {
    if sent == 0 {
        0.0
    } else {
        (n as f64 * 100_000.0 / sent as f64).round() / 1000.0
    }
}

/// Renders the overview: every key, zeros included.
pub fn render_overview(days: &BTreeMap<i32, DayStats>) -> Value {
    let mut t = DayStats::default();
    for d in days.values() {
        t.add(d);
    }
    let bounced = t.bounced();
    json!({
        "Sent": t.sent,
        "Bounced": bounced,
        "SMTPApiErrors": t.bounces[names::SMTP_API_ERROR],
        "BounceRate": rate(bounced, t.sent),
        "SpamComplaints": t.spam(),
        "SpamComplaintsRate": rate(t.spam(), t.sent),
        "Tracked": t.tracked,
        "Opens": t.opens,
        "UniqueOpens": t.unique_opens,
        "TotalClicks": t.clicks,
        "UniqueLinksClicked": t.unique_clicks,
        "WithClientRecorded": t.clients.iter().take(N_CLIENTS - 1).sum::<u64>(),
        "WithPlatformRecorded": t.open_platforms.iter().take(3).sum::<u64>(),
        "WithReadTimeRecorded": t.unique_opens,
        "WithLinkTracking": t.with_link_tracking,
        "WithOpenTracking": t.with_open_tracking,
        "TotalTrackedLinksSent": t.tracked_links_sent,
    })
}
