//! Records that reach a search late: after the run whose window should have held them read it.
//! Each search of the per-record reads (the new records', the activity ones) is also read over
//! the hour before where it starts, and what that hour holds (a count and a sum of its records'
//! key digests) is compared with what the previous run saw of it, kept in the state. When they
//! differ, every record of that hour is read again; when they agree, nothing is. So a record
//! that arrives up to an hour after its own time is read once, by the run after it arrived.

use super::{Role, Task, Why};
use crate::error::Error;
use crate::log;
use crate::streams::{ACTIVITY, LATE_ARRIVAL_HOURS};
use crate::sync::digest::Key;
use crate::sync::search::{fold, FoundRef};
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
pub struct Check {
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

impl Check {
    /// Whether the hour holds other records than the previous run saw.
    fn changed(&self) -> bool {
        let mut trail = Trail::default();
        for (_, key, m) in &self.held {
            trail.add(m.at, *key);
        }
        self.saved.as_deref() != Some(trail.seen(self.to).as_str())
    }
}

/// The name a search's hour is kept under.
pub fn name(role: Role) -> Option<&'static str> {
    match role {
        Role::New => Some("new"),
        Role::Activity(i) => Some(ACTIVITY[i].name),
        _ => None,
    }
}

impl<'a> Task<'a> {
    /// Records found in the hour a check reads: held until the hour is read whole, then
    /// compared with what the previous run saw; each is read again if the hour changed.
    pub(super) fn late_found(
        &mut self,
        index: usize,
        found: Vec<FoundRef>,
        requests: &mut Vec<super::Request<'a>>,
    ) -> Result<(), Error> {
        let source = &mut self.sources[index];
        let Some(check) = source.check.as_mut() else {
            return Ok(());
        };
        check.held.extend(found);
        if check.resolved || !source.reader.read_whole() {
            return Ok(());
        }
        self.resolve(index, requests)
    }

    /// The hour is read whole: its records join their search's trail, and are read again if it
    /// changed.
    pub(super) fn resolve(
        &mut self,
        index: usize,
        requests: &mut Vec<super::Request<'a>>,
    ) -> Result<(), Error> {
        let Some(check) = self.sources[index].check.as_mut() else {
            return Ok(());
        };
        check.resolved = true;
        let changed = !check.record_only && check.changed();
        let (owner, to) = (check.owner, check.to);
        let held = std::mem::take(&mut check.held);
        if let Some(trail) = self.sources[owner].trail.as_mut() {
            for (_, key, m) in &held {
                trail.add(m.at, *key);
            }
        }
        if !changed {
            return Ok(());
        }
        log::info(&format!(
            "{}: {}: the hour before {} holds records that reached the search after the previous run read it; its {} records are read again",
            self.spec.name(),
            self.spec.label(),
            format_utc(to),
            held.len()
        ));
        let why = match self.sources[owner].role {
            Role::New => Why::Late,
            _ => Why::Activity,
        };
        for (window, _, mut message) in held {
            if why == Why::Activity {
                // An activity record's time is not its message's.
                (message.time, message.at) = (None, None);
            }
            let seq = self.ask(message, why, requests);
            self.sources[index].reader.wait(window, seq)?;
        }
        Ok(())
    }

    /// A check whose hour is read whole and whose reads are handled: its search's trail now
    /// holds the hour, which is kept. Gives whether it was.
    pub(super) fn record_checks(&mut self) -> bool {
        let mut recorded = false;
        for i in 0..self.sources.len() {
            let done = self.sources[i].reader.done();
            let Some(check) = self.sources[i].check.as_mut() else {
                continue;
            };
            if !done || !check.resolved || check.recorded {
                continue;
            }
            check.recorded = true;
            let (owner, to) = (check.owner, check.to);
            let role = self.sources[owner].role;
            if let (Some(trail), Some(name)) = (self.sources[owner].trail.as_mut(), name(role)) {
                self.kept.late.insert(name.to_string(), trail.seen(to));
                recorded = true;
            }
        }
        recorded
    }

    /// Whether the check of a search's hour is still open (its windows wait for it).
    pub(super) fn checking(&self, owner: usize) -> bool {
        self.sources.iter().any(|s| {
            s.check
                .as_ref()
                .is_some_and(|c| c.owner == owner && !c.recorded)
        })
    }
}
