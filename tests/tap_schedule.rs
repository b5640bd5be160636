//! A 15-minute schedule against an account whose records change after the fact (arrival delays,
//! Status Queued → Sent, bounce flags, statistics that grow): after each run, what a target that
//! upserts holds equals a full sync at the same moment, so every change is caught by its stream's
//! default lookback. Prints, per run, the requests made and the records re-emitted against those
//! that were new or changed (`cargo test --release --test tap_schedule -- --nocapture`).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use postmark_sim::{Faults, SimConfig, Simulator};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tap_postmark::streams::{Replication, STREAMS};

/// Runs of the schedule: 15 minutes apart.
const RUNS: usize = 16;

type Table = BTreeMap<(String, String), Value>;

/// Every record of a run, by stream and key, the last one winning (an upsert).
fn upsert(table: &mut Table, run: &Run) -> (usize, usize) {
    let (mut emitted, mut changed) = (0, 0);
    for m in run.messages.iter().filter(|m| m["type"] == "RECORD") {
        let stream = m["stream"].as_str().unwrap();
        let def = STREAMS.iter().find(|d| d.name == stream).unwrap();
        let key: Vec<String> = def
            .key_properties
            .iter()
            .map(|k| m["record"][*k].to_string())
            .collect();
        emitted += 1;
        let old = table.insert((stream.to_string(), key.join("|")), m["record"].clone());
        if old.as_ref() != Some(&m["record"]) {
            changed += 1;
        }
    }
    (emitted, changed)
}

fn requests(run: &Run) -> u64 {
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("sync finished in"))
        .unwrap();
    let after = line.split("s: ").nth(1).unwrap();
    after.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn four_hours_of_15_minute_runs_hold_what_a_full_sync_holds() {
    // A day ago by default; TAP_SCHEDULE_ANCHOR (RFC 3339) replays the account of another moment.
    let anchor = std::env::var("TAP_SCHEDULE_ANCHOR").map_or_else(
        |_| Utc::now() - Duration::days(1),
        |a| a.parse().expect("TAP_SCHEDULE_ANCHOR: an RFC 3339 instant"),
    );
    let sim = Simulator::start(SimConfig {
        servers: 2,
        days: 3,
        messages_per_day: 1500,
        spike_messages: 0,
        now: Some(anchor),
        // Lookbacks are the subject, not content: the smallest bodies keep the 18 syncs quick.
        body_size_scale: 0.0,
        ..SimConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let every: Vec<&str> = STREAMS.iter().map(|d| d.name).collect();
    let mut config = config_for(&sim, true, anchor - Duration::days(4));
    config["end_date"] = json!((sim.now() - Duration::minutes(5)).to_rfc3339());
    let first = sync_selected(&scratch, &config, &every);
    let mut target = Table::new();
    upsert(&mut target, &first);
    let mut state = first.last_state().unwrap().clone();
    // New mail keeps coming while the schedule runs.
    sim.set_faults(Faults {
        live_arrivals_per_request: 1,
        ..Faults::default()
    });
    println!("| run | requests | records emitted | new or changed |");
    for run_no in 1..=RUNS {
        sim.advance(Duration::minutes(15));
        config["end_date"] = json!((sim.now() - Duration::minutes(5)).to_rfc3339());
        let run = scratch
            .tap(&config)
            .catalog(&catalog_selecting(&every))
            .state(&state)
            .sync();
        let (emitted, changed) = upsert(&mut target, &run);
        println!("| {run_no} | {} | {emitted} | {changed} |", requests(&run));
        state = run.last_state().unwrap().clone();
    }
    // One more run once no mail arrives mid-run: what arrived while the last one read is in.
    sim.set_faults(Faults::default());
    let last = scratch
        .tap(&config)
        .catalog(&catalog_selecting(&every))
        .state(&state)
        .sync();
    upsert(&mut target, &last);
    let full = sync_selected(&scratch, &config, &every);
    let mut truth = Table::new();
    upsert(&mut truth, &full);
    for def in STREAMS
        .iter()
        .filter(|d| d.replication() == Replication::Incremental)
    {
        let of = |t: &Table| -> BTreeMap<String, Value> {
            t.iter()
                .filter(|((s, _), _)| s == def.name)
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect()
        };
        let (held, mut want) = (of(&target), of(&truth));
        if def.name == "message_events" {
            late_events_are_in_opens_and_clicks(&mut want, &truth, &target, def.lookback_hours);
        }
        let wrong: Vec<&String> = want
            .iter()
            .filter(|(k, v)| held.get(*k) != Some(v))
            .map(|(k, _)| k)
            .take(3)
            .collect();
        assert!(
            wrong.is_empty(),
            "{}: {} of {} records differ from a full sync, e.g. {wrong:?}",
            def.name,
            want.iter().filter(|(k, v)| held.get(*k) != Some(v)).count(),
            want.len()
        );
    }
}

/// `message_events` re-reads the messages sent within its lookback, so an open or click that
/// comes more than that long after its message can only be caught by `messages_opens` and
/// `messages_clicks` (as the README says). Such events (those whose time is less than 20 minutes,
/// a schedule step and the arrival delay, short of the lookback after the message's) are taken
/// out of `want` once the target holds them in those streams.
fn late_events_are_in_opens_and_clicks(
    want: &mut BTreeMap<String, Value>,
    truth: &Table,
    target: &Table,
    lookback_hours: u32,
) {
    let sent: BTreeMap<String, DateTime<Utc>> = truth
        .iter()
        .filter(|((s, _), _)| s == "messages_outbound")
        .map(|(_, r)| (r["MessageID"].to_string(), time(&r["ReceivedAt"])))
        .collect();
    let reach = Duration::hours(i64::from(lookback_hours)) - Duration::minutes(20);
    let held_in = |stream: &str, e: &Value| {
        target.iter().any(|((s, _), r)| {
            s == stream
                && r["MessageID"] == e["MessageID"]
                && r["Recipient"] == e["Recipient"]
                && r["ReceivedAt"] == e["ReceivedAt"]
        })
    };
    want.retain(|_, e| {
        let Some(&at) = sent.get(&e["MessageID"].to_string()) else {
            return true;
        };
        if time(&e["ReceivedAt"]) - at < reach {
            return true;
        }
        let stream = match e["Type"].as_str() {
            Some("Opened") => "messages_opens",
            Some("LinkClicked") => "messages_clicks",
            _ => return true,
        };
        assert!(held_in(stream, e), "a late event is in neither stream: {e}");
        false
    });
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}
