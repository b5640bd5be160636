//! SIGTERM and SIGINT: stop promptly and quietly.
//!
//! A signal sets a flag that the sync checks between requests, while waiting to retry and before
//! each output line; a watchdog thread exits the process if the sync has not stopped by itself
//! shortly after (it may be blocked in a slow request). The watchdog waits while a write to
//! stdout is making progress (a slow reader still gets whole lines) but not for a reader that
//! has stopped reading. Meltano's `config test` sends SIGTERM after the first RECORD.

use crate::error::{exit, Error};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);
/// Writes to stdout under way, and bytes written so far.
static WRITING: AtomicUsize = AtomicUsize::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// How long the sync gets to stop by itself before the watchdog ends the process.
const GRACE: Duration = Duration::from_secs(1);
/// A write that makes no progress for this long has a reader that stopped reading.
const STALLED: Duration = Duration::from_millis(500);

/// Marks a write to stdout as under way until dropped.
pub struct Writing(());

pub fn writing() -> Writing {
    WRITING.fetch_add(1, Ordering::SeqCst);
    Writing(())
}

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts bytes that reached stdout.
pub fn wrote(n: usize) {
    WRITTEN.fetch_add(n as u64, Ordering::SeqCst);
}

/// Ends the process once no write is half done, or once the reader has stalled.
fn exit_when_safe() -> ! {
    let mut last = WRITTEN.load(Ordering::SeqCst);
    let mut since = Instant::now();
    loop {
        if WRITING.load(Ordering::SeqCst) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        let now = WRITTEN.load(Ordering::SeqCst);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= STALLED {
            break;
        }
    }
    std::process::exit(i32::from(exit::INTERRUPTED));
}

/// Installs the handlers (once, at start of a sync).
pub fn install() {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if signal_hook::flag::register(signal, Arc::clone(&flag)).is_err() {
            crate::log::warn("cannot install a signal handler; SIGTERM will end the tap abruptly");
        }
    }
    std::thread::spawn(move || loop {
        if flag.load(Ordering::Relaxed) {
            STOP.store(true, Ordering::Relaxed);
            std::thread::sleep(GRACE);
            exit_when_safe();
        }
        std::thread::sleep(Duration::from_millis(20));
    });
}

/// Fails with [`Error::Interrupted`] once a stop was asked for.
pub fn check() -> Result<(), Error> {
    if STOP.load(Ordering::Relaxed) {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// Sleeps, waking early (with an error) when a stop is asked for.
pub fn sleep(d: Duration) -> Result<(), Error> {
    let until = Instant::now() + d;
    loop {
        check()?;
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}
