//! Records that reach a search late: after the run whose window should have held them read it.
//! Each search of the per-record reads (the new records', the activity ones) is also read over
//! the hour before where it starts, and what that hour holds (a count and a sum of its records'
//! key digests) is compared with what the previous run saw of it, kept in the state. When they
//! differ, every record of that hour is read again; when they agree, nothing is. So a record
//! that arrives up to an hour after its own time is read once, by the run after it arrived.

use crate::streams::LATE_ARRIVAL_HOURS;
use crate::sync::digest::fold;
use crate::sync::digest::Key;
use crate::sync::search::FoundRef;
use crate::timefmt::format_utc;
use chrono::{DateTime, Duration, Utc};

/// How far before where it starts a search is read again.
pub fn hour() -> Duration {
    Duration::hours(LATE_ARRIVAL_HOURS)
}

/// The instants and key digests of what a search found, back to the hour before the latest
/// point it reached.
#[derive(Default)]
pub struct Trail(Vec<(DateTime<Utc>, u64)>);

impl Trail {
    /// A record found (one without a readable time counts for no hour).
    pub fn add(&mut self, at: Option<DateTime<Utc>>, key: Key) {
        if let Some(at) = at {
            self.0.push((at, fold(key)));
        }
    }

    /// What was found in the hour before `to`, as the state keeps it; forgets what lies before
    /// that hour (`to` only grows).
    pub fn seen(&mut self, to: DateTime<Utc>) -> String {
        let from = to - hour();
        self.0.retain(|(at, _)| *at >= from);
        let (count, sum) = self
            .0
            .iter()
            .filter(|(at, _)| *at < to)
            .fold((0u64, 0u64), |(c, s), (_, k)| (c + 1, s.wrapping_add(*k)));
        format!("{} {count} {sum:016x}", format_utc(to))
    }
}

/// The hour before where a search starts, read again.
pub struct HourCheck {
    /// The search it checks (its index among the task's sources).
    pub owner: usize,
    /// Where that search starts: the hour is `[to − 1 h, to)`.
    pub to: DateTime<Utc>,
    /// What the previous run saw of the hour; `None` when it saw nothing that compares.
    pub saved: Option<String>,
    /// The records found in the hour, until they are compared.
    pub held: Vec<FoundRef>,
    /// Only what the hour holds is kept (a search whose records were all read whole this run).
    pub record_only: bool,
    pub resolved: bool,
    pub recorded: bool,
}

impl HourCheck {
    /// Whether the hour holds other records than the previous run saw.
    pub(super) fn changed(&self) -> bool {
        let mut trail = Trail::default();
        for (_, key, m) in &self.held {
            trail.add(m.at, *key);
        }
        self.saved.as_deref() != Some(trail.seen(self.to).as_str())
    }
}
