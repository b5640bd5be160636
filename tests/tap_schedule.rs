//! A 15-minute schedule against an account whose records change after the fact (arrival delays,
//! Status Queued → Sent, bounce flags, statistics that grow): after each run, what a target that
//! upserts holds equals a full sync at the same moment, so every change is caught by its stream's
//! default lookback. Prints, per run, the requests made and the records re-emitted against those
//! that were new or changed (`cargo test --release --test tap_schedule -- --nocapture`).

mod common;

use chrono::{Duration, Utc};
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
    let anchor = Utc::now() - Duration::days(1);
    let sim = Simulator::start(SimConfig {
        servers: 2,
        days: 3,
        messages_per_day: 1500,
        spike_messages: 0,
        now: Some(anchor),
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
        let (held, want) = (of(&target), of(&truth));
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
