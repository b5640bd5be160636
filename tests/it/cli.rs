//! The command line outside sync mode: discovery, --about, --version, and its pinned outputs.

use crate::common::*;
use serde_json::{json, Value};
use tap_postmark::streams::STREAMS;

/// insta's settings for the pinned outputs: kept in `tests/snapshots/` beside the fixtures, as
/// `it__cli__<name>.snap`.
fn pinned() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings
}

#[test]
fn discover_needs_no_credentials_and_is_pinned() {
    let run = Tap::bare().with(&["--discover"]).run_raw();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let catalog: Value = serde_json::from_str(&run.stdout).unwrap();
    let table: Vec<&str> = STREAMS.iter().map(|d| d.name).collect();
    assert_eq!(
        stream_ids(&catalog),
        table,
        "every stream of the table, in its order"
    );
    let _pinned = pinned().bind_to_scope();
    insta::assert_snapshot!("discover", run.stdout);
}

#[test]
fn discover_ignores_stray_state_and_catalog() {
    let scratch = Scratch::new();
    let state = scratch.write_text("state.json", "not even json");
    let run = Tap::bare()
        .with(&[
            "--discover",
            "--state",
            state.to_str().unwrap(),
            "--catalog",
            "/nonexistent",
        ])
        .run_raw();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let about = Tap::bare()
        .with(&["--about", "--state", state.to_str().unwrap()])
        .run_raw();
    assert_eq!(about.code, 0, "{}", about.stderr);
}

#[test]
fn discovered_catalog_has_standard_metadata() {
    for entry in discover()["streams"].as_array().unwrap() {
        let name = entry["tap_stream_id"].as_str().unwrap();
        let def = tap_postmark::streams::find(name).unwrap();
        let root = &entry["metadata"][0];
        assert_eq!(root["breadcrumb"], json!([]));
        let meta = &root["metadata"];
        assert!(
            !meta["table-key-properties"].as_array().unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(
            meta["table-key-properties"],
            json!(def.key_properties),
            "{name}"
        );
        let method = meta["forced-replication-method"].as_str().unwrap();
        assert!(method == "INCREMENTAL" || method == "FULL_TABLE");
        assert_eq!(method, def.replication().as_str(), "{name}");
        if method == "INCREMENTAL" {
            assert_eq!(
                meta["valid-replication-keys"].as_array().unwrap().len(),
                1,
                "{name}"
            );
            assert_eq!(
                meta["valid-replication-keys"],
                json!([def.replication_key.unwrap()]),
                "{name}"
            );
        }
        assert!(meta["selected-by-default"].is_boolean());
        assert_eq!(
            meta["selected-by-default"], def.selected_by_default,
            "{name}"
        );
        assert_eq!(meta["inclusion"], "available");
        for key in meta["table-key-properties"].as_array().unwrap() {
            let field = entry["metadata"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["breadcrumb"] == json!(["properties", key]))
                .unwrap_or_else(|| panic!("{name}: no metadata for key {key}"));
            assert_eq!(field["metadata"]["inclusion"], "automatic");
        }
    }
}

#[test]
fn about_json_is_pinned_and_marks_secrets() {
    let run = Tap::bare().with(&["--about", "--format", "json"]).run_raw();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let about: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(about["name"], "tap-postmark");
    for token in ["postmark_server_token", "postmark_account_token"] {
        assert_eq!(about["settings"]["properties"][token]["secret"], true);
        assert_eq!(about["settings"]["properties"][token]["writeOnly"], true);
    }
    let _pinned = pinned().bind_to_scope();
    insta::assert_snapshot!("about_json", run.stdout);
}

#[test]
fn about_text_and_markdown_are_pinned() {
    let text = Tap::bare().with(&["--about"]).run_raw();
    assert_eq!(text.code, 0);
    let _pinned = pinned().bind_to_scope();
    insta::assert_snapshot!("about_text", text.stdout);
    let md = Tap::bare()
        .with(&["--about", "--format", "markdown"])
        .run_raw();
    assert_eq!(md.code, 0);
    assert!(md
        .stdout
        .contains("| Setting | Required | Default | Description |"));
    insta::assert_snapshot!("about_markdown", md.stdout);
}

#[test]
fn version_prints_the_crate_version() {
    let run = Tap::bare().with(&["--version"]).run_raw();
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.trim(),
        format!("tap-postmark {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn sync_without_config_is_a_one_line_input_error() {
    let run = Tap::bare().run_raw();
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("CRITICAL "), "{}", run.stderr);
    let bad = Tap::bare().with(&["--no-such-flag"]).run_raw();
    assert_eq!(bad.code, 2);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
}

#[test]
fn sample_config_is_valid() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sample_config.json"))
        .unwrap();
    let sample: Value = serde_json::from_str(&text).unwrap();
    let schema = tap_postmark::config::schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&sample));
    // Every setting is shown but end_date, where a copied end date would silently stop every
    // later sync at it, and lookback_hours, which would replace every stream's own lookback.
    for key in schema["properties"].as_object().unwrap().keys() {
        if key == "end_date" || key == "lookback_hours" {
            assert!(sample.get(key).is_none(), "sample_config.json sets {key}");
        } else {
            assert!(sample.get(key).is_some(), "sample_config.json lacks {key}");
        }
    }
    // The tokens are placeholders that cannot pass for tokens (Postmark's are UUIDs).
    for key in ["postmark_account_token", "postmark_server_token"] {
        let value = sample[key].as_str().unwrap();
        assert!(
            value.starts_with('<') && value.ends_with('>') && value.contains(' '),
            "{key}: {value}"
        );
    }
    assert!(tap_postmark::config::parse(&sample, chrono::Utc::now()).is_ok());
}

/// A config written for the Yoast/Mage tap works unchanged, and the six streams that tap offers
/// exist here under the same names.
#[test]
fn yoast_and_mage_configs_and_stream_names() {
    let discovered = discover();
    let names = stream_ids(&discovered);
    for yoast in [
        "messages_outbound",
        "messages_opens",
        "stats_outbound_overview",
        "stats_outbound_bounces",
        "stats_outbound_platform",
        "stats_outbound_clients",
    ] {
        assert!(names.contains(&yoast), "{yoast} missing");
    }
    let now = chrono::Utc::now();
    for start in ["2026-10-01", "2023-01-01T00:00:00Z"] {
        let yoast = json!({"postmark_server_token": "token", "start_date": start});
        let config = tap_postmark::config::parse(&yoast, now).unwrap();
        assert_eq!(config.server_token.as_deref(), Some("token"));
        assert_eq!(config.start.format("%Y-%m-%d").to_string(), &start[..10]);
    }
}
