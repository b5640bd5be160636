//! The fetch side of a search, on a worker thread: one page requested for a window, read in one
//! pass, each record identified, filtered back to the window by its own timestamp and written
//! as its RECORD line (or, for a search whose records name something to read, kept as a
//! reference to it).

use super::super::digest::{record_key, Key};
use super::super::servers::Server;
use super::super::windows::Window;
use crate::client::{CallError, Client, Counters, Parsed};
use crate::error::Error;
use crate::record::drift::Event;
use crate::record::line::RecordWriter;
use crate::record::page::{self, Record, Records};
use crate::record::Members;
use crate::record::Selected;
use crate::record::Stamps;
use crate::streams::{Partitions, Search, CEILING, PAGE_SIZE};
use crate::sync::context::extracted_now;
use crate::timefmt::{format_filter, format_utc, parse_timestamp, wall_range};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// What a partition's requests share: the search, the server and the message stream.
pub struct Partition<'a> {
    /// The stream whose endpoint is searched (its path, envelope, keys and time field); its
    /// records are written only when `found` is [`Found::Lines`].
    pub sel: &'a Selected,
    pub spec: Search,
    pub server: Arc<Server>,
    /// The message stream (or the inbound stream) read.
    pub id: String,
    /// Requests and retries made for this partition (shared by the searches of one task).
    pub tally: Arc<Counters>,
    /// What becomes of the records found.
    pub found: Found,
    /// Filters sent beside the window and the message stream (`recipient`, `status`).
    pub filters: Vec<(&'static str, String)>,
    /// A field every record is expected to hold with this value (any case), as a filter
    /// asked for: records that do not are counted ([`ShapedPage::unexpected`]).
    pub expect: Option<(&'static str, &'static str)>,
    /// Where the `Tag`s of the records written are gathered, when a run reads statistics for
    /// the tags found (`stats_tags: ["*"]`).
    pub tags: Option<Mutex<BTreeSet<String>>>,
}

/// What becomes of a search's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Each is written as a RECORD line of the partition's stream.
    Lines,
    /// Each names something to read next by its `id_field` (when its boolean `only_if` field
    /// is true): it is kept as a [`MessageRef`].
    Refs {
        id_field: &'static str,
        only_if: Option<&'static str>,
    },
}

impl Partition<'_> {
    pub fn name(&self) -> &'static str {
        self.sel.def.name
    }

    /// "server 10001 stream outbound", for messages.
    pub fn label(&self) -> String {
        format!("server {} stream {}", self.server.id, self.id)
    }
}

/// A page of a window: offset 0 is the window's first page, whose `TotalCount` decides whether
/// the window fits; `attempt` counts the reads of the window (0: the first).
#[derive(Clone)]
pub struct PageRequest<'a> {
    pub part: Arc<Partition<'a>>,
    pub window: Window,
    pub offset: u64,
    pub attempt: u32,
}

/// A fetched page, already shaped.
pub enum PageAnswer {
    /// More records than paging can reach (first pages only): nothing was shaped.
    TooBig(u64),
    ShapedPage(ShapedPage),
}

pub struct ShapedPage {
    pub total: u64,
    /// Records Postmark returned (before the window filter).
    pub got: u64,
    /// The identity of each of them.
    pub ids: Vec<Key>,
    /// The RECORD lines of the records kept.
    pub lines: Lines,
    /// For searches whose records name something to read: the references kept.
    pub messages: Vec<(Key, MessageRef)>,
    /// Records without the value [`Partition::expect`] asks for.
    pub unexpected: u64,
}

/// RECORD lines in one buffer, each with its record's key.
#[derive(Default)]
pub struct Lines {
    pub buf: Vec<u8>,
    pub records: Vec<(Key, Range<usize>)>,
}

/// What a found record names to read next (a message, or a bounce's dump).
#[derive(Clone, Debug)]
pub struct MessageRef {
    pub id: String,
    /// Its `MessageStream` as found (JSON text), if any.
    pub stream: Option<String>,
    /// Its timestamp as found (JSON text), if any: the bookmark field of a record that the
    /// answer read next does not carry (a bounce's dump).
    pub time: Option<String>,
    /// That timestamp, read (`None` when missing or unreadable).
    pub at: Option<DateTime<Utc>>,
}

/// Fetches one page and shapes its records.
pub fn fetch(client: &Client, req: &PageRequest) -> Result<PageAnswer, Error> {
    let part = &*req.part;
    let (from, to) = wall_range(req.window.start, req.window.end);
    let path = part.sel.def.path;
    let mut query = vec![
        ("count", PAGE_SIZE.to_string()),
        ("offset", req.offset.to_string()),
        ("fromdate", format_filter(from)),
        ("todate", format_filter(to)),
    ];
    if part.spec.partitions != Partitions::Inbound {
        query.push(("messagestream", part.id.clone()));
    }
    query.extend(part.filters.iter().cloned());
    let envelope = part.sel.def.envelope;
    let extracted = extracted_now();
    let stamps = Stamps::new(Some(part.server.id), Some(&part.id));
    let writer = RecordWriter::new(part.sel, stamps, &extracted)?;
    let first = req.offset == 0;
    // Records are filtered, keyed and written as the page is read; a retried attempt starts
    // again from nothing.
    let read = client.get_with(
        &part.server.token,
        path,
        &query,
        path,
        Some(&part.tally),
        |body: Vec<u8>| {
            // The records' lines take about as much room as the page they come from.
            let mut kept = PageKept::default();
            kept.lines.buf.reserve(body.len());
            let parsed = page::parse(&body, envelope, &mut |so_far, record| {
                if first && so_far.total.is_some_and(|t| t > CEILING) {
                    return Ok(()); // Too big: split before anything is written.
                }
                keep(part, req.window, &writer, so_far.clean, record, &mut kept)
            })?;
            Ok(Parsed {
                value: parsed.value.map(|page| (page, kept)),
                error_code: parsed.error_code,
                message: parsed.message,
            })
        },
    );
    let (page, mut kept) = match read {
        Ok(read) => read?,
        Err(CallError::Postmark {
            status: 422, code, ..
        }) if code == part.spec.ceiling_error_code && first => {
            return Ok(PageAnswer::TooBig(CEILING + 1));
        }
        Err(e) => return Err(e.into_error(path)),
    };
    let total = page.total.count(path)?;
    if first && total > CEILING {
        return Ok(PageAnswer::TooBig(total));
    }
    if let Some(Ok(mut tags)) = part.tags.as_ref().map(Mutex::lock) {
        tags.append(&mut kept.tags);
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
    Ok(PageAnswer::ShapedPage(ShapedPage {
        total,
        got,
        ids: kept.ids,
        lines: kept.lines,
        messages: kept.messages,
        unexpected: kept.unexpected,
    }))
}

/// What a page's records came to.
#[derive(Default)]
struct PageKept {
    ids: Vec<Key>,
    lines: Lines,
    messages: Vec<(Key, MessageRef)>,
    unexpected: u64,
    /// The tags of the records written, when the partition gathers them.
    tags: BTreeSet<String>,
}

/// Identifies one record of a page and, if it belongs to the window, keeps its RECORD line (or
/// a reference to what it names, for searches whose records name something to read).
fn keep(
    part: &Partition,
    window: Window,
    writer: &RecordWriter,
    clean: bool,
    record: Record,
    kept: &mut PageKept,
) -> Result<(), Error> {
    static NO_MEMBERS: Members<'static> = Members::EMPTY;
    let fields = match &record {
        Record::Object(members) => members,
        Record::Other(_) => &NO_MEMBERS,
    };
    // The record's own timestamp; `None` inside when it is missing or unreadable.
    let time = part.spec.time_field.map(|f| {
        let t = fields.str(f).and_then(|raw| parse_timestamp(&raw));
        (f, t)
    });
    let untimed = time.and_then(|(f, t)| t.is_none().then_some(f));
    let key = identify(part, fields, window, untimed)?;
    kept.ids.push(key);
    if let Some((field, value)) = part.expect {
        let holds = fields
            .str(field)
            .is_some_and(|v| v.eq_ignore_ascii_case(value));
        kept.unexpected += u64::from(!holds);
    }
    match time {
        Some((_, Some(t))) if t < window.start || t >= window.end => return Ok(()),
        Some((field, None)) => {
            let who = key_text(fields, part.sel.def.identity, field);
            if part.sel.def.identity.contains(&field) {
                writer.note(Event::Keyless { field, key: &who });
                return Ok(());
            }
            writer.note(Event::Untimed { field, key: &who });
        }
        _ => {}
    }
    if let Found::Refs { id_field, only_if } = part.found {
        // A record naming nothing (an activity record without its MessageID) has nothing to
        // read; its own stream, read apart, reports it.
        let names = fields
            .get(id_field)
            .is_some_and(|v| v != "null" && v != "\"\"");
        if names && only_if.is_none_or(|flag| fields.get(flag) == Some("true")) {
            let message = MessageRef {
                id: fields.key_part(id_field).into_owned(),
                stream: fields.get("MessageStream").map(str::to_string),
                time: part
                    .spec
                    .time_field
                    .and_then(|f| fields.get(f))
                    .map(str::to_string),
                at: time.and_then(|(_, t)| t),
            };
            kept.messages.push((key, message));
        }
        return Ok(());
    }
    if part.tags.is_some() {
        if let Some(tag) = fields.str("Tag").filter(|t| !t.is_empty()) {
            kept.tags.insert(tag.into_owned());
        }
    }
    let start = kept.lines.buf.len();
    if writer.text(&record, clean, &mut kept.lines.buf)? {
        kept.lines.records.push((key, start..kept.lines.buf.len()));
    }
    Ok(())
}

/// A search record's identity (the fields that tell it from every other record of its stream)
/// as a digest. A record without one of them, with a null one or one written twice is an
/// error: it could be neither told apart nor loaded. `untimed` (its timestamp field, missing)
/// is left out of that check: such a record is counted, not failed on.
fn identify(
    part: &Partition,
    fields: &Members,
    window: Window,
    untimed: Option<&str>,
) -> Result<Key, Error> {
    let identity = part.sel.def.identity;
    let checked: Vec<&str> = identity
        .iter()
        .copied()
        .filter(|f| Some(*f) != untimed)
        .collect();
    if let Some(problem) = fields.identity_problem(&checked) {
        return Err(Error::Api(format!(
            "Postmark returned a {} record that {problem} ({}, window {} – {}); a record must carry its key to be told apart and loaded",
            part.name(),
            part.label(),
            format_utc(window.start),
            format_utc(window.end)
        )));
    }
    Ok(record_key(fields, identity))
}

/// The record's identity in words, for a warning (`MessageID "…"`), without `skip`.
fn key_text(fields: &Members, identity: &[&str], skip: &str) -> String {
    identity
        .iter()
        .filter(|f| **f != skip)
        .map(|f| format!("{f} {}", fields.get(f).unwrap_or("null")))
        .collect::<Vec<_>>()
        .join(", ")
}
