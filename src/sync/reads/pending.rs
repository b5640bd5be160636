//! The records whose last read said they may still change (a message still queued, or sent with
//! a recipient that has no delivery nor bounce yet): which are read again this run, how each
//! read updates them, and the bound that keeps the state small.
//!
//! A queued message is read again as soon as the search of queued messages no longer lists it
//! (every run while that search is usable; see [`super::Task`]). Any other unsettled record is
//! read again on the next run, then each time it has been unsettled twice as long as at its
//! last read (15 min, 30 min, 1 h, 2 h …), and given up [`HORIZON`] after it was found: what
//! changes later still reaches `message_events` when it shows in an activity search. At most
//! [`MAX_PENDING`] records are kept per server and partition; past that, the oldest are folded
//! into one range of time whose records are all read again when due, so the state does not
//! grow however many records stay unsettled.

use crate::singer::state::{Kept, Overflow, Pending};
use crate::timefmt::{format_utc, parse_timestamp};
use chrono::{DateTime, Duration, Utc};

/// How long after it was found an unsettled record is still read again.
pub const HORIZON: Duration = Duration::hours(24);
/// Unsettled records kept by name per server and partition.
pub const MAX_PENDING: usize = 1000;

fn at(text: &str) -> DateTime<Utc> {
    // Checked when the state was read; a record the tap wrote is always readable.
    parse_timestamp(text).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Whether a record unsettled since `since` and last read at `read` is due at `now`: on the
/// first run after it was found unsettled, then whenever it has been unsettled twice as long as
/// at its last read.
pub fn due(since: DateTime<Utc>, read: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - since >= (read - since) * 2
}

/// A pending record's fields, read.
pub struct Entry<'a> {
    pub id: &'a str,
    pub found: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub read: DateTime<Utc>,
    pub queued: bool,
}

pub fn entry(p: &Pending) -> Entry<'_> {
    Entry {
        id: &p.0,
        found: at(&p.1),
        since: at(&p.2),
        read: at(&p.3),
        queued: p.4,
    }
}

/// Drops what is past the horizon at `now`; gives how many records were given up.
pub fn expire(kept: &mut Kept, now: DateTime<Utc>) -> u64 {
    let before = kept.pending.len();
    kept.pending.retain(|p| now - entry(p).found <= HORIZON);
    let mut dropped = (before - kept.pending.len()) as u64;
    if kept
        .overflow
        .as_ref()
        .is_some_and(|o| now - at(&o.to) > HORIZON)
    {
        kept.overflow = None;
        dropped += 1;
    }
    dropped
}

/// Whether the overflow range is due at `now`: its records are read again.
pub fn overflow_due(kept: &Kept, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let o = kept.overflow.as_ref()?;
    due(at(&o.since), at(&o.read), now).then(|| (at(&o.from), at(&o.to)))
}

/// A record was read at `now`: it is kept pending (`unsettled`, with `queued` saying why) or
/// dropped from the pending records. `found` is its bookmark field's instant.
pub fn update(
    kept: &mut Kept,
    id: &str,
    found: DateTime<Utc>,
    unsettled: Option<bool>,
    now: DateTime<Utc>,
) {
    let position = kept.pending.iter().position(|p| p.0 == id);
    let Some(queued) = unsettled else {
        if let Some(i) = position {
            kept.pending.remove(i);
        }
        return;
    };
    let read = format_utc(now);
    if let Some(i) = position {
        let p = &mut kept.pending[i];
        if p.4 != queued {
            // A queued message sent since: unsettled anew.
            p.2 = read.clone();
            p.4 = queued;
        }
        p.3 = read;
        return;
    }
    if in_overflow(kept, found) {
        return;
    }
    let found = format_utc(found);
    let new = Pending(id.to_string(), found, read.clone(), read, queued);
    let i = kept.pending.partition_point(|p| p.1 <= new.1);
    kept.pending.insert(i, new);
    bound(kept, now);
}

/// The overflow range was read again at `now`: it stays (some of its records are still
/// unsettled) or goes.
pub fn overflow_read(kept: &mut Kept, unsettled: bool, now: DateTime<Utc>) {
    match (&mut kept.overflow, unsettled) {
        (Some(o), true) => o.read = format_utc(now),
        (o, _) => *o = None,
    }
}

fn in_overflow(kept: &Kept, found: DateTime<Utc>) -> bool {
    kept.overflow
        .as_ref()
        .is_some_and(|o| at(&o.from) <= found && found <= at(&o.to))
}

/// Past [`MAX_PENDING`], the oldest records are folded into the overflow range.
fn bound(kept: &mut Kept, now: DateTime<Utc>) {
    if kept.pending.len() <= MAX_PENDING {
        return;
    }
    let excess = kept.pending.len() - MAX_PENDING;
    let folded: Vec<Pending> = kept.pending.drain(..excess).collect();
    let (first, last) = (&folded[0], &folded[folded.len() - 1]);
    let now = format_utc(now);
    let o = kept.overflow.get_or_insert_with(|| Overflow {
        from: first.1.clone(),
        to: last.1.clone(),
        since: now.clone(),
        read: now.clone(),
    });
    if at(&first.1) < at(&o.from) {
        o.from = first.1.clone();
    }
    if at(&last.1) > at(&o.to) {
        o.to = last.1.clone();
    }
    // Read on the next run, then on the doubling schedule again.
    o.since = now.clone();
    o.read = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap()
    }

    #[test]
    fn due_on_the_next_run_then_at_twice_the_age() {
        assert!(due(t(0), t(0), t(15)));
        assert!(!due(t(0), t(15), t(29)));
        assert!(due(t(0), t(15), t(30)));
        assert!(!due(t(0), t(30), t(45)));
        assert!(due(t(0), t(30), t(60)));
    }

    #[test]
    fn kept_until_settled_or_past_the_horizon() {
        let mut kept = Kept::default();
        update(&mut kept, "a", t(0), Some(true), t(5));
        update(&mut kept, "b", t(1), Some(false), t(5));
        assert_eq!(kept.pending.len(), 2);
        update(&mut kept, "a", t(0), Some(false), t(20));
        let a = entry(&kept.pending[0]);
        assert!(!a.queued && a.since == t(20) && a.read == t(20));
        update(&mut kept, "a", t(0), None, t(35));
        assert_eq!(kept.pending.len(), 1);
        assert_eq!(expire(&mut kept, t(1 + 24 * 60)), 0);
        assert_eq!(expire(&mut kept, t(2 + 24 * 60)), 1);
        assert!(kept.pending.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Any sequence of reads: at most MAX_PENDING records by name, oldest first, each once;
        /// a record read settled is gone; one read unsettled is kept by name or by the range.
        #[test]
        fn reads_keep_the_pending_records_bounded_and_ordered(
            reads in proptest::collection::vec(
                (0u16..2500, 0i64..3000, proptest::option::of(proptest::bool::ANY)),
                1..3000,
            )
        ) {
            let mut kept = Kept::default();
            for (step, (id, found, unsettled)) in reads.into_iter().enumerate() {
                let id = format!("m{id}");
                let found = t(found);
                update(&mut kept, &id, found, unsettled, t(3000 + step as i64));
                let named = kept.pending.iter().any(|p| p.0 == id);
                match unsettled {
                    None => proptest::prop_assert!(!named),
                    Some(_) => proptest::prop_assert!(named || in_overflow(&kept, found)),
                }
                proptest::prop_assert!(kept.pending.len() <= MAX_PENDING);
            }
            let ids: std::collections::HashSet<&String> =
                kept.pending.iter().map(|p| &p.0).collect();
            proptest::prop_assert_eq!(ids.len(), kept.pending.len());
            let ordered = kept.pending.windows(2).all(|w| at(&w[0].1) <= at(&w[1].1));
            proptest::prop_assert!(ordered);
        }
    }

    #[test]
    fn past_the_bound_the_oldest_fold_into_a_range() {
        let mut kept = Kept::default();
        for i in 0..MAX_PENDING as i64 + 10 {
            update(&mut kept, &format!("m{i}"), t(i), Some(false), t(2000));
        }
        assert_eq!(kept.pending.len(), MAX_PENDING);
        let o = kept.overflow.clone().unwrap();
        assert_eq!((at(&o.from), at(&o.to)), (t(0), t(9)));
        // A record inside the range is not kept by name.
        update(&mut kept, "late", t(5), Some(false), t(2000));
        assert_eq!(kept.pending.len(), MAX_PENDING);
        assert_eq!(overflow_due(&kept, t(2015)), Some((t(0), t(9))));
        overflow_read(&mut kept, false, t(2015));
        assert!(kept.overflow.is_none());
    }
}
