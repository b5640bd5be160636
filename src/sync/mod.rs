//! The sync: resolves the servers to read, then runs each selected stream's engine for each
//! server, writing SCHEMA, RECORD and STATE messages.

pub mod full_table;
pub mod page;
pub mod pipeline;
pub mod search;
pub mod servers;
pub mod stats;
pub mod windows;

use crate::client::{Client, Token};
use crate::config::Config;
use crate::error::Error;
use crate::log;
use crate::record::remove_secrets;
use crate::singer::catalog::Selected;
use crate::singer::metrics;
use crate::singer::output::Output;
use crate::singer::state::State;
use crate::streams::{Kind, Search, TokenKind};
use crate::timefmt::{floor_second, format_utc};
use chrono::{DateTime, Duration, Utc};
use page::Record;
use serde_json::Value;
use servers::Server;
use std::io::Write;
use std::time::Instant;

/// Search windows end this long before now, so records still being written are left for the
/// next run (a window must be closed before it is paged; Postmark lists newest first).
pub const SAFETY_MARGIN: Duration = Duration::minutes(5);

/// Everything a stream engine needs.
pub struct Ctx<'a, W: Write> {
    pub config: &'a Config,
    pub client: &'a Client,
    pub out: &'a mut Output<W>,
    pub state: &'a mut State,
    /// When the run started.
    pub now: DateTime<Utc>,
    /// Where search windows stop (exclusive).
    pub search_end: DateTime<Utc>,
    /// Per-stream totals for the closing summary, and the progress clock.
    pub report: Report,
}

/// Per-stream totals and periodic progress lines.
#[derive(Default)]
pub struct Report {
    totals: Vec<(&'static str, Totals)>,
    last_progress: Option<Instant>,
}

/// What a stream came to on a server (or, summed, over the run).
#[derive(Clone, Copy, Default)]
pub struct Totals {
    pub records: u64,
    pub requests: u64,
    pub retries: u64,
    pub seconds: f64,
}

impl Report {
    fn add(&mut self, stream: &'static str, t: Totals) {
        match self.totals.iter_mut().find(|(s, _)| *s == stream) {
            Some((_, acc)) => {
                acc.records += t.records;
                acc.requests += t.requests;
                acc.retries += t.retries;
                acc.seconds += t.seconds;
            }
            None => self.totals.push((stream, t)),
        }
    }

    fn summary(&self) {
        for (stream, t) in &self.totals {
            log::info(&format!(
                "summary: {stream}: {} records, {} requests, {} retries, {:.1}s",
                t.records, t.requests, t.retries, t.seconds
            ));
        }
    }
}

impl<W: Write> Ctx<'_, W> {
    /// Logs a progress line if `progress_interval` has passed since the last one.
    pub fn progress(&mut self, line: impl FnOnce() -> String) {
        let now = Instant::now();
        let due = self
            .report
            .last_progress
            .is_none_or(|t| now.duration_since(t) >= self.config.progress_interval);
        if due {
            self.report.last_progress = Some(now);
            log::info(&format!("progress: {}", line()));
        }
    }

    /// Writes the whole state.
    pub fn checkpoint(&mut self) -> Result<(), Error> {
        let value = self.state.to_value();
        self.out.state(&value)
    }

    /// Shapes and writes one record of `sel`; `server` adds `ServerID`.
    pub fn emit(
        &mut self,
        sel: &Selected,
        record: Value,
        server: Option<u64>,
        time_extracted: &str,
    ) -> Result<(), Error> {
        let line = record_line(sel, record, server, time_extracted)?;
        self.out.record_lines(sel.def.name, &line)
    }

    /// Writes a stream's SCHEMA (once).
    pub fn schema(&mut self, sel: &Selected) -> Result<(), Error> {
        self.out.schema(
            sel.def.name,
            &sel.schema,
            &sel.key_properties,
            &sel.bookmark_properties,
        )
    }
}

/// Shapes one record of `sel` (adding `ServerID`, removing secrets) and serialises its RECORD
/// line. No I/O: search pages run this on worker threads.
pub fn record_line(
    sel: &Selected,
    mut record: Value,
    server: Option<u64>,
    time_extracted: &str,
) -> Result<Vec<u8>, Error> {
    if let (Some(id), Some(map)) = (server, record.as_object_mut()) {
        map.insert("ServerID".into(), Value::from(id));
    }
    remove_secrets(&mut record, sel.def.secret_fields);
    let shaped = sel.shape.apply(record, sel.def.name)?;
    // A record that cannot be told apart downstream is refused, not merged or loaded keyless.
    let declared = sel.schema.get("properties");
    if let Some(key) = sel.key_properties.iter().find(|k| {
        declared.is_some_and(|p| p.get(k.as_str()).is_some()) && shaped[k.as_str()].is_null()
    }) {
        return Err(Error::Api(format!(
            "Postmark returned a {} record without {key}; a record must carry its key to be told apart and loaded",
            sel.def.name
        )));
    }
    crate::singer::output::record_line(sel.def.name, &shaped, time_extracted)
}

/// Writes the RECORD lines of one stream's records given as JSON text (one page's worth):
/// straight from the text when the transcoder can (see [`crate::transcode`]), through a `Value`
/// otherwise.
pub struct TextRecords<'a> {
    sel: &'a Selected,
    server: Option<u64>,
    time_extracted: &'a str,
    /// Every line's start, up to the record, and its end after it.
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

impl<'a> TextRecords<'a> {
    pub fn new(
        sel: &'a Selected,
        server: Option<u64>,
        time_extracted: &'a str,
    ) -> Result<TextRecords<'a>, Error> {
        let quoted = |s: &str| {
            serde_json::to_string(s)
                .map_err(|e| Error::Internal(format!("cannot serialise {s:?}: {e}")))
        };
        Ok(TextRecords {
            sel,
            server,
            time_extracted,
            prefix: format!(
                "{{\"type\":\"RECORD\",\"stream\":{},\"record\":",
                quoted(sel.def.name)?
            )
            .into_bytes(),
            suffix: format!(",\"time_extracted\":{}}}\n", quoted(time_extracted)?).into_bytes(),
        })
    }

    /// Appends the RECORD line of a record as read from its page to `out`; `clean` says the
    /// page holds no NUL character and no line break.
    pub fn write(&self, record: &Record, clean: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        if let (Record::Object(members), []) = (record, self.sel.def.secret_fields) {
            out.extend_from_slice(&self.prefix);
            let shape = &self.sel.shape;
            if shape
                .transcode_record(members, self.server, clean, out)
                .is_ok()
            {
                out.extend_from_slice(&self.suffix);
                return Ok(());
            }
            out.truncate(start);
        }
        let value = parse_record(record)?;
        out.extend(record_line(
            self.sel,
            value,
            self.server,
            self.time_extracted,
        )?);
        Ok(())
    }
}

/// A record read from its page, as a `Value`.
pub fn parse_record(record: &Record) -> Result<Value, Error> {
    record
        .to_value()
        .map_err(|e| Error::Internal(format!("a record of a parsed page is not JSON: {e}")))
}

/// The current time as `time_extracted`.
pub fn extracted_now() -> String {
    format_utc(Utc::now())
}

/// Runs a whole sync.
pub fn run<W: Write>(
    config: &Config,
    client: &Client,
    selection: &[Selected],
    state: &mut State,
    out: &mut Output<W>,
) -> Result<(), Error> {
    let started = Instant::now();
    let now = Utc::now();
    let mut search_end = floor_second(now - SAFETY_MARGIN);
    if let Some(end) = config.end {
        search_end = search_end.min(floor_second(end));
    }
    let mut ctx = Ctx {
        config,
        client,
        out,
        state,
        now,
        search_end,
        report: Report {
            last_progress: Some(Instant::now()),
            ..Report::default()
        },
    };
    let servers = servers::resolve(config, client)?;
    log::info(&format!(
        "syncing {} stream(s) for {} server(s), searches up to {}",
        selection.len(),
        servers.len(),
        format_utc(search_end)
    ));

    for sel in selection
        .iter()
        .filter(|s| s.def.token == TokenKind::Account)
    {
        let Some(token) = account_token(config) else {
            log::warn(&format!(
                "stream {} needs postmark_account_token, which the config does not have; skipped",
                sel.def.name
            ));
            continue;
        };
        ctx.schema(sel)?;
        let before = counters(client);
        let started = Instant::now();
        let n = full_table::sync(&mut ctx, sel, None, &token)?;
        metrics::record_count(sel.def.name, n, serde_json::json!({}));
        ctx.report
            .add(sel.def.name, totals(client, before, n, started));
    }

    let mut failed: Vec<(u64, Error)> = Vec::new();
    for server in &servers {
        match sync_server(&mut ctx, selection, server.clone()) {
            Ok(()) => {}
            Err(
                e @ (Error::BrokenPipe | Error::Interrupted | Error::Internal(_) | Error::Input(_)),
            ) => return Err(e),
            Err(e) if servers.len() == 1 => return Err(e),
            Err(e) => {
                log::error(&format!(
                    "server {}: {e}; continuing with the other servers",
                    server.id
                ));
                failed.push((server.id, e));
            }
        }
    }
    ctx.checkpoint()?;
    ctx.report.summary();
    if !failed.is_empty() {
        let detail: Vec<String> = failed
            .iter()
            .map(|(id, e)| format!("server {id}: {e}"))
            .collect();
        return Err(Error::Partial(format!(
            "{} of {} servers failed (the others finished; the last STATE resumes the failed ones): {}",
            failed.len(),
            servers.len(),
            detail.join("; ")
        )));
    }
    metrics::job_duration("sync", started.elapsed().as_secs_f64(), true);
    let c = &client.counters;
    log::info(&format!(
        "sync finished in {:.1}s: {} requests, {} retries",
        started.elapsed().as_secs_f64(),
        c.requests.load(std::sync::atomic::Ordering::Relaxed),
        c.retries.load(std::sync::atomic::Ordering::Relaxed)
    ));
    Ok(())
}

fn account_token(config: &Config) -> Option<Token> {
    config.account_token.as_ref().map(|t| Token {
        kind: TokenKind::Account,
        value: t.clone(),
        label: "account token".into(),
    })
}

fn sync_server<W: Write>(
    ctx: &mut Ctx<'_, W>,
    selection: &[Selected],
    mut server: Server,
) -> Result<(), Error> {
    server.list_message_streams(ctx.client)?;
    let server = &server;
    let on_server: Vec<&Selected> = selection
        .iter()
        .filter(|s| s.def.token == TokenKind::Server)
        .collect();
    // The search streams are read together, through one pipeline, where the first of them comes.
    let searches: Vec<(&Selected, Search)> = on_server
        .iter()
        .filter_map(|sel| match sel.def.kind {
            Kind::Search(spec) => Some((*sel, spec)),
            _ => None,
        })
        .collect();
    let mut searched = false;
    for sel in on_server {
        let started = Instant::now();
        let before = counters(ctx.client);
        let n = match sel.def.kind {
            Kind::Search(_) if searched => continue,
            Kind::Search(_) => {
                searched = true;
                for (search, _) in &searches {
                    ctx.schema(search)?;
                }
                let totals = search::sync(ctx, &searches, server)?;
                for ((search, _), t) in searches.iter().zip(totals) {
                    stream_done(ctx, search, server, t);
                }
                continue;
            }
            Kind::Stats(shape) => {
                ctx.schema(sel)?;
                stats::sync(ctx, sel, server, shape)?
            }
            Kind::FullTable(_) => {
                ctx.schema(sel)?;
                full_table::sync(ctx, sel, Some(server), &server.token)?
            }
        };
        let t = totals(ctx.client, before, n, started);
        stream_done(ctx, sel, server, t);
    }
    Ok(())
}

/// Reports what a stream came to on a server: metric, log line, summary.
fn stream_done<W: Write>(ctx: &mut Ctx<'_, W>, sel: &Selected, server: &Server, t: Totals) {
    metrics::record_count(
        sel.def.name,
        t.records,
        serde_json::json!({"server_id": server.id}),
    );
    log::info(&format!(
        "{}: server {}: {} records, {} requests, {} retries, {:.1}s",
        sel.def.name, server.id, t.records, t.requests, t.retries, t.seconds
    ));
    ctx.report.add(sel.def.name, t);
}

fn counters(client: &Client) -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (
        client.counters.requests.load(Relaxed),
        client.counters.retries.load(Relaxed),
    )
}

fn totals(client: &Client, before: (u64, u64), records: u64, started: Instant) -> Totals {
    let (requests, retries) = counters(client);
    Totals {
        records,
        requests: requests - before.0,
        retries: retries - before.1,
        seconds: started.elapsed().as_secs_f64(),
    }
}
