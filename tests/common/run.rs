//! Running the built tap: to its end, within a time bound (with its peak memory), or with stdout
//! read as it comes; the command line of a run ([`Tap`]) and what a run produced ([`Run`]).

use super::setup::catalog_selecting;
use super::singer::{parse_singer, validate_records};
use serde_json::Value;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TAP: &str = env!("CARGO_BIN_EXE_tap-postmark");

/// What one run of the tap produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub messages: Vec<Value>,
}

impl Run {
    /// What a target received from several runs: their messages one after the other, with no
    /// exit code or output of its own.
    pub fn from_messages(messages: Vec<Value>) -> Run {
        Run {
            code: 0,
            stdout: String::new(),
            stderr: String::new(),
            messages,
        }
    }

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
    /// Files written under names of their own so far.
    files: Cell<u32>,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
            files: Cell::new(0),
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

    /// Writes `text` to a file named after `name` that no later write replaces.
    fn write_fresh(&self, name: &str, text: &str) -> String {
        let n = self.files.get() + 1;
        self.files.set(n);
        let path = self.write_text(&format!("{n}-{name}"), text);
        path.to_str().expect("UTF-8 path").to_string()
    }

    /// A run of the tap with `config`, its files written here (see [`Tap`]).
    pub fn tap(&self, config: &Value) -> Tap<'_> {
        Tap {
            scratch: self,
            args: Vec::new(),
            env: Vec::new(),
        }
        .file("--config", "config.json", &pretty(config))
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// The command line of one run of the tap: `--config`, then what the builder methods add, each
/// file written to the scratch directory under a name of its own. Every method returns a new
/// `Tap`, so one set-up can be run several ways (from several states, say).
#[derive(Clone)]
pub struct Tap<'a> {
    scratch: &'a Scratch,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl<'a> Tap<'a> {
    fn file(&self, flag: &str, name: &str, text: &str) -> Tap<'a> {
        let path = self.scratch.write_fresh(name, text);
        self.with(&[flag, &path])
    }

    /// `--catalog`: the discovered catalog with exactly `streams` selected.
    pub fn selecting(&self, streams: &[&str]) -> Tap<'a> {
        self.catalog(&catalog_selecting(streams))
    }

    /// `--catalog` with `catalog`.
    pub fn catalog(&self, catalog: &Value) -> Tap<'a> {
        self.file("--catalog", "catalog.json", &pretty(catalog))
    }

    /// `--state` with `state`.
    pub fn state(&self, state: &Value) -> Tap<'a> {
        self.file("--state", "state.json", &pretty(state))
    }

    /// `--state` with a file holding `text` (for states that are not JSON).
    pub fn state_text(&self, text: &str) -> Tap<'a> {
        self.file("--state", "state.json", text)
    }

    /// More arguments.
    pub fn with(&self, args: &[&str]) -> Tap<'a> {
        let mut tap = self.clone();
        tap.args.extend(args.iter().map(|a| a.to_string()));
        tap
    }

    /// An environment variable of the run.
    pub fn env(&self, name: &str, value: &str) -> Tap<'a> {
        let mut tap = self.clone();
        tap.env.push((name.to_string(), value.to_string()));
        tap
    }

    pub fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Runs the tap, stdout parsed strictly (see [`run_tap`]).
    pub fn run(&self) -> Run {
        run_tap_env(&self.args(), &self.env_pairs())
    }

    /// Runs the tap without reading stdout as Singer messages (see [`run_raw`]).
    pub fn run_raw(&self) -> Run {
        run_raw(&self.args(), &self.env_pairs())
    }

    /// Runs the tap, killed once `limit` has passed (see [`run_tap_within`]).
    pub fn run_within(&self, limit: Duration) -> Run {
        within(&self.args(), &self.env_pairs(), limit)
    }

    /// [`Tap::run_within`], also giving the peak resident memory in MiB (see
    /// [`run_tap_measured`]).
    pub fn run_measured(&self, limit: Duration) -> (Run, f64) {
        measured(&self.args(), &self.env_pairs(), limit)
    }

    /// Runs the tap, requires success and checks every RECORD against its SCHEMA.
    pub fn sync(&self) -> Run {
        let run = self.run();
        run.assert_ok();
        validate_records(&run);
        run
    }
}

/// The tap's command: stdin empty, the log level its default unless `env` sets it. The binary
/// is the one this build made, or `TAP_POSTMARK_BIN` (to measure another build, as
/// BENCHMARKS.md's before-and-after figures do).
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let tap = std::env::var("TAP_POSTMARK_BIN").unwrap_or_else(|_| TAP.to_string());
    let mut cmd = Command::new(tap);
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("TAP_POSTMARK_LOG_LEVEL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
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
    let out = command(args, env).output().expect("run tap");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        messages: Vec::new(),
    }
}

/// Starts the tap with stdout piped, for a test that reads it as the tap writes, and stderr
/// going to `stderr`.
pub fn spawn_tap(args: &[&str], stderr: impl Into<Stdio>) -> Child {
    command(args, &[])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("run tap")
}

/// Runs the tap with `args`, killing it once `limit` has passed (then the test fails: a tap that
/// never ends must not hang the suite). stdout and stderr go to files, so an undrained pipe
/// cannot stall it; stdout is parsed strictly, as by [`run_tap`].
pub fn run_tap_within(args: &[&str], limit: Duration) -> Run {
    within(args, &[], limit)
}

/// [`run_tap_within`], also giving the tap's peak resident memory in MiB (from `wait4`).
pub fn run_tap_measured(args: &[&str], limit: Duration) -> (Run, f64) {
    measured(args, &[], limit)
}

fn within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut started = Started::new(args, env);
    let status = started.wait_within(limit);
    started.finish(status.code().unwrap_or(-1))
}

fn measured(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (Run, f64) {
    let mut started = Started::new(args, env);
    let (code, peak) = started.wait_measured(limit);
    (started.finish(code), peak)
}

/// A tap started with stdout and stderr going to files of a scratch directory.
struct Started {
    child: Child,
    scratch: Scratch,
    started: Instant,
}

impl Started {
    fn new(args: &[&str], env: &[(&str, &str)]) -> Started {
        let scratch = Scratch::new();
        let file = |name: &str| std::fs::File::create(scratch.dir.path().join(name)).unwrap();
        let child = command(args, env)
            .stdout(Stdio::from(file("stdout.txt")))
            .stderr(Stdio::from(file("stderr.txt")))
            .spawn()
            .expect("run tap");
        Started {
            child,
            scratch,
            started: Instant::now(),
        }
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.scratch.dir.path().join(name)).unwrap_or_default()
    }

    /// Kills the tap and fails the test: it still ran after `limit`.
    fn kill(&mut self, limit: Duration) -> ! {
        self.child.kill().expect("kill tap");
        self.child.wait().expect("reap tap");
        let stderr = String::from_utf8_lossy(&self.read("stderr.txt")).to_string();
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = &lines[lines.len().saturating_sub(10)..];
        panic!(
            "the tap still ran after {limit:?}; its stderr ends with:\n{}",
            tail.join("\n")
        );
    }

    fn wait_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for tap") {
                return status;
            }
            if self.started.elapsed() > limit {
                self.kill(limit);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits with `wait4`, which also gives the peak resident memory: (exit code, MiB).
    fn wait_measured(&mut self, limit: Duration) -> (i32, f64) {
        let pid = self.child.id() as libc::pid_t;
        let (status, usage) = loop {
            let mut status = 0;
            // SAFETY: `usage` is a plain C struct that wait4 fills in; `status` is an int.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if done == pid {
                break (status, usage);
            }
            assert!(done == 0, "wait4 failed");
            if self.started.elapsed() > limit {
                self.kill(limit);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Reaped by wait4 above; this only lets `Child` know.
        let _ = self.child.try_wait();
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        (code, usage.ru_maxrss as f64 / 1024.0)
    }

    /// The run, once the tap has ended with `code`; stdout parsed strictly.
    fn finish(&self, code: i32) -> Run {
        let stdout = String::from_utf8(self.read("stdout.txt")).expect("stdout is UTF-8");
        let messages = parse_singer(&stdout);
        Run {
            code,
            stderr: String::from_utf8_lossy(&self.read("stderr.txt")).to_string(),
            stdout,
            messages,
        }
    }
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

/// The one `CRITICAL` line of a failed run's stderr (fails the test unless there is exactly one).
pub fn the_critical_line(stderr: &str) -> &str {
    let critical: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("CRITICAL "))
        .collect();
    assert_eq!(critical.len(), 1, "{stderr}");
    critical[0]
}
