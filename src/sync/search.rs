//! The windowed search engine (`/messages/outbound`, opens, clicks, inbound, bounces, and the
//! outbound messages whose details give `message_events`).
//!
//! Each (server, message stream) partition is read from its bookmark minus the lookback (or from
//! `start_date`) up to the safety margin before now, in closed windows of naive Eastern wall time
//! (see [`crate::timefmt::wall_range`]). A window is paged newest first with `count=500`; one
//! whose `TotalCount` passes the 10,000 ceiling is split before any of its records is written.
//! Records are filtered back to the window by their own timestamp, so the inclusive bounds never
//! lose or repeat the boundary second; inbound records carry no Postmark timestamp, so their
//! boundary duplicates are removed by MessageID.
//!
//! Pages are fetched, parsed and shaped by a [`pipeline`] of worker threads shared by all the
//! stream's partitions (the rest of a window, the first page of the next window and other
//! partitions' pages in flight together) and written in job order by the calling thread. A window whose pages disagree (Postmark's answers changed while it was read) is read
//! again before it counts. The bookmark moves to a window's end, and a STATE is written, only
//! after all of the window's records are out.

use super::page::{self, Record, Records};
use super::pipeline;
use super::servers::Server;
use super::windows::{Planner, Window, CEILING};
use super::{extracted_now, parse_record, record_line, Ctx, TextRecords, Totals};
use crate::client::{parse_value, CallError, Client, Counters, Parsed};
use crate::error::Error;
use crate::log;
use crate::singer::catalog::Selected;
use crate::streams::{Expand, Search};
use crate::timefmt::{floor_second, format_filter, format_utc, parse_timestamp, wall_range};
use crate::transcode::Members;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const PAGE: u64 = 500;
/// The fields of a record that is not an object: none.
static NO_MEMBERS: Members<'static> = Members::EMPTY;
/// How often a window is re-read from the start when Postmark's answers change under it.
const MAX_REREADS: u32 = 3;

/// Syncs every partition of every given search stream for one server, all through one pipeline;
/// returns what each stream came to, in the order given (its time runs from the start of the
/// shared pipeline to the stream's last window).
pub fn sync<W: Write>(
    ctx: &mut Ctx<'_, W>,
    streams: &[(&Selected, Search)],
    server: &Server,
) -> Result<Vec<Totals>, Error> {
    let mut readers: Vec<Reader> = Vec::new();
    for (stream, (sel, spec)) in streams.iter().enumerate() {
        for partition in partitions(sel, spec, server) {
            readers.push(Reader {
                client: ctx.client,
                sel,
                server,
                spec,
                partition,
                index: readers.len(),
                stream,
                tally: Counters::default(),
            });
        }
    }
    // Every partition of every stream goes through one pipeline, so small partitions and the
    // ends of streams overlap too; each partition's windows are still written in order, each
    // followed by its STATE.
    let started = Instant::now();
    let mut progress = Vec::with_capacity(readers.len());
    let mut first_jobs = Vec::new();
    for reader in &readers {
        let p = reader.prepare(ctx)?;
        if let Some(window) = p.as_ref().and_then(|p| p.planner.next_window()) {
            first_jobs.push(Job::First(reader.index, window));
        }
        progress.push(p);
    }
    pipeline::run(
        ctx.config.concurrency,
        first_jobs,
        |job: &Job| match *job {
            Job::First(i, w) => readers[i].fetch(w, 0),
            Job::Page(i, w, offset) => readers[i].fetch(w, offset),
        },
        |job, fetched, queue| {
            let i = job.partition();
            let p = progress[i].as_mut().ok_or_else(|| {
                Error::Internal("a job for a partition with nothing to read".into())
            })?;
            readers[i].handle(ctx, p, job, fetched?, queue)
        },
    )?;
    Ok((0..streams.len())
        .map(|stream| {
            let mine = || readers.iter().filter(move |r| r.stream == stream);
            let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
            Totals {
                records: mine()
                    .filter_map(|r| progress[r.index].as_ref())
                    .map(|p| p.written)
                    .sum(),
                requests: mine().map(|r| load(&r.tally.requests)).sum(),
                retries: mine().map(|r| load(&r.tally.retries)).sum(),
                seconds: mine()
                    .filter_map(|r| progress[r.index].as_ref()?.finished)
                    .map(|t| t.duration_since(started).as_secs_f64())
                    .fold(0.0, f64::max),
            }
        })
        .collect())
}

/// The partitions a search stream is read in on a server: one per message stream, or one named
/// after the inbound stream.
fn partitions<'s>(sel: &Selected, spec: &Search, server: &'s Server) -> Vec<&'s str> {
    if spec.per_message_stream {
        // Bounces can belong to inbound streams (InboundError); the other searches cannot.
        server
            .message_streams()
            .iter()
            .filter(|ms| sel.def.name == "bounces" || !ms.is_inbound())
            .map(|ms| ms.id.as_str())
            .collect()
    } else {
        let inbound = server
            .message_streams()
            .iter()
            .find(|ms| ms.is_inbound())
            .map_or("inbound", |ms| ms.id.as_str());
        vec![inbound]
    }
}

/// A request of the pipeline.
#[derive(Clone, Copy, Debug)]
enum Job {
    /// A partition's window's first page: its `TotalCount` decides whether the window fits.
    First(usize, Window),
    /// A further page of a window that fits.
    Page(usize, Window, u64),
}

impl Job {
    fn partition(&self) -> usize {
        match *self {
            Job::First(i, _) | Job::Page(i, _, _) => i,
        }
    }
}

/// A fetched page, already shaped.
enum Fetched {
    /// More records than paging can reach (first pages only): nothing was shaped.
    TooBig(u64),
    Page {
        total: u64,
        /// Records Postmark returned (before the window filter).
        got: u64,
        /// The identity of each of them (see [`Reader::identify`]).
        ids: Vec<Key>,
        lines: Lines,
    },
}

/// What a page's records came to.
#[derive(Default)]
struct Kept {
    /// The identity of every record of the page, kept or not.
    ids: Vec<Key>,
    lines: Lines,
    /// `message_events` only: the kept messages, whose events are fetched once the page is read.
    messages: Vec<(Key, Value)>,
}

/// The RECORD lines of a page's kept records, in one buffer.
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
    /// Per record kept: its key, where its RECORD line(s) are in `buf`, and how many records
    /// they are.
    records: Vec<(Key, std::ops::Range<usize>, u64)>,
}

/// Reads one partition: the fixed facts the worker threads share.
struct Reader<'a> {
    client: &'a Client,
    sel: &'a Selected,
    server: &'a Server,
    spec: &'a Search,
    partition: &'a str,
    /// The partition's place in the pipeline.
    index: usize,
    /// Its stream's place in the streams synced together.
    stream: usize,
    /// Requests and retries made for this partition.
    tally: Counters,
}

/// The window being written, and what is known of it so far.
struct Current {
    window: Window,
    total: u64,
    pages_left: u64,
    received: u64,
    /// The distinct records received: a window whose pages repeat records is read again.
    distinct: HashSet<Key, Digests>,
    consistent: bool,
}

/// What the writing side keeps while a partition is read.
struct Progress {
    bookmark: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    planner: Planner,
    current: Option<Current>,
    /// Keys written in the current window (a re-read or an overlap writes nothing twice).
    seen: HashSet<Key, Digests>,
    /// Inbound only: IDs written recently (with their window's end), to drop boundary repeats.
    recent_ids: HashMap<Key, DateTime<Utc>, Digests>,
    written: u64,
    windows_done: u64,
    started: Instant,
    /// When the last window was done.
    finished: Option<Instant>,
}

impl Reader<'_> {
    fn name(&self) -> &'static str {
        self.sel.def.name
    }

    /// Where this partition starts and ends; `None` when it has nothing to read.
    fn prepare<W: Write>(&self, ctx: &mut Ctx<'_, W>) -> Result<Option<Progress>, Error> {
        let name = self.name();
        let server_id = self.server.id;
        let partition = self.partition;
        let bookmark = match ctx.state.bookmark(name, server_id, partition) {
            None => None,
            Some(b) => Some(parse_timestamp(b).ok_or_else(|| {
                Error::Input(format!(
                    "state: bookmarks.{name}.{server_id}.{partition} = {b:?} is not a timestamp"
                ))
            })?),
        };
        let start = floor_second(match bookmark {
            Some(b) => (b - ctx.config.lookback).max(ctx.config.start),
            None => ctx.config.start,
        });
        let end = ctx.search_end;
        if start >= end {
            return Ok(None);
        }
        log::info(&format!(
            "{name}: server {server_id} stream {partition}: {} → {}",
            format_utc(start),
            format_utc(end)
        ));
        Ok(Some(Progress {
            bookmark,
            start,
            end,
            planner: Planner::new(start, end),
            current: None,
            seen: HashSet::default(),
            recent_ids: HashMap::default(),
            written: 0,
            windows_done: 0,
            started: Instant::now(),
            finished: None,
        }))
    }

    /// Handles one fetched page, in job order.
    fn handle<W: Write>(
        &self,
        ctx: &mut Ctx<'_, W>,
        p: &mut Progress,
        job: Job,
        fetched: Fetched,
        queue: &mut VecDeque<Job>,
    ) -> Result<(), Error> {
        match (job, fetched) {
            (Job::First(_, window), Fetched::TooBig(total)) => {
                log::debug(&format!(
                    "{}: window {} – {} holds {total} records, more than paging reaches; splitting",
                    self.name(),
                    format_utc(window.start),
                    format_utc(window.end)
                ));
                p.planner.too_big(window, total).map_err(|u| {
                    Error::Ceiling(format!(
                        "{}: server {} stream {}: {} records in the one second at {}; Postmark's paging reaches only {CEILING} per query, so they cannot all be read",
                        self.name(),
                        self.server.id,
                        self.partition,
                        u.total,
                        format_utc(u.window.start)
                    ))
                })?;
                queue.extend(p.planner.next_window().map(|w| Job::First(self.index, w)));
            }
            (
                Job::First(_, window),
                Fetched::Page {
                    total,
                    got,
                    ids,
                    lines,
                },
            ) => {
                self.write(ctx, p, lines)?;
                let offsets: Vec<u64> = (PAGE..total.min(CEILING)).step_by(PAGE as usize).collect();
                p.current = Some(Current {
                    window,
                    total,
                    pages_left: offsets.len() as u64,
                    received: got,
                    distinct: ids.into_iter().collect(),
                    consistent: true,
                });
                queue.extend(
                    offsets
                        .into_iter()
                        .map(|o| Job::Page(self.index, window, o)),
                );
                // The next window is planned from this one's total, so its first page can be
                // fetched while this window's pages are.
                p.planner.done(window, total);
                queue.extend(p.planner.next_window().map(|w| Job::First(self.index, w)));
                self.finish_if_complete(ctx, p)?;
            }
            (Job::Page(..), fetched) => {
                let (total, got, ids, lines) = match fetched {
                    Fetched::Page {
                        total,
                        got,
                        ids,
                        lines,
                    } => (total, got, ids, lines),
                    Fetched::TooBig(total) => (total, 0, Vec::new(), Lines::default()),
                };
                self.write(ctx, p, lines)?;
                let current = p
                    .current
                    .as_mut()
                    .ok_or_else(|| Error::Internal("a page without its window".into()))?;
                current.consistent &= total == current.total;
                current.received += got;
                current.distinct.extend(ids);
                current.pages_left -= 1;
                self.finish_if_complete(ctx, p)?;
            }
        }
        Ok(())
    }

    /// Once every page of the current window is in: re-read it if its pages disagreed, then move
    /// the bookmark and write the STATE.
    fn finish_if_complete<W: Write>(
        &self,
        ctx: &mut Ctx<'_, W>,
        p: &mut Progress,
    ) -> Result<(), Error> {
        let Some(current) = p.current.as_ref().filter(|c| c.pages_left == 0) else {
            return Ok(());
        };
        let window = current.window;
        let distinct = current.distinct.len() as u64;
        if !current.consistent || current.received != current.total || distinct != current.total {
            log::warn(&format!(
                "{}: window {} – {} changed while it was read ({} records announced, {} received, {distinct} distinct); reading it again",
                self.name(),
                format_utc(window.start),
                format_utc(window.end),
                current.total,
                current.received
            ));
            self.reread(ctx, p, window)?;
        }
        p.current = None;
        if self.spec.time_field.is_none() {
            let horizon = window.start - Duration::hours(2);
            p.recent_ids.retain(|_, end| *end >= horizon);
            for id in p.seen.drain() {
                p.recent_ids.insert(id, window.end);
            }
        }
        p.seen.clear();
        p.windows_done += 1;
        p.finished = Some(Instant::now());
        if p.bookmark.is_none_or(|b| window.end > b) {
            ctx.state.set_bookmark(
                self.name(),
                self.server.id,
                self.partition,
                format_utc(window.end),
            );
        }
        ctx.checkpoint()?;
        let covered = (window.end - p.start).num_seconds() as f64
            / (p.end - p.start).num_seconds().max(1) as f64;
        let requests = ctx
            .client
            .counters
            .requests
            .load(std::sync::atomic::Ordering::Relaxed);
        let rate = p.written as f64 / p.started.elapsed().as_secs_f64().max(0.001);
        let (written, windows) = (p.written, p.windows_done);
        ctx.progress(|| {
            format!(
                "{}: server {} stream {}: {written} records, {windows} windows, {:.0}% of the range, {requests} requests so far, {rate:.0} records/s",
                self.name(),
                self.server.id,
                self.partition,
                covered * 100.0
            )
        });
        Ok(())
    }

    /// Reads a window again, one page after another, until two consecutive reads agree with
    /// themselves; records already written are not written again.
    fn reread<W: Write>(
        &self,
        ctx: &mut Ctx<'_, W>,
        p: &mut Progress,
        window: Window,
    ) -> Result<(), Error> {
        for _ in 0..MAX_REREADS {
            let mut offset = 0;
            let mut expected = None;
            let mut received = 0;
            let mut distinct: HashSet<Key, Digests> = HashSet::default();
            let mut consistent = true;
            loop {
                let (total, got, lines) = match self.fetch(window, offset)? {
                    Fetched::Page {
                        total,
                        got,
                        ids,
                        lines,
                    } => {
                        distinct.extend(ids);
                        (total, got, lines)
                    }
                    Fetched::TooBig(total) => {
                        return Err(Error::Ceiling(format!(
                            "{}: the window {} – {} grew to {total} records while it was read, past what paging reaches",
                            self.name(),
                            format_utc(window.start),
                            format_utc(window.end)
                        )))
                    }
                };
                self.write(ctx, p, lines)?;
                consistent &= *expected.get_or_insert(total) == total;
                received += got;
                offset += PAGE;
                if !consistent || got == 0 || offset >= total.min(CEILING) {
                    break;
                }
            }
            let whole = Some(received) == expected && Some(distinct.len() as u64) == expected;
            if consistent && whole {
                return Ok(());
            }
        }
        Err(Error::Api(format!(
            "{}: server {} stream {}: the window {} – {} kept changing while it was read; try again later",
            self.name(),
            self.server.id,
            self.partition,
            format_utc(window.start),
            format_utc(window.end)
        )))
    }

    /// Writes shaped records not written before.
    fn write<W: Write>(
        &self,
        ctx: &mut Ctx<'_, W>,
        p: &mut Progress,
        lines: Lines,
    ) -> Result<(), Error> {
        for (key, range, n) in lines.records {
            if p.recent_ids.contains_key(&key) || !p.seen.insert(key) {
                continue;
            }
            ctx.out.record_lines(self.name(), &lines.buf[range])?;
            p.written += n;
        }
        Ok(())
    }

    /// Fetches one page and shapes its records (runs on a worker thread).
    fn fetch(&self, window: Window, offset: u64) -> Result<Fetched, Error> {
        let (from, to) = wall_range(window.start, window.end);
        let path = self.sel.def.path;
        let mut query = vec![
            ("count", PAGE.to_string()),
            ("offset", offset.to_string()),
            ("fromdate", format_filter(from)),
            ("todate", format_filter(to)),
        ];
        if self.spec.per_message_stream {
            query.push(("messagestream", self.partition.to_string()));
        }
        let envelope = self.sel.def.envelope;
        let extracted = extracted_now();
        let writer = TextRecords::new(self.sel, Some(self.server.id), &extracted)?;
        // Records are filtered, keyed and written as the page is read (on this worker thread);
        // a retried attempt starts again from nothing.
        let read = self.client.get_with(
            &self.server.token,
            path,
            &query,
            path,
            Some(&self.tally),
            |body| {
                let mut kept = Kept::default();
                let parsed = page::parse(&body, envelope, &mut |so_far, record| {
                    if offset == 0 && so_far.total.is_some_and(|t| t > CEILING) {
                        return Ok(()); // Too big: split before anything is written.
                    }
                    self.keep(window, &writer, so_far.clean, record, &mut kept)
                })?;
                Ok(Parsed {
                    value: parsed.value.map(|page| (page, kept)),
                    error_code: parsed.error_code,
                    message: parsed.message,
                })
            },
        );
        let (page, kept) = match read {
            Ok(read) => read?,
            Err(CallError::Postmark {
                status: 422, code, ..
            }) if code == self.spec.ceiling_error_code && offset == 0 => {
                return Ok(Fetched::TooBig(CEILING + 1));
            }
            Err(e) => return Err(e.into_error(path)),
        };
        let total = page.total.count(path)?;
        if offset == 0 && total > CEILING {
            return Ok(Fetched::TooBig(total));
        }
        let got = match page.records {
            Records::List(n) => n,
            Records::Missing if total == 0 => 0,
            _ => {
                return Err(Error::Api(format!(
                    "Postmark's {path} answer has no {envelope} list"
                )))
            }
        };
        let mut lines = kept.lines;
        for (key, message) in kept.messages {
            let (bytes, n) = self.message_events(&message)?;
            let start = lines.buf.len();
            lines.buf.extend(bytes);
            lines.records.push((key, start..lines.buf.len(), n));
        }
        let ids = kept.ids;
        Ok(Fetched::Page {
            total,
            got,
            ids,
            lines,
        })
    }

    /// Keeps one record of a page if it belongs to the window: its key and RECORD line, or, for
    /// `message_events`, the message whose events are fetched next.
    fn keep(
        &self,
        window: Window,
        writer: &TextRecords,
        clean: bool,
        record: Record,
        kept: &mut Kept,
    ) -> Result<(), Error> {
        let fields = match &record {
            Record::Object(members) => members,
            Record::Other(_) => &NO_MEMBERS,
        };
        let key = self.identify(fields, window)?;
        kept.ids.push(key);
        if let Some(field) = self.spec.time_field {
            let raw = fields.str(field).unwrap_or_default();
            let t = parse_timestamp(&raw).ok_or_else(|| {
                Error::Api(format!(
                    "Postmark returned a {} record whose {field} {raw:?} is not a timestamp",
                    self.name()
                ))
            })?;
            if t < window.start || t >= window.end {
                return Ok(());
            }
        }
        match self.spec.expand {
            None => {
                let start = kept.lines.buf.len();
                writer.write(&record, clean, &mut kept.lines.buf)?;
                kept.lines
                    .records
                    .push((key, start..kept.lines.buf.len(), 1));
            }
            Some(Expand::MessageEvents) => kept.messages.push((key, parse_record(&record)?)),
        }
        Ok(())
    }

    /// A search record's identity (the fields that tell it from every other record of its
    /// stream) as a digest. A record without one of them, or with one written twice, is an
    /// error: it could be neither told apart nor loaded.
    fn identify(&self, fields: &Members, window: Window) -> Result<Key, Error> {
        if let Some(problem) = fields.identity_problem(self.sel.def.identity) {
            return Err(Error::Api(format!(
                "Postmark returned a {} record that {problem} (server {} stream {}, window {} – {}); a record must carry its key to be told apart and loaded",
                self.name(),
                self.server.id,
                self.partition,
                format_utc(window.start),
                format_utc(window.end)
            )));
        }
        Ok(record_key(fields, self.sel.def.identity))
    }

    /// The RECORD lines of one outbound message's `MessageEvents`, and how many there are.
    fn message_events(&self, message: &Value) -> Result<(Vec<u8>, u64), Error> {
        let Some(id) = message.get("MessageID").and_then(Value::as_str) else {
            return Err(Error::Api(
                "Postmark returned an outbound message without MessageID".into(),
            ));
        };
        let id = crate::client::path_segment(id, "a MessageID")?;
        let path = format!("/messages/outbound/{id}/details");
        let endpoint = "/messages/outbound/{id}/details";
        let details = match self.client.get_with(
            &self.server.token,
            &path,
            &[],
            endpoint,
            Some(&self.tally),
            parse_value,
        ) {
            Ok(d) => d,
            // 701: the message expired (retention) between the search and this request.
            Err(CallError::Postmark {
                status: 422,
                code: 701,
                ..
            }) => {
                log::debug(&format!("{path}: message no longer available; no events"));
                return Ok((Vec::new(), 0));
            }
            Err(e) => return Err(e.into_error(endpoint)),
        };
        let extracted = extracted_now();
        let stream = details
            .get("MessageStream")
            .or_else(|| message.get("MessageStream"))
            .cloned()
            .unwrap_or(Value::Null);
        let events = match details.get("MessageEvents") {
            Some(Value::Array(list)) => list.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return Err(Error::Api(format!("{path}: MessageEvents is not a list"))),
        };
        let mut bytes = Vec::new();
        for event in events {
            let mut record = event.clone();
            if let Some(map) = record.as_object_mut() {
                map.insert("MessageID".into(), Value::String(id.to_string()));
                map.insert("MessageStream".into(), stream.clone());
            }
            bytes.extend(record_line(
                self.sel,
                record,
                Some(self.server.id),
                &extracted,
            )?);
        }
        Ok((bytes, events.len() as u64))
    }
}

/// A record's key (ServerID aside) as a 128-bit digest: the dedupe sets stay small (16 bytes a
/// record) however long the keys are. Two independent 64-bit SipHash values make an accidental
/// collision within one window (at most 10,000 keys) about 1 in 10^30.
type Key = u128;

/// Hashes keys for the dedupe sets: they are digests already, so their low 64 bits serve.
type Digests = std::hash::BuildHasherDefault<DigestHasher>;

#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used for keys; this keeps any other input well spread.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn record_key(record: &Members, keys: &[&str]) -> Key {
    use std::hash::{Hash, Hasher};
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0xA5u8.hash(&mut b);
    for k in keys {
        let part = record.key_part(k);
        part.hash(&mut a);
        part.hash(&mut b);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_differ_by_any_part() {
        let keys = &["MessageID", "Recipient"];
        let k = |v: Value| {
            let text = v.to_string();
            record_key(&Members::parse(&text).unwrap(), keys)
        };
        let base = k(json!({"ServerID": 1, "MessageID": "m", "Recipient": "r"}));
        assert_eq!(base, k(json!({"MessageID": "m", "Recipient": "r"})));
        assert_ne!(base, k(json!({"MessageID": "m", "Recipient": "x"})));
        // Parts are hashed with their lengths, so "ab"+"c" is not "a"+"bc".
        assert_ne!(
            k(json!({"MessageID": "ab", "Recipient": "c"})),
            k(json!({"MessageID": "a", "Recipient": "bc"}))
        );
    }
}
