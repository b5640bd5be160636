//! Singer metric lines on stderr, in singer-python's exact format:
//! `INFO METRIC: {"type": "timer", "metric": "http_request_duration", "value": 0.12, "tags": {...}}`.

use crate::log::{self, Level};
use serde_json::{json, Value};

/// One `http_request_duration` timer for a finished request.
pub fn http_request(endpoint: &str, status: Option<u16>, seconds: f64, succeeded: bool) {
    let mut tags = json!({
        "endpoint": endpoint,
        "status": if succeeded { "succeeded" } else { "failed" },
    });
    if let Some(code) = status {
        tags["http_status_code"] = json!(code);
    }
    emit(
        "timer",
        "http_request_duration",
        json!(round(seconds)),
        tags,
    );
}

/// A `record_count` counter for a stream.
pub fn record_count(stream: &str, count: u64, tags: Value) {
    let mut all = json!({ "endpoint": stream });
    if let (Some(all), Some(extra)) = (all.as_object_mut(), tags.as_object()) {
        for (k, v) in extra {
            all.insert(k.clone(), v.clone());
        }
    }
    emit("counter", "record_count", json!(count), all);
}

/// A `job_duration` timer (a whole stream, a whole run).
pub fn job_duration(job_type: &str, seconds: f64, succeeded: bool) {
    emit(
        "timer",
        "job_duration",
        json!(round(seconds)),
        json!({"job_type": job_type, "status": if succeeded { "succeeded" } else { "failed" }}),
    );
}

fn round(seconds: f64) -> f64 {
    (seconds * 1_000_000.0).round() / 1_000_000.0
}

fn emit(kind: &str, metric: &str, value: Value, tags: Value) {
    if !log::enabled(Level::Info) {
        return;
    }
    let line = json!({"type": kind, "metric": metric, "value": value, "tags": tags});
    log::log(Level::Info, &format!("METRIC: {line}"));
}
