//! A small stderr logger in singer-python's format: `LEVEL message`, one line per event.
//!
//! Metric lines (`INFO METRIC: {...}`) go through here too so that singer-python's metric parser
//! and Meltano's log handling read them. The level is set once from config or environment.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
    Critical = 4,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "critical" | "fatal" => Some(Level::Critical),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line at `level` (newlines in the message are folded so each event is one line).
pub fn log(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    let one_line = message.replace(['\n', '\r'], " ");
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    // A closed stderr is not worth failing the sync for.
    let _ = writeln!(lock, "{} {}", level.label(), one_line);
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}
pub fn info(message: &str) {
    log(Level::Info, message);
}
pub fn warn(message: &str) {
    log(Level::Warning, message);
}
pub fn error(message: &str) {
    log(Level::Error, message);
}
pub fn critical(message: &str) {
    log(Level::Critical, message);
}
