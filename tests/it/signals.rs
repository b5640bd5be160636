//! Stopping the tap from outside: SIGTERM and SIGINT, Meltano's `config test` pattern, a target
//! that closes the pipe; and messages that arrive while the sync runs.

use crate::common::table::{default_streams, is_search};
use crate::common::*;
use chrono::Duration;
use postmark_sim::{Faults, SimConfig, Simulator};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant};

/// How long the tap may take to exit once told to stop.
const PROMPT: StdDuration = StdDuration::from_secs(3);

fn small_sim(faults: Faults) -> Simulator {
    sim(SimConfig {
        faults,
        ..account(3, 4, 300)
    })
}

/// An account-mode sync of [`small_sim`] running in the background: stdout piped for the test
/// to read, stderr read to its end on a thread.
struct Syncing {
    child: Child,
    stderr: JoinHandle<Vec<u8>>,
    _scratch: Scratch,
    _sim: Simulator,
}

impl Syncing {
    fn start(faults: Faults) -> Syncing {
        let sim = small_sim(faults);
        let scratch = Scratch::new();
        let config = config_for(&sim, true, sim.now() - Duration::days(5));
        let mut child = scratch.tap(&config).spawn(Stdio::piped());
        let stderr = drain(child.stderr.take().unwrap());
        Syncing {
            child,
            stderr,
            _scratch: scratch,
            _sim: sim,
        }
    }

    fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().unwrap()
    }

    /// All of stderr, once the tap has exited.
    fn stderr(self) -> String {
        String::from_utf8_lossy(&self.stderr.join().unwrap()).to_string()
    }
}

fn send(signal: &str, child: &Child) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} failed");
}

/// Reads a pipe to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Waits for the child to exit, at most `limit`; kills it and fails the test past that.
fn wait_at_most(child: &mut Child, limit: StdDuration, what: &str) -> (i32, StdDuration) {
    let since = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), since.elapsed());
        }
        if since.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the tap was still running {limit:?} later");
        }
        std::thread::sleep(StdDuration::from_millis(10));
    }
}

/// Stderr of a stopped tap: no panic, no backtrace, at most one CRITICAL line.
fn assert_quiet_stop(stderr: &str, what: &str) {
    let critical = stderr.lines().filter(|l| l.starts_with("CRITICAL")).count();
    assert!(
        critical <= 1,
        "{what}: {critical} CRITICAL lines:\n{stderr}"
    );
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(
            !stderr.contains(bad),
            "{what}: {bad:?} on stderr:\n{stderr}"
        );
    }
}

/// Every stdout line is a whole Singer message.
fn assert_whole_lines(stdout: &[u8], what: &str) -> usize {
    let text = String::from_utf8(stdout.to_vec()).expect("stdout is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{what}: stdout ends with a partial line: {:?}",
        &text[text.rfind('\n').map_or(0, |i| i + 1)..]
    );
    parse_singer(&text).len()
}

/// Spawns a slow sync, sends `signal` after the first RECORD line while still reading stdout,
/// and checks the stop.
fn stop_with(signal: &str) {
    let mut sync = Syncing::start(Faults {
        latency: StdDuration::from_millis(20),
        ..Faults::default()
    });
    let (first_record, seen) = mpsc::channel();
    let mut stdout = BufReader::new(sync.stdout());
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut told = false;
        loop {
            let before = all.len();
            if stdout.read_until(b'\n', &mut all).unwrap_or(0) == 0 {
                break;
            }
            if !told && all[before..].starts_with(b"{\"type\":\"RECORD\"") {
                told = true;
                let _ = first_record.send(());
            }
        }
        all
    });
    seen.recv_timeout(StdDuration::from_secs(30))
        .expect("a first RECORD");
    send(signal, &sync.child);
    let (code, took) = wait_at_most(&mut sync.child, PROMPT, signal);
    let stdout = reader.join().unwrap();
    let stderr = sync.stderr();
    assert_eq!(code, 5, "{signal}: exit code; stderr:\n{stderr}");
    let lines = assert_whole_lines(&stdout, signal);
    assert_quiet_stop(&stderr, signal);
    assert!(
        !stderr.contains("sync finished"),
        "{signal}: the sync ran to its end; the signal came too late to test anything"
    );
    eprintln!("{signal}: exit 5 after {took:?}, {lines} whole lines on stdout");
}

#[test]
fn sigterm_stops_promptly_with_whole_lines() {
    stop_with("-TERM");
}

#[test]
fn sigint_stops_promptly_with_whole_lines() {
    stop_with("-INT");
}

#[test]
fn meltano_config_test_sigterm_after_the_first_record() {
    // Meltano reads up to the first RECORD, sends SIGTERM and stops reading: the tap may be
    // blocked writing to a full pipe and must still exit promptly.
    let mut sync = Syncing::start(Faults::default());
    let mut stdout = BufReader::new(sync.stdout());
    let mut line = String::new();
    let mut read = 0;
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended before a RECORD"
        );
        read += 1;
        if line.starts_with("{\"type\":\"RECORD\"") {
            break;
        }
    }
    // Give the tap time to fill the pipe it is no longer read from.
    std::thread::sleep(StdDuration::from_millis(300));
    send("-TERM", &sync.child);
    let (code, took) = wait_at_most(&mut sync.child, PROMPT, "SIGTERM with an unread pipe");
    let stderr = sync.stderr();
    assert_eq!(code, 5, "exit code; stderr:\n{stderr}");
    assert_quiet_stop(&stderr, "config test");
    assert!(!stderr.contains("sync finished"), "{stderr}");
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    eprintln!(
        "config test: exit 5 {took:?} after SIGTERM; {read} lines read, {} bytes left unread",
        rest.len()
    );
}

#[test]
fn a_slow_target_still_gets_whole_lines_after_sigterm() {
    // The target keeps reading, slowly (a real target loading rows): the tap is blocked on the
    // full pipe when SIGTERM arrives. What the target reads up to EOF must be whole lines.
    let mut sync = Syncing::start(Faults::default());
    let (first_record, seen) = mpsc::channel();
    let mut stdout = sync.stdout();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut told = false;
        loop {
            let n = stdout.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..n]);
            if !told && all.windows(16).any(|w| w == b"{\"type\":\"RECORD\"") {
                told = true;
                let _ = first_record.send(());
            }
            // About 40 KB/s.
            std::thread::sleep(StdDuration::from_millis(100));
        }
        all
    });
    seen.recv_timeout(StdDuration::from_secs(30))
        .expect("a first RECORD");
    std::thread::sleep(StdDuration::from_millis(300));
    send("-TERM", &sync.child);
    let (code, took) = wait_at_most(&mut sync.child, PROMPT, "SIGTERM with a slow target");
    let stdout = reader.join().unwrap();
    let stderr = sync.stderr();
    assert_eq!(code, 5, "exit code; stderr:\n{stderr}");
    assert_quiet_stop(&stderr, "slow target");
    let lines = assert_whole_lines(&stdout, "slow target");
    eprintln!("slow target: exit 5 {took:?} after SIGTERM; {lines} whole lines");
}

#[test]
fn a_closed_pipe_stops_the_tap_quietly() {
    let mut sync = Syncing::start(Faults {
        latency: StdDuration::from_millis(2),
        ..Faults::default()
    });
    let mut stdout = BufReader::new(sync.stdout());
    let mut line = String::new();
    for _ in 0..5 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early"
        );
    }
    // The target goes away.
    drop(stdout);
    let (code, took) = wait_at_most(&mut sync.child, PROMPT, "closed pipe");
    let stderr = sync.stderr();
    assert_ne!(code, 0, "stderr:\n{stderr}");
    assert_eq!(code, 5, "exit code (documented: 5); stderr:\n{stderr}");
    assert_quiet_stop(&stderr, "closed pipe");
    let about_it: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("pipe") || l.contains("stdout")
        })
        .collect();
    assert!(about_it.len() <= 1, "closed pipe: {about_it:?}");
    assert!(!stderr.contains("sync finished"), "{stderr}");
    eprintln!("closed pipe: exit {code} {took:?} after the close; stderr about it: {about_it:?}");
}

#[test]
fn messages_arriving_during_the_sync_do_not_disturb_it() {
    let sim = small_sim(Faults {
        live_arrivals_per_request: 3,
        ..Faults::default()
    });
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(5);
    let tap = scratch.tap(&config_for(&sim, true, start));
    let before = sim.generated_counts();
    let t0 = sim.now();
    let run = tap.sync();
    let arrived = sim.generated_counts().messages - before.messages;
    assert!(
        arrived > 100,
        "only {arrived} messages arrived during the sync"
    );
    let settled = t0 - Duration::minutes(6);
    for stream in ["messages_outbound", "messages_opens"] {
        let got = keys_by_server(&run, stream);
        for s in sim.servers() {
            let seen = got.get(&s.id).cloned().unwrap_or_default();
            let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(3).collect();
            assert!(dups.is_empty(), "{stream} server {}: {dups:?}", s.id);
            let seen: BTreeSet<Vec<String>> = seen.into_keys().collect();
            let truth = sim.ground_truth(s.id, stream, start, settled).unwrap();
            let missing: Vec<_> = truth.difference(&seen).take(3).collect();
            assert!(
                missing.is_empty(),
                "{stream} server {}: {} of {} settled records missing, e.g. {missing:?}",
                s.id,
                truth.difference(&seen).count(),
                truth.len()
            );
        }
    }
    // And every search stream is exact up to where the run stopped.
    for stream in default_streams(is_search) {
        assert_complete(&run, &sim, stream, start, synced_until(&run, &sim, stream));
    }
    eprintln!("live arrivals: {arrived} messages arrived during the sync");
}
