//! The tap under API faults: every record still arrives exactly once, or the run stops loudly
//! with a state that resumes without loss.

mod common;

use chrono::Duration;
use common::*;
use std::time::Duration as StdDuration;
use tap_postmark::sim::{Faults, SimConfig, Simulator};

const STREAMS: &[&str] = &[
    "messages_outbound",
    "messages_opens",
    "messages_clicks",
    "messages_inbound",
    "bounces",
];

fn sim_with(faults: Faults) -> Simulator {
    Simulator::start(SimConfig {
        servers: 2,
        days: 5,
        spike_messages: 0,
        messages_per_day: 400,
        faults,
        ..SimConfig::default()
    })
    .unwrap()
}

fn sync_and_check(sim: &Simulator, extra: &[(&str, serde_json::Value)]) -> Run {
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(6);
    let mut config = config_for(sim, true, start);
    config["max_attempts"] = serde_json::json!(12);
    for (k, v) in extra {
        config[*k] = v.clone();
    }
    let config = scratch.write("config.json", &config);
    let run = run_tap(&["--config", config.to_str().unwrap()]);
    run.assert_ok();
    validate_records(&run);
    let state = run.last_state().unwrap().clone();
    for stream in STREAMS {
        assert_complete(&run, sim, stream, start, search_end(&state, stream));
    }
    for stream in [
        "templates",
        "stats_outbound_sends",
        "stats_outbound_clients",
        "suppressions",
    ] {
        assert_complete(&run, sim, stream, start, sim.now() + Duration::seconds(1));
    }
    run
}

#[test]
fn ten_percent_errors_and_drops_lose_nothing() {
    let sim = sim_with(Faults {
        error_rate: 0.10,
        drop_rate: 0.02,
        truncate_rate: 0.01,
        non_json_rate: 0.01,
        error_code_200_rate: 0.01,
        ..Faults::default()
    });
    let run = sync_and_check(&sim, &[]);
    assert!(run.stderr.contains("WARNING GET"), "retries are logged");
    let faulted = sim
        .request_log()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(faulted > 10, "only {faulted} faults were injected");
}

#[test]
fn a_burst_of_twenty_429s_is_waited_out() {
    let sim = sim_with(Faults {
        burst_429: 20,
        ..Faults::default()
    });
    let run = sync_and_check(&sim, &[("max_attempts", serde_json::json!(25))]);
    assert!(run.stderr.contains("HTTP 429"));
}

#[test]
fn slow_answers_past_the_timeout_are_retried() {
    // Answers are slower than the timeout when the sync starts, and recover a second later:
    // the requests that timed out are retried and the sync completes.
    let sim = sim_with(Faults {
        latency: StdDuration::from_millis(300),
        ..Faults::default()
    });
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(6);
    let mut config = config_for(&sim, true, start);
    config["request_timeout_seconds"] = serde_json::json!(0.2);
    config["max_attempts"] = serde_json::json!(30);
    let config = scratch.write("config.json", &config);
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(StdDuration::from_secs(1));
            sim.set_faults(Faults::default());
        });
        run_tap(&["--config", config.to_str().unwrap()])
    });
    run.assert_ok();
    assert!(
        run.stderr.contains("timed out"),
        "no request timed out:\n{}",
        run.stderr
    );
    validate_records(&run);
    let state = run.last_state().unwrap().clone();
    for stream in STREAMS {
        assert_complete(&run, &sim, stream, start, search_end(&state, stream));
    }
}

#[test]
fn answers_slower_than_the_timeout_past_the_budget_fail_loudly() {
    let sim = sim_with(Faults {
        latency: StdDuration::from_millis(300),
        ..Faults::default()
    });
    let scratch = Scratch::new();
    let mut config = config_for(&sim, false, sim.now() - Duration::days(1));
    config["request_timeout_seconds"] = serde_json::json!(0.2);
    config["max_attempts"] = serde_json::json!(2);
    let config = scratch.write("config.json", &config);
    let run = run_raw(&["--config", config.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let critical: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("CRITICAL"))
        .collect();
    assert_eq!(critical.len(), 1, "{}", run.stderr);
    assert!(
        critical[0].contains("timed out") && critical[0].contains("giving up"),
        "{}",
        critical[0]
    );
}

#[test]
fn api_down_past_the_retry_budget_stops_loudly_and_resumes() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let sim = sim_with(Faults::default());
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(6);
    let mut config = config_for(&sim, false, start);
    config["max_attempts"] = serde_json::json!(3);
    let config_path = scratch.write("config.json", &config);
    // The API goes down after the fifth STATE the tap writes. (stderr goes to a file: a pipe
    // nobody drains would fill up and stall the tap.)
    let stderr_path = scratch.dir.path().join("stderr.txt");
    let mut child = Command::new(TAP)
        .args(["--config", config_path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut states = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("{\"type\":\"STATE\"") {
            states += 1;
            if states == 5 {
                sim.set_faults(Faults {
                    error_rate: 1.0,
                    ..Faults::default()
                });
            }
        }
        lines.push(line);
    }
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let critical: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("CRITICAL"))
        .collect();
    assert_eq!(critical.len(), 1, "{stderr}");
    assert!(critical[0].contains("giving up"), "{}", critical[0]);
    let mut first = parse_singer(&(lines.join("\n") + "\n"));
    // Only what the last STATE covers counts as delivered.
    let cut = first.iter().rposition(|m| m["type"] == "STATE").unwrap();
    first.truncate(cut + 1);
    let last_state = first[cut]["value"].clone();

    // The API comes back; the run resumes from the last STATE and nothing is missing.
    sim.set_faults(Faults::default());
    let state_path = scratch.write("state.json", &last_state);
    let resumed = run_tap(&[
        "--config",
        config_path.to_str().unwrap(),
        "--state",
        state_path.to_str().unwrap(),
    ]);
    resumed.assert_ok();
    let mut all = first;
    all.extend(resumed.messages.iter().cloned());
    let union = Run {
        code: 0,
        stdout: String::new(),
        stderr: String::new(),
        messages: all,
    };
    let final_state = resumed.last_state().unwrap();
    for stream in STREAMS {
        let truth = sim
            .ground_truth(
                sim.servers()[0].id,
                stream,
                start,
                search_end(final_state, stream),
            )
            .unwrap();
        let got = delivered_keys(&union, stream);
        let missing: Vec<_> = truth.difference(&got).take(3).collect();
        assert!(missing.is_empty(), "{stream}: lost {missing:?}");
    }
}
