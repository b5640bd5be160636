//! Singer metric lines on stderr: at the default level, the `record_count` counters (per stream
//! and server) and the run's `job_duration` timer at INFO and no per-request line; at `debug`,
//! one `http_request_duration` timer per request as well, at DEBUG. Every metric line has
//! singer-python's form, `LEVEL METRIC: {json}`.

use crate::common::*;
use chrono::Duration;
use serde_json::Value;

/// (level, metric) of every `METRIC:` line of stderr; the JSON must be a singer-python metric.
fn metrics(stderr: &str) -> Vec<(String, Value)> {
    stderr
        .lines()
        .filter(|l| l.contains("METRIC"))
        .map(|l| {
            let (level, rest) = l.split_once(' ').expect("LEVEL message");
            let body = rest
                .strip_prefix("METRIC: ")
                .unwrap_or_else(|| panic!("not singer-python's metric form: {l}"));
            let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {l}"));
            for key in ["type", "metric", "value", "tags"] {
                assert!(v.get(key).is_some(), "{key} missing: {l}");
            }
            (level.to_string(), v)
        })
        .collect()
}

fn named<'a>(m: &'a [(String, Value)], metric: &str) -> Vec<&'a (String, Value)> {
    m.iter().filter(|(_, v)| v["metric"] == metric).collect()
}

fn record_messages(run: &Run) -> u64 {
    run.messages
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .count() as u64
}

#[test]
fn request_timers_are_debug_and_stream_counters_info() {
    let sim = sim(account(2, 3, 40));
    let scratch = Scratch::new();
    let tap = scratch.tap(&config_for(&sim, true, sim.now() - Duration::days(4)));

    // Default level: counters and the job timer, nothing per request.
    let info = tap.sync();
    let requests = sim.request_log().len();
    assert!(requests > 100, "only {requests} requests");
    let m = metrics(&info.stderr);
    assert!(m.iter().all(|(level, _)| level == "INFO"), "{m:?}");
    assert!(named(&m, "http_request_duration").is_empty());
    let counters = named(&m, "record_count");
    let counted: u64 = counters
        .iter()
        .map(|(_, v)| v["value"].as_u64().expect("a count"))
        .sum();
    assert_eq!(counted, record_messages(&info));
    let servers = counters
        .iter()
        .filter(|(_, v)| v["tags"]["endpoint"] == "messages_outbound")
        .count();
    assert_eq!(servers, 2, "one messages_outbound counter per server");
    let jobs = named(&m, "job_duration");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1["tags"]["job_type"], "sync");
    assert_eq!(jobs[0].1["tags"]["status"], "succeeded");
    assert_eq!(m.len(), counters.len() + 1, "{m:?}");

    // debug: one timer per request as well.
    sim.clear_request_log();
    let debug = tap.env("TAP_POSTMARK_LOG_LEVEL", "debug").sync();
    let requests = sim.request_log().len();
    let m = metrics(&debug.stderr);
    let timers = named(&m, "http_request_duration");
    assert_eq!(timers.len(), requests);
    for (level, v) in &timers {
        assert_eq!(level, "DEBUG");
        assert_eq!(v["type"], "timer");
        assert_eq!(v["tags"]["status"], "succeeded");
        assert_eq!(v["tags"]["http_status_code"], 200);
        assert!(v["tags"]["endpoint"]
            .as_str()
            .is_some_and(|e| !e.is_empty()));
        assert!(v["value"].as_f64().is_some_and(|s| s >= 0.0));
    }
    for name in ["record_count", "job_duration"] {
        assert!(named(&m, name).iter().all(|(level, _)| level == "INFO"));
    }
    let counted: u64 = named(&m, "record_count")
        .iter()
        .map(|(_, v)| v["value"].as_u64().expect("a count"))
        .sum();
    assert_eq!(counted, record_messages(&debug));
}
