//! The request log: every request the simulator answered (faulted ones included), in order,
//! with the credentials it carried, the status sent and the fault applied.

use std::sync::Mutex;

use super::RequestLogEntry;

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
