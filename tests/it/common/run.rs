//! Running the built tap, one way: the command line of a run ([`Tap`]), run to its end, within a
//! time bound (with its peak memory), or with stdout read as it comes; and what a run produced
//! ([`Run`]).

use super::setup::catalog_selecting;
use super::singer::{parse_singer, validate_records};
use serde_json::Value;
use std::cell::Cell;
use std::collections::BTreeSet;
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

    pub fn write_text(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A FIFO named `name` here, which nobody writes to.
    pub fn fifo(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo");
        assert!(made.success(), "mkfifo {}", path.display());
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
            scratch: Some(self),
            args: Vec::new(),
            env: Vec::new(),
        }
        .file("--config", "config.json", &pretty(config))
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// The command line of one run of the tap, and the one way the tests run it: [`Scratch::tap`]
/// starts with `--config`, [`Tap::bare`] with nothing; the builder methods add arguments, each
/// file written to the scratch directory under a name of its own. Every method returns a new
/// `Tap`, so one set-up can be run several ways (from several states, say). A run goes to its
/// end ([`Tap::run`], [`Tap::sync`], [`Tap::run_raw`]), within a time bound ([`Tap::run_within`],
/// [`Tap::run_measured`]), or is read as it writes ([`Tap::spawn`]).
#[derive(Clone)]
pub struct Tap<'a> {
    /// Where the files of `file` go; `None` for a bare run, which takes none.
    scratch: Option<&'a Scratch>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Tap<'static> {
    /// A run with no argument yet and no file of its own (`--discover`, `--about`, a config
    /// given by its path).
    pub fn bare() -> Tap<'static> {
        Tap {
            scratch: None,
            args: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl<'a> Tap<'a> {
    fn file(&self, flag: &str, name: &str, text: &str) -> Tap<'a> {
        let scratch = self
            .scratch
            .expect("a Tap with files: from Scratch::tap, not Tap::bare");
        let path = scratch.write_fresh(name, text);
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

    /// The tap's command: stdin empty, the log level and format their defaults unless
    /// [`Tap::env`] sets them.
    /// The binary is the one this build made, or `TAP_POSTMARK_BIN` (to measure another build,
    /// as BENCHMARKS.md's before-and-after figures do).
    fn command(&self) -> Command {
        let tap = std::env::var("TAP_POSTMARK_BIN").unwrap_or_else(|_| TAP.to_string());
        let mut cmd = Command::new(tap);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .env_remove("TAP_POSTMARK_LOG_LEVEL")
            .env_remove("SINGER_SDK_LOG_CONFIG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the tap to its end and parses stdout strictly: every line must be a JSON object
    /// with an upper-case Singer type.
    pub fn run(&self) -> Run {
        let mut run = self.run_raw();
        run.messages = parse_singer(&run.stdout);
        run
    }

    /// Runs the tap to its end without reading stdout as Singer messages (discovery, --about,
    /// errors).
    pub fn run_raw(&self) -> Run {
        let out = self.command().output().expect("run tap");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
            messages: Vec::new(),
        }
    }

    /// Runs the tap, killing it once `limit` has passed (then the test fails: a tap that never
    /// ends must not hang the suite). stdout and stderr go to files, so an undrained pipe cannot
    /// stall it; stdout is parsed strictly, as by [`Tap::run`].
    pub fn run_within(&self, limit: Duration) -> Run {
        let mut started = Started::new(self);
        let status = started.wait_within(limit);
        started.finish(status.code().unwrap_or(-1))
    }

    /// [`Tap::run_within`], also giving the tap's peak resident memory in MiB (from `wait4`).
    /// Only in a test running in a process of its own ([`own_process`]).
    pub fn run_measured(&self, limit: Duration) -> (Run, f64) {
        assert!(
            std::env::var_os(OWN_PROCESS).is_some(),
            "the tap's memory is measured only in a test that runs in a process of its own \
             (common::own_process)"
        );
        let mut started = Started::new(self);
        let (code, peak) = started.wait_measured(limit);
        (started.finish(code), peak)
    }

    /// Runs the tap, requires success and checks every RECORD against its SCHEMA.
    pub fn sync(&self) -> Run {
        let run = self.run();
        run.assert_ok();
        validate_records(&run);
        run
    }

    /// Starts the tap with stdout piped, for a test that reads it as the tap writes, and stderr
    /// going to `stderr`.
    pub fn spawn(&self, stderr: impl Into<Stdio>) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("run tap")
    }
}

/// Names the test a process was started for (see [`own_process`]).
const OWN_PROCESS: &str = "TAP_IT_OWN_PROCESS";

/// Whether the calling test, `name` (its path in this binary: `module::test`), runs its body
/// here: in a process of its own, which this call starts unless this is it; the test fails with
/// that process. A test that measures the tap's memory needs one: a process started by another
/// takes that one's peak memory so far into its own `ru_maxrss`, and the tests of one binary
/// together hold far more than any bound the tap is held to.
pub fn own_process(name: &str) -> bool {
    if std::env::var(OWN_PROCESS).as_deref() == Ok(name) {
        return true;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(OWN_PROCESS, name)
        .stdin(Stdio::null())
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}, in a process of its own:\n{stdout}\n{stderr}"
    );
    false
}

/// A tap started with stdout and stderr going to files of a scratch directory.
struct Started {
    child: Child,
    scratch: Scratch,
    started: Instant,
}

impl Started {
    fn new(tap: &Tap) -> Started {
        let scratch = Scratch::new();
        let file = |name: &str| std::fs::File::create(scratch.dir.path().join(name)).unwrap();
        let child = tap
            .command()
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

/// The one `CRITICAL` line of a failed run's stderr (fails the test unless there is exactly one).
pub fn the_critical_line(stderr: &str) -> &str {
    let critical: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("CRITICAL "))
        .collect();
    assert_eq!(critical.len(), 1, "{stderr}");
    critical[0]
}
