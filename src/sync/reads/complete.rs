//! What a task's sources come to: the pending queued messages read once the search of queued
//! messages is in, the searches by recipient the suppression dump asks for, and the windows,
//! dump and overflow range completed (moving the served streams' bookmarks and the activity
//! cursors, and writing a STATE).

use super::late;
use super::pending;
use super::suppressions::{DumpRequest, Suppressed};
use super::{Request, Role, Task, Why};
use crate::error::Error;
use crate::log;
use crate::streams::{ACTIVITY, SUPPRESSIONS};
use crate::sync::context::Ctx;
use crate::sync::search::FoundRef;
use crate::timefmt::format_utc;
use chrono::{DateTime, Utc};
use std::io::Write;

impl<'a> Task<'a> {
    /// The search of queued messages gave the ones still queued: every other queued pending
    /// record is read once it is read whole.
    pub(super) fn queued_found(
        &mut self,
        found: Vec<FoundRef>,
        index: usize,
        requests: &mut Vec<Request<'a>>,
    ) -> Result<(), Error> {
        self.still_queued
            .extend(found.into_iter().map(|(_, _, m)| m.id));
        let source = &self.sources[index];
        if !source.reader.read_whole() || self.after_queued.is_empty() {
            return Ok(());
        }
        let usable = source.reader.unexpected == 0;
        if !usable {
            log::warn(&format!(
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
        requests: &mut Vec<Request<'a>>,
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
                if let (Some(trail), Some(name)) = (source.trail.as_mut(), late::name(role)) {
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
        let name = SUPPRESSIONS.name.to_string();
        self.kept.activity.insert(name, format_utc(self.end));
        self.kept_changed = true;
        true
    }
}
