//! What a task's sources come to: the pending queued messages read once the search of queued
//! messages is in, the searches by recipient the suppression dump asks for, and the windows,
//! dump and overflow range completed (moving the served streams' bookmarks and the activity
//! cursors, and writing a STATE).

use super::pending;
use super::spec::Why;
use super::suppressions::{DumpRequest, Suppressed};
use super::task::{ReadsAsk, ReadsTask, Role};
use crate::error::Error;
use crate::log;
use crate::streams::{ACTIVITY, SUPPRESSION_ACTIVITY};
use crate::sync::context::Ctx;
use crate::sync::search::FoundRef;
use crate::timefmt::format_utc;
use chrono::{DateTime, Utc};
use std::io::Write;

impl<'a> ReadsTask<'a> {
    /// The search of queued messages gave the ones still queued: every other queued pending
    /// record is read once it is read whole.
    pub(super) fn queued_found(
        &mut self,
        found: Vec<FoundRef>,
        index: usize,
        requests: &mut Vec<ReadsAsk<'a>>,
    ) -> Result<(), Error> {
        self.still_queued
            .extend(found.into_iter().map(|(_, _, m)| m.id));
        let source = &self.sources[index];
        if !source.reader.read_whole() || self.after_queued.is_empty() {
            return Ok(());
        }
        let usable = source.reader.unexpected == 0;
        if !usable {
            log::warn_for(self.spec.name(), &format!(
                "{}: {}: Postmark's search of queued messages listed messages that are not queued; every queued message is read again on the usual schedule instead",
                self.spec.name(),
                self.spec.label()
            ));
        }
        let still = std::mem::take(&mut self.still_queued);
        for message in std::mem::take(&mut self.after_queued) {
            let entry = self.kept.pending.iter().find(|p| p.0 == message.id);
            let due = entry.is_some_and(|p| {
                let e = pending::entry(p);
                pending::due(e.since, e.read, self.now)
            });
            if (usable && !still.contains(&message.id)) || (!usable && due) {
                self.ask(message, Why::Pending, requests);
            }
        }
        Ok(())
    }

    /// The suppression dump is in: each address is searched for among the partition's
    /// outbound messages sent before it was suppressed.
    pub(super) fn handle_dump<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        req: &DumpRequest<'a>,
        list: Vec<Suppressed>,
        requests: &mut Vec<ReadsAsk<'a>>,
    ) -> Result<(), Error> {
        if let Some(dump) = &mut self.dump {
            dump.answered = true;
        }
        for s in list {
            let until = (s.created + chrono::Duration::seconds(1)).min(req.to);
            let filter = Some(("recipient", s.email));
            let from = ctx.config.message_start.min(until);
            self.add_source(Role::Recipient, (from, until), filter, requests)?;
        }
        Ok(())
    }

    /// Completes what can be: the windows of every source (moving the served streams'
    /// bookmarks and the activity cursors), the dump, the overflow range, the task; writes a
    /// STATE when something moved.
    pub(super) fn complete<W: Write>(&mut self, ctx: &mut Ctx<'_, W>) -> Result<(), Error> {
        // The checks of the hours before the searches first: a search's windows wait for the
        // check of the hour before it, which is recorded once its own windows are complete.
        for s in self.sources.iter_mut() {
            if matches!(s.role, Role::Late(_)) {
                s.reader.complete(self.handled);
            }
        }
        let mut moved = self.record_checks();
        for i in 0..self.sources.len() {
            if self.checking(i) {
                continue;
            }
            let role = self.sources[i].role;
            for window in self.sources[i].reader.complete(self.handled) {
                moved |= self.window_done(ctx, role, window.end);
                let source = &mut self.sources[i];
                if let (Some(trail), Some(name)) = (source.trail.as_mut(), role.late_name()) {
                    self.kept
                        .late
                        .insert(name.to_string(), trail.seen(window.end));
                }
            }
        }
        moved |= self.dump_done();
        let busy = self.sources.iter().any(|s| !s.reader.done());
        let overflow_read = self
            .sources
            .iter()
            .filter(|s| s.role == Role::Overflow)
            .all(|s| s.reader.done());
        if let (true, Some(unsettled)) = (overflow_read, self.overflow) {
            pending::overflow_read(&mut self.kept, unsettled, self.now);
            self.overflow = None;
            self.kept_changed = true;
        }
        let idle = !busy && self.dump.is_none() && self.after_queued.is_empty();
        if idle && self.handled == self.asked && !self.finished {
            self.finished = true;
            self.kept_changed = true;
            moved = true;
        }
        if self.kept_changed {
            let (server, id) = (self.spec.server.id, self.spec.id.clone());
            ctx.state.set_kept(self.group(), server, &id, &self.kept);
            self.kept_changed = false;
        }
        if moved {
            ctx.checkpoint()?;
        }
        Ok(())
    }

    /// A source's window is complete: what its end moves. Gives whether anything moved.
    fn window_done<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        role: Role,
        end: DateTime<Utc>,
    ) -> bool {
        match role {
            Role::New => {
                let (server, id) = (self.spec.server.id, &self.spec.id);
                for (sel, bookmark) in self.spec.serves.iter().zip(&self.bookmarks) {
                    if bookmark.is_none_or(|b| end > b) {
                        ctx.state
                            .set_bookmark(sel.def.name, server, id, format_utc(end));
                    }
                }
                self.kept_changed = true;
                true
            }
            Role::Activity(i) => {
                let name = ACTIVITY[i].name.to_string();
                self.kept.activity.insert(name, format_utc(end));
                self.kept_changed = true;
                true
            }
            _ => false,
        }
    }

    /// The dump's answer is in and every search by recipient it asked for is complete: the
    /// suppressions cursor moves to the end.
    fn dump_done(&mut self) -> bool {
        let recipients_done = self
            .sources
            .iter()
            .filter(|s| s.role == Role::Recipient)
            .all(|s| s.reader.done());
        if !self.dump.as_ref().is_some_and(|d| d.answered) || !recipients_done {
            return false;
        }
        self.dump = None;
        let name = SUPPRESSION_ACTIVITY.name.to_string();
        self.kept.activity.insert(name, format_utc(self.end));
        self.kept_changed = true;
        true
    }

    /// Records found in the hour a check reads: held until the hour is read whole, then
    /// compared with what the previous run saw; each is read again if the hour changed.
    pub(super) fn late_found(
        &mut self,
        index: usize,
        found: Vec<FoundRef>,
        requests: &mut Vec<ReadsAsk<'a>>,
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
        requests: &mut Vec<ReadsAsk<'a>>,
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
        log::info_for(self.spec.name(), &format!(
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
            if let (Some(trail), Some(name)) =
                (self.sources[owner].trail.as_mut(), role.late_name())
            {
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
