//! Where a task's sources start: the search of new records from the served streams' bookmarks,
//! each activity search from its cursor, the pending records due, the search of queued
//! messages and the overflow range; and the searches added on the way (by recipient).

use super::late::{self, HourCheck, Trail};
use super::pending;
use super::spec::{ReadsSpec, Why};
use super::task::{Dump, ReadsAsk, ReadsTask, Role, Source};
use crate::error::Error;
use crate::log;
use crate::singer::state::Kept;
use crate::streams::{ACTIVITY, SUPPRESSION_ACTIVITY};
use crate::sync::context::Ctx;
use crate::sync::context::ReadCounts;
use crate::sync::digest::KeyMap;
use crate::sync::search::fetch::{Found, MessageRef, Partition};
use crate::sync::search::start::from_bookmark;
use crate::sync::search::Reader;
use crate::timefmt::{format_utc, parse_timestamp};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

/// A task whose server and partition kept nothing yet, though its streams have bookmarks,
/// ran on a tap that re-read records by lookback: it reads this much before its bookmarks once,
/// so that what may still change is known from then on.
const FIRST_READ_BACK: Duration = Duration::hours(24);

/// Starts the task: plans its sources; gives its first requests.
pub fn start<'a, W: Write>(
    ctx: &mut Ctx<'_, W>,
    spec: Arc<ReadsSpec<'a>>,
) -> Result<(ReadsTask<'a>, Vec<ReadsAsk<'a>>), Error> {
    let (server, id) = (spec.server.id, spec.id.clone());
    let had = ctx.state.has_kept(spec.expand.group(), server, &id);
    let mut kept = ctx.state.kept(spec.expand.group(), server, &id);
    let (mut bookmarks, mut starts) = (Vec::new(), Vec::new());
    for sel in &spec.serves {
        let (bookmark, start) = from_bookmark(ctx, (server, &id), sel)?;
        ctx.warn_past_retention(sel.def.name, start);
        bookmarks.push(bookmark);
        starts.push(start);
    }
    // Reads are dated by the end of the run's searches, not the wall clock, so the state a
    // run leaves depends on what it read alone (end_date pins it).
    let (end, now) = (ctx.search_end, ctx.search_end);
    let mut from = starts.iter().copied().min().unwrap_or(end);
    if let (false, Some(oldest)) = (had, bookmarks.iter().flatten().min()) {
        from = from
            .min(*oldest - FIRST_READ_BACK)
            .max(ctx.config.message_start);
    }
    let given_up = pending::expire(&mut kept, now);
    let events_bookmark = events_bookmark(&spec, &bookmarks);
    let activity = activity_ranges(&spec, &mut kept, events_bookmark, end);
    // The hour before the new records' start is checked for late ones when reading starts at
    // the bookmarks (no lookback, no first read back); the activity's hours always are.
    let check_new = (had && bookmarks.iter().flatten().min() == Some(&from))
        .then(|| (kept.late.get("new").cloned(), false));
    let many = activity.iter().any(|a| a.from < end || !a.record_only)
        || check_new.is_some()
        || !kept.pending.is_empty()
        || kept.overflow.is_some();
    let mut task = ReadsTask {
        written: vec![0; spec.serves.len()],
        spec,
        sources: Vec::new(),
        kept,
        kept_changed: !had,
        asked: 0,
        handled: 0,
        seen: many.then(KeyMap::default),
        bookmarks,
        starts,
        after_queued: Vec::new(),
        still_queued: HashSet::new(),
        dump: None,
        overflow: None,
        end,
        now,
        counts: ReadCounts {
            given_up,
            ..ReadCounts::default()
        },
        finished: false,
    };
    let mut requests = Vec::new();
    task.ask_pending(&mut requests)?;
    task.log_range(from, end);
    let start = ctx.config.message_start;
    task.add_checked(Role::New, (from, end), check_new, start, &mut requests)?;
    for a in activity {
        match a.source {
            Some(i) => {
                let check = Some((a.saved, a.record_only));
                let range = (a.from, end);
                task.add_checked(Role::Activity(i), range, check, start, &mut requests)?;
            }
            None => task.ask_dump(a.from, &mut requests),
        }
    }
    task.complete(ctx)?;
    Ok((task, requests))
}

/// `message_events`' bookmark, when a served stream follows activity.
fn events_bookmark(spec: &ReadsSpec, bookmarks: &[Option<DateTime<Utc>>]) -> Option<DateTime<Utc>> {
    spec.serves
        .iter()
        .zip(bookmarks)
        .filter(|(sel, _)| {
            sel.def
                .expands_to()
                .is_some_and(crate::streams::Expand::follows_activity)
        })
        .find_map(|(_, b)| *b)
}

/// Where an activity source starts, and how the hour before it is checked.
struct ActivityRange {
    /// `Some(position in ACTIVITY)`, or `None` for the suppression dump.
    source: Option<usize>,
    from: DateTime<Utc>,
    /// What the previous run saw of the hour before `from`.
    saved: Option<String>,
    /// The hour is only recorded: every message is read whole this run.
    record_only: bool,
}

/// Where each activity source starts: its cursor, or `message_events`' bookmark for a state
/// that has none yet; with neither, every message is read whole this run, so the activity
/// starts at the end (and the cursor is kept there).
fn activity_ranges(
    spec: &ReadsSpec,
    kept: &mut Kept,
    events_bookmark: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
) -> Vec<ActivityRange> {
    if !spec.follows_activity() {
        return Vec::new();
    }
    let named = ACTIVITY
        .iter()
        .enumerate()
        .map(|(i, a)| (Some(i), a.name))
        .chain([(None, SUPPRESSION_ACTIVITY.name)]);
    let mut ranges = Vec::new();
    for (source, name) in named {
        let cursor = kept.activity.get(name).and_then(|t| parse_timestamp(t));
        let from = cursor.or(events_bookmark).unwrap_or(end).min(end);
        if cursor.is_none() {
            kept.activity.insert(name.to_string(), format_utc(from));
        }
        ranges.push(ActivityRange {
            source,
            from,
            saved: kept.late.get(name).cloned(),
            record_only: cursor.is_none() && events_bookmark.is_none(),
        });
    }
    ranges
}

impl<'a> ReadsTask<'a> {
    /// Adds a search of new records or of activity over `[from, to)` that keeps a trail of what
    /// it finds (when its records carry a time) and, with `check`, the check of the hour before
    /// `from` (what the previous run saw of it, and whether it is only recorded).
    fn add_checked(
        &mut self,
        role: Role,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        check: Option<(Option<String>, bool)>,
        start: DateTime<Utc>,
        requests: &mut Vec<ReadsAsk<'a>>,
    ) -> Result<(), Error> {
        let owner = self.add_source(role, (from, to), None, requests)?;
        let timed = self.sources[owner].reader.part().spec.time_field.is_some();
        if !timed {
            return Ok(());
        }
        self.sources[owner].trail = Some(Trail::default());
        let Some((saved, record_only)) = check else {
            return Ok(());
        };
        let hour = ((from - late::hour()).max(start).min(from), from);
        let index = self.add_source(Role::Late(owner), hour, None, requests)?;
        self.sources[index].check = Some(HourCheck {
            owner,
            to: from,
            saved,
            held: Vec::new(),
            record_only,
            resolved: false,
            recorded: false,
        });
        if self.sources[index].reader.read_whole() {
            self.resolve(index, requests)?;
        }
        Ok(())
    }

    /// Adds a source reading `[from, to)` of the partition (the search of the served streams'
    /// records, or of an activity stream's); its first request joins `requests`. Gives its
    /// index.
    pub(super) fn add_source(
        &mut self,
        role: Role,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        filter: Option<(&'static str, String)>,
        requests: &mut Vec<ReadsAsk<'a>>,
    ) -> Result<usize, Error> {
        let spec = &self.spec;
        let searched = match role {
            Role::Late(owner) => self.sources[owner].role,
            role => role,
        };
        let (sel, found) = match searched {
            Role::Activity(i) => (
                spec.activity[i],
                Found::Refs {
                    id_field: "MessageID",
                    only_if: None,
                },
            ),
            _ => (
                spec.serves[0],
                Found::Refs {
                    id_field: spec.expand.id_field(),
                    only_if: spec.expand.only_if(),
                },
            ),
        };
        let crate::streams::Kind::Search(search) = sel.def.kind else {
            return Err(Error::Internal(format!("{} is not a search", sel.def.name)));
        };
        let expect = (role == Role::Queued).then_some(("Status", "Queued"));
        let part = Partition {
            sel,
            spec: search,
            server: Arc::clone(&spec.server),
            id: spec.id.clone(),
            tally: Arc::clone(&spec.tally),
            found,
            filters: filter.into_iter().collect(),
            expect,
            tags: None,
        };
        let index = self.sources.len();
        let mut pages = Vec::new();
        let reader = Reader::new(Arc::new(part), from, to, &mut pages);
        self.sources.push(Source {
            role,
            reader,
            trail: None,
            check: None,
        });
        requests.extend(pages.into_iter().map(|page| ReadsAsk::Page {
            source: index,
            page,
        }));
        Ok(index)
    }

    /// The suppression dump of `[from, end)`, if the range is not empty.
    fn ask_dump(&mut self, from: DateTime<Utc>, requests: &mut Vec<ReadsAsk<'a>>) {
        if from >= self.end {
            return;
        }
        self.dump = Some(Dump { answered: false });
        requests.push(ReadsAsk::Dump(super::suppressions::DumpRequest {
            spec: Arc::clone(&self.spec),
            from,
            to: self.end,
        }));
    }

    /// Asks for the pending records due now; a queued message waits for the search of the
    /// queued messages (where Postmark has one); the overflow range, when due, is searched.
    fn ask_pending(&mut self, requests: &mut Vec<ReadsAsk<'a>>) -> Result<(), Error> {
        let lists_queued = self.spec.expand.lists_queued();
        let mut oldest_queued: Option<DateTime<Utc>> = None;
        let entries: Vec<_> = self.kept.pending.clone();
        for p in &entries {
            let e = pending::entry(p);
            let message = pending_ref(e.id, e.found);
            if e.queued && lists_queued {
                oldest_queued = Some(oldest_queued.map_or(e.found, |o| o.min(e.found)));
                self.after_queued.push(message);
            } else if pending::due(e.since, e.read, self.now) {
                self.ask(message, Why::Pending, requests);
            }
        }
        if let Some(from) = oldest_queued {
            let filter = Some(("status", "queued".to_string()));
            self.add_source(Role::Queued, (from, self.end), filter, requests)?;
        }
        if let Some((from, to)) = pending::overflow_due(&self.kept, self.now) {
            self.overflow = Some(false);
            let to = (to + Duration::seconds(1)).min(self.end);
            self.add_source(Role::Overflow, (from, to), None, requests)?;
        }
        Ok(())
    }

    fn log_range(&self, from: DateTime<Utc>, end: DateTime<Utc>) {
        log::info_for(
            self.spec.name(),
            &format!(
                "{}: {}: {} → {}, {} records pending",
                self.spec.name(),
                self.spec.label(),
                format_utc(from),
                format_utc(end),
                self.kept.pending.len()
            ),
        );
    }
}

/// The reference a pending record is read by.
fn pending_ref(id: &str, found: DateTime<Utc>) -> MessageRef {
    MessageRef {
        id: id.to_string(),
        stream: None,
        time: Some(serde_json::Value::String(format_utc(found)).to_string()),
        at: Some(found),
    }
}
