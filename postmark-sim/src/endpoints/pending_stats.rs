//! The statistics of what has not arrived at the clock's now, which every statistics answer
//! takes away from the generated counters: the records stamped after now (kept per server for
//! the clock of the last request and moved by the records stamped in between, so a request
//! costs what the clock passed over since, not a scan of the future) and the few of the last
//! `Model::max_arrival` still on their way.

use std::sync::{Mutex, MutexGuard};

use super::env::Env;
use crate::generate::day_counters::{self, StatsMap};
use crate::generate::facts::{self, Ctx};
use crate::generate::model::{FutureStats, Stream};
use crate::generate::stream_type::StreamType;
use crate::generate::visible;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the server's statistics count but has not arrived at `env.now`, keyed as they are.
pub fn pending_stats(env: &Env) -> StatsMap {
    let mut out = future_stats(env);
    if !env.m.late {
        return out;
    }
    for (k, st) in outbound(env) {
        let ctx = env.view(k).ctx;
        let facts_of = |i: usize| facts::message(&ctx, i, st.messages[i], i >= st.generated);
        for i in visible::messages_shown(&ctx, st, env.now).hidden {
            day_counters::record_send(&mut out, k, &facts_of(i));
        }
        for clicks in [false, true] {
            for i in visible::hits_shown(&ctx, st, clicks, env.now).hidden {
                record_hit(&mut out, (k, &ctx, st), clicks, i);
            }
        }
        for i in visible::bounces_shown(&ctx, st, &env.m.bounces, env.now).hidden {
            let f = facts_of(env.m.bounces[st.bounces[i] as usize].msg as usize);
            day_counters::record_bounce(&mut out, k, &f);
        }
    }
    out
}

/// The server's non-inbound streams with their indexes.
fn outbound<'a>(env: &'a Env) -> impl Iterator<Item = (usize, &'a Stream)> + 'a {
    let streams = &env.server().streams;
    streams
        .iter()
        .enumerate()
        .filter(|(_, st)| st.kind != StreamType::Inbound)
}

/// Feeds open (or click) number `i` of the stream's index.
fn record_hit(out: &mut StatsMap, (k, ctx, st): (usize, &Ctx, &Stream), clicks: bool, i: usize) {
    let h = if clicks { st.clicks[i] } else { st.opens[i] };
    let msg = h.msg as usize;
    let f = facts::message(ctx, msg, st.messages[msg], msg >= st.generated);
    let n = usize::from(h.n);
    match (clicks, f.opens.get(n), f.clicks.get(n)) {
        (false, Some(o), _) => day_counters::record_open(out, k, &f, o),
        (true, _, Some(c)) => day_counters::record_click(out, k, &f, c),
        _ => {}
    }
}

/// The statistics of the server's records stamped after `env.now`: the cached ones, moved from
/// the clock they were kept for to now by the records stamped in between.
fn future_stats(env: &Env) -> StatsMap {
    if env.now >= env.m.horizon {
        return StatsMap::new();
    }
    let mut cache = lock(&env.server().future);
    let FutureStats { at, stats } = &mut *cache;
    if *at < env.now {
        for (key, d) in stamped_between(env, *at, env.now) {
            stats.entry(key).or_default().sub(&d);
        }
    } else if *at > env.now {
        for (key, d) in stamped_between(env, env.now, *at) {
            stats.entry(key).or_default().add(&d);
        }
    }
    *at = env.now;
    stats.clone()
}

/// The statistics of the server's generated records stamped in `(lo, hi]`.
fn stamped_between(env: &Env, lo: i64, hi: i64) -> StatsMap {
    let mut out = StatsMap::new();
    for (k, st) in outbound(env) {
        let ctx = env.view(k).ctx;
        let facts_of = |i: usize| facts::message(&ctx, i, st.messages[i], false);
        for i in positions(&st.messages, |t| *t, lo, hi) {
            day_counters::record_send(&mut out, k, &facts_of(i));
        }
        for clicks in [false, true] {
            let list = if clicks { &st.clicks } else { &st.opens };
            for i in positions(list, |h| h.at, lo, hi) {
                record_hit(&mut out, (k, &ctx, st), clicks, i);
            }
        }
        let all = &env.m.bounces;
        for i in positions(&st.bounces, |&b| all[b as usize].at, lo, hi) {
            let f = facts_of(all[st.bounces[i] as usize].msg as usize);
            day_counters::record_bounce(&mut out, k, &f);
        }
    }
    out
}

/// Positions of the sorted `items` stamped in `(lo, hi]`.
fn positions<T>(items: &[T], time: impl Fn(&T) -> i64, lo: i64, hi: i64) -> std::ops::Range<usize> {
    items.partition_point(|x| time(x) <= lo)..items.partition_point(|x| time(x) <= hi)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::query::Query;
    use super::*;
    use crate::generate::eastern::{to_ticks, TICKS_PER_HOUR, TICKS_PER_MIN};
    use crate::generate::traffic;
    use crate::knobs::SimConfig;

    /// Moving the kept clock forward and back by any steps gives what a fresh count gives.
    #[test]
    fn future_statistics_move_with_the_clock() {
        let now = Utc.with_ymd_and_hms(2024, 3, 6, 17, 0, 0).unwrap();
        let cfg = SimConfig {
            now: Some(now),
            servers: 1,
            days: 2,
            ahead_hours: 10,
            messages_per_day: 600,
            spike_messages: 0,
            ..SimConfig::default()
        };
        let m = traffic::build(&cfg, to_ticks(now));
        let q = Query::default();
        let env_at = |t: i64| Env {
            m: &m,
            s: 0,
            q: &q,
            now: t,
            id: "",
        };
        let fresh = |t: i64| stamped_between(&env_at(t), t, m.horizon);
        let key_sums = |s: &StatsMap| {
            s.iter()
                .map(|(k, d)| (*k, (d.sent, d.opens, d.unique_opens, d.clicks, d.bounces)))
                .filter(|(_, v)| *v != (0, 0, 0, 0, [0; 10]))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            key_sums(&future_stats(&env_at(m.anchor))),
            key_sums(&fresh(m.anchor))
        );
        for step in [
            7 * TICKS_PER_MIN,
            3 * TICKS_PER_HOUR,
            -TICKS_PER_HOUR,
            5 * TICKS_PER_HOUR,
        ] {
            let t = lock(&m.servers[0].future).at + step;
            assert_eq!(
                key_sums(&future_stats(&env_at(t))),
                key_sums(&fresh(t)),
                "{t}"
            );
        }
        assert!(future_stats(&env_at(m.horizon)).is_empty());
    }
}
