//! End-to-end syncs of the built tap against the simulator: completeness against ground truth,
//! schema validity, resumption, the 10,000-row ceiling, every message stream and server.

use crate::common;
use crate::common::time::utc;
use crate::common::*;
use chrono::{DateTime, Duration, Utc};
use postmark_sim::Simulator;
use serde_json::json;
use std::collections::BTreeSet;
use tap_postmark::streams::STREAMS;

fn start_of(sim: &Simulator, days: u32) -> DateTime<Utc> {
    sim.now() - Duration::days(i64::from(days) + 1)
}

/// One full sync in account mode, checked stream by stream against the simulator.
#[test]
fn account_mode_full_sync_is_complete_and_valid() {
    let sim = sim(with_spike(account(3, 30, 200)));
    let scratch = Scratch::new();
    let start = start_of(&sim, 30);
    let run = scratch.tap(&config_for(&sim, true, start)).sync();

    // Every stream read by default equals the ground truth; no opt-in stream is read.
    for def in STREAMS {
        let stream = def.name;
        if !def.selected_by_default {
            assert_eq!(run.records(stream).count(), 0, "{stream} is opt-in");
            continue;
        }
        let n = assert_complete(&run, &sim, stream, start, synced_until(&run, &sim, stream));
        if common::table::is_search(def) {
            assert!(n > 0, "{stream}: no records in ground truth");
        }
    }
    // Every server and every message stream is present.
    let servers: BTreeSet<u64> = run
        .records("messages_outbound")
        .map(|r| r["ServerID"].as_u64().unwrap())
        .collect();
    assert_eq!(servers.len(), sim.servers().len());
    let streams: BTreeSet<&str> = run
        .records("messages_outbound")
        .map(|r| r["MessageStream"].as_str().unwrap())
        .collect();
    assert!(
        streams.contains("broadcast") && streams.len() >= 3,
        "{streams:?}"
    );
    // Secrets never appear.
    for s in sim.servers() {
        assert!(!run.stdout.contains(&s.token) && !run.stderr.contains(&s.token));
    }
    assert!(
        !run.stdout.contains(&sim.account_token()) && !run.stderr.contains(&sim.account_token())
    );
    // Metrics in singer-python's format: counters at INFO, the per-request timers only at
    // debug (tests/it/metrics.rs).
    assert!(!run.stderr.contains("http_request_duration"));
    assert!(run
        .stderr
        .lines()
        .any(|l| l.starts_with("INFO METRIC: {") && l.contains("record_count")));
}

/// The spike day holds more than 10,000 messages in one stream: windows split, nothing is lost,
/// and the request count stays near one per 500 records.
#[test]
fn day_over_ten_thousand_messages_is_split_and_complete() {
    let sim = sim(with_spike(account(1, 4, 50)));
    let scratch = Scratch::new();
    let start = start_of(&sim, 4);
    let run = scratch
        .tap(&config_for(&sim, false, start))
        .selecting(&["messages_outbound"])
        .sync();
    let end = search_end(run.last_state().unwrap(), "messages_outbound");
    let n = assert_complete(&run, &sim, "messages_outbound", start, end);
    assert!(n > 10_000, "ground truth has only {n} messages");
    let searches = sim
        .request_log()
        .iter()
        .filter(|r| r.path.eq_ignore_ascii_case("/messages/outbound"))
        .count();
    let floor = n.div_ceil(500);
    assert!(
        searches <= floor + floor / 5 + 12,
        "{searches} search requests for {n} records"
    );
}

/// Single-server mode: the server token's server, every message stream, account streams skipped
/// with a warning.
#[test]
fn server_token_mode_syncs_one_server() {
    let sim = sim(account(2, 5, 200));
    let scratch = Scratch::new();
    let start = start_of(&sim, 5);
    let run = scratch.tap(&config_for(&sim, false, start)).sync();
    let only_server = sim.servers()[0].id;
    for stream in [
        "messages_outbound",
        "bounces",
        "templates",
        "stats_outbound_sends",
    ] {
        assert!(
            run.records(stream).all(|r| r["ServerID"] == only_server),
            "{stream}"
        );
    }
    let end = search_end(run.last_state().unwrap(), "messages_outbound");
    assert_server_complete(&run, &sim, "messages_outbound", only_server, start, end);
    assert_eq!(run.records("servers").count(), 0);
    assert!(
        run.stderr.contains("needs postmark_account_token"),
        "{}",
        run.stderr
    );
}

/// A second run from the final state reads only the lookback, and finds nothing new.
#[test]
fn second_run_rereads_only_the_lookback() {
    let sim = sim(account(1, 10, 200));
    let scratch = Scratch::new();
    let start = start_of(&sim, 10);
    let mut config = config_for(&sim, false, start);
    config["lookback_hours"] = json!(6);
    let tap = scratch.tap(&config);
    let first = tap.sync();
    let state = first.last_state().unwrap();
    let bookmark = search_end(state, "messages_outbound");
    let second = tap.state(state).sync();
    let lookback_start = bookmark - Duration::hours(6);
    for (stream, field) in [
        ("messages_outbound", "ReceivedAt"),
        ("messages_opens", "ReceivedAt"),
        ("bounces", "BouncedAt"),
    ] {
        for r in second.records(stream) {
            let t = utc(r[field].as_str().unwrap());
            assert!(t >= lookback_start, "{stream}: {t} is before the lookback");
        }
    }
    let first_n = first.records("messages_outbound").count();
    let second_n = second.records("messages_outbound").count();
    assert!(
        second_n < first_n / 5,
        "second run re-read {second_n} of {first_n}"
    );
    // Statistics re-read only the days inside the lookback (bookmark day and the one before).
    let days: BTreeSet<&str> = second
        .records("stats_outbound_overview")
        .map(|r| r["Date"].as_str().unwrap())
        .collect();
    assert!(days.len() <= 2, "{days:?}");
}

/// A run cut off after any STATE resumes from it without losing a record.
#[test]
fn interrupted_run_resumes_without_loss() {
    let sim = sim(account(1, 8, 3000));
    let scratch = Scratch::new();
    let start = start_of(&sim, 8);
    let tap = scratch.tap(&config_for(&sim, false, start)).selecting(&[
        "messages_outbound",
        "messages_opens",
        "stats_outbound_sends",
    ]);
    let full = tap.sync();
    let states: Vec<usize> = full
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m["type"] == "STATE")
        .map(|(i, _)| i)
        .collect();
    assert!(states.len() > 6, "only {} STATE messages", states.len());
    for cut in [
        states[1],
        states[states.len() / 2],
        states[states.len() - 3],
    ] {
        // Everything up to and including the STATE at `cut` reached the target; the rest was lost.
        eprintln!("cut after message {cut}");
        let kept = &full.messages[..=cut];
        let resumed = tap.state(&kept[cut]["value"]).sync();
        let delivered = Run::from_messages([kept, &resumed.messages[..]].concat());
        for stream in ["messages_outbound", "messages_opens"] {
            let end = search_end(resumed.last_state().unwrap(), stream);
            assert_delivered(&delivered, &sim, stream, start, end);
        }
    }
}

/// Operability: progress lines during the sync and a closing summary per stream.
#[test]
fn progress_and_summary_lines() {
    let sim = sim(account(1, 3, 200));
    let scratch = Scratch::new();
    let mut config = config_for(&sim, false, start_of(&sim, 3));
    config["progress_interval_seconds"] = json!(0);
    let run = scratch.tap(&config).sync();
    let progress = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("INFO progress: messages_outbound: server"))
        .count();
    assert!(progress >= 3, "{}", run.stderr);
    let n = run.records("messages_outbound").count();
    let summary = run
        .stderr
        .lines()
        .find(|l| l.starts_with("INFO summary: messages_outbound: "))
        .expect("summary line");
    assert!(
        summary.contains(&format!(": {n} records, ")) && summary.contains(" 0 retries"),
        "{summary}"
    );
    // Without the debug level, no request lines.
    assert!(!run.stderr.contains("DEBUG"));
}

/// Syncs `streams` (all default ones when empty) at concurrency 1 and 8: stdout is the same
/// byte for byte, extraction times aside (records, their order, STATE placement, final state).
fn same_output_at_any_concurrency(sim: &Simulator, account: bool, streams: &[&str]) -> Run {
    let scratch = Scratch::new();
    let start = start_of(sim, 4);
    let mut config = config_for(sim, account, start);
    config["end_date"] = json!((sim.now() - Duration::minutes(10)).to_rfc3339());
    let mut runs = Vec::new();
    for concurrency in [1, 8] {
        config["max_concurrent_requests"] = json!(concurrency);
        let tap = scratch.tap(&config);
        runs.push(match streams {
            [] => tap.sync(),
            _ => tap.selecting(streams).sync(),
        });
    }
    let (one, eight) = (&runs[0], &runs[1]);
    assert_eq!(one.stdout.lines().count(), eight.stdout.lines().count());
    assert!(
        without_extraction_times(&one.stdout) == without_extraction_times(&eight.stdout),
        "stdout differs between concurrency 1 and 8"
    );
    runs.pop().unwrap()
}

/// Any concurrency gives the same records in the same order and the same STATE messages, on
/// every default stream of an account of two servers (windows split past the ceiling).
#[test]
fn concurrency_changes_nothing_but_speed() {
    let sim = sim(with_spike(account(2, 4, 2000)));
    let run = same_output_at_any_concurrency(&sim, true, &[]);
    assert!(run.records("messages_outbound").count() > 10_000);
    assert!(run.streams_with_records().len() > 20);
}

/// The same for per-message reads: each message's details are a request of their own.
#[test]
fn concurrency_changes_nothing_for_per_message_reads() {
    let sim = sim(account(2, 4, 150));
    let run = same_output_at_any_concurrency(&sim, true, &["message_events", "bounces"]);
    assert!(run.records("message_events").count() > 1_000);
}

/// The search streams of a server share one pipeline: their requests interleave (the opens are
/// read while the outbound messages are), their records interleave, every SCHEMA comes before the
/// first RECORD, and both streams are complete.
#[test]
fn search_streams_are_read_together() {
    let sim = sim(with_spike(account(1, 4, 2000)));
    let scratch = Scratch::new();
    let start = start_of(&sim, 4);
    let mut config = config_for(&sim, false, start);
    config["max_concurrent_requests"] = json!(2);
    let streams = ["messages_outbound", "messages_opens"];
    let run = scratch.tap(&config).selecting(&streams).sync();

    let log = sim.request_log();
    let position = |path: &'static str| {
        log.iter()
            .enumerate()
            .filter(move |(_, r)| r.path == path)
            .map(|(i, _)| i)
    };
    let first_open = position("/messages/outbound/opens").min().unwrap();
    let last_outbound = position("/messages/outbound").max().unwrap();
    assert!(
        first_open < last_outbound,
        "opens were read only after the outbound messages (request {first_open} vs {last_outbound})"
    );

    let kinds: Vec<(&str, &str)> = run
        .messages
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap(),
                m["stream"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let first_record = kinds.iter().position(|(t, _)| *t == "RECORD").unwrap();
    for stream in streams {
        let schema = kinds.iter().position(|k| *k == ("SCHEMA", stream)).unwrap();
        assert!(schema < first_record, "{stream}: SCHEMA after a RECORD");
    }
    let record_at = |stream: &'static str| {
        kinds
            .iter()
            .enumerate()
            .filter(move |(_, k)| **k == ("RECORD", stream))
            .map(|(i, _)| i)
    };
    assert!(
        record_at("messages_opens").min() < record_at("messages_outbound").max(),
        "the two streams' records did not interleave"
    );
    for stream in streams {
        let end = search_end(run.last_state().unwrap(), stream);
        assert_complete(&run, &sim, stream, start, end);
    }
}
