//! SIGTERM and SIGINT: stop promptly and quietly.
//!
//! A signal sets a flag that the sync checks between requests and while waiting to retry; a
//! watchdog thread exits the process if the sync has not stopped by itself shortly after (it may
//! be blocked in a slow request). Meltano's `config test` sends SIGTERM after the first RECORD.

use crate::error::{exit, Error};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

/// How long the sync gets to stop by itself before the watchdog ends the process.
const GRACE: Duration = Duration::from_secs(2);

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
            std::process::exit(i32::from(exit::INTERRUPTED));
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
