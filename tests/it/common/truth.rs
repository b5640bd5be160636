//! A run's records against the simulator's ground truth: their keys as the truth spells them,
//! where a run stopped reading, and checks that every record arrived (once, or at least once
//! over several runs) and nothing else did.

use super::run::Run;
use super::time::utc;
use chrono::{DateTime, Duration, Utc};
use postmark_sim::Simulator;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tap_postmark::streams::{Kind, TokenKind};

fn def(stream: &str) -> &'static tap_postmark::streams::StreamDef {
    tap_postmark::streams::find(stream).unwrap_or_else(|| panic!("no stream {stream}"))
}

/// Key properties of a stream as the discovered catalog declares them.
pub fn key_properties(stream: &str) -> Vec<String> {
    def(stream)
        .key_properties
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Whether a stream is read once per server (with a server token).
pub fn server_scoped(stream: &str) -> bool {
    def(stream).token == TokenKind::Server
}

/// A record's key as the simulator's ground truth spells it (ServerID aside).
pub fn truth_key(record: &Value, keys: &[String]) -> Vec<String> {
    keys.iter()
        .filter(|k| k.as_str() != "ServerID")
        .map(|k| match &record[k] {
            Value::String(s) => s.clone(),
            Value::Null => panic!("null key {k} in {record}"),
            v => v.to_string(),
        })
        .collect()
}

/// Records of a stream grouped per server (ServerID, or 0 for account-level streams) as truth keys,
/// with the number of times each key was seen.
pub fn keys_by_server(run: &Run, stream: &str) -> BTreeMap<u64, BTreeMap<Vec<String>, usize>> {
    let keys = key_properties(stream);
    let per_server = server_scoped(stream);
    let mut out: BTreeMap<u64, BTreeMap<Vec<String>, usize>> = BTreeMap::new();
    for r in run.records(stream) {
        // The `server` stream's records are servers: their ID is the server.
        let server = match (per_server, r.get("ServerID")) {
            (false, _) => 0,
            (true, Some(Value::Number(n))) => n.as_u64().unwrap(),
            (true, _) => r["ID"].as_u64().unwrap(),
        };
        *out.entry(server)
            .or_default()
            .entry(truth_key(r, &keys))
            .or_default() += 1;
    }
    out
}

/// Asserts a stream's records equal the simulator's ground truth for every server, without
/// duplicates (`delivery_stats`: one snapshot a server, whose `Bounces` names are its truth);
/// returns the number of records checked.
pub fn assert_complete(
    run: &Run,
    sim: &Simulator,
    stream: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> usize {
    assert_matches_truth(
        run,
        sim,
        stream,
        &server_ids(sim),
        from,
        to,
        Repeats::Refused,
    )
}

/// [`assert_complete`] for one server's records (the others' are not looked at).
pub fn assert_server_complete(
    run: &Run,
    sim: &Simulator,
    stream: &str,
    server: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> usize {
    assert_matches_truth(run, sim, stream, &[server], from, to, Repeats::Refused)
}

/// Asserts that what a target received over several runs (see [`Run::from_messages`]) holds every
/// record of the ground truth of every server, and nothing else: a record may have come more than
/// once. Returns the number of distinct records checked.
pub fn assert_delivered(
    run: &Run,
    sim: &Simulator,
    stream: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> usize {
    assert_matches_truth(
        run,
        sim,
        stream,
        &server_ids(sim),
        from,
        to,
        Repeats::Allowed,
    )
}

/// [`assert_delivered`] for one server's records (the others' are not looked at).
pub fn assert_server_delivered(
    run: &Run,
    sim: &Simulator,
    stream: &str,
    server: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> usize {
    assert_matches_truth(run, sim, stream, &[server], from, to, Repeats::Allowed)
}

/// The simulator's servers, by ID.
pub fn server_ids(sim: &Simulator) -> Vec<u64> {
    sim.servers().iter().map(|s| s.id).collect()
}

/// Whether a record may arrive more than once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeats {
    Refused,
    Allowed,
}

fn assert_matches_truth(
    run: &Run,
    sim: &Simulator,
    stream: &str,
    servers: &[u64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    repeats: Repeats,
) -> usize {
    if stream == "delivery_stats" {
        return servers
            .iter()
            .map(|&server| assert_delivery_stats(run, sim, server, from, to, repeats))
            .sum();
    }
    let got = keys_by_server(run, stream);
    // (server of the records, server whose ground truth they are): account-level records carry
    // no server, and any server's truth is the account's.
    let compared: Vec<(u64, u64)> = if server_scoped(stream) {
        servers.iter().map(|&s| (s, s)).collect()
    } else {
        vec![(0, sim.servers()[0].id)]
    };
    let mut checked = 0;
    for (server, truth_server) in compared {
        let truth = sim
            .ground_truth(truth_server, stream, from, to)
            .unwrap_or_else(|| panic!("no ground truth for {stream}"));
        let empty = BTreeMap::new();
        let seen = got.get(&server).unwrap_or(&empty);
        if repeats == Repeats::Refused {
            let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(3).collect();
            assert!(
                dups.is_empty(),
                "{stream} server {server}: duplicates {dups:?}"
            );
        }
        let seen_keys: BTreeSet<Vec<String>> = seen.keys().cloned().collect();
        let missing: Vec<_> = truth.difference(&seen_keys).take(5).collect();
        let extra: Vec<_> = seen_keys.difference(&truth).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{stream} server {server}: {} truth, {} seen; missing {missing:?}; extra {extra:?}",
            truth.len(),
            seen_keys.len()
        );
        checked += truth.len();
    }
    checked
}

/// `delivery_stats`: one snapshot a server, whose ground truth is the names of its `Bounces`
/// entries as Postmark lists them. Returns the number of snapshots checked.
fn assert_delivery_stats(
    run: &Run,
    sim: &Simulator,
    server: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    repeats: Repeats,
) -> usize {
    let rows: Vec<&Value> = run
        .records("delivery_stats")
        .filter(|r| r["ServerID"] == server)
        .collect();
    match repeats {
        Repeats::Refused => assert_eq!(rows.len(), 1, "delivery_stats server {server}"),
        Repeats::Allowed => assert!(!rows.is_empty(), "delivery_stats server {server}"),
    }
    let truth = sim
        .ground_truth(server, "delivery_stats", from, to)
        .expect("ground truth for delivery_stats");
    for row in &rows {
        let names: BTreeSet<Vec<String>> = row["Bounces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| vec![b["Name"].as_str().unwrap().to_string()])
            .collect();
        assert_eq!(names, truth, "delivery_stats server {server}");
    }
    rows.len()
}

/// Every key of `stream` in a run's records, all servers together (truth-key form).
pub fn delivered_keys(run: &Run, stream: &str) -> BTreeSet<Vec<String>> {
    keys_by_server(run, stream)
        .values()
        .flat_map(|m| m.keys().cloned())
        .collect()
}

/// The search bookmark every partition reached (they all end at the same instant).
pub fn search_end(state: &Value, stream: &str) -> DateTime<Utc> {
    let mut ends = BTreeSet::new();
    for partitions in state["bookmarks"][stream]
        .as_object()
        .expect("bookmarks")
        .values()
    {
        for v in partitions.as_object().unwrap().values() {
            ends.insert(v.as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        ends.len(),
        1,
        "partitions of {stream} end at different instants: {ends:?}"
    );
    utc(ends.iter().next().unwrap())
}

/// Where a finished run stopped reading `stream`: a search stream at its bookmark in the run's
/// last STATE ([`search_end`]); the others read up to the present (a second past it, so that the
/// window holds today's statistics).
pub fn synced_until(run: &Run, sim: &Simulator, stream: &str) -> DateTime<Utc> {
    match def(stream).kind {
        Kind::Search(_) => search_end(run.last_state().expect("a final STATE"), stream),
        _ => sim.now() + Duration::seconds(1),
    }
}
