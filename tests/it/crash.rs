//! The tap killed without warning (SIGKILL) at many points of a sync and resumed each time from
//! the last STATE it delivered: nothing is lost, and what is emitted again stays inside the
//! windows being re-read. Also: a STATE never reaches the target before the records it covers.

use crate::common::table::{default_streams, is_full_table, is_search, is_stats, names};
use crate::common::time::utc;
use crate::common::*;
use chrono::{DateTime, Duration, Utc};
use postmark_sim::{Faults, Simulator};
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

/// Whether `state` keeps the record `id` of `server` as pending: its last read said it may
/// still change, so every run reads it again when due (a message still queued, say).
fn pending_in(state: &Value, server: u64, id: &str) -> bool {
    let groups = state["reads"].as_object().into_iter().flatten();
    groups
        .filter_map(|(_, servers)| servers[server.to_string()].as_object())
        .flat_map(|partitions| partitions.values())
        .filter_map(|kept| kept["pending"].as_array())
        .flatten()
        .any(|p| p[0] == id)
}

/// The messages of `server` with activity a run from `state` finds: an open, click, bounce or
/// change of their own from an hour before the earliest activity search's cursor on (the hour
/// each search checks again for late records).
fn active_since(sim: &Simulator, state: &Value, server: u64) -> BTreeSet<String> {
    let groups = state["reads"].as_object().into_iter().flatten();
    let earliest = groups
        .filter_map(|(_, servers)| servers[server.to_string()].as_object())
        .flat_map(|partitions| partitions.values())
        .filter_map(|kept| kept["activity"].as_object())
        .flat_map(|cursors| cursors.values())
        .filter_map(|t| t.as_str().map(utc))
        .min();
    earliest.map_or_else(BTreeSet::new, |from| {
        let far = sim.now() + Duration::days(1);
        sim.changed_messages(server, from - Duration::hours(1), far)
    })
}

/// What one run wrote to the pipe (complete lines only) and how it ended.
struct Outcome {
    lines: Vec<String>,
    /// Lines read when the kill was sent (more may follow: what the tap wrote before it died).
    read_at_kill: Option<usize>,
    killed: bool,
    code: Option<i32>,
    stderr: String,
}

/// Where a run is killed: once `after` complete lines were read, counting only RECORD lines of
/// `streams` when it is not empty.
#[derive(Clone)]
struct Kill {
    streams: Vec<&'static str>,
    after: usize,
}

impl Kill {
    fn counts(&self, line: &str) -> bool {
        self.streams.is_empty()
            || self
                .streams
                .iter()
                .any(|s| line.starts_with(&format!("{{\"type\":\"RECORD\",\"stream\":\"{s}\"")))
    }
}

/// One tap run, killed with SIGKILL at `kill` (never when `None`).
fn run_once(tap: &Tap, stderr_path: &Path, kill: Option<Kill>) -> Outcome {
    let mut child = tap.spawn(File::create(stderr_path).unwrap());
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    let mut read_at_kill = None;
    let mut counted = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).unwrap();
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            // A line cut by the kill: it never reached the target whole.
            assert!(read_at_kill.is_some(), "a partial last line without a kill");
            break;
        }
        let line = String::from_utf8(buf[..n - 1].to_vec()).expect("UTF-8");
        counted += usize::from(kill.as_ref().is_some_and(|k| k.counts(&line)));
        lines.push(line);
        if read_at_kill.is_none() && kill.as_ref().is_some_and(|k| counted == k.after) {
            child.kill().unwrap();
            read_at_kill = Some(lines.len());
            // What the tap wrote to the pipe before it died is still read.
        }
    }
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    Outcome {
        lines,
        read_at_kill,
        killed: status.signal() == Some(9),
        code: status.code(),
        stderr,
    }
}

/// What a series of killed runs, each resumed from the last STATE it delivered, produced.
struct Crashes {
    /// Every message delivered (covered by a STATE) by some run.
    union: Run,
    /// The run that finished.
    last: Run,
    kills: usize,
    runs: usize,
    /// Search records delivered again, per stream.
    dups: BTreeMap<String, usize>,
    /// Where each kill landed: lines read and the stream@server of the last record read when
    /// the kill was sent.
    kill_points: Vec<String>,
}

/// Runs `tap`, killing it where `kill_at(kills so far, rng)` says (never once it says `None`)
/// and resuming each time from the last STATE it delivered, until a run finishes. Records of the
/// `search` streams delivered again must lie in what their run re-reads (at or after its
/// bookmark); none may repeat within a run.
fn kill_and_resume(
    sim: &Simulator,
    tap: &Tap,
    search: &[&str],
    kill_at: impl Fn(usize, &mut fastrand::Rng) -> Option<Kill>,
) -> Crashes {
    let scratch = Scratch::new();
    let mut rng = fastrand::Rng::with_seed(0x5eed_c0de);
    let mut restart: Option<Value> = None;
    let mut delivered: Vec<Value> = Vec::new();
    // Per delivered search record: (stream, server, key) → times delivered.
    let mut seen: HashMap<(String, u64, Vec<String>), usize> = HashMap::new();
    let mut c = Crashes {
        union: Run::from_messages(Vec::new()),
        last: Run::from_messages(Vec::new()),
        kills: 0,
        runs: 0,
        dups: BTreeMap::new(),
        kill_points: Vec::new(),
    };
    loop {
        c.runs += 1;
        assert!(c.runs <= 100, "no run finished after {} runs", c.runs);
        let kill = kill_at(c.kills, &mut rng);
        let out = run_once(
            &restart
                .as_ref()
                .map_or(tap.clone(), |state| tap.state(state)),
            &scratch.dir.path().join(format!("stderr{}", c.runs)),
            kill,
        );
        assert!(
            out.killed || out.code == Some(0),
            "run {} ended with {:?} without being killed; stderr:\n{}",
            c.runs,
            out.code,
            out.stderr
        );
        let messages = delivered_part(&out);
        check_repeats(sim, search, restart.as_ref(), &messages, &mut seen, &mut c);
        delivered.extend(messages.iter().cloned());
        if let Some(state) = messages.iter().rev().find(|m| m["type"] == "STATE") {
            restart = Some(state["value"].clone());
        }
        if !out.killed {
            c.last = Run {
                code: 0,
                stdout: out.lines.join("\n") + "\n",
                stderr: out.stderr,
                messages,
            };
            c.union = Run::from_messages(delivered);
            return c;
        }
        c.kills += 1;
        // Where the kill was sent: a large record the kill cut short can leave an earlier
        // stream's line last among those read after it.
        let sent = out.read_at_kill.unwrap_or(out.lines.len());
        c.kill_points.push(format!(
            "{}:{}",
            out.lines.len(),
            last_record(&out.lines[..sent])
        ));
    }
}

/// The messages a run delivered: up to its last STATE when killed, everything when it finished
/// (and then it ends with a STATE).
fn delivered_part(out: &Outcome) -> Vec<Value> {
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
    parse_singer(&out.lines[..cut].iter().fold(String::new(), |mut s, l| {
        s.push_str(l);
        s.push('\n');
        s
    }))
}

/// Re-emitted search records must lie in what this run re-reads: at or after its bookmark.
fn check_repeats(
    sim: &Simulator,
    search: &[&str],
    restart: Option<&Value>,
    messages: &[Value],
    seen: &mut HashMap<(String, u64, Vec<String>), usize>,
    c: &mut Crashes,
) {
    let run = c.runs;
    let mut this_run: BTreeSet<(String, u64, Vec<String>)> = BTreeSet::new();
    let mut active: HashMap<u64, BTreeSet<String>> = HashMap::new();
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
            "run {run}: {stream} server {server} key {key:?} emitted twice in one run"
        );
        let count = seen.entry(id).or_default();
        *count += 1;
        if *count == 1 {
            continue;
        }
        *c.dups.entry(stream.to_string()).or_default() += 1;
        let state = restart.unwrap_or_else(|| panic!("{stream} {key:?} twice in the first run"));
        let Some((after, bookmark)) = after_bookmark(sim, state, stream, server, r) else {
            continue; // the partition had no bookmark: it is read from start_date again
        };
        if pending_in(state, server, &key[0]) {
            continue; // its last read was not settled: read again by design
        }
        let active = active
            .entry(server)
            .or_insert_with(|| active_since(sim, state, server));
        if active.contains(&key[0]) {
            continue; // its message had activity the run's searches find: read again by design
        }
        assert!(
            after,
            "run {run}: {stream} server {server} {key:?} emitted again although the restart bookmark {bookmark} covers it: {r}"
        );
    }
}

/// `stream@server` of the last whole RECORD line read, `-` when there is none.
fn last_record(lines: &[String]) -> String {
    lines
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
        .unwrap_or_else(|| "-".into())
}

/// The servers the kills landed on (by the last record read when each was sent).
fn servers_hit(c: &Crashes) -> BTreeSet<&str> {
    c.kill_points
        .iter()
        .filter_map(|p| p.rsplit('@').next())
        .filter(|s| s.parse::<u64>().is_ok())
        .collect()
}

fn report(what: &str, c: &Crashes, unique: usize, began: Instant) {
    let records = c
        .union
        .messages
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .count();
    eprintln!(
        "{what}: {} kills, {} runs, {records} records delivered, {unique} unique keys, \
         search duplicates {:?} (total {}), {:.1}s",
        c.kills,
        c.runs,
        c.dups,
        c.dups.values().sum::<usize>(),
        began.elapsed().as_secs_f64()
    );
    eprintln!(
        "kill points (lines read:last record when killed): {:?}",
        c.kill_points
    );
}

#[test]
fn killed_anywhere_and_resumed_from_the_last_state_loses_nothing() {
    let began = Instant::now();
    let sim = sim(account(3, 4, 300));
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

    let c = kill_and_resume(&sim, &tap, &search, |kills, rng| {
        (kills < 40).then(|| Kill {
            streams: Vec::new(),
            after: rng.usize(80..1400),
        })
    });
    // Search streams and statistics: every record was delivered by some run, and nothing else
    // (the last run re-reads statistics only from its bookmark day on). Full-table streams: the
    // finishing run read them whole.
    let mut unique = 0;
    for stream in search.iter().chain(&stats) {
        let end = synced_until(&c.last, &sim, stream);
        unique += assert_delivered(&c.union, &sim, stream, start, end);
    }
    for stream in &full_table {
        let end = synced_until(&c.last, &sim, stream);
        unique += assert_complete(&c.last, &sim, stream, start, end);
    }
    validate_records(&c.last);
    report("crash/resume", &c, unique, began);
    assert!(
        c.kills >= 15,
        "only {} kills before a run finished",
        c.kills
    );
    let hit = servers_hit(&c);
    assert!(hit.len() >= 2, "kills landed on servers {hit:?} only");
}

/// The streams that read one request per found record (every stream of the table that expands
/// its search), killed and resumed as above: none loses a record.
#[test]
fn per_message_streams_killed_and_resumed_lose_nothing() {
    let began = Instant::now();
    let sim = sim(account(2, 3, 250));
    sim.set_faults(Faults {
        latency: StdDuration::from_millis(2),
        ..Faults::default()
    });
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(4);
    let mut config = config_for(&sim, true, start);
    config["lookback_hours"] = serde_json::json!(0);
    let expanding = names(|d| d.expands_to().is_some());
    assert!(expanding.len() >= 4, "expanding streams: {expanding:?}");
    let tap = scratch.tap(&config).selecting(&expanding);

    // Five kills aimed at each stream, in the table's order, each after a few of its records
    // (or of a later stream's, once it has none left).
    const PER_STREAM: usize = 5;
    let c = kill_and_resume(&sim, &tap, &expanding, |kills, rng| {
        let first = kills / PER_STREAM;
        (first < expanding.len()).then(|| Kill {
            streams: expanding[first..].to_vec(),
            after: rng.usize(1..10),
        })
    });
    let mut unique = 0;
    for stream in &expanding {
        let end = synced_until(&c.last, &sim, stream);
        let n = assert_delivered(&c.union, &sim, stream, start, end);
        assert!(n > 0, "{stream}: nothing to check");
        unique += n;
    }
    validate_records(&c.last);
    report("per-message crash/resume", &c, unique, began);
    assert!(
        c.kills >= PER_STREAM * (expanding.len() - 1),
        "only {} kills before a run finished",
        c.kills
    );
    let streams_hit: BTreeSet<&str> = c
        .kill_points
        .iter()
        .filter_map(|p| p.split(':').nth(1)?.split('@').next())
        .collect();
    assert!(
        streams_hit.len() == expanding.len(),
        "kills landed in {streams_hit:?} only: {:?}",
        c.kill_points
    );
}

#[test]
fn a_state_never_precedes_the_records_it_covers() {
    // The spike (a day of more than 10,000 messages) makes the tap split windows, so each
    // partition is checkpointed many times.
    let sim = sim(with_spike(account(2, 4, 300)));
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
