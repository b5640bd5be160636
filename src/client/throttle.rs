//! How many requests may be in flight: `max_concurrent_requests` at most, fewer after a 429.

use crate::log;
use std::sync::{Condvar, Mutex};

/// How many requests may be in flight: `max_concurrent_requests` at most, halved on each 429
/// and raised by one after as many successes in a row as are allowed.
pub struct Throttle {
    max: usize,
    state: Mutex<ThrottleState>,
    changed: Condvar,
}

#[derive(Debug)]
struct ThrottleState {
    allowed: usize,
    in_flight: usize,
    successes: usize,
}

impl Throttle {
    pub fn new(max: usize) -> Throttle {
        let max = max.max(1);
        Throttle {
            max,
            state: Mutex::new(ThrottleState {
                allowed: max,
                in_flight: 0,
                successes: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ThrottleState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a place among the requests in flight.
    pub(super) fn acquire(&self) {
        let mut s = self.lock();
        while s.in_flight >= s.allowed {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.in_flight += 1;
    }

    /// Gives the place back, telling whether the answer was a 429.
    pub(super) fn release(&self, rate_limited: bool) {
        let mut s = self.lock();
        s.in_flight -= 1;
        if rate_limited {
            if s.allowed > 1 {
                s.allowed = (s.allowed / 2).max(1);
                log::info(&format!(
                    "Postmark asked to slow down (429): {} request(s) in flight from now on",
                    s.allowed
                ));
            }
            s.successes = 0;
        } else {
            s.successes += 1;
            if s.successes >= s.allowed && s.allowed < self.max {
                s.allowed += 1;
                s.successes = 0;
            }
        }
        drop(s);
        self.changed.notify_all();
    }

    /// Requests allowed in flight now.
    pub fn allowed(&self) -> usize {
        self.lock().allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_halves_on_429_and_climbs_back() {
        let t = Throttle::new(8);
        let cycle = |limited| {
            t.acquire();
            t.release(limited);
        };
        cycle(true);
        assert_eq!(t.allowed(), 4);
        for _ in 0..3 {
            cycle(true);
        }
        assert_eq!(t.allowed(), 1);
        cycle(false);
        assert_eq!(t.allowed(), 2);
        for _ in 0..2 + 3 + 4 + 5 + 6 + 7 {
            cycle(false);
        }
        assert_eq!(t.allowed(), 8);
        for _ in 0..100 {
            cycle(false);
        }
        assert_eq!(t.allowed(), 8);
    }
}
