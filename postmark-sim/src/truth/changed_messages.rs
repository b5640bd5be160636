//! Which outbound messages of a server changed in an interval, the least a scheduled sync must
//! read the details of again: those stamped in it, those with a `MessageEvents` entry stamped in
//! it and those leaving the queue in it. Opens, clicks and bounces are found through their time
//! indexes; a message's own later events (leaving the queue, the transient, the deliveries, the
//! unsubscribe) through the messages sent shortly enough before the interval to have them.

use std::collections::BTreeSet;
use std::ops::Range;

use crate::generate::eastern::{TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MIN};
use crate::generate::facts::{self, MsgFacts};
use crate::generate::model::Model;
use crate::generate::stream_type::StreamType;
use crate::generate::traffic;
use crate::render::view;

/// How long after its `ReceivedAt` a message's own events can come (those no index holds): at
/// most an hour in the queue, then up to 5 s to the transient and 30 s more to a delivery; on
/// broadcast streams an unsubscribe up to two days after leaving the queue.
fn own_events_within(kind: StreamType) -> i64 {
    let queue_and_deliveries = TICKS_PER_HOUR + TICKS_PER_MIN;
    if kind == StreamType::Broadcasts {
        queue_and_deliveries + 2 * TICKS_PER_DAY
    } else {
        queue_and_deliveries
    }
}

/// Positions of the sorted `items` stamped in `[from, to)`.
fn range<T>(items: &[T], time: impl Fn(&T) -> i64, from: i64, to: i64) -> Range<usize> {
    items.partition_point(|x| time(x) < from)..items.partition_point(|x| time(x) < to)
}

/// Whether the message itself, its leaving the queue, its transient, a delivery or its
/// unsubscribe is stamped in `[from, to)`.
fn own_change(f: &MsgFacts, from: i64, to: i64) -> bool {
    let within = |t: i64| from <= t && t < to;
    within(f.at)
        || within(f.sent_at)
        || f.transient.is_some_and(within)
        || f.delivered.iter().any(|d| within(d.1))
        || f.unsubscribed.is_some_and(within)
}

/// The MessageIDs of server `server_id`'s outbound messages retained at `now` that changed in
/// `[from, to)` (ticks); nothing stamped after `now` counts (until the clock has reached the
/// horizon, after which nothing generated is).
pub fn changed_messages(
    m: &Model,
    now: i64,
    server_id: u64,
    from: i64,
    to: i64,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(s) = m.servers.iter().position(|x| x.id == server_id) else {
        return out;
    };
    let to = if now >= m.horizon {
        to
    } else {
        to.min(now.saturating_add(1))
    };
    if from >= to {
        return out;
    }
    let cutoff = now - m.retention;
    for (k, st) in m.servers[s].streams.iter().enumerate() {
        if st.kind == StreamType::Inbound {
            continue;
        }
        let ctx = traffic::ctx_of(m, s, k);
        let mut changed: BTreeSet<usize> = BTreeSet::new();
        for list in [&st.opens, &st.clicks] {
            let hits = &list[range(list, |h| h.at, from, to)];
            changed.extend(hits.iter().map(|h| h.msg as usize));
        }
        let bounced = &st.bounces[range(&st.bounces, |&b| m.bounces[b as usize].at, from, to)];
        changed.extend(bounced.iter().map(|&b| m.bounces[b as usize].msg as usize));
        let since = from.saturating_sub(own_events_within(st.kind));
        for i in range(&st.messages, |t| *t, since, to) {
            if !changed.contains(&i) {
                let f = facts::message(&ctx, i, st.messages[i], i >= st.generated);
                if own_change(&f, from, to) {
                    changed.insert(i);
                }
            }
        }
        out.extend(
            changed
                .into_iter()
                .filter(|&i| st.messages[i] >= cutoff)
                .map(|i| view::message_id(&ctx, i)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::generate::eastern::to_ticks;
    use crate::knobs::SimConfig;

    /// No message's own events come later than `own_events_within` says.
    #[test]
    fn own_events_come_within_their_bound() {
        let now = Utc.with_ymd_and_hms(2024, 3, 6, 17, 0, 0).unwrap();
        let cfg = SimConfig {
            now: Some(now),
            servers: 2,
            days: 4,
            ahead_hours: 48,
            messages_per_day: 2000,
            spike_messages: 0,
            ..SimConfig::default()
        };
        let m = traffic::build(&cfg, to_ticks(now));
        let (mut unsubscribed, mut held) = (0, 0);
        for s in 0..m.servers.len() {
            for (k, st) in m.servers[s].streams.iter().enumerate() {
                let ctx = traffic::ctx_of(&m, s, k);
                let within = own_events_within(st.kind);
                for (i, &at) in st.messages.iter().enumerate() {
                    let f = facts::message(&ctx, i, at, false);
                    let mut own: Vec<i64> = f.delivered.iter().map(|d| d.1).collect();
                    own.extend(f.transient.into_iter().chain(f.unsubscribed));
                    own.extend(Some(f.sent_at).filter(|&t| t != i64::MAX));
                    assert!(own.iter().all(|&t| at <= t && t - at <= within), "{k} {i}");
                    unsubscribed += usize::from(f.unsubscribed.is_some());
                    held += usize::from(f.sent_at - at > TICKS_PER_MIN && f.sent_at != i64::MAX);
                }
            }
        }
        assert!(unsubscribed > 10 && held > 10, "{unsubscribed} {held}");
    }
}
