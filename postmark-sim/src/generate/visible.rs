//! What shows at the clock's now. A generated record stamped after now is invisible everywhere
//! until the clock gets there; one stamped before it shows once it has arrived (its own time
//! plus its arrival delay). On the sorted time indexes of a stream (messages, opens, clicks,
//! bounces) and of a server's inbound messages this gives the positions shown: those stamped by
//! now (a binary search), less the few of the last `Model::max_arrival` still on their way (a
//! short scan), so a search cuts its index ranges without looking at the future.

use super::facts::Ctx;
use super::late::{self, Arrival};
use super::model::{Bounce, Hit, Model, Stream};

/// Whether a generated record stamped `at` is due at `now`: stamped at or before it. Once the
/// clock has reached the horizon (`Model::horizon`) every record is: nothing generated lies
/// after it, and live arrivals, which exist only then, have their deliveries and opens stamped
/// a few microseconds after the clock they arrive at.
pub fn due(horizon: i64, at: i64, now: i64) -> bool {
    at <= now || now >= horizon
}

/// Whether a record stamped `at` has arrived at `now`: due, and past its arrival delay (live
/// arrivals always have; without late changes a due record has).
pub fn arrived(ctx: &Ctx, kind: Arrival, at: i64, parts: &[u64], live: bool, now: i64) -> bool {
    live || (due(ctx.horizon, at, now)
        && (!ctx.late
            || at.saturating_add(late::arrival_delay(ctx.seed, ctx.late_rate, kind, parts)) <= now))
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
pub fn inbound_arrived(m: &Model, server: usize, i: usize, at: i64, now: i64) -> bool {
    let parts = [server as u64, i as u64];
    let delay = || late::arrival_delay(m.seed, m.late_arrival_rate, Arrival::Inbound, &parts);
    due(m.horizon, at, now) && (!m.late || at.saturating_add(delay()) <= now)
}

/// The positions of a sorted index shown at the clock's now: those before `end` (stamped by
/// now), less `hidden` (ascending: stamped in the last `Model::max_arrival` and still on their
/// way).
pub struct Shown {
    pub end: usize,
    pub hidden: Vec<usize>,
}

/// How many records of the sorted `items` are due at `now` (all once the clock has reached the
/// horizon).
pub fn due_count<T>(items: &[T], time: impl Fn(&T) -> i64, horizon: i64, now: i64) -> usize {
    if now >= horizon {
        items.len()
    } else {
        items.partition_point(|x| time(x) <= now)
    }
}

/// The tail of the sorted indexes to check record by record: the longest arrival delay when
/// records change after the fact, none otherwise.
fn tail(late: bool, max_arrival: i64) -> Option<i64> {
    late.then_some(max_arrival)
}

/// What of the sorted `items` shows at `now`; `arrived` is asked only about the `tail` (the
/// longest arrival delay) before now, and not at all without one.
fn shown<T>(
    items: &[T],
    time: impl Fn(&T) -> i64,
    (horizon, tail): (i64, Option<i64>),
    now: i64,
    arrived: impl Fn(usize) -> bool,
) -> Shown {
    let end = due_count(items, &time, horizon, now);
    let Some(tail) = tail else {
        return Shown {
            end,
            hidden: Vec::new(),
        };
    };
    let start = items.partition_point(|x| time(x) < now - tail).min(end);
    Shown {
        end,
        hidden: (start..end).filter(|&i| !arrived(i)).collect(),
    }
}

/// What of `st.messages` shows.
pub fn messages_shown(ctx: &Ctx, st: &Stream, now: i64) -> Shown {
    shown(
        &st.messages,
        |t| *t,
        (ctx.horizon, tail(ctx.late, ctx.max_arrival)),
        now,
        |i| message_arrived(ctx, st, i, now),
    )
}

/// What of `st.opens` (or `st.clicks`) shows.
pub fn hits_shown(ctx: &Ctx, st: &Stream, clicks: bool, now: i64) -> Shown {
    let list: &[Hit] = if clicks { &st.clicks } else { &st.opens };
    shown(
        list,
        |h| h.at,
        (ctx.horizon, tail(ctx.late, ctx.max_arrival)),
        now,
        |i| {
            let h = list[i];
            hit_arrived(ctx, st, clicks, h.msg as usize, usize::from(h.n), h.at, now)
        },
    )
}

/// What of `st.bounces` shows.
pub fn bounces_shown(ctx: &Ctx, st: &Stream, all: &[Bounce], now: i64) -> Shown {
    let at = |b: &u32| all[*b as usize].at;
    shown(
        &st.bounces,
        at,
        (ctx.horizon, tail(ctx.late, ctx.max_arrival)),
        now,
        |i| {
            let b = &all[st.bounces[i] as usize];
            bounce_arrived(ctx, b.msg as usize, b.at, now)
        },
    )
}

/// What of server `server`'s inbound receive times shows.
pub fn inbound_shown(m: &Model, server: usize, now: i64) -> Shown {
    let times = &m.servers[server].inbound;
    shown(
        times,
        |t| *t,
        (m.horizon, tail(m.late, m.max_arrival)),
        now,
        |i| inbound_arrived(m, server, i, times[i], now),
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

/// Index ranges (ascending, disjoint) cut to what `shown` shows: nothing from its `end` on, and
/// none of its `hidden` positions.
pub fn hide(ranges: Vec<(usize, usize)>, shown: &Shown) -> Vec<(usize, usize)> {
    let hidden = &shown.hidden;
    let mut out = Vec::with_capacity(ranges.len() + hidden.len());
    for (mut s, e) in ranges {
        let e = e.min(shown.end);
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

#[cfg(test)]
mod tests {
    use super::{hide, Shown};

    fn shown(end: usize, hidden: &[usize]) -> Shown {
        Shown {
            end,
            hidden: hidden.to_vec(),
        }
    }

    #[test]
    fn hiding_splits_and_cuts_ranges() {
        assert_eq!(hide(vec![(0, 10)], &shown(10, &[])), vec![(0, 10)]);
        assert_eq!(
            hide(vec![(0, 10)], &shown(10, &[0, 3, 4, 9])),
            vec![(1, 3), (5, 9)]
        );
        assert_eq!(
            hide(vec![(0, 2), (5, 8)], &shown(20, &[1, 5, 12])),
            vec![(0, 1), (6, 8)]
        );
        assert_eq!(
            hide(vec![(0, 2), (5, 8), (9, 12)], &shown(7, &[5])),
            vec![(0, 2), (6, 7)]
        );
        assert_eq!(hide(vec![(3, 8)], &shown(3, &[])), vec![]);
    }
}
