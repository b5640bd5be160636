//! One search read on one partition over a range of time, on the main thread: its windows
//! planned, paged, split past the ceiling, checked and read again when Postmark's answers
//! change, its records written, and its windows completed oldest first.

use super::super::context::Ctx;
use super::super::digest::Key;
use super::super::windows::{Planner, Window};
use super::fetch::{Lines, MessageRef, PageAnswer, PageRequest, Partition, ShapedPage};
use super::open::{Reading, WindowCheck};
use crate::error::Error;
use crate::log;
use crate::streams::{CEILING, PAGE_SIZE};
use crate::timefmt::format_utc;
use chrono::{DateTime, Utc};
use std::io::Write;
use std::sync::Arc;

/// How often a window is read again from the start when Postmark's answers change under it.
const MAX_REREADS: u32 = 3;

/// A record found that names something to read, with the window that found it and its key.
pub type FoundRef = (Window, Key, MessageRef);

/// Reads one search on one partition over `[start, end)`.
pub struct Reader<'a> {
    part: Arc<Partition<'a>>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    planner: Planner,
    /// The next window's first page is awaited (windows are planned from the one before).
    planning: bool,
    reading: Reading,
    /// Records written (a search of [`fetch::Found::Lines`]).
    pub written: u64,
    pub windows_done: u64,
    /// Records without the value the partition expects ([`Partition::expect`]).
    pub unexpected: u64,
}

impl<'a> Reader<'a> {
    /// A reader of `[start, end)`; its first request is added to `requests` if the range is not
    /// empty.
    pub fn new(
        part: Arc<Partition<'a>>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        requests: &mut Vec<PageRequest<'a>>,
    ) -> Reader<'a> {
        let mut reader = Reader {
            part,
            start,
            end,
            planner: Planner::new(start, end),
            planning: false,
            reading: Reading::default(),
            written: 0,
            windows_done: 0,
            unexpected: 0,
        };
        reader.plan_next(requests);
        reader
    }

    pub fn part(&self) -> &Arc<Partition<'a>> {
        &self.part
    }

    pub fn range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.start, self.end)
    }

    /// Every window is complete.
    pub fn done(&self) -> bool {
        !self.planning && self.reading.is_empty() && self.planner.next_window().is_none()
    }

    /// Every window is read whole, whatever reads they still wait for.
    pub fn read_whole(&self) -> bool {
        !self.planning && self.planner.next_window().is_none() && self.reading.all_verified()
    }

    fn name(&self) -> &'static str {
        self.part.name()
    }

    /// Asks for the next window's first page, if the range is not covered yet.
    fn plan_next(&mut self, requests: &mut Vec<PageRequest<'a>>) {
        if let Some(window) = self.planner.next_window() {
            self.planning = true;
            requests.push(self.page(window, 0, 0));
        }
    }

    fn page(&self, window: Window, offset: u64, attempt: u32) -> PageRequest<'a> {
        PageRequest {
            part: Arc::clone(&self.part),
            window,
            offset,
            attempt,
        }
    }

    /// Handles a page, in the order the requests were made: writes its records not written
    /// before (or adds the references they hold, not found before, to `found`), and asks for
    /// what is to be read next.
    pub fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        req: PageRequest<'a>,
        fetched: PageAnswer,
        requests: &mut Vec<PageRequest<'a>>,
        found: &mut Vec<FoundRef>,
    ) -> Result<(), Error> {
        let window = req.window;
        if req.offset == 0 && req.attempt == 0 {
            self.planning = false;
        }
        let page = match (req.offset, req.attempt, fetched) {
            (0, 0, PageAnswer::TooBig(total)) => return self.split(window, total, requests),
            (0, _, PageAnswer::TooBig(total)) => {
                return Err(Error::Ceiling(format!(
                    "{}: {}: the window {} – {} grew to {total} records while it was read, past what paging reaches",
                    self.name(),
                    self.part.label(),
                    format_utc(window.start),
                    format_utc(window.end)
                )))
            }
            (_, _, PageAnswer::TooBig(total)) => ShapedPage {
                total,
                got: 0,
                ids: Vec::new(),
                lines: Lines::default(),
                messages: Vec::new(),
                unexpected: 0,
            },
            (_, _, PageAnswer::ShapedPage(page)) => page,
        };
        if req.offset == 0 {
            self.first_page(window, req.attempt, &page, requests);
        } else {
            self.reading.get(window)?.add(&page);
        }
        self.unexpected += page.unexpected;
        self.write(ctx, window, page.lines)?;
        for (key, message) in page.messages {
            if self.reading.take(window, key)? {
                found.push((window, key, message));
            }
        }
        self.verify(window, requests)
    }

    /// The window completes only once the read numbered `seq` (in its owner's sequence) is
    /// handled.
    pub fn wait(&mut self, window: Window, seq: u64) -> Result<(), Error> {
        let open = self.reading.get(window)?;
        open.needs = open.needs.max(seq);
        Ok(())
    }

    /// The windows now complete, oldest first (`handled`: the number of the owner's last read
    /// handled).
    pub fn complete(&mut self, handled: u64) -> Vec<Window> {
        let remember = self.part.spec.time_field.is_none();
        let mut done = Vec::new();
        while let Some(window) = self.reading.pop_complete(remember, handled) {
            self.windows_done += 1;
            done.push(window);
        }
        done
    }

    /// The window's first page: how many pages it has, and (on the first read) the next
    /// window, planned from this one's total.
    fn first_page(
        &mut self,
        window: Window,
        attempt: u32,
        page: &ShapedPage,
        requests: &mut Vec<PageRequest<'a>>,
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
        requests: &mut Vec<PageRequest<'a>>,
    ) -> Result<(), Error> {
        log::debug_for(
            self.name(),
            &format!(
                "{}: window {} – {} holds {total} records, more than paging reaches; splitting",
                self.name(),
                format_utc(window.start),
                format_utc(window.end)
            ),
        );
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

    /// Once every page of a window is in: read it again if its pages disagreed or repeated
    /// records, or mark it read whole.
    fn verify(&mut self, window: Window, requests: &mut Vec<PageRequest<'a>>) -> Result<(), Error> {
        let name = self.name();
        let label = self.part.label();
        let open = self.reading.get(window)?;
        let WindowCheck::Changed {
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
        log::warn_for(name, &format!(
            "{name}: window {} – {} changed while it was read ({total} records announced, {received} received, {distinct} distinct); reading it again",
            format_utc(window.start),
            format_utc(window.end),
        ));
        let attempt = open.next_attempt();
        requests.push(self.page(window, 0, attempt));
        Ok(())
    }

    /// How far the range is covered, as a share (for progress lines).
    pub fn covered(&self, upto: DateTime<Utc>) -> f64 {
        (upto - self.start).num_seconds() as f64
            / (self.end - self.start).num_seconds().max(1) as f64
    }
}
