//! `retention_days`: the default start of message streams, and one WARNING per stream when a run
//! reads from before Postmark's retention horizon (an old `start_date` or bookmark).

use crate::common;
use crate::common::*;
use chrono::Duration;
use postmark_sim::Simulator;
use serde_json::json;
use tap_postmark::streams::{Kind, STREAMS};

fn three_servers() -> Simulator {
    sim(account(3, 3, 30))
}

fn warnings_about(stderr: &str, stream: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("WARNING") && l.contains(&format!("{stream}: reading from")))
        .count()
}

#[test]
fn reading_past_retention_warns_once_per_stream() {
    let sim = three_servers();
    let scratch = Scratch::new();
    let mut config = config_for(&sim, true, sim.now() - Duration::days(3));
    config["retention_days"] = json!(2);
    let run = scratch.tap(&config).run();
    run.assert_ok();
    for def in STREAMS.iter().filter(|d| d.selected_by_default) {
        let expected = usize::from(matches!(def.kind, Kind::Search(_)));
        assert_eq!(
            warnings_about(&run.stderr, def.name),
            expected,
            "{}: {}",
            def.name,
            run.stderr
        );
    }
    assert!(run
        .stderr
        .contains("Run more often than the retention period"));
}

#[test]
fn the_default_start_is_the_retention_horizon_and_warns_nothing() {
    let sim = three_servers();
    let scratch = Scratch::new();
    let mut config = config_for(&sim, true, sim.now());
    config.as_object_mut().unwrap().remove("start_date");
    config["retention_days"] = json!(2);
    let run = scratch.tap(&config).run();
    run.assert_ok();
    assert!(!run.stderr.contains("reading from"), "{}", run.stderr);
    // Messages start two days back; statistics keep their own 45 days.
    let horizon = sim.now() - Duration::days(2) - Duration::minutes(1);
    for r in run.records("messages_outbound") {
        let t = common::time::utc(r["ReceivedAt"].as_str().unwrap());
        assert!(t >= horizon, "{t} is before the retention horizon");
    }
    assert!(run.records("messages_outbound").count() > 0);
    let days: std::collections::BTreeSet<&str> = run
        .records("stats_outbound_sends")
        .map(|r| r["Date"].as_str().unwrap())
        .collect();
    assert!(days.len() >= 3, "statistics days: {days:?}");
}
