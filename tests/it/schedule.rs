//! Scheduled runs, 15 minutes apart, against accounts whose records change after the fact.
//!
//! - A steady schedule (server and account mode): history and live mail at the same daily rate,
//!   opens, clicks, bounces, complaints and unsubscribes coming days after their message. After
//!   every run the target holds every event and every message's content, and each run reads
//!   the details of at most 1.2 times the messages that changed (the floor). One run is killed
//!   midway and resumed.
//! - Live mail arriving while a run reads: what a target that upserts holds equals a full sync.
//! - Runs of the steady schedules and of live mail: 3 or 4 by default, 6 or 8 with
//!   `TAP_POSTMARK_FULL_TESTS=1` (CI).
//! - Ignored (`--ignored`, release): the figures of BENCHMARKS.md's schedule table, and a
//!   simulated day of 96 runs with faults and kills.
//!
//! `cargo test --release --test it schedule:: -- --nocapture` prints each run's requests.

use crate::common;
use crate::common::schedule::*;
use crate::common::*;
use chrono::{DateTime, Duration, Timelike, Utc};
use postmark_sim::{Faults, SimConfig, Simulator};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tap_postmark::streams::{Replication, STREAMS};

/// The streams of the steady schedule: the searches a user keeps with the per-message ones.
const SCHEDULED: &[&str] = &[
    "messages_outbound",
    "messages_opens",
    "messages_clicks",
    "bounces",
    "message_events",
    "messages_outbound_details",
];

/// The anchor of the simulated account: 15:00 UTC two days ago, or `TAP_SCHEDULE_ANCHOR` (RFC
/// 3339). Always the same hour, a working hour in US-Eastern time: the simulated mail follows the
/// hours of the day, and a run at night held too little change to measure (regression: the
/// steady schedule failed "too little change to measure" when the tests ran at 22:00 Eastern).
/// Two days back, so the hours of mail ahead of it are still in the past.
fn anchor() -> DateTime<Utc> {
    let at: DateTime<Utc> = std::env::var("TAP_SCHEDULE_ANCHOR").map_or_else(
        |_| {
            let day = (Utc::now() - Duration::days(2)).date_naive();
            day.and_hms_opt(15, 0, 0).expect("15:00 exists").and_utc()
        },
        |a| a.parse().expect("TAP_SCHEDULE_ANCHOR: an RFC 3339 instant"),
    );
    // Whole seconds, so each run's end_date is: the tap reads up to an end_date's whole second.
    at.with_nanosecond(0).expect("a valid instant")
}

/// An account of 2 servers with `days` of history at `per_day` base messages a day per server,
/// its clock at [`anchor`], with the smallest bodies.
fn scheduled(days: u32, per_day: u32) -> SimConfig {
    SimConfig {
        now: Some(anchor()),
        body_size_scale: 0.0,
        ..account(2, days, per_day)
    }
}

/// An account whose 3 days of history and `hours` of mail ahead of its clock run at one daily
/// rate ([`scheduled`]).
fn steady_sim(per_day: u32, hours: u32) -> Simulator {
    late_sim(per_day, hours, 0.0)
}

/// [`steady_sim`] with `late` of the records reaching the searches 6 to 40 minutes after their
/// own time.
fn late_sim(per_day: u32, hours: u32, late: f64) -> Simulator {
    sim(SimConfig {
        ahead_hours: hours,
        late_arrival_rate: late,
        ..scheduled(3, per_day)
    })
}

/// A schedule being run: the simulator, the tap's config and catalog, the state it carries, and
/// the target's rows.
struct Schedule {
    sim: Simulator,
    scratch: Scratch,
    config: Value,
    catalog: Value,
    state: Value,
    target: Table,
    servers: Vec<u64>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Schedule {
    /// The first sync of `streams` over the simulator's history (`days` before its clock).
    fn first(sim: Simulator, account: bool, days: i64, streams: &[&str]) -> Schedule {
        let start = sim.now() - Duration::days(days);
        let servers = match account {
            true => sim.servers().iter().map(|s| s.id).collect(),
            false => vec![sim.servers()[0].id],
        };
        let mut s = Schedule {
            config: config_for(&sim, account, start),
            catalog: catalog_selecting(streams),
            scratch: Scratch::new(),
            sim,
            state: json!({}),
            target: Table::new(),
            servers,
            start,
            end: start,
        };
        s.end = s.sim.now() - Duration::minutes(5);
        s.config["end_date"] = json!(s.end.to_rfc3339());
        let first = s.full().sync();
        s.state = first.last_state().expect("a STATE").clone();
        upsert(&mut s.target, first.messages);
        s
    }

    fn tap(&self) -> Tap<'_> {
        self.full().state(&self.state)
    }

    /// A run from no state: a full sync.
    fn full(&self) -> Tap<'_> {
        self.scratch.tap(&self.config).catalog(&self.catalog)
    }

    /// Moves the clock 15 minutes and sets the run's end.
    fn step(&mut self) -> DateTime<Utc> {
        self.sim.advance(Duration::minutes(15));
        let previous = self.end;
        self.end = self.sim.now() - Duration::minutes(5);
        self.config["end_date"] = json!(self.end.to_rfc3339());
        self.sim.clear_request_log();
        previous
    }

    /// One run, upserted.
    fn run(&mut self) {
        let run = self.tap().sync();
        self.take(run.messages);
    }

    /// One run killed after `after` records of `message_events`, then resumed from the last
    /// STATE it delivered.
    fn run_killed(&mut self, after: usize) {
        let (messages, killed) = run_killed(&self.tap(), after, Some("message_events"));
        assert!(killed, "the run ended before {after} records");
        self.take(messages);
        self.run();
    }

    /// Upserts a run's messages and keeps its last STATE.
    fn take(&mut self, messages: Vec<Value>) {
        if let Some(state) = messages.iter().rev().find(|m| m["type"] == "STATE") {
            self.state = state["value"].clone();
        }
        upsert(&mut self.target, messages);
    }

    /// The change floor of the run that read up to `previous` before: the messages new or
    /// with an event since, on the servers read.
    fn floor(&self, previous: DateTime<Utc>) -> usize {
        self.servers
            .iter()
            .map(|&s| self.sim.changed_messages(s, previous, self.end).len())
            .sum()
    }

    fn assert_holds(&self) {
        for &server in &self.servers {
            assert_holds_events_and_content(
                &self.target,
                &self.sim,
                server,
                (self.start, self.end),
            );
        }
    }

    /// A full sync now: every row of the per-message streams the target holds equals it
    /// (events later than the run's end aside: the next run's).
    fn assert_equals_full_sync(&self) {
        let mut truth = Table::new();
        upsert(&mut truth, self.full().sync().messages);
        for stream in ["message_events", "messages_outbound_details"] {
            let keep =
                |r: &Value| stream != "message_events" || instant(&r["ReceivedAt"]) < self.end;
            let (held, want) = (kept(&self.target, stream, keep), kept(&truth, stream, keep));
            assert_same_rows(stream, &held, &want);
        }
    }
}

/// The rows of `stream` that `keep` keeps, by key.
fn kept<'a>(
    t: &'a Table,
    stream: &str,
    keep: impl Fn(&Value) -> bool,
) -> BTreeMap<&'a str, &'a Value> {
    rows(t, stream)
        .iter()
        .filter(|(_, r)| keep(r))
        .map(|(k, r)| (k.as_str(), r))
        .collect()
}

/// Asserts a stream's rows a target holds equal those of a full sync.
fn assert_same_rows<'a>(
    stream: &str,
    held: &BTreeMap<&'a str, &'a Value>,
    want: &BTreeMap<&'a str, &'a Value>,
) {
    let differ = |(k, v): &(&&str, &&Value)| held.get(**k) != Some(*v);
    let wrong: Vec<&&str> = want.iter().filter(differ).map(|(k, _)| k).take(3).collect();
    assert!(
        wrong.is_empty(),
        "{stream}: {} of {} rows differ from a full sync, e.g. {wrong:?}",
        want.iter().filter(differ).count(),
        want.len()
    );
    assert_eq!(
        held.len(),
        want.len(),
        "{stream}: rows a full sync does not have"
    );
}

/// A table row of requests by family.
fn row(run: &str, floor: usize, fam: &BTreeMap<&str, u64>) -> String {
    let details = fam.get("outbound details").copied().unwrap_or(0);
    let pages: u64 = fam
        .iter()
        .filter(|(k, _)| !k.ends_with("details"))
        .map(|(_, v)| v)
        .sum();
    format!("| {run} | {floor} | {details} | {pages} | {fam:?} |")
}

/// Steady-state runs: each reads the details of at most 1.2 times the messages that changed,
/// and after each the target holds every event and every message's content.
fn steady(account: bool, runs: usize, kill: Option<usize>) {
    let sim = steady_sim(1500, runs as u32 / 4 + 2);
    let mut s = Schedule::first(sim, account, 3, SCHEDULED);
    s.assert_holds();
    println!("| run | change floor | details | other requests | by family |");
    let (mut floors, mut details) = (0, 0);
    for run in 1..=runs {
        let previous = s.step();
        let floor = s.floor(previous);
        let killed = kill == Some(run);
        if killed {
            s.run_killed(100);
        } else {
            s.run();
        }
        let fam = families(&s.sim.request_log());
        let made = fam.get("outbound details").copied().unwrap_or(0);
        println!("{}", row(&run.to_string(), floor, &fam));
        s.assert_holds();
        if !killed {
            assert!(
                made as f64 <= 1.2 * floor as f64,
                "run {run}: {made} details requests for {floor} messages new or changed"
            );
            (floors, details) = (floors + floor, details + made);
        }
    }
    assert!(floors > 20 * runs, "too little change to measure: {floors}");
    println!("details {details} for a floor of {floors}");
    s.assert_equals_full_sync();
}

#[test]
fn a_steady_schedule_reads_what_changed_in_server_mode() {
    steady(false, cases(3, 6), None);
}

#[test]
fn a_steady_schedule_reads_what_changed_in_account_mode_and_resumes_a_killed_run() {
    steady(true, cases(4, 6), Some(3));
}

/// Records that reach the searches later than the 5 minutes every search leaves (2 % of them,
/// 6 to 40 minutes late): each is read by the first run after it arrived, so after every run the
/// target still holds every event and every message's content that Postmark shows.
#[test]
fn records_that_reach_a_search_late_are_read_by_the_next_run() {
    let mut s = Schedule::first(late_sim(1000, 4, 0.02), true, 3, SCHEDULED);
    s.assert_holds();
    let mut late_runs = 0;
    for run in 1..=8 {
        let previous = s.step();
        let floor = s.floor(previous);
        let out = s.tap().sync();
        late_runs += usize::from(out.stderr.contains("reached the search after"));
        s.take(out.messages);
        println!(
            "{}",
            row(&run.to_string(), floor, &families(&s.sim.request_log()))
        );
        s.assert_holds();
    }
    assert!(late_runs > 0, "no run met a late record");
    s.assert_equals_full_sync();
}

/// New mail keeps coming while the runs read (live arrivals): after the schedule, what a target
/// that upserts holds equals a full sync of every incremental stream.
#[test]
fn mail_arriving_while_runs_read_is_caught_by_the_next() {
    let sim = sim(SimConfig {
        now: Some(anchor() - Duration::hours(3)),
        ..scheduled(3, 1500)
    });
    let every: Vec<&str> = STREAMS.iter().map(|d| d.name).collect();
    let mut s = Schedule::first(sim, true, 4, &every);
    s.sim.set_faults(Faults {
        live_arrivals_per_request: 1,
        ..Faults::default()
    });
    for run in 1..=cases(4, 8) {
        let previous = s.step();
        let floor = s.floor(previous);
        s.run();
        println!(
            "{}",
            row(&run.to_string(), floor, &families(&s.sim.request_log()))
        );
    }
    // One more run once no mail arrives mid-run: what arrived while the last one read is in.
    s.sim.set_faults(Faults::default());
    s.run();
    let mut truth = Table::new();
    upsert(&mut truth, s.full().sync().messages);
    for def in STREAMS
        .iter()
        .filter(|d| d.replication() == Replication::Incremental)
    {
        let every = |_: &Value| true;
        let (held, want) = (
            kept(&s.target, def.name, every),
            kept(&truth, def.name, every),
        );
        assert_same_rows(def.name, &held, &want);
    }
}

/// A number from the environment, or `default`.
fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().expect(name))
}

/// BENCHMARKS.md's schedule table: requests per run by family against the change floor, after
/// a first sync of three days. Knobs: `TAP_SCHEDULE_STREAMS` (`default`, `every`, or the
/// scheduled set when unset), `TAP_SCHEDULE_PER_DAY` (base messages a day per server, 1500),
/// `TAP_SCHEDULE_RUNS` (8), `TAP_SCHEDULE_LATENCY_MS` (added to every answer of the scheduled
/// runs, 0), `TAP_SCHEDULE_LATE_PER_MILLE` (records reaching the searches 6–40 minutes late, 0),
/// `TAP_POSTMARK_BIN` (another build of the tap).
#[test]
#[ignore]
fn schedule_figures() {
    let runs = knob("TAP_SCHEDULE_RUNS", 8) as usize;
    let every: Vec<&str> = STREAMS.iter().map(|d| d.name).collect();
    let defaults = common::table::default_streams(|_| true);
    let streams: Vec<&str> = match std::env::var("TAP_SCHEDULE_STREAMS").as_deref() {
        Ok("every") => every,
        Ok("default") => defaults,
        _ => SCHEDULED.to_vec(),
    };
    let per_day = knob("TAP_SCHEDULE_PER_DAY", 1500) as u32;
    let late = knob("TAP_SCHEDULE_LATE_PER_MILLE", 0) as f64 / 1000.0;
    let sim = late_sim(per_day, runs as u32 / 4 + 2, late);
    let mut s = Schedule::first(sim, true, 3, &streams);
    let day = s.end - Duration::days(1);
    let sent: usize = s
        .servers
        .iter()
        .map(|&id| {
            s.sim
                .ground_truth(id, "messages_outbound", day, s.end)
                .unwrap()
                .len()
        })
        .sum();
    println!("{sent} messages in the last day; {} streams", streams.len());
    let latency = std::time::Duration::from_millis(knob("TAP_SCHEDULE_LATENCY_MS", 0));
    s.sim.set_faults(Faults {
        latency,
        ..Faults::default()
    });
    let mut total: BTreeMap<&str, u64> = BTreeMap::new();
    let mut floors = 0;
    println!("| run | change floor | details | other requests | seconds | by family |");
    for run in 1..=runs {
        let previous = s.step();
        let floor = s.floor(previous);
        let started = std::time::Instant::now();
        s.run();
        let seconds = started.elapsed().as_secs_f64();
        let fam = families(&s.sim.request_log());
        println!("{} {seconds:.1} s", row(&run.to_string(), floor, &fam));
        floors += floor;
        for (k, v) in fam {
            *total.entry(k).or_default() += v;
        }
    }
    let n = runs as f64;
    println!("per run: floor {:.0}", floors as f64 / n);
    for (k, v) in total {
        println!("per run: {k}: {:.1}", v as f64 / n);
    }
}

/// A simulated day: 96 runs 15 minutes apart, 2 % of answers failed (500, 503, 429) or dropped
/// mid-body, and every tenth run killed (SIGKILL) after a random number of records, the next
/// run resuming from the last STATE it delivered. After every run not killed the target holds
/// every event and every message's content; at the end they equal a full sync, and the state
/// stays as large as it was in the day's first hours. `TAP_DAY_RUNS` shortens it.
#[test]
#[ignore]
fn a_simulated_day() {
    let runs = knob("TAP_DAY_RUNS", 96) as usize;
    let sim = steady_sim(1500, runs as u32 / 4 + 2);
    let mut s = Schedule::first(sim, true, 3, SCHEDULED);
    s.sim.set_faults(Faults {
        error_rate: 0.01,
        drop_rate: 0.01,
        ..Faults::default()
    });
    let mut rng = fastrand::Rng::with_seed(knob("TAP_DAY_SEED", 7));
    let (mut sizes, mut kills, mut floors, mut details) = (Vec::new(), 0, 0, 0);
    for run in 1..=runs {
        let previous = s.step();
        let floor = s.floor(previous);
        let killed = if run % 10 == 0 {
            // Half the kills land among the searches' records, half among the events read.
            let stream = (run % 20 == 0).then_some("message_events");
            let (messages, killed) = run_killed(&s.tap(), rng.usize(1..600), stream);
            s.take(messages);
            killed
        } else {
            let out = s.tap().run();
            assert_eq!(out.code, 0, "run {run}: {}", out.stderr);
            validate_records(&out);
            s.take(out.messages);
            false
        };
        kills += usize::from(killed);
        let fam = families(&s.sim.request_log());
        let size = s.state.to_string().len();
        sizes.push(size);
        println!(
            "{} state {size} B{}",
            row(&run.to_string(), floor, &fam),
            if killed { ", killed" } else { "" }
        );
        (floors, details) = (
            floors + floor,
            details + fam.get("outbound details").copied().unwrap_or(0),
        );
        if !killed {
            s.assert_holds();
        }
    }
    s.sim.set_faults(Faults::default());
    s.assert_equals_full_sync();
    let early = sizes[..runs / 4].iter().max().copied().unwrap_or(0);
    let late = sizes[runs / 2..].iter().max().copied().unwrap_or(0);
    println!("{kills} runs killed; details {details} for a floor of {floors}; state {early} B at most in the first quarter, {late} B in the second half");
    assert!(kills >= runs / 20, "too few kills landed: {kills}");
    assert!(
        late <= early * 5 / 4,
        "the state grew: {early} B → {late} B"
    );
}

/// One server failing in a scheduled run (its token revoked) is isolated: the run exits 4, the
/// other server's events and content are all held, the failed one keeps its bookmarks and what
/// its per-record reads kept; once its token works again, the next run brings it up to date.
#[test]
fn a_failing_server_is_isolated_and_caught_up_on_the_next_run() {
    let sim = sim(SimConfig {
        ahead_hours: 3,
        ..scheduled(2, 600)
    });
    let mut s = Schedule::first(sim, true, 2, SCHEDULED);
    let (working, failing) = (s.servers[0], s.servers[1]);
    let kept = |state: &Value| {
        let id = failing.to_string();
        (
            state["bookmarks"]["message_events"][&id].clone(),
            state["bookmarks"]["messages_outbound_details"][&id].clone(),
            state["reads"]["outbound_details"][&id].clone(),
        )
    };
    let before = kept(&s.state);
    assert!(
        !before.2.is_null(),
        "the first sync kept nothing for server {failing}"
    );
    s.sim.set_server_token_revoked(failing, true);
    s.step();
    let run = s.tap().run();
    assert_eq!(run.code, 4, "{}", run.stderr);
    validate_records(&run);
    s.take(run.messages);
    assert_holds_events_and_content(&s.target, &s.sim, working, (s.start, s.end));
    assert_eq!(kept(&s.state), before, "the failed server's state moved");
    s.sim.set_server_token_revoked(failing, false);
    s.step();
    s.run();
    s.assert_holds();
}

/// A scheduled run (new records, activity, pending records, late checks) writes the same
/// records, STATE messages and final state at 1 and 8 requests in flight.
#[test]
fn a_scheduled_run_is_the_same_at_any_concurrency() {
    let mut s = Schedule::first(steady_sim(600, 3), true, 3, SCHEDULED);
    s.step();
    let mut outputs = Vec::new();
    for concurrency in [1, 8] {
        s.config["max_concurrent_requests"] = json!(concurrency);
        let run = s.tap().sync();
        outputs.push(without_extraction_times(&run.stdout));
    }
    assert!(
        outputs[0].lines().count() > 100,
        "too small a run to compare"
    );
    assert!(
        outputs[0] == outputs[1],
        "stdout differs between concurrency 1 and 8"
    );
}

/// A lookback set for `message_events` still re-reads every message of it, on top of what
/// changed: the safety net for a user who wants it.
#[test]
fn a_lookback_set_for_message_events_rereads_every_message_of_it() {
    let mut s = Schedule::first(steady_sim(600, 3), false, 3, SCHEDULED);
    s.config["stream_lookback_hours"] = json!({"message_events": 2});
    let previous = s.step();
    s.run();
    let server = s.servers[0];
    let from = previous - Duration::hours(2);
    let within = s
        .sim
        .ground_truth(server, "messages_outbound", from, s.end)
        .unwrap();
    let made = families(&s.sim.request_log())["outbound details"];
    assert!(
        within.len() > 20,
        "too few messages to tell: {}",
        within.len()
    );
    assert!(
        made as usize >= within.len(),
        "{made} details requests for {} messages of the lookback",
        within.len()
    );
    s.assert_holds();
}
