//! The tap under API faults: every record still arrives exactly once, or the run stops loudly
//! with a state that resumes without loss. Paged full-table lists that come back short are read
//! to the end; one that comes back empty before its `TotalCount` stops the run, in bounded time.

use crate::common::table::{self, default_streams, is_search};
use crate::common::*;
use chrono::Duration;
use postmark_sim::{Faults, RequestLogEntry, SimConfig, Simulator};
use std::collections::BTreeSet;
use std::time::Duration as StdDuration;
use tap_postmark::streams::{FullTable, Kind, StreamDef, STREAMS};

fn sim_with(faults: Faults) -> Simulator {
    sim(SimConfig {
        faults,
        ..account(2, 5, 400)
    })
}

fn sync_and_check(sim: &Simulator, extra: &[(&str, serde_json::Value)]) -> Run {
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(6);
    let mut config = config_for(sim, true, start);
    config["max_attempts"] = serde_json::json!(12);
    for (k, v) in extra {
        config[*k] = v.clone();
    }
    let run = scratch.tap(&config).sync();
    // Every search stream, and a few streams of the other engines.
    let others = [
        "templates",
        "stats_outbound_sends",
        "stats_outbound_clients",
        "suppressions",
    ];
    for stream in default_streams(is_search).into_iter().chain(others) {
        assert_complete(&run, sim, stream, start, synced_until(&run, sim, stream));
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

/// The per-record streams (one details or dump request per found record, each answer parsed
/// as it is read) under errors, dropped connections, bodies cut short, HTML pages and ErrorCodes
/// in 200 answers: every record still arrives exactly once.
#[test]
fn per_record_answers_under_faults_lose_nothing() {
    let sim = sim(SimConfig {
        faults: Faults {
            error_rate: 0.05,
            drop_rate: 0.04,
            truncate_rate: 0.04,
            non_json_rate: 0.04,
            error_code_200_rate: 0.04,
            ..Faults::default()
        },
        ..account(1, 3, 40)
    });
    let streams = table::names(|d| d.expands_to().is_some());
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(4);
    let mut config = config_for(&sim, true, start);
    config["max_attempts"] = serde_json::json!(12);
    let run = scratch.tap(&config).selecting(&streams).sync();
    for stream in &streams {
        let n = assert_complete(&run, &sim, stream, start, synced_until(&run, &sim, stream));
        assert!(n > 0, "{stream}: nothing to compare");
    }
    // Each record is its whole answer, not an error body or a cut one taken for it.
    for def in STREAMS.iter().filter(|d| d.expands_to().is_some()) {
        let key = def.key_properties.last().unwrap();
        for r in run.records(def.name) {
            let id = r[key].to_string().trim_matches('"').to_string();
            let server = r["ServerID"].as_u64().unwrap();
            let Some(answer) = sim.expected_answer(server, def.name, &id) else {
                continue;
            };
            // Text as Postmark sent it, less NUL characters; times are written in UTC.
            for (field, value) in answer.as_object().unwrap() {
                let Some(text) = value.as_str() else { continue };
                if chrono::DateTime::parse_from_rfc3339(text).is_err() {
                    let sent = text.replace('\0', "");
                    assert_eq!(r[field].as_str(), Some(&*sent), "{} {id} {field}", def.name);
                }
            }
        }
    }
    let per_record = |e: &RequestLogEntry| {
        e.fault.is_some() && (e.path.ends_with("/details") || e.path.ends_with("/dump"))
    };
    let faulted = sim.request_log().iter().filter(|e| per_record(e)).count();
    assert!(
        faulted > 20,
        "only {faulted} per-record answers were faulted"
    );
}

/// A storm of 429s longer than the attempt budget (two attempts) but shorter than the time
/// budget: the tap slows down and waits it out, and no retry waits longer than
/// `retry_max_delay_seconds`.
#[test]
fn a_storm_of_429s_past_the_attempt_budget_is_waited_out() {
    let sim = sim_with(Faults {
        burst_429: 40,
        ..Faults::default()
    });
    let run = sync_and_check(
        &sim,
        &[
            ("max_attempts", serde_json::json!(2)),
            ("retry_initial_delay_seconds", serde_json::json!(0.05)),
            ("retry_max_delay_seconds", serde_json::json!(0.3)),
        ],
    );
    assert!(run.stderr.contains("HTTP 429"));
    assert!(run.stderr.contains("Postmark asked to slow down (429)"));
    let log = sim.request_log();
    assert!(log.iter().take(40).all(|r| r.status == 429));
    let delays: Vec<f64> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("WARNING GET") && l.contains(" retry "))
        .map(|l| {
            let tail = l.rsplit(" in ").next().unwrap();
            tail.trim_end_matches('s').parse::<f64>().unwrap()
        })
        .collect();
    assert!(delays.len() >= 20, "{} retries logged", delays.len());
    assert!(delays.iter().all(|d| *d <= 0.3), "{delays:?}");
}

/// 429s past `max_rate_limit_wait_seconds` stop the run loudly.
#[test]
fn a_storm_of_429s_past_the_time_budget_stops_the_run() {
    let sim = sim_with(Faults {
        burst_429: 100_000,
        ..Faults::default()
    });
    let scratch = Scratch::new();
    let mut config = config_for(&sim, false, sim.now() - Duration::days(1));
    config["max_rate_limit_wait_seconds"] = serde_json::json!(1);
    config["retry_max_delay_seconds"] = serde_json::json!(0.2);
    let run = scratch.tap(&config).run_within(StdDuration::from_secs(30));
    assert_eq!(run.code, 1, "{}", run.stderr);
    let critical = the_critical_line(&run.stderr);
    assert!(
        critical.contains("kept answering 429")
            && critical.contains("max_rate_limit_wait_seconds = 1"),
        "{critical}"
    );
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
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(StdDuration::from_secs(1));
            sim.set_faults(Faults::default());
        });
        scratch.tap(&config).sync()
    });
    assert!(
        run.stderr.contains("timed out"),
        "no request timed out:\n{}",
        run.stderr
    );
    for stream in default_streams(is_search) {
        assert_complete(&run, &sim, stream, start, synced_until(&run, &sim, stream));
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
    let run = scratch.tap(&config).run_raw();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let critical = the_critical_line(&run.stderr);
    assert!(
        critical.contains("timed out") && critical.contains("giving up"),
        "{critical}"
    );
}

#[test]
fn api_down_past_the_retry_budget_stops_loudly_and_resumes() {
    use std::io::{BufRead, BufReader};
    let sim = sim_with(Faults::default());
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(6);
    let mut config = config_for(&sim, false, start);
    config["max_attempts"] = serde_json::json!(3);
    let tap = scratch.tap(&config);
    // The API goes down after the fifth STATE the tap writes. (stderr goes to a file: a pipe
    // nobody drains would fill up and stall the tap.)
    let stderr_path = scratch.dir.path().join("stderr.txt");
    let mut child = tap.spawn(std::fs::File::create(&stderr_path).unwrap());
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
    let critical = the_critical_line(&stderr);
    assert!(critical.contains("giving up"), "{critical}");
    // Only what the last STATE covers counts as delivered.
    let first = Run::from_messages(
        covered_by_last_state(&parse_singer(&(lines.join("\n") + "\n"))).to_vec(),
    );

    // The API comes back; the run resumes from the last STATE and nothing is missing.
    sim.set_faults(Faults::default());
    let resumed = tap.state(first.last_state().unwrap()).sync();
    let union = Run::from_messages([first.messages, resumed.messages.clone()].concat());
    let server = sim.servers()[0].id;
    for stream in default_streams(is_search) {
        let end = synced_until(&resumed, &sim, stream);
        assert_server_delivered(&union, &sim, stream, server, start, end);
    }
}

/// A full-table stream read from a count/offset-paged list.
fn is_paged(d: &StreamDef) -> bool {
    matches!(d.kind, Kind::FullTable(FullTable::Paged { .. }))
}

/// How long a run that meets a bad page may take before the test calls it a hang.
const BOUND: StdDuration = StdDuration::from_secs(20);

/// The offset a paged-list request asked for (`Offset` on templates, `offset` elsewhere).
fn offset_of(entry: &RequestLogEntry) -> u64 {
    entry
        .query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("offset"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("{} without an offset", entry.path))
}

/// Runs the tap on `streams` (server-token or account mode), killed past [`BOUND`].
fn run_selected_within_bound(sim: &Simulator, account: bool, streams: &[&str]) -> Run {
    let scratch = Scratch::new();
    let config = config_for(sim, account, sim.now() - Duration::days(1));
    scratch.tap(&config).selecting(streams).run_within(BOUND)
}

/// Checks a run failed with exit code 1, one CRITICAL line, and whole Singer lines on stdout
/// (already parsed strictly); returns the CRITICAL line.
fn assert_stopped_loudly(run: &Run) -> String {
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.is_empty() || run.stdout.ends_with('\n'),
        "stdout ends mid-line"
    );
    the_critical_line(&run.stderr).to_string()
}

#[test]
fn short_pages_of_paged_lists_lose_nothing() {
    // Every list fits on one page of 500, so each short page makes the tap ask again further on.
    // Which pages are cut depends on the fault seed and the order of requests: seeds are tried
    // until every list has had a page cut, each run complete.
    let paged = table::names(is_paged);
    let lists: BTreeSet<&str> = STREAMS
        .iter()
        .filter(|d| is_paged(d))
        .map(|d| d.path)
        .collect();
    let mut cut_lists = BTreeSet::new();
    for seed in 1..=10 {
        let sim = sim_with(Faults {
            short_page_rate: 0.5,
            seed,
            ..Faults::default()
        });
        let scratch = Scratch::new();
        let config = config_for(&sim, true, sim.now() - Duration::days(1));
        let run = scratch.tap(&config).selecting(&paged).sync();
        let (from, to) = (
            sim.now() - Duration::days(1),
            sim.now() + Duration::seconds(1),
        );
        for stream in &paged {
            assert!(
                assert_complete(&run, &sim, stream, from, to) >= 2,
                "{stream}"
            );
        }
        let log = sim.request_log();
        for (i, entry) in log.iter().enumerate() {
            if entry.fault.as_deref() != Some("short_page") {
                continue;
            }
            let next = log[i + 1..]
                .iter()
                .find(|n| {
                    n.path == entry.path
                        && n.server_id == entry.server_id
                        && n.account == entry.account
                })
                .unwrap_or_else(|| panic!("a short page of {} was not followed up", entry.path));
            assert!(
                offset_of(next) > offset_of(entry),
                "{}: offset {} after a short page at {}",
                entry.path,
                offset_of(next),
                offset_of(entry)
            );
            cut_lists.insert(entry.path.clone());
        }
        if cut_lists.len() == lists.len() {
            break;
        }
    }
    assert_eq!(
        cut_lists
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        lists,
        "ten fault seeds cut a page of every list"
    );
}

/// An empty first page stops the run loudly: of a full-table list (server token, templates), and
/// of the server list an account-mode run starts with (not a run over no servers).
#[test]
fn an_empty_first_page_of_a_paged_list_stops_the_run_loudly() {
    for (account, stream, expected) in [
        (
            false,
            "templates",
            [
                "Postmark's /templates reported ",
                " items but returned none at offset 0",
            ],
        ),
        (
            true,
            "messages_outbound",
            [
                "Postmark's /servers reported ",
                " items but returned none at offset 0",
            ],
        ),
    ] {
        let sim = sim_with(Faults {
            empty_page_rate: 1.0,
            ..Faults::default()
        });
        let run = run_selected_within_bound(&sim, account, &[stream]);
        let critical = assert_stopped_loudly(&run);
        assert!(expected.iter().all(|e| critical.contains(e)), "{critical}");
        assert_eq!(run.records(stream).count(), 0);
    }
}

#[test]
fn an_empty_page_after_a_short_one_stops_the_run_at_the_offset_reached() {
    // Fault seed 2 cuts the first page of /templates short, then empties the second.
    let sim = sim_with(Faults {
        short_page_rate: 0.5,
        empty_page_rate: 0.5,
        seed: 2,
        ..Faults::default()
    });
    let run = run_selected_within_bound(&sim, false, &["templates"]);
    let critical = assert_stopped_loudly(&run);
    let pages: Vec<(Option<String>, u64)> = sim
        .request_log()
        .iter()
        .filter(|e| e.path == "/templates")
        .map(|e| (e.fault.clone(), offset_of(e)))
        .collect();
    let received = run.records("templates").count() as u64;
    assert!(received > 0);
    assert_eq!(
        pages,
        vec![
            (Some("short_page".to_string()), 0),
            (Some("empty_page".to_string()), received)
        ]
    );
    assert!(
        critical.contains("Postmark's /templates reported ")
            && critical.contains(&format!(" items but returned none at offset {received}")),
        "{critical}"
    );
    let truth = sim
        .ground_truth(
            sim.servers()[0].id,
            "templates",
            sim.now() - Duration::days(1),
            sim.now(),
        )
        .unwrap();
    let got = delivered_keys(&run, "templates");
    assert!(got.is_subset(&truth) && got.len() < truth.len());
}

#[test]
fn empty_pages_after_a_short_one_stop_the_run_instead_of_looping() {
    // The first page of /templates is short; as soon as the simulator has answered it, every
    // later page is empty: the tap must give up at the offset it reached, not ask forever.
    // (The latency makes a request that arrives before the switch draw its page fault after it.)
    let sim = sim_with(Faults {
        short_page_rate: 1.0,
        latency: StdDuration::from_millis(200),
        ..Faults::default()
    });
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            let started = std::time::Instant::now();
            while !sim.request_log().iter().any(|e| e.path == "/templates") {
                if started.elapsed() > BOUND {
                    return;
                }
                std::thread::sleep(StdDuration::from_millis(1));
            }
            sim.set_faults(Faults {
                empty_page_rate: 1.0,
                ..Faults::default()
            });
        });
        run_selected_within_bound(&sim, false, &["templates"])
    });
    let critical = assert_stopped_loudly(&run);
    let received = run.records("templates").count() as u64;
    assert!(received > 0);
    assert!(
        critical.contains(&format!(" items but returned none at offset {received}")),
        "{critical}"
    );
    let faults: Vec<Option<String>> = sim
        .request_log()
        .iter()
        .filter(|e| e.path == "/templates")
        .map(|e| e.fault.clone())
        .collect();
    assert_eq!(
        faults,
        vec![
            Some("short_page".to_string()),
            Some("empty_page".to_string())
        ]
    );
}
