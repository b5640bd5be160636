//! The windowed search engine (`/messages/outbound`, opens, clicks, inbound, bounces).
//!
//! Each (server, message stream) partition is read from its bookmark minus the lookback (or from
//! `start_date`) up to the safety margin before now, in closed windows of naive Eastern wall time
//! (see [`crate::timefmt::wall_range`]). A window is paged newest first with `count=500`; one
//! whose `TotalCount` passes the 10,000 ceiling is split before any of its records is written.
//! Records are filtered back to the window by their own timestamp, so the inclusive bounds never
//! lose or repeat the boundary second; inbound records carry no Postmark timestamp, so their
//! boundary duplicates are removed by MessageID. The bookmark moves to a window's end, and a
//! STATE is written, only after all of the window's records are out.

use super::servers::Server;
use super::windows::{Planner, Window, CEILING};
use super::{extracted_now, Ctx};
use crate::client::CallError;
use crate::error::Error;
use crate::log;
use crate::singer::catalog::Selected;
use crate::streams::{Expand, Search};
use crate::timefmt::{floor_second, format_filter, format_utc, parse_timestamp, wall_range};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::Write;

const PAGE: u64 = 500;
/// How often a window is re-read from the start when Postmark's answers change under it.
const MAX_REREADS: u32 = 3;

/// Syncs every partition of a search stream for one server; returns the records written.
pub fn sync<W: Write>(
    ctx: &mut Ctx<'_, W>,
    sel: &Selected,
    server: &Server,
    spec: &Search,
) -> Result<u64, Error> {
    let partitions: Vec<String> = if spec.per_message_stream {
        // Bounces can belong to inbound streams (InboundError); the other searches cannot.
        server
            .message_streams
            .iter()
            .filter(|ms| sel.def.name == "bounces" || !ms.is_inbound())
            .map(|ms| ms.id.clone())
            .collect()
    } else {
        // One partition, named after the server's inbound stream.
        let inbound = server
            .message_streams
            .iter()
            .find(|ms| ms.is_inbound())
            .map(|ms| ms.id.clone())
            .unwrap_or_else(|| "inbound".into());
        vec![inbound]
    };
    let mut written = 0;
    for partition in partitions {
        written += sync_partition(ctx, sel, server, spec, &partition)?;
    }
    Ok(written)
}

fn sync_partition<W: Write>(
    ctx: &mut Ctx<'_, W>,
    sel: &Selected,
    server: &Server,
    spec: &Search,
    partition: &str,
) -> Result<u64, Error> {
    let name = sel.def.name;
    let bookmark = match ctx.state.bookmark(name, server.id, partition) {
        None => None,
        Some(b) => Some(parse_timestamp(b).ok_or_else(|| {
            Error::Input(format!(
                "state: bookmarks.{name}.{}.{partition} = {b:?} is not a timestamp",
                server.id
            ))
        })?),
    };
    let start = floor_second(match bookmark {
        Some(b) => (b - ctx.config.lookback).max(ctx.config.start),
        None => ctx.config.start,
    });
    let end = ctx.search_end;
    if start >= end {
        return Ok(0);
    }
    log::info(&format!(
        "{name}: server {} stream {partition}: {} → {}",
        server.id,
        format_utc(start),
        format_utc(end)
    ));
    let mut planner = Planner::new(start, end);
    let started = std::time::Instant::now();
    let mut windows_done = 0u64;
    let mut reader = WindowReader {
        sel,
        server,
        spec,
        partition,
        recent_ids: HashMap::new(),
        written: 0,
    };
    while let Some(window) = planner.next_window() {
        match reader.read(ctx, window)? {
            Outcome::TooBig(total) => planner.too_big(window, total).map_err(|u| {
                Error::Ceiling(format!(
                    "{name}: server {} stream {partition}: {} records in the one second at {}; Postmark's paging reaches only {CEILING} per query, so they cannot all be read",
                    server.id,
                    u.total,
                    format_utc(u.window.start)
                ))
            })?,
            Outcome::Done(total) => {
                planner.done(window, total);
                windows_done += 1;
                let covered = (window.end - start).num_seconds() as f64
                    / (end - start).num_seconds().max(1) as f64;
                let (written, requests) = (reader.written, ctx.client.counters.requests.load(std::sync::atomic::Ordering::Relaxed));
                let rate = written as f64 / started.elapsed().as_secs_f64().max(0.001);
                ctx.progress(|| {
                    format!(
                        "{name}: server {} stream {partition}: {written} records, {windows_done} windows, {:.0}% of the range, {requests} requests so far, {rate:.0} records/s",
                        server.id,
                        covered * 100.0
                    )
                });
                if bookmark.is_none_or(|b| window.end > b) {
                    ctx.state
                        .set_bookmark(name, server.id, partition, format_utc(window.end));
                }
                ctx.checkpoint()?;
            }
        }
    }
    Ok(reader.written)
}

enum Outcome {
    /// More records than paging can reach: nothing was written.
    TooBig(u64),
    /// All records written; the count Postmark reported.
    Done(u64),
}

struct WindowReader<'s> {
    sel: &'s Selected,
    server: &'s Server,
    spec: &'s Search,
    partition: &'s str,
    /// Inbound only: IDs written recently (with their window's end), to drop boundary repeats.
    recent_ids: HashMap<String, DateTime<Utc>>,
    written: u64,
}

impl WindowReader<'_> {
    fn read<W: Write>(&mut self, ctx: &mut Ctx<'_, W>, window: Window) -> Result<Outcome, Error> {
        let (from, to) = wall_range(window.start, window.end);
        let (from, to) = (format_filter(from), format_filter(to));
        let path = self.sel.def.path;
        let mut seen: HashSet<String> = HashSet::new();
        let mut rereads = 0;
        let mut expected: Option<u64>;
        'reread: loop {
            let mut offset = 0u64;
            expected = None;
            loop {
                let mut query = vec![
                    ("count", PAGE.to_string()),
                    ("offset", offset.to_string()),
                    ("fromdate", from.clone()),
                    ("todate", to.clone()),
                ];
                if self.spec.per_message_stream {
                    query.push(("messagestream", self.partition.to_string()));
                }
                let mut page = match ctx.client.get(&self.server.token, path, &query, path) {
                    Ok(p) => p,
                    Err(CallError::Postmark {
                        status: 422, code, ..
                    }) if code == self.spec.ceiling_error_code && offset == 0 => {
                        return Ok(Outcome::TooBig(CEILING + 1));
                    }
                    Err(e) => return Err(e.into_error(path)),
                };
                let extracted = extracted_now();
                let total = page
                    .get("TotalCount")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| {
                        Error::Api(format!("Postmark's {path} answer has no TotalCount"))
                    })?;
                if offset == 0 && total > CEILING && seen.is_empty() {
                    return Ok(Outcome::TooBig(total));
                }
                match expected {
                    None => expected = Some(total),
                    Some(t) if t != total => {
                        rereads += 1;
                        if rereads > MAX_REREADS {
                            return Err(Error::Api(format!(
                                "{path}: the window {} – {} kept changing while it was read ({t} then {total} records)",
                                format_utc(window.start),
                                format_utc(window.end)
                            )));
                        }
                        log::warn(&format!(
                            "{path}: window {} changed while read ({t} → {total} records); reading it again",
                            format_utc(window.start)
                        ));
                        continue 'reread;
                    }
                    Some(_) => {}
                }
                let records = match page.get_mut(self.sel.def.envelope).map(Value::take) {
                    Some(Value::Array(list)) => list,
                    Some(Value::Null) | None if total == 0 => break,
                    _ => {
                        return Err(Error::Api(format!(
                            "Postmark's {path} answer has no {} list",
                            self.sel.def.envelope
                        )))
                    }
                };
                let got = records.len() as u64;
                for record in records {
                    self.take(ctx, window, record, &mut seen, &extracted)?;
                }
                offset += got;
                if offset >= total {
                    break 'reread;
                }
                if got == 0 || offset + PAGE > CEILING {
                    rereads += 1;
                    if rereads > MAX_REREADS {
                        return Err(Error::Api(format!(
                            "{path}: Postmark reported {total} records for {} – {} but returned only {offset}",
                            format_utc(window.start),
                            format_utc(window.end)
                        )));
                    }
                    continue 'reread;
                }
            }
            break;
        }
        if self.spec.time_field.is_none() {
            let horizon = window.start - Duration::hours(2);
            self.recent_ids.retain(|_, end| *end >= horizon);
            for id in seen {
                self.recent_ids.insert(id, window.end);
            }
        }
        Ok(Outcome::Done(expected.unwrap_or(0)))
    }

    /// Writes one record if it belongs to `window` and was not written already.
    fn take<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        window: Window,
        record: Value,
        seen: &mut HashSet<String>,
        extracted: &str,
    ) -> Result<(), Error> {
        if let Some(field) = self.spec.time_field {
            let raw = record.get(field).and_then(Value::as_str).unwrap_or("");
            let t = parse_timestamp(raw).ok_or_else(|| {
                Error::Api(format!(
                    "Postmark returned a {} record whose {field} {raw:?} is not a timestamp",
                    self.sel.def.name
                ))
            })?;
            if t < window.start || t >= window.end {
                return Ok(());
            }
        }
        let key = record_key(&record, self.sel.def.key_properties);
        if self.recent_ids.contains_key(&key) || !seen.insert(key) {
            return Ok(());
        }
        match self.spec.expand {
            None => {
                ctx.emit(self.sel, record, Some(self.server.id), extracted)?;
                self.written += 1;
            }
            Some(Expand::MessageEvents) => self.message_events(ctx, &record)?,
        }
        Ok(())
    }

    /// Emits the `MessageEvents` of one outbound message.
    fn message_events<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        message: &Value,
    ) -> Result<(), Error> {
        let Some(id) = message.get("MessageID").and_then(Value::as_str) else {
            return Err(Error::Api(
                "Postmark returned an outbound message without MessageID".into(),
            ));
        };
        let path = format!("/messages/outbound/{id}/details");
        let endpoint = "/messages/outbound/{id}/details";
        let details = match ctx.client.get(&self.server.token, &path, &[], endpoint) {
            Ok(d) => d,
            // 701: the message expired (retention) between the search and this request.
            Err(CallError::Postmark {
                status: 422,
                code: 701,
                ..
            }) => {
                log::debug(&format!("{path}: message no longer available; no events"));
                return Ok(());
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
            Some(_) => {
                return Err(Error::Api(format!("{path}: MessageEvents is not a list")));
            }
        };
        for event in events {
            let mut record = event.clone();
            if let Some(map) = record.as_object_mut() {
                map.insert("MessageID".into(), Value::String(id.to_string()));
                map.insert("MessageStream".into(), stream.clone());
            }
            ctx.emit(self.sel, record, Some(self.server.id), &extracted)?;
            self.written += 1;
        }
        Ok(())
    }
}

/// The record's key (ServerID aside) as one string.
fn record_key(record: &Value, keys: &[&str]) -> String {
    let mut out = String::new();
    for k in keys.iter().filter(|k| **k != "ServerID") {
        match record.get(*k) {
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
            None => {}
        }
        out.push('\u{1f}');
    }
    out
}
