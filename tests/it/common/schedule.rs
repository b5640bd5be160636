//! A schedule of runs as a target that upserts sees it: the rows it holds, what each run asked
//! Postmark for (by request family), runs killed without warning, and the checks that the rows
//! equal what Postmark holds.

use super::run::Tap;
use super::singer::parse_singer;
use super::truth::{key_properties, truth_key};
use chrono::{DateTime, Utc};
use postmark_sim::{RequestLogEntry, Simulator};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use tap_postmark::streams::find;

/// What a target holds: each stream's records by key, the last one written winning.
pub type Table = BTreeMap<String, BTreeMap<String, Value>>;

/// Upserts the RECORD messages of `messages`.
pub fn upsert(table: &mut Table, messages: Vec<Value>) {
    for mut m in messages.into_iter().filter(|m| m["type"] == "RECORD") {
        let stream = m["stream"].as_str().expect("a stream name");
        let def = find(stream).expect("a stream of the table");
        let key: Vec<String> = def
            .key_properties
            .iter()
            .map(|k| m["record"][*k].to_string())
            .collect();
        let rows = match table.get_mut(stream) {
            Some(rows) => rows,
            None => table.entry(stream.to_string()).or_default(),
        };
        rows.insert(key.join("|"), m["record"].take());
    }
}

/// The rows of one stream, by key.
pub fn rows<'a>(table: &'a Table, stream: &str) -> &'a BTreeMap<String, Value> {
    static NONE: BTreeMap<String, Value> = BTreeMap::new();
    table.get(stream).unwrap_or(&NONE)
}

/// The family of a request to the simulator, as BENCHMARKS.md counts them.
pub fn family(e: &RequestLogEntry) -> &'static str {
    let path = e.path.to_ascii_lowercase();
    let has = |name: &str| e.query.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["messages", "outbound"] if has("recipient") => "outbound by recipient",
        ["messages", "outbound"] if has("status") => "outbound queued",
        ["messages", "outbound"] => "outbound search",
        ["messages", "outbound", "opens"] => "opens search",
        ["messages", "outbound", "clicks"] => "clicks search",
        ["messages", "outbound", _, "details"] => "outbound details",
        ["messages", "inbound"] => "inbound search",
        ["messages", "inbound", _, "details"] => "inbound details",
        ["bounces"] => "bounces search",
        ["bounces", _, "dump"] => "bounce dumps",
        ["message-streams", _, "suppressions", "dump"] => "suppression dumps",
        ["stats", ..] => "statistics",
        _ => "lists and items",
    }
}

/// Requests of a log by family.
pub fn families(log: &[RequestLogEntry]) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for e in log.iter().filter(|e| !e.path.starts_with("/_sim/")) {
        *out.entry(family(e)).or_default() += 1;
    }
    out
}

/// Runs the tap and kills it (SIGKILL) once `after` RECORD lines were read (of `stream` only,
/// when given); gives the messages of the complete lines it wrote (all of them when it ended
/// first) and whether it was killed.
pub fn run_killed(tap: &Tap, after: usize, stream: Option<&str>) -> (Vec<Value>, bool) {
    let counted = stream.map(|s| format!("\"stream\":\"{s}\""));
    let mut child = tap.spawn(Stdio::null());
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut text = String::new();
    let (mut records, mut killed) = (0, false);
    let mut line = String::new();
    while !killed && stdout.read_line(&mut line).expect("read stdout") > 0 {
        let of_stream = counted.as_ref().is_none_or(|c| line.contains(c.as_str()));
        records += usize::from(of_stream && line.contains("\"type\":\"RECORD\""));
        text.push_str(&line);
        line.clear();
        if records >= after {
            child.kill().expect("kill");
            killed = true;
        }
    }
    // What the tap wrote before it died still reaches the target; a line cut short does not.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read stdout");
    text.push_str(&line);
    text.push_str(&rest);
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    child.wait().expect("wait");
    (parse_singer(&text[..whole]), killed)
}

/// An instant of the tap's timestamps.
pub fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

/// Asserts the target holds, for `server`, every `message_events` row of the messages sent in
/// `[from, to)` whose event came before `to` (later ones are the next run's), and nothing
/// else; and every `messages_outbound_details` row, each with the `Status` Postmark answers now.
pub fn assert_holds_events_and_content(
    table: &Table,
    sim: &Simulator,
    server: u64,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) {
    let before_to = |k: &Vec<String>| instant(&Value::from(k[3].clone())) < to;
    let truth = sim
        .ground_truth(server, "message_events", from, to)
        .expect("a stream");
    let want: BTreeSet<Vec<String>> = truth.into_iter().filter(before_to).collect();
    let keys = key_properties("message_events");
    let held: BTreeSet<Vec<String>> = rows(table, "message_events")
        .values()
        .filter(|r| r["ServerID"] == server)
        .map(|r| truth_key(r, &keys))
        .filter(before_to)
        .collect();
    let missing: Vec<_> = want.difference(&held).take(3).collect();
    let extra: Vec<_> = held.difference(&want).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "server {server}: message_events: {} of {} missing (e.g. {missing:?}), {} extra (e.g. {extra:?})",
        want.difference(&held).count(),
        want.len(),
        held.difference(&want).count()
    );
    let want = sim
        .ground_truth(server, "messages_outbound_details", from, to)
        .expect("a stream");
    let content = rows(table, "messages_outbound_details");
    let held: BTreeMap<String, &Value> = content
        .values()
        .filter(|r| r["ServerID"] == server)
        .map(|r| (r["MessageID"].as_str().unwrap().to_string(), r))
        .collect();
    let held_ids: BTreeSet<Vec<String>> = held.keys().map(|k| vec![k.clone()]).collect();
    let missing: Vec<_> = want.difference(&held_ids).take(3).collect();
    let extra: Vec<_> = held_ids.difference(&want).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "server {server}: messages_outbound_details: {} of {} missing (e.g. {missing:?}), {} extra (e.g. {extra:?})",
        want.difference(&held_ids).count(),
        want.len(),
        held_ids.difference(&want).count()
    );
    for (id, row) in &held {
        let status = sim.outbound_status(server, id).expect("an answer");
        assert_eq!(row["Status"], status, "server {server}: {id}");
    }
}
