//! Every stream, every server, every message stream: single-server mode, opt-in message events,
//! and secrets that never leave the tap.

use crate::common::table::{self, is_account};
use crate::common::*;
use chrono::{Duration, Utc};
use postmark_sim::{Faults, SimConfig};
use serde_json::json;
use tap_postmark::streams::STREAMS;

/// Single-server mode (server token of the busiest server): every server-scoped stream equals
/// the ground truth of that server; account-level streams are skipped with a warning.
#[test]
fn single_server_mode_every_stream_complete() {
    let sim = sim(account(3, 6, 200));
    let server = sim.servers()[1].clone();
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(7);
    let mut config = config_for(&sim, false, start);
    config["postmark_server_token"] = json!(server.token);
    let run = scratch.tap(&config).selecting(&table::all()).sync();
    for def in STREAMS {
        let stream = def.name;
        if is_account(def) {
            assert_eq!(run.records(stream).count(), 0, "{stream}");
            assert!(run
                .stderr
                .contains(&format!("stream {stream} needs postmark_account_token")));
            continue;
        }
        assert_eq!(
            keys_by_server(&run, stream).into_keys().collect::<Vec<_>>(),
            vec![server.id],
            "{stream}: servers"
        );
        let to = synced_until(&run, &sim, stream);
        assert_server_complete(&run, &sim, stream, server.id, start, to);
    }
}

/// message_events follows the outbound windows of every message stream of every server.
#[test]
fn message_events_are_complete_when_selected() {
    let sim = sim(account(3, 3, 60));
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(4);
    let run = scratch
        .tap(&config_for(&sim, true, start))
        .selecting(&["message_events"])
        .sync();
    assert_eq!(
        run.records("messages_outbound").count(),
        0,
        "the parent stream is not selected"
    );
    let end = search_end(run.last_state().unwrap(), "message_events");
    let n = assert_complete(&run, &sim, "message_events", start, end);
    assert!(n > 100, "{n}");
    let types: std::collections::BTreeSet<&str> = run
        .records("message_events")
        .map(|r| r["Type"].as_str().unwrap())
        .collect();
    for t in ["Delivered", "Opened", "LinkClicked", "Bounced"] {
        assert!(types.contains(t), "{types:?}");
    }
}

/// Canary values planted as every token and webhook password never appear in stdout or stderr,
/// at debug level, even when requests fail and are retried.
#[test]
fn secrets_never_appear_in_any_output() {
    let canary = "CANARY-5e1f-SECRET";
    let sim = sim(SimConfig {
        secret_marker: Some(canary.into()),
        faults: Faults {
            error_rate: 0.05,
            drop_rate: 0.02,
            truncate_rate: 0.02,
            ..Faults::default()
        },
        ..account(3, 2, 40)
    });
    assert!(sim.account_token().contains(canary) && sim.servers()[0].token.contains(canary));
    let scratch = Scratch::new();
    let run = scratch
        .tap(&config_for(&sim, true, sim.now() - Duration::days(3)))
        .selecting(&table::all())
        .env("TAP_POSTMARK_LOG_LEVEL", "debug")
        .sync();
    assert!(run.records("webhooks").count() > 0 && run.records("servers").count() > 0);
    assert!(!run.stdout.contains(canary), "a secret reached stdout");
    assert!(!run.stderr.contains(canary), "a secret reached stderr");
    assert!(run.stderr.contains("DEBUG") || run.stderr.contains("WARNING"));
    // A rejected token is named, never printed.
    let mut bad = config_for(&sim, false, Utc::now() - Duration::days(1));
    bad["postmark_server_token"] = json!(format!("{canary}-revoked"));
    let run = scratch
        .tap(&bad)
        .env("TAP_POSTMARK_LOG_LEVEL", "debug")
        .run_raw();
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("Postmark rejected the server token"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(canary) && !run.stdout.contains(canary));
}
