//! The tap killed without warning (SIGKILL) at many points of a sync and resumed each time from
//! the last STATE it delivered: nothing is lost, and what is emitted again stays inside the
//! windows being re-read. Also: a STATE never reaches the target before the records it covers.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::table::{default_streams, is_full_table, is_search, is_stats};
use common::time::utc;
use common::*;
use postmark_sim::{Faults, SimConfig, Simulator};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant};
use tap_postmark::streams::Kind;

/// The field a search stream's records are windowed by (`None`: inbound, windowed on a hidden
/// receive time).
fn time_field(stream: &str) -> Option<&'static str> {
    match tap_postmark::streams::find(stream).unwrap().kind {
        Kind::Search(s) => s.time_field,
        _ => None,
    }
}

fn small_sim() -> Simulator {
    Simulator::start(SimConfig {
        servers: 3,
        days: 4,
        spike_messages: 0,
        messages_per_day: 300,
        ..SimConfig::default()
    })
    .unwrap()
}

/// The partition (state key under the server) a search record belongs to.
fn partition_of(state: &Value, stream: &str, server: u64, record: &Value) -> Option<String> {
    let partitions = state["bookmarks"][stream][server.to_string()].as_object()?;
    if let Some(ms) = record["MessageStream"].as_str() {
        if partitions.contains_key(ms) {
            return Some(ms.to_string());
        }
    }
    // Inbound: one partition per server, named after its inbound stream.
    if partitions.len() == 1 && time_field(stream).is_none() {
        return partitions.keys().next().cloned();
    }
    None
}

/// Whether a search record lies in what a run from `state` reads: at or after the bookmark of its
/// partition (an inbound record carries no time: received at or after it, by the ground truth).
/// `None` when the partition has no bookmark (it is read from start_date); else the answer, and
/// the bookmark.
fn after_bookmark(
    sim: &Simulator,
    state: &Value,
    stream: &str,
    server: u64,
    record: &Value,
) -> Option<(bool, DateTime<Utc>)> {
    let p = partition_of(state, stream, server, record)?;
    let bookmark = utc(state["bookmarks"][stream][server.to_string()][p.as_str()].as_str()?);
    let after = match time_field(stream) {
        Some(field) => utc(record[field].as_str().unwrap()) >= bookmark,
        None => {
            let key = truth_key(record, &key_properties(stream));
            let far = sim.now() + Duration::days(1);
            let window = sim.ground_truth(server, stream, bookmark, far).unwrap();
            window.contains(&key)
        }
    };
    Some((after, bookmark))
}

/// What one run wrote to the pipe (complete lines only) and how it ended.
struct Outcome {
    lines: Vec<String>,
    killed: bool,
    code: Option<i32>,
    stderr: String,
}

/// One tap run, killed with SIGKILL once `kill_after` complete lines were read (never when
/// `None`).
fn run_once(tap: &Tap, stderr_path: &Path, kill_after: Option<usize>) -> Outcome {
    let mut child = spawn_tap(&tap.args(), File::create(stderr_path).unwrap());
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    let mut kill_sent = false;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).unwrap();
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            // A line cut by the kill: it never reached the target whole.
            assert!(kill_sent, "a partial last line without a kill");
            break;
        }
        lines.push(String::from_utf8(buf[..n - 1].to_vec()).expect("UTF-8"));
        if !kill_sent && Some(lines.len()) == kill_after {
            child.kill().unwrap();
            kill_sent = true;
            // What the tap wrote to the pipe before it died is still read.
        }
    }
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    Outcome {
        lines,
        killed: status.signal() == Some(9),
        code: status.code(),
        stderr,
    }
}

#[test]
fn killed_anywhere_and_resumed_from_the_last_state_loses_nothing() {
    let began = Instant::now();
    let sim = small_sim();
    // A little latency so that the tap is still running when it is killed.
    sim.set_faults(Faults {
        latency: StdDuration::from_millis(2),
        ..Faults::default()
    });
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(5);
    let mut config = config_for(&sim, true, start);
    config["lookback_hours"] = serde_json::json!(0);
    let tap = scratch.tap(&config);

    let search = default_streams(is_search);
    let stats = default_streams(is_stats);
    let full_table = default_streams(is_full_table);
    assert!(search.contains(&"messages_outbound") && search.contains(&"messages_inbound"));
    assert!(!search.contains(&"message_events"));

    let mut rng = fastrand::Rng::with_seed(0x5eed_c0de);
    const MAX_KILLS: usize = 40;
    let mut restart: Option<Value> = None;
    let mut delivered: Vec<Value> = Vec::new();
    // Per delivered search record: (stream, server, key) → times delivered.
    let mut seen: HashMap<(String, u64, Vec<String>), usize> = HashMap::new();
    let mut dups: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kills = 0;
    let mut runs = 0;
    let mut kill_points: Vec<String> = Vec::new();
    let final_run = loop {
        runs += 1;
        assert!(runs <= MAX_KILLS + 5, "no run finished after {runs} runs");
        let kill_after = (kills < MAX_KILLS).then(|| rng.usize(80..1400));
        let out = run_once(
            &restart
                .as_ref()
                .map_or(tap.clone(), |state| tap.state(state)),
            &scratch.dir.path().join(format!("stderr{runs}")),
            kill_after,
        );
        assert!(
            out.killed || out.code == Some(0),
            "run {runs} ended with {:?} without being killed; stderr:\n{}",
            out.code,
            out.stderr
        );
        // Only what the last STATE covers counts as delivered.
        let cut = if out.killed {
            out.lines
                .iter()
                .rposition(|l| l.starts_with("{\"type\":\"STATE\""))
                .map_or(0, |i| i + 1)
        } else {
            assert!(
                out.lines
                    .last()
                    .is_some_and(|l| l.starts_with("{\"type\":\"STATE\"")),
                "a finished run ends with a STATE"
            );
            out.lines.len()
        };
        let messages = parse_singer(&out.lines[..cut].iter().fold(String::new(), |mut s, l| {
            s.push_str(l);
            s.push('\n');
            s
        }));
        // Re-emitted records must lie in what this run re-reads: at or after its bookmark.
        let mut this_run: BTreeSet<(String, u64, Vec<String>)> = BTreeSet::new();
        for m in messages.iter().filter(|m| m["type"] == "RECORD") {
            let Some(&stream) = search.iter().find(|s| m["stream"] == **s) else {
                continue;
            };
            let r = &m["record"];
            let server = r["ServerID"].as_u64().unwrap();
            let key = truth_key(r, &key_properties(stream));
            let id = (stream.to_string(), server, key.clone());
            assert!(
                this_run.insert(id.clone()),
                "run {runs}: {stream} server {server} key {key:?} emitted twice in one run"
            );
            let count = seen.entry(id).or_default();
            *count += 1;
            if *count == 1 {
                continue;
            }
            *dups.entry(stream).or_default() += 1;
            let state = restart
                .as_ref()
                .unwrap_or_else(|| panic!("{stream} {key:?} twice in the first run"));
            let Some((after, bookmark)) = after_bookmark(&sim, state, stream, server, r) else {
                continue; // the partition had no bookmark: it is read from start_date again
            };
            assert!(
                after,
                "run {runs}: {stream} server {server} {key:?} emitted again although the restart bookmark {bookmark} covers it: {r}"
            );
        }
        delivered.extend(messages.iter().cloned());
        if let Some(state) = messages.iter().rev().find(|m| m["type"] == "STATE") {
            restart = Some(state["value"].clone());
        }
        if !out.killed {
            break Run {
                code: 0,
                stdout: out.lines.join("\n") + "\n",
                stderr: out.stderr,
                messages,
            };
        }
        kills += 1;
        // Where the kill landed: the stream of the last line read.
        let last = out
            .lines
            .iter()
            .rev()
            .find(|l| l.starts_with("{\"type\":\"RECORD\""))
            .map(|l| {
                let m: Value = serde_json::from_str(l).unwrap_or(Value::Null);
                format!(
                    "{}@{}",
                    m["stream"].as_str().unwrap_or("?"),
                    m["record"]["ServerID"]
                )
            })
            .unwrap_or_else(|| "-".into());
        kill_points.push(format!("{}:{last}", out.lines.len()));
    };

    let union = Run::from_messages(delivered);
    let records = union
        .messages
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .count();
    // Search streams and statistics: every record was delivered by some run, and nothing else
    // (the last run re-reads statistics only from its bookmark day on). Full-table streams: the
    // finishing run read them whole.
    let mut unique = 0;
    for stream in search.iter().chain(&stats) {
        let end = synced_until(&final_run, &sim, stream);
        unique += assert_delivered(&union, &sim, stream, start, end);
    }
    for stream in &full_table {
        let end = synced_until(&final_run, &sim, stream);
        unique += assert_complete(&final_run, &sim, stream, start, end);
    }
    validate_records(&final_run);

    let servers_hit: BTreeSet<&str> = kill_points
        .iter()
        .filter_map(|p| p.rsplit('@').next())
        .filter(|s| s.parse::<u64>().is_ok())
        .collect();
    eprintln!(
        "crash/resume: {kills} kills, {runs} runs, {records} records delivered, {unique} unique keys, \
         search duplicates {dups:?} (total {}), {:.1}s",
        dups.values().sum::<usize>(),
        began.elapsed().as_secs_f64()
    );
    eprintln!("kill points (lines read:last record): {kill_points:?}");
    assert!(kills >= 15, "only {kills} kills before a run finished");
    assert!(
        servers_hit.len() >= 2,
        "kills landed on servers {servers_hit:?} only: {kill_points:?}"
    );
}

#[test]
fn a_state_never_precedes_the_records_it_covers() {
    // The spike (a day of more than 10,000 messages) makes the tap split windows, so each
    // partition is checkpointed many times.
    let sim = Simulator::start(SimConfig {
        servers: 2,
        days: 4,
        messages_per_day: 300,
        ..SimConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let run = scratch
        .tap(&config_for(&sim, true, sim.now() - Duration::days(5)))
        .sync();

    let search = default_streams(is_search);
    let stats = default_streams(is_stats);
    // The bookmarks of the latest STATE seen so far.
    let mut current: Option<&Value> = None;
    let mut checked = 0;
    let mut bookmarks_seen: HashMap<(String, String, String), BTreeSet<String>> = HashMap::new();
    for (i, m) in run.messages.iter().enumerate() {
        match m["type"].as_str() {
            Some("STATE") => {
                let value = &m["value"];
                for stream in &search {
                    if let Some(servers) = value["bookmarks"][stream].as_object() {
                        for (server, partitions) in servers {
                            for (p, b) in partitions.as_object().unwrap() {
                                bookmarks_seen
                                    .entry((stream.to_string(), server.clone(), p.clone()))
                                    .or_default()
                                    .insert(b.as_str().unwrap().to_string());
                            }
                        }
                    }
                }
                current = Some(value);
            }
            Some("RECORD") => {
                let stream = m["stream"].as_str().unwrap();
                let r = &m["record"];
                let Some(state) = current else { continue };
                let Some(server) = r["ServerID"].as_u64() else {
                    continue;
                };
                if search.contains(&stream) {
                    let Some((after, b)) = after_bookmark(&sim, state, stream, server, r) else {
                        continue;
                    };
                    assert!(
                        after,
                        "line {}: {stream} server {server} record comes after a STATE whose bookmark {b} covers it: {r}",
                        i + 1
                    );
                    checked += 1;
                } else if stats.contains(&stream) {
                    // A stats bookmark is the last day read; that day is read again on resume.
                    let ms = r["MessageStream"].as_str().unwrap();
                    if let Some(day) = state["bookmarks"][stream][server.to_string()][ms].as_str() {
                        let date = r["Date"].as_str().unwrap();
                        assert!(
                            date >= day,
                            "line {}: {stream} server {server} {ms} day {date} comes after a STATE whose bookmark {day} covers it",
                            i + 1
                        );
                        checked += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let most = bookmarks_seen
        .values()
        .map(BTreeSet::len)
        .max()
        .unwrap_or(0);
    eprintln!(
        "{checked} records checked against an earlier STATE; at most {most} bookmarks per partition"
    );
    assert!(checked > 1000, "only {checked} records followed a STATE");
    assert!(
        most >= 3,
        "at most {most} STATEs per partition: no window was split, the check is too weak"
    );
}
