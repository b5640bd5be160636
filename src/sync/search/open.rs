//! A window being read: what its pages announced and held, which records it has written, and
//! whether it is whole.

use super::fetch::ShapedPage;
use crate::error::Error;
use crate::sync::digest::{Key, KeyMap, KeySet};
use crate::sync::windows::Window;
use chrono::{DateTime, Duration, Utc};
use std::collections::VecDeque;

/// A window being read, and what is known of it so far.
pub struct Open {
    pub window: Window,
    /// Reads of the window so far, less one.
    pub attempt: u32,
    /// What this read's first page announced (`None` until it is in).
    total: Option<u64>,
    pages_left: u64,
    received: u64,
    distinct: KeySet,
    consistent: bool,
    /// Every page is in and they agree.
    verified: bool,
    /// The last read (by its number in its owner's sequence) the window waits for: its records'
    /// reads, made by its owner; 0 for none.
    pub needs: u64,
    /// Keys written (or whose details were asked for) in this window: a re-read or an overlap
    /// writes nothing twice.
    seen: KeySet,
}

/// What a read of a window came to, once all its pages are in.
pub enum WindowCheck {
    /// Pages are still to come, or the window was found whole before.
    Waiting,
    Whole,
    /// The pages disagreed, or held fewer records than announced: read it again.
    Changed {
        total: u64,
        received: u64,
        distinct: u64,
    },
}

impl Open {
    /// A window whose first page (of `pages` in all) is in.
    pub fn new(window: Window, attempt: u32, first: &ShapedPage, pages: u64) -> Open {
        Open {
            window,
            attempt,
            total: Some(first.total),
            pages_left: pages - 1,
            received: first.got,
            distinct: first.ids.iter().copied().collect(),
            consistent: true,
            verified: false,
            needs: 0,
            seen: KeySet::default(),
        }
    }

    /// A new read of the window, its first page in: what was written stays written, the
    /// reads asked for are still awaited.
    pub fn reread(&mut self, first: &ShapedPage, pages: u64) {
        let seen = std::mem::take(&mut self.seen);
        *self = Open {
            seen,
            needs: self.needs,
            ..Open::new(self.window, self.attempt, first, pages)
        };
    }

    /// A further page.
    pub fn add(&mut self, page: &ShapedPage) {
        self.consistent &= Some(page.total) == self.total;
        self.received += page.got;
        self.pages_left -= 1;
        self.distinct.extend(page.ids.iter().copied());
    }

    /// Whether the read is whole, once every page is in.
    pub fn check(&mut self) -> WindowCheck {
        if self.pages_left > 0 || self.verified {
            return WindowCheck::Waiting;
        }
        let total = self.total.unwrap_or(0);
        let distinct = self.distinct.len() as u64;
        if self.consistent && self.received == total && distinct == total {
            self.verified = true;
            return WindowCheck::Whole;
        }
        WindowCheck::Changed {
            total,
            received: self.received,
            distinct,
        }
    }

    /// Starts the next read of the window; gives its number.
    pub fn next_attempt(&mut self) -> u32 {
        self.attempt += 1;
        self.total = None;
        self.attempt
    }

    /// Every page is in and agrees, and every read it waits for is handled (`handled`: the
    /// number of the last one handled; reads are handled in the order they were asked for).
    pub fn complete(&self, handled: u64) -> bool {
        self.verified && self.needs <= handled
    }

    /// Every page is in and agrees.
    pub fn verified(&self) -> bool {
        self.verified
    }

    fn has_seen(&self, key: &Key) -> bool {
        self.seen.contains(key)
    }
}

/// The windows of a partition being read, oldest first, and (for searches whose records carry
/// no timestamp to filter by) the keys written recently, so a boundary repeat is written once.
#[derive(Default)]
pub struct Reading {
    open: VecDeque<Open>,
    recent: KeyMap<DateTime<Utc>>,
}

impl Reading {
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The window's read (the first, or a new one) starts with its first page.
    pub fn first_page(&mut self, window: Window, attempt: u32, page: &ShapedPage, pages: u64) {
        match self.open.iter_mut().find(|o| o.window == window) {
            Some(open) => open.reread(page, pages),
            None => self.open.push_back(Open::new(window, attempt, page, pages)),
        }
    }

    pub fn get(&mut self, window: Window) -> Result<&mut Open, Error> {
        self.open
            .iter_mut()
            .find(|o| o.window == window)
            .ok_or_else(|| Error::Internal("an answer for a window not being read".into()))
    }

    /// Notes a record for `window`; `false` when it was written (or asked for) already, in any
    /// window being read or, without timestamps, recently.
    pub fn take(&mut self, window: Window, key: Key) -> Result<bool, Error> {
        if self.recent.contains_key(&key) || self.open.iter().any(|o| o.has_seen(&key)) {
            return Ok(false);
        }
        self.get(window)?.seen.insert(key);
        Ok(true)
    }

    /// Whether every window being read is read whole (its reads aside).
    pub fn all_verified(&self) -> bool {
        self.open.iter().all(Open::verified)
    }

    /// The oldest window, if it is complete (`handled`: see [`Open::complete`]); `remember`
    /// keeps its keys for the boundary repeats of the next windows.
    pub fn pop_complete(&mut self, remember: bool, handled: u64) -> Option<Window> {
        if !self.open.front().is_some_and(|o| o.complete(handled)) {
            return None;
        }
        let open = self.open.pop_front()?;
        let window = open.window;
        if remember {
            let horizon = window.start - Duration::hours(2);
            self.recent.retain(|_, end| *end >= horizon);
            self.recent
                .extend(open.seen.into_iter().map(|id| (id, window.end)));
        }
        Some(window)
    }
}
