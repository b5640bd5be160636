//! The request log: every request the simulator answered (faulted ones included), in order,
//! with the credentials it carried, the status sent and the fault applied.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// One answered request.
#[derive(Clone, Debug)]
pub struct RequestLogEntry {
    pub method: String,
    /// Path as sent (no query string).
    pub path: String,
    /// Query pairs as sent (decoded).
    pub query: Vec<(String, String)>,
    /// Server whose token the request carried.
    pub server_id: Option<u64>,
    /// Whether it carried the valid account token.
    pub account: bool,
    pub status: u16,
    /// The fault applied, if any (`burst_429`, `status_500`, `drop`, `truncate`, `short_page`,
    /// `empty_page`, …).
    pub fault: Option<String>,
    pub at: DateTime<Utc>,
}

/// A thread-safe, append-only list of requests.
#[derive(Default)]
pub struct RequestLog {
    entries: Mutex<Vec<RequestLogEntry>>,
}

impl RequestLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RequestLogEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one request.
    pub fn push(&self, entry: RequestLogEntry) {
        self.lock().push(entry);
    }

    /// A copy of every entry so far.
    pub fn snapshot(&self) -> Vec<RequestLogEntry> {
        self.lock().clone()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.lock().clear();
    }
}
