//! The windowed search engine (`/messages/outbound`, opens, clicks, inbound, bounces, and the
//! outbound messages whose details give `message_events`): the write side of one partition
//! (a server's message stream), on the main thread. `fetch` is the side that runs on workers.
//!
//! A partition is read from its bookmark minus the lookback (or from `start_date`) up to the
//! safety margin before now, in closed windows of naive Eastern wall time (see
//! [`crate::timefmt::wall_range`]). A window is paged newest first with `count=500`; one whose
//! `TotalCount` passes the 10,000 ceiling is split before any of its records is written.
//! Records are filtered back to the window by their own timestamp, so the inclusive bounds never
//! lose or repeat the boundary second; inbound records carry no Postmark timestamp, so their
//! boundary duplicates are removed by MessageID.
//!
//! Every page (and, for `message_events`, every message's details) is a request of the run's
//! pipeline: the rest of a window, the first page of the next window and the details of its
//! messages are in flight together. A window whose pages disagree (Postmark's answers changed
//! while it was read), or hold fewer distinct records than `TotalCount` announces, is read
//! again before it counts. The bookmark moves to a window's end, and a STATE is written, only
//! once that window and every earlier one are complete.

pub mod expand;
pub mod fetch;
mod open;
mod start;

use super::context::Ctx;
use super::digest::Key;
use super::windows::{Planner, Window};
use crate::error::Error;
use crate::log;
use crate::streams::{CEILING, PAGE_SIZE};
use crate::timefmt::format_utc;
use chrono::{DateTime, Utc};
use expand::DetailsRequest;
use fetch::{Fetched, Lines, MessageRef, Page, PageRequest, Partition};
use open::{Check, Reading};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// How often a window is read again from the start when Postmark's answers change under it.
const MAX_REREADS: u32 = 3;

/// A request of a partition.
#[derive(Clone)]
pub enum Request<'a> {
    Page(PageRequest<'a>),
    Details(DetailsRequest<'a>),
}

/// What a request of a partition came to.
pub enum Answer {
    Page(Fetched),
    Details(expand::Fetched),
}

/// Reads one partition: the write side.
pub struct Reader<'a> {
    part: Arc<Partition<'a>>,
    bookmark: Option<DateTime<Utc>>,
    /// The bookmark of the stream written from the same answers, if any.
    also_bookmark: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    planner: Planner,
    /// The next window's first page is awaited (windows are planned from the one before).
    planning: bool,
    reading: Reading,
    pub written: u64,
    /// Records written to the stream served by the same answers.
    pub written_also: u64,
    /// Messages whose details were asked for, and those that had expired.
    pub details: u64,
    pub expired: u64,
    windows_done: u64,
    started: Instant,
}

impl<'a> Reader<'a> {
    /// Plans the partition from its bookmark; gives the first request, if there is anything to
    /// read.
    pub fn start<W: Write>(
        ctx: &mut Ctx<'_, W>,
        part: Arc<Partition<'a>>,
    ) -> Result<(Reader<'a>, Vec<Request<'a>>), Error> {
        let (name, server_id, id) = (part.name(), part.server.id, part.id.clone());
        let (bookmark, mut start) = start::from_bookmark(ctx, &part, part.sel)?;
        // A stream written from the same answers starts no later than its own bookmark says.
        let mut also_bookmark = None;
        if let Some(also) = part.also {
            let (b, s) = start::from_bookmark(ctx, &part, also)?;
            (also_bookmark, start) = (b, start.min(s));
            ctx.warn_past_retention(also.def.name, s);
        }
        ctx.warn_past_retention(name, start);
        let end = ctx.search_end;
        let mut reader = Reader {
            part,
            bookmark,
            also_bookmark,
            start,
            end,
            planner: Planner::new(start, end),
            planning: false,
            reading: Reading::default(),
            written: 0,
            written_also: 0,
            details: 0,
            expired: 0,
            windows_done: 0,
            started: Instant::now(),
        };
        let mut requests = Vec::new();
        if start < end {
            log::info(&format!(
                "{name}: server {server_id} stream {id}: {} → {}",
                format_utc(start),
                format_utc(end)
            ));
            reader.plan_next(&mut requests);
        }
        Ok((reader, requests))
    }

    /// The stream served by the same answers, and its records written.
    pub fn also(&self) -> Option<(&'static str, u64)> {
        self.part.also.map(|sel| (sel.def.name, self.written_also))
    }

    pub fn done(&self) -> bool {
        !self.planning && self.reading.is_empty() && self.planner.next_window().is_none()
    }

    fn name(&self) -> &'static str {
        self.part.name()
    }

    /// Asks for the next window's first page, if the range is not covered yet.
    fn plan_next(&mut self, requests: &mut Vec<Request<'a>>) {
        if let Some(window) = self.planner.next_window() {
            self.planning = true;
            requests.push(self.page(window, 0, 0));
        }
    }

    fn page(&self, window: Window, offset: u64, attempt: u32) -> Request<'a> {
        Request::Page(PageRequest {
            part: Arc::clone(&self.part),
            window,
            offset,
            attempt,
        })
    }

    /// Handles an answer, in the order the requests were made.
    pub fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        request: Request<'a>,
        answer: Answer,
        requests: &mut Vec<Request<'a>>,
    ) -> Result<(), Error> {
        match (request, answer) {
            (Request::Page(req), Answer::Page(fetched)) => {
                self.handle_page(ctx, req, fetched, requests)?
            }
            (Request::Details(req), Answer::Details(fetched)) => {
                self.handle_details(ctx, &req, fetched)?
            }
            _ => return Err(Error::Internal("an answer of another kind".into())),
        }
        self.complete(ctx)
    }

    fn handle_page<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        req: PageRequest<'a>,
        fetched: Fetched,
        requests: &mut Vec<Request<'a>>,
    ) -> Result<(), Error> {
        let window = req.window;
        if req.offset == 0 && req.attempt == 0 {
            self.planning = false;
        }
        let page = match (req.offset, req.attempt, fetched) {
            (0, 0, Fetched::TooBig(total)) => return self.split(window, total, requests),
            (0, _, Fetched::TooBig(total)) => {
                return Err(Error::Ceiling(format!(
                    "{}: {}: the window {} – {} grew to {total} records while it was read, past what paging reaches",
                    self.name(),
                    self.part.label(),
                    format_utc(window.start),
                    format_utc(window.end)
                )))
            }
            (_, _, Fetched::TooBig(total)) => Page {
                total,
                got: 0,
                ids: Vec::new(),
                lines: Lines::default(),
                messages: Vec::new(),
            },
            (_, _, Fetched::Page(page)) => page,
        };
        if req.offset == 0 {
            self.first_page(window, req.attempt, &page, requests);
        } else {
            self.reading.get(window)?.add(&page);
        }
        self.write(ctx, window, page.lines)?;
        self.expand(window, page.messages, requests)?;
        self.verify(window, requests)
    }

    /// The window's first page: how many pages it has, and (on the first read) the next
    /// window, planned from this one's total.
    fn first_page(
        &mut self,
        window: Window,
        attempt: u32,
        page: &Page,
        requests: &mut Vec<Request<'a>>,
    ) {
        let offsets: Vec<u64> = (PAGE_SIZE..page.total.min(CEILING))
            .step_by(PAGE_SIZE as usize)
            .collect();
        let pages = offsets.len() as u64 + 1;
        self.reading.first_page(window, attempt, page, pages);
        requests.extend(offsets.into_iter().map(|o| self.page(window, o, attempt)));
        if attempt == 0 {
            self.planner.done(window, page.total);
            self.plan_next(requests);
        }
    }

    /// The window holds more records than paging reaches: split it.
    fn split(
        &mut self,
        window: Window,
        total: u64,
        requests: &mut Vec<Request<'a>>,
    ) -> Result<(), Error> {
        log::debug(&format!(
            "{}: window {} – {} holds {total} records, more than paging reaches; splitting",
            self.name(),
            format_utc(window.start),
            format_utc(window.end)
        ));
        self.planner.too_big(window, total).map_err(|u| {
            Error::Ceiling(format!(
                "{}: {}: {} records in the one second at {}; Postmark's paging reaches only {CEILING} per query, so they cannot all be read",
                self.name(),
                self.part.label(),
                u.total,
                format_utc(u.window.start)
            ))
        })?;
        self.plan_next(requests);
        Ok(())
    }

    /// Writes the page's records not written before.
    fn write<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        window: Window,
        lines: Lines,
    ) -> Result<(), Error> {
        for (key, range) in lines.records {
            if !self.reading.take(window, key)? {
                continue;
            }
            ctx.write(self.name(), &lines.buf[range])?;
            self.written += 1;
        }
        Ok(())
    }

    /// Asks for the details of each message not asked for before.
    fn expand(
        &mut self,
        window: Window,
        messages: Vec<(Key, MessageRef)>,
        requests: &mut Vec<Request<'a>>,
    ) -> Result<(), Error> {
        for (key, message) in messages {
            if !self.reading.take(window, key)? {
                continue;
            }
            self.reading.get(window)?.details_left += 1;
            self.details += 1;
            requests.push(Request::Details(DetailsRequest {
                part: Arc::clone(&self.part),
                window,
                message,
            }));
        }
        Ok(())
    }

    fn handle_details<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        req: &DetailsRequest<'a>,
        fetched: expand::Fetched,
    ) -> Result<(), Error> {
        match fetched {
            expand::Fetched::Lines { buf, records, also } => {
                ctx.write(self.name(), &buf)?;
                self.written += records;
                if let (Some(sel), Some((buf, records))) = (self.part.also, also) {
                    ctx.write(sel.def.name, &buf)?;
                    self.written_also += records;
                }
            }
            expand::Fetched::Expired => {
                self.expired += 1;
                log::debug(&format!(
                    "{}: message {} expired before its details were read",
                    self.name(),
                    req.message.id
                ));
            }
        }
        self.reading.get(req.window)?.details_left -= 1;
        Ok(())
    }

    /// Once every page of a window is in: read it again if its pages disagreed or repeated
    /// records, or mark it verified.
    fn verify(&mut self, window: Window, requests: &mut Vec<Request<'a>>) -> Result<(), Error> {
        let name = self.name();
        let label = self.part.label();
        let open = self.reading.get(window)?;
        let Check::Changed {
            total,
            received,
            distinct,
        } = open.check()
        else {
            return Ok(());
        };
        if open.attempt >= MAX_REREADS {
            return Err(Error::Api(format!(
                "{name}: {label}: the window {} – {} kept changing while it was read; try again later",
                format_utc(window.start),
                format_utc(window.end)
            )));
        }
        log::warn(&format!(
            "{name}: window {} – {} changed while it was read ({total} records announced, {received} received, {distinct} distinct); reading it again",
            format_utc(window.start),
            format_utc(window.end),
        ));
        let attempt = open.next_attempt();
        requests.push(self.page(window, 0, attempt));
        Ok(())
    }

    /// Completes the windows read whole, oldest first: moves the bookmark to their end and
    /// writes a STATE.
    fn complete<W: Write>(&mut self, ctx: &mut Ctx<'_, W>) -> Result<(), Error> {
        let remember = self.part.spec.time_field.is_none();
        while let Some(window) = self.reading.pop_complete(remember) {
            self.windows_done += 1;
            let p = &self.part;
            if self.bookmark.is_none_or(|b| window.end > b) {
                ctx.state
                    .set_bookmark(p.name(), p.server.id, &p.id, format_utc(window.end));
            }
            if let Some(also) = p
                .also
                .filter(|_| self.also_bookmark.is_none_or(|b| window.end > b))
            {
                ctx.state
                    .set_bookmark(also.def.name, p.server.id, &p.id, format_utc(window.end));
            }
            ctx.checkpoint()?;
            self.progress(ctx, window);
        }
        Ok(())
    }

    fn progress<W: Write>(&self, ctx: &mut Ctx<'_, W>, window: Window) {
        let covered = (window.end - self.start).num_seconds() as f64
            / (self.end - self.start).num_seconds().max(1) as f64;
        let (requests, _) = self.part.tally.snapshot();
        let rate = self.written as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let (written, windows) = (self.written, self.windows_done);
        ctx.progress(|| {
            format!(
                "{}: {}: {written} records, {windows} windows, {:.0}% of the range, {requests} requests, {rate:.0} records/s",
                self.name(),
                self.part.label(),
                covered * 100.0
            )
        });
    }
}
