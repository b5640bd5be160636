//! Every stream, every server, every message stream: single-server mode, opt-in message events,
//! and secrets that never leave the tap.

mod common;

use chrono::{Duration, Utc};
use common::*;
use postmark_sim::{Faults, SimConfig, Simulator};
use serde_json::json;
use tap_postmark::streams::{Kind, TokenKind, STREAMS};

/// Single-server mode (server token of the busiest server): every server-scoped stream equals
/// the ground truth of that server; account-level streams are skipped with a warning.
#[test]
fn single_server_mode_every_stream_complete() {
    let cfg = SimConfig {
        days: 6,
        spike_messages: 0,
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg).unwrap();
    let server = sim.servers()[1].clone();
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(7);
    let mut config = config_for(&sim, false, start);
    config["postmark_server_token"] = json!(server.token);
    let every: Vec<&str> = STREAMS.iter().map(|s| s.name).collect();
    let run = sync_selected(&scratch, &config, &every);
    let state = run.last_state().unwrap().clone();
    for def in STREAMS {
        let stream = def.name;
        if def.token == TokenKind::Account {
            assert_eq!(run.records(stream).count(), 0, "{stream}");
            assert!(run
                .stderr
                .contains(&format!("stream {stream} needs postmark_account_token")));
            continue;
        }
        if stream == "delivery_stats" {
            assert_eq!(run.records(stream).count(), 1);
            continue;
        }
        let to = match def.kind {
            Kind::Search(_) => search_end(&state, stream),
            _ => sim.now() + Duration::seconds(1),
        };
        let got = keys_by_server(&run, stream);
        assert_eq!(
            got.keys().copied().collect::<Vec<_>>(),
            vec![server.id],
            "{stream}: servers"
        );
        let truth = sim.ground_truth(server.id, stream, start, to).unwrap();
        let seen: std::collections::BTreeSet<Vec<String>> =
            got[&server.id].keys().cloned().collect();
        assert_eq!(seen, truth, "{stream}");
        assert!(
            got[&server.id].values().all(|n| *n == 1),
            "{stream}: duplicates"
        );
    }
}

/// message_events follows the outbound windows of every message stream of every server.
#[test]
fn message_events_are_complete_when_selected() {
    let cfg = SimConfig {
        days: 3,
        spike_messages: 0,
        messages_per_day: 60,
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg).unwrap();
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(4);
    let run = sync_selected(
        &scratch,
        &config_for(&sim, true, start),
        &["message_events"],
    );
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
    let cfg = SimConfig {
        days: 2,
        spike_messages: 0,
        messages_per_day: 40,
        secret_marker: Some(canary.into()),
        faults: Faults {
            error_rate: 0.05,
            drop_rate: 0.02,
            truncate_rate: 0.02,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg).unwrap();
    assert!(sim.account_token().contains(canary) && sim.servers()[0].token.contains(canary));
    let scratch = Scratch::new();
    let config = scratch.write(
        "config.json",
        &config_for(&sim, true, sim.now() - Duration::days(3)),
    );
    let every: Vec<&str> = STREAMS.iter().map(|s| s.name).collect();
    let catalog = scratch.write("catalog.json", &catalog_selecting(&every));
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
    ];
    let run = run_tap_env(&args, &[("TAP_POSTMARK_LOG_LEVEL", "debug")]);
    run.assert_ok();
    assert!(run.records("webhooks").count() > 0 && run.records("servers").count() > 0);
    assert!(!run.stdout.contains(canary), "a secret reached stdout");
    assert!(!run.stderr.contains(canary), "a secret reached stderr");
    assert!(run.stderr.contains("DEBUG") || run.stderr.contains("WARNING"));
    // A rejected token is named, never printed.
    let mut bad = config_for(&sim, false, Utc::now() - Duration::days(1));
    bad["postmark_server_token"] = json!(format!("{canary}-revoked"));
    let bad = scratch.write("bad.json", &bad);
    let run = run_raw(
        &["--config", bad.to_str().unwrap()],
        &[("TAP_POSTMARK_LOG_LEVEL", "debug")],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("Postmark rejected the server token"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(canary) && !run.stdout.contains(canary));
}
