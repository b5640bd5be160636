//! What the sync's handlers share on the main thread: the settings, the output, the state, the
//! run's clock, and the report of what each stream came to.

use crate::config::Config;
use crate::error::Error;
use crate::log;
use crate::record::Selected;
use crate::singer::output::Output;
use crate::singer::state::State;
use crate::timefmt::format_utc;
use chrono::{DateTime, Utc};
use std::io::Write;
use std::time::Instant;

pub struct Ctx<'a, W: Write> {
    pub config: &'a Config,
    pub out: &'a mut Output<W>,
    pub state: &'a mut State,
    /// When the run started.
    pub now: DateTime<Utc>,
    /// Where search windows stop (exclusive).
    pub search_end: DateTime<Utc>,
    pub report: Report,
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

    /// Warns, once per stream, when a read starts before Postmark's retention horizon: what is
    /// older may already be gone.
    pub fn warn_past_retention(&mut self, stream: &'static str, start: DateTime<Utc>) {
        let horizon = self.now - self.config.retention;
        // The default start is the horizon itself, taken a moment before the run's clock.
        if start + chrono::Duration::minutes(5) >= horizon
            || self.report.past_retention.contains(&stream)
        {
            return;
        }
        self.report.past_retention.push(stream);
        log::warn_for(stream, &format!(
            "{stream}: reading from {}, but Postmark keeps messages {} days (retention_days): what lies between then and {} may already be gone. Run more often than the retention period so that no bookmark falls behind it.",
            format_utc(start),
            self.config.retention.num_days(),
            format_utc(horizon)
        ));
    }

    /// Writes the whole state.
    pub fn checkpoint(&mut self) -> Result<(), Error> {
        self.out.state(self.state.as_value())
    }

    /// Writes RECORD lines of `stream` (framed by the record path).
    pub fn write(&mut self, stream: &str, lines: &[u8]) -> Result<(), Error> {
        self.out.record_lines(stream, lines)
    }
}

/// What a stream came to on a server (or, summed, over the run).
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    pub records: u64,
    pub requests: u64,
    pub retries: u64,
    pub seconds: f64,
    /// Its per-record reads: asked for by why, expired (retention) between their search and
    /// their read, and unsettled records given up.
    pub reads: ReadCounts,
}

impl Totals {
    pub fn add(&mut self, t: &Totals) {
        self.records += t.records;
        self.requests += t.requests;
        self.retries += t.retries;
        self.seconds += t.seconds;
        self.reads.add(&t.reads);
    }

    /// `N records, R requests, T retries, S s` (and the per-record reads, if any).
    pub fn describe(&self) -> String {
        let r = &self.reads;
        let reads = if r.reads() > 0 || r.given_up > 0 {
            format!(
                ", {} reads ({} new, {} for activity, {} pending), {} expired before they were read, {} unsettled given up",
                r.reads(),
                r.new,
                r.activity,
                r.pending,
                r.expired,
                r.given_up
            )
        } else {
            String::new()
        };
        format!(
            "{} records, {} requests, {} retries, {:.1}s{reads}",
            self.records, self.requests, self.retries, self.seconds
        )
    }
}

/// Per-record reads by why they were made, and what became of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadCounts {
    pub new: u64,
    /// New records that reached their search late.
    pub late: u64,
    pub activity: u64,
    pub pending: u64,
    /// Records that expired (retention) between their search and their read.
    pub expired: u64,
    /// Unsettled records given up past the pending horizon.
    pub given_up: u64,
}

impl ReadCounts {
    /// Every read made.
    pub fn reads(&self) -> u64 {
        self.new + self.late + self.activity + self.pending
    }

    pub fn add(&mut self, other: &ReadCounts) {
        self.new += other.new;
        self.late += other.late;
        self.activity += other.activity;
        self.pending += other.pending;
        self.expired += other.expired;
        self.given_up += other.given_up;
    }
}

/// Per-stream totals and the progress clock.
#[derive(Default)]
pub struct Report {
    totals: Vec<(&'static str, Totals)>,
    last_progress: Option<Instant>,
    /// Streams warned about reading past Postmark's retention.
    past_retention: Vec<&'static str>,
}

impl Report {
    pub fn new() -> Report {
        Report {
            totals: Vec::new(),
            last_progress: Some(Instant::now()),
            past_retention: Vec::new(),
        }
    }

    pub fn add(&mut self, stream: &'static str, t: &Totals) {
        match self.totals.iter_mut().find(|(s, _)| *s == stream) {
            Some((_, acc)) => acc.add(t),
            None => self.totals.push((stream, *t)),
        }
    }

    /// One `summary:` line per stream, with how its records drifted from the schema; a
    /// warning when more than 0.1 % of the messages whose details were asked for had expired.
    pub fn summary(&self, selection: &[Selected]) {
        for (stream, t) in &self.totals {
            let drift = selection
                .iter()
                .find(|s| s.def.name == *stream)
                .map(|s| s.drift.counts().describe())
                .unwrap_or_default();
            log::info_for(
                stream,
                &format!("summary: {stream}: {}{drift}", t.describe()),
            );
            if t.reads.expired * 1000 > t.reads.reads() {
                log::warn_for(stream, &format!(
                    "{stream}: {} of {} records expired (Postmark's retention) between their search and their read; their content is gone from Postmark. Run more often than the retention period to keep it.",
                    t.reads.expired,
                    t.reads.reads()
                ));
            }
        }
    }
}

/// The current time as `time_extracted`.
pub fn extracted_now() -> String {
    format_utc(Utc::now())
}
