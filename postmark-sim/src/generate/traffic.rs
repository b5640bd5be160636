//! Traffic generation: message send times per stream (diurnal, weekly, per-server volume, the
//! spike day) from `days` before the anchor to the horizon (`ahead_hours` after it), then one
//! pass over every message's facts that fills the opens/clicks/bounce indexes, suppressions and
//! statistics (with the part stamped after the anchor apart); inbound receive times; and live
//! arrivals later on.

use std::collections::HashSet;
use std::sync::Mutex;

use super::account;
use super::day_counters::{self, StatsMap};
use super::eastern::{
    day_start, eastern_day, offset_secs, TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_SEC,
};
use super::facts::{self, Ctx};
use super::ids;
use super::late;
use super::model::{self, Bounce, FutureStats, Hit, Model, Suppression};
use super::names;
use super::stream_type::StreamType;
use crate::knobs::SimConfig;

/// Relative hourly volume by Eastern hour (sums to 24).
const DIURNAL: [f64; 24] = [
    0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8, 1.1, 1.4, 1.6, 1.7, 1.7, 1.6, 1.6, 1.6, 1.5, 1.4, 1.3, 1.2,
    1.1, 1.0, 0.9, 0.7, 0.5,
];

/// Builds the whole account and its traffic.
pub fn build(cfg: &SimConfig, anchor: i64) -> Model {
    let mut m = account::account(cfg, anchor);
    let start = anchor - i64::from(cfg.days) * TICKS_PER_DAY;
    let horizon = m.horizon;
    let spike_day = eastern_day(
        anchor - (i64::from(cfg.days.min(cfg.retention_days)) / 2).max(1) * TICKS_PER_DAY,
    );
    let mut bounces: Vec<Bounce> = Vec::new();
    for s in 0..m.servers.len() {
        let per_day = f64::from(cfg.messages_per_day) * cfg.scale * m.servers[s].volume;
        let mut future = StatsMap::new();
        for k in 0..m.servers[s].streams.len() {
            let st = &m.servers[s].streams[k];
            if st.kind == StreamType::Inbound {
                continue;
            }
            let end = st.archived_at.unwrap_or(horizon).min(horizon);
            let mut r = ids::rng(cfg.seed, &[10, s as u64, k as u64]);
            let mut times = times_between(&mut r, start, end, per_day * st.volume);
            if s == 0 && k == 0 && cfg.spike_messages > 0 {
                let (a, b) = (
                    day_start(spike_day).max(start),
                    day_start(spike_day + 1).min(end),
                );
                if a < b {
                    times.extend((0..cfg.spike_messages).map(|_| r.i64(a..b)));
                }
            }
            times.sort_unstable();
            let traffic = Traffic {
                future: &mut future,
                bounces: &mut bounces,
            };
            stream_traffic(&mut m, (s, k), times, traffic);
        }
        let mut r = ids::rng(cfg.seed, &[11, s as u64]);
        let mut inbound = times_between(&mut r, start, horizon, per_day * 0.1);
        inbound.sort_unstable();
        let server = &mut m.servers[s];
        server.inbound = inbound;
        server.future = Mutex::new(FutureStats {
            at: anchor,
            stats: future,
        });
    }
    index_bounces(&mut m, bounces);
    add_manual_suppressions(&mut m, cfg.seed);
    m
}

/// What a stream's traffic adds to beyond the stream itself: the server's statistics stamped
/// after the anchor, and the account's bounces.
struct Traffic<'a> {
    future: &'a mut StatsMap,
    bounces: &'a mut Vec<Bounce>,
}

/// Fills stream `k` of server `s` with the messages sent at `times` (sorted): their opens,
/// clicks and unsubscribes in the stream's indexes, their statistics in the server's, their
/// bounces in `traffic`.
fn stream_traffic(m: &mut Model, (s, k): (usize, usize), times: Vec<i64>, traffic: Traffic) {
    let ctx = ctx_of(m, s, k);
    let (seed, anchor) = (m.seed, m.anchor);
    let server = &mut m.servers[s];
    let st = &mut server.streams[k];
    st.generated = times.len();
    st.messages = times;
    let mut suppressed: HashSet<u32> = HashSet::new();
    for i in 0..st.messages.len() {
        let f = facts::message(&ctx, i, st.messages[i], false);
        index_message(st, &mut server.stats, k, &f);
        day_counters::record_after(traffic.future, k, &f, anchor);
        if let Some(b) = f.bounce {
            traffic.bounces.push(Bounce {
                at: b.at,
                server: s as u16,
                stream: k as u8,
                kind: b.kind as u8,
                msg: i as u32,
                slot: b.slot,
            });
        }
        if let Some(t) = f.unsubscribed {
            if suppressed.insert(f.recipients[0]) {
                st.suppressions.push(Suppression {
                    email: facts::email(seed, s, f.recipients[0]),
                    reason: "ManualSuppression",
                    origin: "Recipient",
                    at: t,
                    until: None,
                });
            }
        }
    }
    st.opens.sort_unstable_by_key(|h| (h.at, h.msg, h.n));
    st.clicks.sort_unstable_by_key(|h| (h.at, h.msg, h.n));
}

/// Sorts the account's bounces (their IDs follow), files them under their streams and adds the
/// suppressions of hard bounces and spam complaints (a hard bounce reactivated later loses its
/// suppression then).
fn index_bounces(m: &mut Model, mut bounces: Vec<Bounce>) {
    bounces.sort_unstable_by_key(|b| (b.at, b.server, b.stream, b.msg));
    for (i, b) in bounces.iter().enumerate() {
        let (s, k) = (usize::from(b.server), usize::from(b.stream));
        let st = &mut m.servers[s].streams[k];
        st.bounces.push(i as u32);
        st.bounce_by_msg.insert(b.msg, i as u32);
        let kind = usize::from(b.kind);
        if kind != names::HARD_BOUNCE && kind != names::SPAM_COMPLAINT {
            continue;
        }
        let f = facts::message(&ctx_of(m, s, k), b.msg as usize, st_time(m, b), false);
        let email = facts::email(m.seed, s, f.recipients[usize::from(b.slot)]);
        let parts = [u64::from(b.server), u64::from(b.stream), u64::from(b.msg)];
        let until = late::flag_change(m.seed, kind, b.at, &parts)
            .filter(|_| m.late)
            .map(|c| c.at);
        let st = &mut m.servers[s].streams[k];
        if !st.suppressions.iter().any(|x| x.email == email) {
            st.suppressions.push(Suppression {
                email,
                reason: names::BOUNCE_TYPES[kind].key,
                origin: "Recipient",
                at: b.at,
                until,
            });
        }
    }
    m.bounces = bounces;
}

fn st_time(m: &Model, b: &Bounce) -> i64 {
    m.servers[usize::from(b.server)].streams[usize::from(b.stream)].messages[b.msg as usize]
}

/// The derivation context of a stream.
pub fn ctx_of(m: &Model, server: usize, stream: usize) -> Ctx {
    let sv = &m.servers[server];
    Ctx {
        seed: m.seed,
        server,
        stream,
        kind: sv.streams[stream].kind,
        pool: sv.pool,
        horizon: m.horizon,
        late: m.late,
        late_rate: m.late_arrival_rate,
        max_arrival: m.max_arrival,
    }
}

fn index_message(st: &mut model::Stream, stats_map: &mut StatsMap, k: usize, f: &facts::MsgFacts) {
    for (n, o) in f.opens.iter().enumerate() {
        st.opens.push(Hit {
            at: o.at,
            msg: f.index as u32,
            n: n as u16,
        });
    }
    for (n, c) in f.clicks.iter().enumerate() {
        st.clicks.push(Hit {
            at: c.at,
            msg: f.index as u32,
            n: n as u16,
        });
    }
    day_counters::record(stats_map, k, f);
}

/// Random send times in `[start, end)` with `per_day` expected per day, shaped by hour of day
/// (Eastern) and day of week.
fn times_between(r: &mut fastrand::Rng, start: i64, end: i64, per_day: f64) -> Vec<i64> {
    let mut out = Vec::with_capacity(
        (per_day * (end - start) as f64 / TICKS_PER_DAY as f64 * 1.05).max(0.0) as usize,
    );
    let mut slot = start;
    while slot < end {
        let slot_end = (slot + TICKS_PER_HOUR).min(end);
        let wall = slot + offset_secs(slot) * TICKS_PER_SEC;
        let hour = (wall.rem_euclid(TICKS_PER_DAY) / TICKS_PER_HOUR) as usize;
        let weekday = (wall.div_euclid(TICKS_PER_DAY) + 4).rem_euclid(7); // 0 = Sunday
        let week = if weekday == 0 || weekday == 6 {
            0.6
        } else {
            1.1
        };
        let expected = per_day / 24.0 * DIURNAL[hour] * week * (slot_end - slot) as f64
            / TICKS_PER_HOUR as f64;
        let n = expected.floor() as usize + usize::from(r.f64() < expected.fract());
        out.extend((0..n).map(|_| r.i64(slot..slot_end)));
        slot = slot_end;
    }
    out
}

fn add_manual_suppressions(m: &mut Model, seed: u64) {
    let anchor = m.anchor;
    for (s, server) in m.servers.iter_mut().enumerate() {
        for (k, st) in server.streams.iter_mut().enumerate() {
            if st.kind == StreamType::Inbound {
                continue;
            }
            let mut r = ids::rng(seed, &[12, s as u64, k as u64]);
            for (j, origin) in ["Customer", "Admin"].into_iter().enumerate() {
                let email = format!(
                    "blocked{}.{}@example.{}",
                    j + 1,
                    st.id,
                    if j == 0 { "com" } else { "net" }
                );
                let at = anchor - r.i64(TICKS_PER_DAY..200 * TICKS_PER_DAY);
                st.suppressions.push(Suppression {
                    email,
                    reason: "ManualSuppression",
                    origin,
                    at,
                    until: None,
                });
            }
            st.suppressions.sort_by_key(|x| std::cmp::Reverse(x.at));
        }
    }
}

/// Appends `n` live outbound messages (with opens) at the clock's `now`, on random servers and
/// active non-inbound streams, updating indexes and statistics.
pub fn live_arrivals(m: &mut Model, now: i64, n: u32, r: &mut fastrand::Rng) {
    for _ in 0..n {
        let s = r.usize(0..m.servers.len());
        let candidates: Vec<usize> = m.servers[s]
            .streams
            .iter()
            .enumerate()
            .filter(|(_, st)| st.kind != StreamType::Inbound && st.archived_at.is_none())
            .map(|(k, _)| k)
            .collect();
        let k = candidates[r.usize(0..candidates.len())];
        // 4 µs apart: the opens (1 and 2 µs after the send) stay distinct and sorted.
        let at = now.max(m.last_live + 40);
        m.last_live = at;
        let ctx = ctx_of(m, s, k);
        let server = &mut m.servers[s];
        let st = &mut server.streams[k];
        let i = st.messages.len();
        st.messages.push(at);
        let f = facts::message(&ctx, i, at, true);
        index_message(st, &mut server.stats, k, &f);
    }
}
