//! Shared helpers for the tap's integration tests: run the built binary against the simulator,
//! parse and check its Singer output, compare it with the simulator's ground truth.
#![allow(dead_code)]

pub mod hostile;
pub mod replay;

use chrono::{DateTime, Utc};
use postmark_sim::Simulator;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub const TAP: &str = env!("CARGO_BIN_EXE_tap-postmark");

/// What one run of the tap produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub messages: Vec<Value>,
}

impl Run {
    /// RECORD messages of a stream.
    pub fn records<'a>(&'a self, stream: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.messages
            .iter()
            .filter(move |m| m["type"] == "RECORD" && m["stream"] == stream)
            .map(|m| &m["record"])
    }

    pub fn last_state(&self) -> Option<&Value> {
        self.messages
            .iter()
            .rev()
            .find(|m| m["type"] == "STATE")
            .map(|m| &m["value"])
    }

    pub fn states(&self) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|m| m["type"] == "STATE")
            .map(|m| &m["value"])
            .collect()
    }

    pub fn streams_with_records(&self) -> BTreeSet<String> {
        self.messages
            .iter()
            .filter(|m| m["type"] == "RECORD")
            .filter_map(|m| m["stream"].as_str().map(str::to_string))
            .collect()
    }

    pub fn assert_ok(&self) {
        assert_eq!(self.code, 0, "tap failed; stderr:\n{}", self.stderr);
    }
}

/// A scratch directory holding config, state and catalog files.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn write(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path
    }

    pub fn write_text(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Runs the tap with `args` and parses stdout strictly: every line must be a JSON object with an
/// upper-case Singer type.
pub fn run_tap(args: &[&str]) -> Run {
    run_tap_env(args, &[])
}

pub fn run_tap_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut run = run_raw(args, env);
    run.messages = parse_singer(&run.stdout);
    run
}

/// Runs the tap without reading stdout as Singer messages (discovery, --about, errors).
pub fn run_raw(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(TAP);
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("TAP_POSTMARK_LOG_LEVEL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tap");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        messages: Vec::new(),
    }
}

/// Runs the tap with `args`, killing it once `limit` has passed (then the test fails: a tap that
/// never ends must not hang the suite). stdout and stderr go to files, so an undrained pipe
/// cannot stall it; stdout is parsed strictly, as by [`run_tap`].
pub fn run_tap_within(args: &[&str], limit: std::time::Duration) -> Run {
    let scratch = Scratch::new();
    let stdout_path = scratch.dir.path().join("stdout.txt");
    let stderr_path = scratch.dir.path().join("stderr.txt");
    let mut child = Command::new(TAP)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .env_remove("TAP_POSTMARK_LOG_LEVEL")
        .spawn()
        .expect("run tap");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for tap") {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().expect("kill tap");
            child.wait().expect("reap tap");
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let lines: Vec<&str> = stderr.lines().collect();
            let tail = &lines[lines.len().saturating_sub(10)..];
            panic!(
                "the tap still ran after {limit:?}; its stderr ends with:\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let stdout = String::from_utf8(std::fs::read(&stdout_path).unwrap()).expect("stdout is UTF-8");
    let messages = parse_singer(&stdout);
    Run {
        code: status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&std::fs::read(&stderr_path).unwrap()).to_string(),
        stdout,
        messages,
    }
}

/// [`run_tap_within`], also giving the tap's peak resident memory in MiB (from `wait4`).
pub fn run_tap_measured(args: &[&str], limit: std::time::Duration) -> (Run, f64) {
    let scratch = Scratch::new();
    let stdout_path = scratch.dir.path().join("stdout.txt");
    let stderr_path = scratch.dir.path().join("stderr.txt");
    let mut child = Command::new(TAP)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .env_remove("TAP_POSTMARK_LOG_LEVEL")
        .spawn()
        .expect("run tap");
    let pid = child.id() as libc::pid_t;
    let started = std::time::Instant::now();
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: `usage` is a plain C struct that wait4 fills in; `status` is an int.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            break (status, usage);
        }
        assert!(done == 0, "wait4 failed");
        if started.elapsed() > limit {
            child.kill().expect("kill tap");
            let _ = child.wait();
            panic!("the tap still ran after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    // Reaped by wait4 above; this only lets `Child` know.
    let _ = child.try_wait();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let stdout = String::from_utf8(std::fs::read(&stdout_path).unwrap()).expect("stdout is UTF-8");
    let messages = parse_singer(&stdout);
    let run = Run {
        code,
        stderr: String::from_utf8_lossy(&std::fs::read(&stderr_path).unwrap()).to_string(),
        stdout,
        messages,
    };
    (run, usage.ru_maxrss as f64 / 1024.0)
}

/// Parses Singer lines, checking the protocol rules a target relies on.
pub fn parse_singer(stdout: &str) -> Vec<Value> {
    let mut schemas: HashMap<String, Value> = HashMap::new();
    let mut messages = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        let m: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line {} is not JSON ({e}): {line}", i + 1));
        match m["type"].as_str() {
            Some("SCHEMA") => {
                let stream = m["stream"].as_str().expect("SCHEMA stream").to_string();
                assert!(
                    m["key_properties"].is_array(),
                    "SCHEMA without key_properties: {line}"
                );
                assert!(
                    m["schema"]["properties"].is_object(),
                    "SCHEMA without properties"
                );
                assert!(!schemas.contains_key(&stream), "second SCHEMA for {stream}");
                schemas.insert(stream, m["schema"].clone());
            }
            Some("RECORD") => {
                let stream = m["stream"].as_str().expect("RECORD stream");
                assert!(
                    schemas.contains_key(stream),
                    "RECORD for {stream} before its SCHEMA"
                );
                assert!(m["record"].is_object());
                let t = m["time_extracted"].as_str().expect("time_extracted");
                assert!(
                    t.ends_with('Z') && DateTime::parse_from_rfc3339(t).is_ok(),
                    "{t}"
                );
            }
            Some("STATE") => assert!(m["value"].is_object(), "STATE value not an object"),
            other => panic!("unexpected message type {other:?}: {line}"),
        }
        messages.push(m);
    }
    messages
}

/// Validates every RECORD against its stream's SCHEMA with `jsonschema` (formats checked), and
/// checks that key properties are present and non-null and that every schema key is present.
pub fn validate_records(run: &Run) {
    let mut validators: HashMap<String, (jsonschema::Validator, Value, Vec<String>)> =
        HashMap::new();
    for m in &run.messages {
        match m["type"].as_str() {
            Some("SCHEMA") => {
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&m["schema"])
                    .expect("schema compiles");
                let keys = m["key_properties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap().to_string())
                    .collect();
                validators.insert(
                    m["stream"].as_str().unwrap().to_string(),
                    (v, m["schema"].clone(), keys),
                );
            }
            Some("RECORD") => {
                let stream = m["stream"].as_str().unwrap();
                let (validator, schema, keys) = &validators[stream];
                let record = &m["record"];
                let errors: Vec<String> = validator
                    .iter_errors(record)
                    .map(|e| e.to_string())
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{stream} record invalid: {errors:?}\n{record}"
                );
                for k in keys {
                    assert!(!record[k].is_null(), "{stream}: key {k} null in {record}");
                }
                for p in schema["properties"].as_object().unwrap().keys() {
                    assert!(
                        record.get(p).is_some(),
                        "{stream}: property {p} missing in {record}"
                    );
                }
                assert!(
                    !record.to_string().contains("\\u0000"),
                    "{stream}: NUL in {record}"
                );
            }
            _ => {}
        }
    }
}

/// Key properties of a stream as the discovered catalog declares them.
pub fn key_properties(stream: &str) -> Vec<String> {
    tap_postmark::streams::find(stream)
        .unwrap_or_else(|| panic!("no stream {stream}"))
        .key_properties
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Whether a stream is read once per server (with a server token).
pub fn server_scoped(stream: &str) -> bool {
    tap_postmark::streams::find(stream).unwrap().token == tap_postmark::streams::TokenKind::Server
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
/// duplicates; returns the number of records checked.
pub fn assert_complete(
    run: &Run,
    sim: &Simulator,
    stream: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> usize {
    let got = keys_by_server(run, stream);
    let per_server = server_scoped(stream);
    let servers: Vec<u64> = if per_server {
        sim.servers().iter().map(|s| s.id).collect()
    } else {
        vec![0]
    };
    let mut checked = 0;
    for server in servers {
        let truth_server = if per_server {
            server
        } else {
            sim.servers()[0].id
        };
        let truth = sim
            .ground_truth(truth_server, stream, from, to)
            .unwrap_or_else(|| panic!("no ground truth for {stream}"));
        let empty = BTreeMap::new();
        let seen = got.get(&server).unwrap_or(&empty);
        let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(3).collect();
        assert!(
            dups.is_empty(),
            "{stream} server {server}: duplicates {dups:?}"
        );
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

/// Writes a tap config for the simulator.
pub fn config_for(sim: &Simulator, account: bool, start: DateTime<Utc>) -> Value {
    let mut c = serde_json::json!({
        "base_url": sim.base_url(),
        "start_date": start.to_rfc3339(),
        "retry_initial_delay_seconds": 0.01,
        "retry_max_delay_seconds": 0.05,
    });
    if account {
        c["postmark_account_token"] = Value::from(sim.account_token());
    } else {
        c["postmark_server_token"] = Value::from(sim.servers()[0].token.clone());
    }
    c
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
    DateTime::parse_from_rfc3339(ends.iter().next().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Feeds `input` to a command's stdin (for pipes into checkers).
pub fn pipe(cmd: &mut Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The discovered catalog with exactly `streams` selected.
pub fn catalog_selecting(streams: &[&str]) -> Value {
    let run = run_raw(&["--discover"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut catalog: Value = serde_json::from_str(&run.stdout).unwrap();
    for entry in catalog["streams"].as_array_mut().unwrap() {
        let selected = streams.contains(&entry["tap_stream_id"].as_str().unwrap());
        entry["metadata"][0]["metadata"]["selected"] = Value::Bool(selected);
    }
    catalog
}

/// Every key of `stream` in a run's records, all servers together (truth-key form).
pub fn delivered_keys(run: &Run, stream: &str) -> BTreeSet<Vec<String>> {
    keys_by_server(run, stream)
        .values()
        .flat_map(|m| m.keys().cloned())
        .collect()
}

/// Syncs `streams` with `config` (written into `scratch`), requires success and checks every
/// RECORD against its SCHEMA.
pub fn sync_selected(scratch: &Scratch, config: &Value, streams: &[&str]) -> Run {
    let config = scratch.write("config.json", config);
    let catalog = scratch.write("catalog.json", &catalog_selecting(streams));
    let run = run_tap(&[
        "--config",
        config.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
    ]);
    run.assert_ok();
    validate_records(&run);
    run
}

/// The one `CRITICAL` line of a failed run's stderr (fails the test unless there is exactly one).
pub fn the_critical_line(stderr: &str) -> &str {
    let critical: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("CRITICAL "))
        .collect();
    assert_eq!(critical.len(), 1, "{stderr}");
    critical[0]
}
