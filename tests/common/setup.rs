//! What a run is given: a config for the simulator, and the discovered catalog with some streams
//! selected.

use super::run::{run_raw, Run, Scratch};
use chrono::{DateTime, Utc};
use postmark_sim::Simulator;
use serde_json::Value;

/// A tap config for the simulator: the account token, or the first server's token.
pub fn config_for(sim: &Simulator, account: bool, start: DateTime<Utc>) -> Value {
    let mut c = serde_json::json!({
        "base_url": sim.base_url(),
        "start_date": start.to_rfc3339(),
        "retry_initial_delay_seconds": 0.01,
        "retry_max_delay_seconds": 0.05,
    });
    if account {
        c["postmark_account_token"] = Value::from(sim.account_token());
    } else {
        c["postmark_server_token"] = Value::from(sim.servers()[0].token.clone());
    }
    c
}

/// The catalog `--discover` prints (no credentials needed).
pub fn discover() -> Value {
    let run = run_raw(&["--discover"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("the discovered catalog is JSON")
}

/// The `tap_stream_id` of every entry of a catalog, in its order.
pub fn stream_ids(catalog: &Value) -> Vec<&str> {
    catalog["streams"]
        .as_array()
        .expect("a streams array")
        .iter()
        .map(|s| s["tap_stream_id"].as_str().expect("a tap_stream_id"))
        .collect()
}

/// The discovered catalog with exactly `streams` selected.
pub fn catalog_selecting(streams: &[&str]) -> Value {
    let mut catalog = discover();
    for entry in catalog["streams"].as_array_mut().unwrap() {
        let selected = streams.contains(&entry["tap_stream_id"].as_str().unwrap());
        entry["metadata"][0]["metadata"]["selected"] = Value::Bool(selected);
    }
    catalog
}

/// Syncs `streams` with `config` (written into `scratch`), requires success and checks every
/// RECORD against its SCHEMA.
pub fn sync_selected(scratch: &Scratch, config: &Value, streams: &[&str]) -> Run {
    scratch.tap(config).selecting(streams).sync()
}
