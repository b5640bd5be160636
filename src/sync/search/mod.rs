//! The windowed search engine (`/messages/outbound`, opens, clicks, inbound, bounces): a
//! [`Reader`] reads one search on one partition (a server's message stream) over a range of
//! time, on the main thread; `fetch` is the side that runs on workers. A search stream's own
//! task ([`SearchTask`]) moves its bookmark as the reader completes windows; the per-record reads of
//! `reads` own readers whose found records name what to read next.
//!
//! A range is read in closed windows of naive Eastern wall time (see
//! [`crate::timefmt::wall_range`]). A window is paged newest first with `count=500`; one whose
//! `TotalCount` passes the 10,000 ceiling is split before any of its records is written.
//! Records are filtered back to the window by their own timestamp, so the inclusive bounds never
//! lose or repeat the boundary second; inbound records carry no Postmark timestamp, so their
//! boundary duplicates are removed by MessageID.
//!
//! Every page is a request of the run's pipeline: the rest of a window and the first page of
//! the next are in flight together. A window whose pages disagree (Postmark's answers changed
//! while it was read), or hold fewer distinct records than `TotalCount` announces, is read
//! again before it counts. A window is complete once it is read whole and every read its
//! owner made for its records is handled; windows complete oldest first.

pub mod fetch;
mod open;
mod reader;
pub mod start;

pub use reader::{FoundRef, Reader};

use super::context::Ctx;
use super::engine::{Engine, Outcome};
use super::servers::Server;
use super::windows::Window;
use crate::client::{Client, Counters};
use crate::error::Error;
use crate::log;
use crate::timefmt::format_utc;
use chrono::{DateTime, Utc};
use fetch::{PageAnswer, PageRequest, Partition};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// A page request of a search stream with its answer, as a worker fetched it.
pub struct SearchDone<'a> {
    pub ask: PageRequest<'a>,
    pub answer: PageAnswer,
}

impl<'a> Engine<'a> for SearchTask<'a> {
    type Ask = PageRequest<'a>;
    type Done = SearchDone<'a>;

    fn fetch(client: &Client, ask: &PageRequest<'a>) -> Result<SearchDone<'a>, Error> {
        let answer = fetch::fetch(client, ask)?;
        Ok(SearchDone {
            ask: ask.clone(),
            answer,
        })
    }

    fn server<'r>(ask: &'r PageRequest<'a>) -> Option<&'r Server> {
        Some(&ask.part.server)
    }

    fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        done: SearchDone<'a>,
        asked: &mut Vec<PageRequest<'a>>,
    ) -> Result<(), Error> {
        self.handle_page(ctx, done.ask, done.answer, asked)
    }

    fn done(&self) -> bool {
        self.reader.done()
    }

    fn outcome(&self) -> Outcome {
        Outcome::single(self.reader.written)
    }

    fn counters(&self) -> &Counters {
        &self.reader.part().tally
    }
}

/// A search stream on one partition: reads from its bookmark (less its lookback) to the end
/// of searches, moving the bookmark and writing a STATE as each window completes.
pub struct SearchTask<'a> {
    reader: Reader<'a>,
    bookmark: Option<DateTime<Utc>>,
    started: Instant,
}

impl<'a> SearchTask<'a> {
    /// Plans the partition from its bookmark; gives the first request, if there is anything to
    /// read.
    pub fn start<W: Write>(
        ctx: &mut Ctx<'_, W>,
        part: Arc<Partition<'a>>,
    ) -> Result<(SearchTask<'a>, Vec<PageRequest<'a>>), Error> {
        let (bookmark, start) = start::from_bookmark(ctx, (part.server.id, &part.id), part.sel)?;
        ctx.warn_past_retention(part.name(), start);
        let end = ctx.search_end;
        if start < end {
            log::info_for(
                part.name(),
                &format!(
                    "{}: {}: {} → {}",
                    part.name(),
                    part.label(),
                    format_utc(start),
                    format_utc(end)
                ),
            );
        }
        let mut requests = Vec::new();
        let reader = Reader::new(part, start, end, &mut requests);
        let task = SearchTask {
            reader,
            bookmark,
            started: Instant::now(),
        };
        Ok((task, requests))
    }

    /// Handles a page; completes the windows read whole, oldest first: moves the bookmark to
    /// their end and writes a STATE.
    fn handle_page<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        req: PageRequest<'a>,
        fetched: PageAnswer,
        requests: &mut Vec<PageRequest<'a>>,
    ) -> Result<(), Error> {
        let mut found = Vec::new();
        self.reader
            .handle(ctx, req, fetched, requests, &mut found)?;
        for window in self.reader.complete(0) {
            let p = self.reader.part();
            if self.bookmark.is_none_or(|b| window.end > b) {
                ctx.state
                    .set_bookmark(p.name(), p.server.id, &p.id, format_utc(window.end));
            }
            ctx.checkpoint()?;
            self.progress(ctx, window);
        }
        Ok(())
    }

    fn progress<W: Write>(&self, ctx: &mut Ctx<'_, W>, window: Window) {
        let part = self.reader.part();
        let covered = self.reader.covered(window.end);
        let requests = part.tally.snapshot().requests;
        let written = self.reader.written;
        let rate = written as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let windows = self.reader.windows_done;
        ctx.progress(|| {
            format!(
                "{}: {}: {written} records, {windows} windows, {:.0}% of the range, {requests} requests, {rate:.0} records/s",
                part.name(),
                part.label(),
                covered * 100.0
            )
        });
    }
}
