//! Singer metric lines on stderr, in singer-python's format (`LEVEL METRIC: {json}`):
//! `INFO METRIC: {"type": "counter", "metric": "record_count", "value": 1200, "tags": {...}}`.
//!
//! The levels keep a log readable at the default `info`: the `record_count` counters (one per
//! stream and server) and the `job_duration` timer of the run are INFO; the
//! `http_request_duration` timer is DEBUG, because it is one line per request (tens of thousands
//! in a large run, where the `summary:` lines already give each stream's requests and seconds).
//! `log_level: debug` prints them, in the same form with `DEBUG` in front. In a structured log
//! (Meltano's) each is one JSON line whose `metric_info` is the point and whose `stream_name` is
//! the stream a `record_count` counts.

use crate::log::{self, About, Level};
use serde_json::{json, Value};

/// The level of the per-request `http_request_duration` timer.
pub const HTTP_REQUEST_LEVEL: Level = Level::Debug;
/// The level of the `record_count` counters and the `job_duration` timer.
pub const SUMMARY_LEVEL: Level = Level::Info;

/// One `http_request_duration` timer for a finished request (DEBUG).
pub fn http_request(endpoint: &str, status: Option<u16>, seconds: f64, succeeded: bool) {
    if !log::enabled(HTTP_REQUEST_LEVEL) {
        return;
    }
    emit(
        HTTP_REQUEST_LEVEL,
        None,
        &http_request_point(endpoint, status, seconds, succeeded),
    );
}

/// A `record_count` counter for a stream (INFO).
pub fn record_count(stream: &str, count: u64, tags: Value) {
    if !log::enabled(SUMMARY_LEVEL) {
        return;
    }
    emit(
        SUMMARY_LEVEL,
        Some(stream),
        &record_count_point(stream, count, tags),
    );
}

/// A `job_duration` timer (a whole stream, a whole run) (INFO).
pub fn job_duration(job_type: &str, seconds: f64, succeeded: bool) {
    if !log::enabled(SUMMARY_LEVEL) {
        return;
    }
    emit(
        SUMMARY_LEVEL,
        None,
        &job_duration_point(job_type, seconds, succeeded),
    );
}

fn http_request_point(endpoint: &str, status: Option<u16>, seconds: f64, succeeded: bool) -> Value {
    let mut tags = json!({
        "endpoint": endpoint,
        "status": if succeeded { "succeeded" } else { "failed" },
    });
    if let Some(code) = status {
        tags["http_status_code"] = json!(code);
    }
    point(
        "timer",
        "http_request_duration",
        json!(round(seconds)),
        tags,
    )
}

fn record_count_point(stream: &str, count: u64, tags: Value) -> Value {
    let mut all = json!({ "endpoint": stream });
    if let (Some(all), Some(extra)) = (all.as_object_mut(), tags.as_object()) {
        for (k, v) in extra {
            all.insert(k.clone(), v.clone());
        }
    }
    point("counter", "record_count", json!(count), all)
}

fn job_duration_point(job_type: &str, seconds: f64, succeeded: bool) -> Value {
    point(
        "timer",
        "job_duration",
        json!(round(seconds)),
        json!({"job_type": job_type, "status": if succeeded { "succeeded" } else { "failed" }}),
    )
}

fn round(seconds: f64) -> f64 {
    (seconds * 1_000_000.0).round() / 1_000_000.0
}

/// A metric point: what singer-python's metric lines and the SDK's `metric_info` hold.
fn point(kind: &str, metric: &str, value: Value, tags: Value) -> Value {
    json!({"type": kind, "metric": metric, "value": value, "tags": tags})
}

/// The message of a metric line: `METRIC: {json}` (the logger puts the level in front).
fn message(point: &Value) -> String {
    format!("METRIC: {point}")
}

/// Logs a metric point: its message, and the point itself as `metric_info` in a structured log.
fn emit(level: Level, stream: Option<&str>, point: &Value) {
    let about = About {
        stream,
        metric: Some(point),
        error: None,
    };
    log::log_about(level, &message(point), about);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What singer-python's `metrics.parse` reads after the level: `METRIC: ` and one JSON
    /// object with `type`, `metric`, `value` and `tags`.
    fn parse(point: &Value) -> Value {
        let message = message(point);
        let body = message
            .strip_prefix("METRIC: ")
            .unwrap_or_else(|| panic!("no METRIC prefix: {message}"));
        let v: Value = serde_json::from_str(body).expect("one JSON object");
        let mut keys: Vec<&str> = v
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["metric", "tags", "type", "value"], "{message}");
        v
    }

    #[test]
    fn http_request_line_has_singer_python_shape() {
        let v = parse(&http_request_point(
            "messages_outbound",
            Some(200),
            0.123_456_789,
            true,
        ));
        assert_eq!(v["type"], "timer");
        assert_eq!(v["metric"], "http_request_duration");
        assert_eq!(v["value"], json!(0.123457));
        assert_eq!(
            v["tags"],
            json!({"endpoint": "messages_outbound", "status": "succeeded", "http_status_code": 200})
        );
        let failed = parse(&http_request_point("bounces", None, 2.0, false));
        assert_eq!(
            failed["tags"],
            json!({"endpoint": "bounces", "status": "failed"})
        );
    }

    #[test]
    fn record_count_line_merges_tags() {
        let v = parse(&record_count_point(
            "bounces",
            42,
            json!({"server_id": 10001}),
        ));
        assert_eq!(v["type"], "counter");
        assert_eq!(v["metric"], "record_count");
        assert_eq!(v["value"], 42);
        assert_eq!(
            v["tags"],
            json!({"endpoint": "bounces", "server_id": 10001})
        );
        let plain = parse(&record_count_point("servers", 3, json!({})));
        assert_eq!(plain["tags"], json!({"endpoint": "servers"}));
    }

    #[test]
    fn job_duration_line_has_singer_python_shape() {
        let v = parse(&job_duration_point("sync", 12.5, true));
        assert_eq!(v["type"], "timer");
        assert_eq!(v["metric"], "job_duration");
        assert_eq!(v["value"], json!(12.5));
        assert_eq!(
            v["tags"],
            json!({"job_type": "sync", "status": "succeeded"})
        );
    }
}
