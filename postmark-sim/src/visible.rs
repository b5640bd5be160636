//! What has arrived at the clock's now: which positions of a stream's time indexes (messages,
//! opens, clicks, bounces) and of a server's inbound messages are still on their way, how a
//! search's index ranges lose them, and the statistics of what has not arrived yet. Only the
//! last `late::MAX_ARRIVAL` before now can hold such records, so each check is a short scan.

use super::env::Env;
use super::facts::{self, Ctx};
use super::late::{self, Arrival, MAX_ARRIVAL};
use super::model::{Bounce, Hit, Model, Stream};
use super::stats::{self, StatsMap};
use super::stream_type::StreamType;

/// Whether a record stamped `at` has arrived at `now` (live arrivals and records of an account
/// without late changes always have).
pub fn arrived(ctx: &Ctx, kind: Arrival, at: i64, parts: &[u64], live: bool, now: i64) -> bool {
    !ctx.late || live || at.saturating_add(late::arrival_delay(ctx.seed, kind, parts)) <= now
}

/// Whether message `i` of a stream has arrived.
pub fn message_arrived(ctx: &Ctx, st: &Stream, i: usize, now: i64) -> bool {
    let parts = [ctx.server as u64, ctx.stream as u64, i as u64];
    arrived(
        ctx,
        Arrival::Message,
        st.messages[i],
        &parts,
        i >= st.generated,
        now,
    )
}

/// Whether open (or click) `n` of message `msg`, stamped `at`, has arrived.
pub fn hit_arrived(
    ctx: &Ctx,
    st: &Stream,
    clicks: bool,
    msg: usize,
    n: usize,
    at: i64,
    now: i64,
) -> bool {
    let kind = if clicks {
        Arrival::Click
    } else {
        Arrival::Open
    };
    let parts = [ctx.server as u64, ctx.stream as u64, msg as u64, n as u64];
    arrived(ctx, kind, at, &parts, msg >= st.generated, now)
}

/// Whether the bounce of message `msg`, bounced at `at`, has arrived.
pub fn bounce_arrived(ctx: &Ctx, msg: usize, at: i64, now: i64) -> bool {
    let parts = [ctx.server as u64, ctx.stream as u64, msg as u64];
    arrived(ctx, Arrival::Bounce, at, &parts, false, now)
}

/// Whether inbound message `i` of server `server`, received at `at`, has arrived.
pub fn inbound_arrived(seed: u64, late: bool, server: usize, i: usize, at: i64, now: i64) -> bool {
    !late
        || at.saturating_add(late::arrival_delay(
            seed,
            Arrival::Inbound,
            &[server as u64, i as u64],
        )) <= now
}

/// Positions (ascending) of the sorted `items` that have not arrived at `now`.
fn tail_hidden<T>(
    items: &[T],
    time: impl Fn(&T) -> i64,
    now: i64,
    arrived: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let start = items.partition_point(|x| time(x) < now - MAX_ARRIVAL);
    (start..items.len()).filter(|&i| !arrived(i)).collect()
}

/// Positions in `st.messages` not arrived yet.
pub fn hidden_messages(ctx: &Ctx, st: &Stream, now: i64) -> Vec<usize> {
    if !ctx.late {
        return Vec::new();
    }
    tail_hidden(
        &st.messages,
        |t| *t,
        now,
        |i| message_arrived(ctx, st, i, now),
    )
}

/// Positions in `st.opens` (or `st.clicks`) not arrived yet.
pub fn hidden_hits(ctx: &Ctx, st: &Stream, clicks: bool, now: i64) -> Vec<usize> {
    if !ctx.late {
        return Vec::new();
    }
    let list: &[Hit] = if clicks { &st.clicks } else { &st.opens };
    tail_hidden(
        list,
        |h| h.at,
        now,
        |i| {
            let h = list[i];
            hit_arrived(ctx, st, clicks, h.msg as usize, usize::from(h.n), h.at, now)
        },
    )
}

/// Positions in `st.bounces` not arrived yet.
pub fn hidden_bounces(ctx: &Ctx, st: &Stream, all: &[Bounce], now: i64) -> Vec<usize> {
    if !ctx.late {
        return Vec::new();
    }
    let at = |b: &u32| all[*b as usize].at;
    tail_hidden(&st.bounces, at, now, |i| {
        let b = &all[st.bounces[i] as usize];
        bounce_arrived(ctx, b.msg as usize, b.at, now)
    })
}

/// Positions in a server's inbound receive times not arrived yet.
pub fn hidden_inbound(seed: u64, late: bool, server: usize, times: &[i64], now: i64) -> Vec<usize> {
    if !late {
        return Vec::new();
    }
    tail_hidden(
        times,
        |t| *t,
        now,
        |i| inbound_arrived(seed, late, server, i, times[i], now),
    )
}

/// `(Inactive, CanActivate)` of bounce `pos` (its position in `Model::bounces`) at `now`.
pub fn bounce_flags(m: &Model, pos: u32, now: i64) -> (bool, bool) {
    let b = &m.bounces[pos as usize];
    let kind = usize::from(b.kind);
    let change = if m.late {
        let parts = [u64::from(b.server), u64::from(b.stream), u64::from(b.msg)];
        late::flag_change(m.seed, kind, b.at, &parts)
    } else {
        None
    };
    late::bounce_flags(kind, change, m.reactivated.get(&pos).copied(), now)
}

/// Index ranges (ascending, disjoint) without the `hidden` positions (ascending).
pub fn hide(ranges: Vec<(usize, usize)>, hidden: &[usize]) -> Vec<(usize, usize)> {
    if hidden.is_empty() {
        return ranges;
    }
    let mut out = Vec::with_capacity(ranges.len() + hidden.len());
    for (mut s, e) in ranges {
        let first = hidden.partition_point(|&h| h < s);
        for &h in hidden[first..].iter().take_while(|&&h| h < e) {
            if s < h {
                out.push((s, h));
            }
            s = h + 1;
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// What the server's statistics count but has not arrived at `now`: sends of messages, opens,
/// clicks and bounces on their way, keyed as the statistics are.
pub fn pending_stats(env: &Env) -> StatsMap {
    let mut out = StatsMap::new();
    if !env.m.late {
        return out;
    }
    let server = env.server();
    for (k, st) in server.streams.iter().enumerate() {
        if st.kind == StreamType::Inbound {
            continue;
        }
        let ctx = env.view(k).ctx;
        let facts_of = |i: usize| facts::message(&ctx, i, st.messages[i], i >= st.generated);
        for i in hidden_messages(&ctx, st, env.now) {
            stats::record_send(&mut out, k, &facts_of(i));
        }
        for (clicks, list) in [(false, &st.opens), (true, &st.clicks)] {
            for i in hidden_hits(&ctx, st, clicks, env.now) {
                let h = list[i];
                let f = facts_of(h.msg as usize);
                let n = usize::from(h.n);
                match (clicks, f.opens.get(n), f.clicks.get(n)) {
                    (false, Some(o), _) => stats::record_open(&mut out, k, &f, o),
                    (true, _, Some(c)) => stats::record_click(&mut out, k, &f, c),
                    _ => {}
                }
            }
        }
        for i in hidden_bounces(&ctx, st, &env.m.bounces, env.now) {
            let f = facts_of(env.m.bounces[st.bounces[i] as usize].msg as usize);
            stats::record_bounce(&mut out, k, &f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hide;

    #[test]
    fn hiding_splits_ranges() {
        assert_eq!(hide(vec![(0, 10)], &[]), vec![(0, 10)]);
        assert_eq!(hide(vec![(0, 10)], &[0, 3, 4, 9]), vec![(1, 3), (5, 9)]);
        assert_eq!(
            hide(vec![(0, 2), (5, 8)], &[1, 5, 12]),
            vec![(0, 1), (6, 8)]
        );
    }
}
