//! When records change after the fact, derived from the seed alone: each record's arrival delay
//! (it shows in searches, details and statistics only from its own time plus that delay; a
//! `SimConfig::late_arrival_rate` fraction arrives tens of minutes late), when an outbound
//! message turns from `Queued` to `Sent`, and when a bounce's `Inactive`/`CanActivate` flags
//! change. Every function answers for one record, so nothing is stored.

use super::eastern::{TICKS_PER_HOUR, TICKS_PER_MIN, TICKS_PER_SEC};
use super::ids;
use super::names;

/// The longest usual arrival delay: without late arrivals, records older than
/// `now - USUAL_MAX_ARRIVAL` have all arrived.
pub const USUAL_MAX_ARRIVAL: i64 = 4 * TICKS_PER_MIN;
/// The shortest delay of a late arrival (`SimConfig::late_arrival_rate`).
pub const LATE_MIN_ARRIVAL: i64 = 6 * TICKS_PER_MIN;
/// The longest delay of a late arrival.
pub const LATE_MAX_ARRIVAL: i64 = 40 * TICKS_PER_MIN;

/// The longest arrival delay of an account whose records arrive late at `late_rate`: records
/// older than `now` less it have all arrived.
pub fn max_arrival(late_rate: f64) -> i64 {
    if late_rate > 0.0 {
        LATE_MAX_ARRIVAL
    } else {
        USUAL_MAX_ARRIVAL
    }
}

/// What kind of record an arrival delay is drawn for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    Message,
    Open,
    Click,
    Bounce,
    Inbound,
}

impl Arrival {
    fn salt(self) -> u64 {
        match self {
            Arrival::Message => 0xA1,
            Arrival::Open => 0xA2,
            Arrival::Click => 0xA3,
            Arrival::Bounce => 0xA4,
            Arrival::Inbound => 0xA5,
        }
    }
}

/// A uniform number in `[0, 1)` from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Log-uniform between `lo` and `hi` ticks.
fn log_between(u: f64, lo: i64, hi: i64) -> i64 {
    let (lo, hi) = (lo as f64, hi as f64);
    (lo.ln() + u * (hi.ln() - lo.ln())).exp() as i64
}

/// Arrival delay of one record (ticks): a `late_rate` fraction of records arrive 6–40 min late
/// (log-uniform); the others 90 % within 1–60 s, 9 % within 1–2.5 min, 1 % within 2.5–4 min.
/// Whether a record is late is drawn apart from its usual delay, so a record not late keeps the
/// delay it has at rate 0, and a higher rate keeps every record a lower one made late (with the
/// same delay). `parts` identify the record (server, stream, message, n…).
pub fn arrival_delay(seed: u64, late_rate: f64, kind: Arrival, parts: &[u64]) -> i64 {
    if late_rate > 0.0 {
        let h = ids::hash(seed, &[&[0x7A7E, kind.salt()], parts].concat());
        if unit(h) < late_rate {
            return log_between(unit(ids::mix64(h)), LATE_MIN_ARRIVAL, LATE_MAX_ARRIVAL);
        }
    }
    let h = ids::hash(seed, &[&[0x1A7E, kind.salt()], parts].concat());
    let u = unit(h);
    let v = unit(ids::mix64(h));
    if u < 0.90 {
        log_between(v, TICKS_PER_SEC, 60 * TICKS_PER_SEC)
    } else if u < 0.99 {
        log_between(v, 60 * TICKS_PER_SEC, 150 * TICKS_PER_SEC)
    } else {
        log_between(v, 150 * TICKS_PER_SEC, USUAL_MAX_ARRIVAL)
    }
}

/// How long an outbound message stays `Queued` after its `ReceivedAt` (ticks): 97 % for
/// 0.2–1 s (always `Sent` by the time they show), 3 % for 2 min–1 h (their deliveries, opens,
/// clicks and bounce wait for it).
pub fn sent_delay(seed: u64, server: usize, stream: usize, index: usize) -> i64 {
    let h = ids::hash(seed, &[0x5E17, server as u64, stream as u64, index as u64]);
    let v = unit(ids::mix64(h));
    if unit(h) < 0.97 {
        log_between(v, TICKS_PER_SEC / 5, TICKS_PER_SEC)
    } else {
        log_between(v, 2 * TICKS_PER_MIN, TICKS_PER_HOUR)
    }
}

/// A later change of a bounce's flags: from `at` on, `Inactive` and `CanActivate` read so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagChange {
    pub at: i64,
    pub inactive: bool,
    pub can_activate: bool,
}

/// The later flag change of a bounce of type `kind` bounced at `bounced_at`, if it has one:
/// 15 % of hard bounces are reactivated 2–48 h later (`Inactive` false, `CanActivate` false);
/// 10 % of soft bounces deactivate the address 1–24 h later (`Inactive` true, `CanActivate`
/// true). `parts` identify the bounce (server, stream, message).
pub fn flag_change(seed: u64, kind: usize, bounced_at: i64, parts: &[u64]) -> Option<FlagChange> {
    let h = ids::hash(seed, &[&[0xF1A6], parts].concat());
    let v = unit(ids::mix64(h));
    match kind {
        names::HARD_BOUNCE if unit(h) < 0.15 => Some(FlagChange {
            at: bounced_at + log_between(v, 2 * TICKS_PER_HOUR, 48 * TICKS_PER_HOUR),
            inactive: false,
            can_activate: false,
        }),
        names::SOFT_BOUNCE if unit(h) < 0.10 => Some(FlagChange {
            at: bounced_at + log_between(v, TICKS_PER_HOUR, 24 * TICKS_PER_HOUR),
            inactive: true,
            can_activate: true,
        }),
        _ => None,
    }
}

/// A bounce's `(Inactive, CanActivate)` at `now`: its type's flags, then its later `change` once
/// that has happened, then a reactivation through the API (lifting its suppression) at
/// `reactivated`.
pub fn bounce_flags(
    kind: usize,
    change: Option<FlagChange>,
    reactivated: Option<i64>,
    now: i64,
) -> (bool, bool) {
    let bt = &names::BOUNCE_TYPES[kind];
    let mut flags = (bt.inactive, bt.can_activate);
    if let Some(c) = change.filter(|c| c.at <= now) {
        flags = (c.inactive, c.can_activate);
    }
    if reactivated.is_some_and(|t| t <= now) {
        flags = (false, false);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_in_their_ranges_and_repeat() {
        let mut slow = 0;
        for i in 0..20_000u64 {
            let d = arrival_delay(42, 0.0, Arrival::Open, &[0, 0, i]);
            assert!((TICKS_PER_SEC..=USUAL_MAX_ARRIVAL).contains(&d), "{d}");
            assert_eq!(d, arrival_delay(42, 0.0, Arrival::Open, &[0, 0, i]));
            let s = sent_delay(42, 0, 0, i as usize);
            assert!((TICKS_PER_SEC / 5..=TICKS_PER_HOUR).contains(&s));
            slow += usize::from(s > TICKS_PER_MIN);
        }
        assert!((400..800).contains(&slow), "{slow} slow of 20000");
    }

    /// A `late_rate` fraction arrives 6–40 min late; the others keep their delay of rate 0, and
    /// a higher rate keeps every late record late with the same delay.
    #[test]
    fn late_arrivals_follow_the_rate() {
        let kinds = [Arrival::Message, Arrival::Click, Arrival::Inbound];
        let mut late = [0usize; 2];
        for i in 0..20_000u64 {
            let kind = kinds[i as usize % 3];
            let parts = [1, 2, i];
            let usual = arrival_delay(7, 0.0, kind, &parts);
            let (d5, d20) = (
                arrival_delay(7, 0.05, kind, &parts),
                arrival_delay(7, 0.2, kind, &parts),
            );
            for (n, d) in [d5, d20].into_iter().enumerate() {
                if d == usual {
                    assert!(d <= USUAL_MAX_ARRIVAL);
                } else {
                    assert!((LATE_MIN_ARRIVAL..=LATE_MAX_ARRIVAL).contains(&d), "{d}");
                    late[n] += 1;
                }
            }
            if d5 != usual {
                assert_eq!(d20, d5, "{i}: still late, as late");
            }
        }
        assert!((850..1150).contains(&late[0]), "{late:?}");
        assert!((3700..4300).contains(&late[1]), "{late:?}");
        assert_eq!(max_arrival(0.0), USUAL_MAX_ARRIVAL);
        assert_eq!(max_arrival(0.05), LATE_MAX_ARRIVAL);
    }
}
