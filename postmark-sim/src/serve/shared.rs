//! What the simulator's threads share: the generated model under its lock, the simulator clock
//! (the anchor, real time when it runs, every move forward), the fault settings, the request
//! log and the live arrivals' RNG. The per-request pipeline over it is `pipeline`'s.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use super::faults::FaultState;
use super::request_log::RequestLog;
use crate::generate::ids;
use crate::generate::model::Model;
use crate::generate::traffic;
use crate::knobs::Faults;

/// Everything the worker threads share.
pub struct Shared {
    pub model: RwLock<Model>,
    pub started: Instant,
    /// The data's anchor (ticks); kept outside the lock so the clock never takes it.
    anchor: i64,
    /// Whether real time elapsed since start counts on the clock.
    clock_runs: bool,
    /// Ticks the clock was moved forward (advance, set_now, live arrivals).
    offset: AtomicI64,
    pub faults: Mutex<FaultState>,
    pub log: RequestLog,
    live_rng: Mutex<fastrand::Rng>,
}

/// Locks a mutex, a poisoned one included.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Wraps a generated model.
    pub fn new(model: Model, faults: Faults, clock_runs: bool) -> Shared {
        let seed = model.seed;
        let anchor = model.anchor;
        Shared {
            anchor,
            clock_runs,
            offset: AtomicI64::new(0),
            model: RwLock::new(model),
            started: Instant::now(),
            faults: Mutex::new(FaultState::new(faults, seed)),
            log: RequestLog::default(),
            live_rng: Mutex::new(fastrand::Rng::with_seed(ids::hash(seed, &[0x11FE]))),
        }
    }

    /// Write access to the model.
    pub fn model_write(&self) -> std::sync::RwLockWriteGuard<'_, Model> {
        self.model.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Read access to the model.
    pub fn model_read(&self) -> RwLockReadGuard<'_, Model> {
        self.model.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock before its offset: the anchor, plus real time since start when the clock runs.
    fn base_ticks(&self) -> i64 {
        let elapsed = if self.clock_runs {
            (self.started.elapsed().as_nanos() / 100) as i64
        } else {
            0
        };
        self.anchor + elapsed
    }

    /// The simulator clock in ticks: anchor, plus real time since start when the clock runs,
    /// plus every move forward.
    pub fn now_ticks(&self) -> i64 {
        // No lock here: callers may already hold a read guard, and a second read lock on a
        // writer-preferring RwLock can deadlock while a live arrival waits to write.
        self.base_ticks() + self.offset.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `ticks` (nothing for a negative amount).
    pub fn advance(&self, ticks: i64) {
        self.offset.fetch_add(ticks.max(0), Ordering::SeqCst);
    }

    /// Moves the clock forward to `t` (ticks) unless it is already there or later.
    pub fn advance_to(&self, t: i64) {
        let wanted = t - self.base_ticks();
        self.offset.fetch_max(wanted, Ordering::SeqCst);
    }

    /// Replaces the fault settings (and restarts their RNG and burst counter).
    pub fn set_faults(&self, f: Faults) {
        let seed = self.model_read().seed;
        *lock(&self.faults) = FaultState::new(f, seed);
    }

    /// Appends the configured number of live arrivals.
    pub fn live_arrivals(&self) {
        let n = lock(&self.faults).faults.live_arrivals_per_request;
        if n == 0 {
            return;
        }
        let now = self.now_ticks();
        let mut rng = lock(&self.live_rng);
        let mut m = self.model.write().unwrap_or_else(|e| e.into_inner());
        traffic::live_arrivals(&mut m, now, n, &mut rng);
        // A stopped clock moves with the arrivals, so none of them lies in its future.
        self.advance_to(m.last_live);
    }
}
