//! Plans the closed time windows a search is read in.
//!
//! Windows are whole seconds, `[start, end)`, consecutive and ascending, so the bookmark can move
//! to a window's end once its records are out. Postmark's offset paging reaches at most 10,000
//! records per query, so a window reporting more is split (sized from the density it reported)
//! and retried; a one-second window over the ceiling cannot be split and is an error, never a
//! skip. After each window the next size is chosen to hold about [`TARGET`] records.

use chrono::{DateTime, Duration, Utc};

/// Records a query can reach: `count + offset <= 10,000`.
pub const CEILING: u64 = 10_000;
/// Records aimed for per window: large windows mean few partial pages; headroom below the
/// ceiling keeps splits rare when traffic varies.
pub const TARGET: u64 = 8_000;
/// The first window's length.
pub const INITIAL: Duration = Duration::days(1);
/// The longest window (an empty history is crossed in a few requests).
pub const MAX: Duration = Duration::days(400);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn len(&self) -> Duration {
        self.end - self.start
    }
}

#[derive(Debug)]
pub struct Planner {
    cursor: DateTime<Utc>,
    end: DateTime<Utc>,
    size: Duration,
}

/// A window holding more records than paging can reach, which cannot be split further.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsplittable {
    pub window: Window,
    pub total: u64,
}

impl Planner {
    /// Plans `[start, end)`; both are whole seconds.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Planner {
        Planner {
            cursor: start,
            end,
            size: INITIAL,
        }
    }

    /// The next window to read, or `None` when the range is covered.
    pub fn next_window(&self) -> Option<Window> {
        if self.cursor >= self.end {
            return None;
        }
        let end = (self.cursor + self.size).min(self.end);
        Some(Window {
            start: self.cursor,
            end,
        })
    }

    /// The window reported `total` records, more than the ceiling: shrink it.
    pub fn too_big(&mut self, window: Window, total: u64) -> Result<(), Unsplittable> {
        let len = window.len().num_seconds();
        if len <= 1 {
            return Err(Unsplittable { window, total });
        }
        let sized = (len as u128 * u128::from(TARGET) / u128::from(total.max(1))) as i64;
        self.size = Duration::seconds(sized.clamp(1, len / 2));
        Ok(())
    }

    /// The window was read whole (`total` records matched it): move on and size the next one.
    pub fn done(&mut self, window: Window, total: u64) {
        self.cursor = window.end;
        let len = window.len().num_seconds().max(1);
        let next = if total == 0 {
            len.saturating_mul(8)
        } else {
            let sized = (len as u128 * u128::from(TARGET) / u128::from(total)) as i64;
            sized.min(len.saturating_mul(8))
        };
        self.size = Duration::seconds(next.clamp(1, MAX.num_seconds()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    /// Drives a planner over a synthetic density and checks the windows tile the range.
    fn tile(start: i64, end: i64, records_in: impl Fn(Window) -> u64) -> Vec<Window> {
        let mut p = Planner::new(t(start), t(end));
        let mut done = Vec::new();
        let mut guard = 0;
        while let Some(w) = p.next_window() {
            guard += 1;
            assert!(guard < 100_000);
            let n = records_in(w);
            if n > CEILING {
                p.too_big(w, n).unwrap();
            } else {
                p.done(w, n);
                done.push(w);
            }
        }
        done
    }

    #[test]
    fn windows_cover_the_range_without_gap_or_overlap() {
        let density = |w: Window| (w.len().num_seconds() as u64) / 3; // one record per 3 s
        let ws = tile(0, 90 * 86_400, density);
        assert_eq!(ws.first().unwrap().start, t(0));
        assert_eq!(ws.last().unwrap().end, t(90 * 86_400));
        for pair in ws.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(ws.iter().all(|w| density(*w) <= CEILING));
    }

    #[test]
    fn dense_second_is_an_error() {
        let mut p = Planner::new(t(0), t(10));
        let w = Window {
            start: t(0),
            end: t(1),
        };
        assert_eq!(
            p.too_big(w, 20_000),
            Err(Unsplittable {
                window: w,
                total: 20_000
            })
        );
    }

    #[test]
    fn empty_history_is_crossed_quickly() {
        let ws = tile(0, 365 * 86_400, |_| 0);
        assert!(ws.len() < 8, "{}", ws.len());
    }
}
