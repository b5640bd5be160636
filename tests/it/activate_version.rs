//! `emit_activate_version_messages`: full-table RECORDs carry the run's table version, and an
//! ACTIVATE_VERSION follows each full-table stream read whole on every server; never one for an
//! incremental stream, nor for a server-scoped stream in a run where a server failed.

use crate::common::*;
use chrono::Duration;
use postmark_sim::Simulator;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tap_postmark::streams::{Replication, TokenKind, STREAMS};

fn three_servers() -> Simulator {
    sim(account(3, 2, 40))
}

fn full_tables() -> BTreeSet<&'static str> {
    STREAMS
        .iter()
        .filter(|d| d.replication() == Replication::FullTable)
        .map(|d| d.name)
        .collect()
}

/// The ACTIVATE_VERSION messages of a run: stream → (version, position in the output).
fn activations(run: &Run) -> Vec<(String, i64, usize)> {
    run.messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m["type"] == "ACTIVATE_VERSION")
        .map(|(i, m)| {
            (
                m["stream"].as_str().unwrap().to_string(),
                m["version"].as_i64().unwrap(),
                i,
            )
        })
        .collect()
}

fn last_record_at(run: &Run, stream: &str) -> Option<usize> {
    run.messages
        .iter()
        .rposition(|m| m["type"] == "RECORD" && m["stream"] == stream)
}

#[test]
fn full_tables_are_versioned_and_activated_after_their_last_record() {
    let sim = three_servers();
    let scratch = Scratch::new();
    let mut config = config_for(&sim, true, sim.now() - Duration::days(3));
    config["emit_activate_version_messages"] = json!(true);
    let run = scratch.tap(&config).run();
    run.assert_ok();
    let full = full_tables();
    let acts = activations(&run);
    let activated: BTreeSet<&str> = acts.iter().map(|(s, _, _)| s.as_str()).collect();
    let selected: BTreeSet<&str> = full
        .iter()
        .copied()
        .filter(|s| {
            STREAMS
                .iter()
                .any(|d| d.name == *s && d.selected_by_default)
        })
        .collect();
    assert_eq!(
        activated, selected,
        "one ACTIVATE_VERSION per full-table stream"
    );
    assert_eq!(acts.len(), activated.len(), "a stream activated twice");
    let versions: BTreeSet<i64> = acts.iter().map(|(_, v, _)| *v).collect();
    assert_eq!(versions.len(), 1, "one version per run: {versions:?}");
    let version = *versions.iter().next().unwrap();
    for (stream, _, at) in &acts {
        let last = last_record_at(&run, stream).expect("records before the activation");
        assert!(last < *at, "{stream}: a RECORD after its ACTIVATE_VERSION");
    }
    for m in run.messages.iter().filter(|m| m["type"] == "RECORD") {
        let stream = m["stream"].as_str().unwrap();
        if full.contains(stream) {
            assert_eq!(
                m["version"],
                json!(version),
                "{stream} record without the version"
            );
        } else {
            assert!(m.get("version").is_none(), "{stream} is incremental: {m}");
        }
    }
    // The records still validate, and the messages still satisfy the Singer checks.
    validate_records(&run);
}

#[test]
fn off_by_default() {
    let sim = three_servers();
    let scratch = Scratch::new();
    let run = scratch
        .tap(&config_for(&sim, true, sim.now() - Duration::days(3)))
        .run();
    run.assert_ok();
    assert!(activations(&run).is_empty());
    assert!(run.messages.iter().all(|m| m.get("version").is_none()));
}

#[test]
fn a_failed_server_activates_no_server_stream() {
    let sim = three_servers();
    let failing = sim.servers()[1].id;
    sim.set_server_token_revoked(failing, true);
    let scratch = Scratch::new();
    let mut config = config_for(&sim, true, sim.now() - Duration::days(3));
    config["emit_activate_version_messages"] = json!(true);
    let run = scratch.tap(&config).run();
    assert_eq!(run.code, 4, "partial failure; stderr:\n{}", run.stderr);
    let activated: BTreeSet<String> = activations(&run).into_iter().map(|(s, _, _)| s).collect();
    let account: BTreeSet<String> = STREAMS
        .iter()
        .filter(|d| d.replication() == Replication::FullTable && d.token == TokenKind::Account)
        .map(|d| d.name.to_string())
        .collect();
    // The account's own lists were read whole; no stream read on the servers may drop rows.
    assert_eq!(activated, account);
    for stream in full_tables() {
        if !account.contains(stream) {
            assert!(
                run.stderr
                    .contains(&format!("{stream}: no ACTIVATE_VERSION")),
                "{stream}: no warning"
            );
        }
    }
}

#[test]
fn without_the_account_token_account_streams_are_not_activated() {
    let sim = three_servers();
    let scratch = Scratch::new();
    let mut config: Value = config_for(&sim, false, sim.now() - Duration::days(3));
    config["emit_activate_version_messages"] = json!(true);
    let run = scratch.tap(&config).run();
    run.assert_ok();
    let activated: BTreeSet<String> = activations(&run).into_iter().map(|(s, _, _)| s).collect();
    for d in STREAMS.iter().filter(|d| d.token == TokenKind::Account) {
        assert!(
            !activated.contains(d.name),
            "{} activated, never read",
            d.name
        );
    }
    assert!(activated.contains("templates"));
}
