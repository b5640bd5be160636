//! What a run is given: the simulated account, a config for it, and the discovered catalog with
//! some streams selected.

use super::run::Tap;
use chrono::{DateTime, Utc};
use postmark_sim::{SimConfig, Simulator};
use serde_json::Value;
use std::sync::OnceLock;

/// The tests' simulated account: `servers` servers, each with `days` days of history at
/// `per_day` base messages a day (the simulator's other volumes follow from it). No spike day:
/// a test of the 10,000-record ceiling asks for one (`spike_messages`). Everything else is
/// `SimConfig`'s default (seed 42, the clock standing at the wall clock's now, bodies of their
/// usual sizes, no faults); a test changes what it needs with
/// `SimConfig { faults, ..account(2, 5, 400) }`.
pub fn account(servers: u32, days: u32, per_day: u32) -> SimConfig {
    SimConfig {
        servers,
        days,
        messages_per_day: per_day,
        spike_messages: 0,
        ..SimConfig::default()
    }
}

/// `config` with the simulator's spike day (SimConfig's default): over 10,000 messages on one
/// day of the first server's `outbound` stream, past the searches' ceiling.
pub fn with_spike(config: SimConfig) -> SimConfig {
    SimConfig {
        spike_messages: SimConfig::default().spike_messages,
        ..config
    }
}

/// The simulator serving `config` on loopback (stopped when dropped).
pub fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).expect("the simulator starts")
}

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

/// The catalog `--discover` prints (no credentials needed), asked of the tap once per test run.
pub fn discover() -> Value {
    static DISCOVERED: OnceLock<Value> = OnceLock::new();
    DISCOVERED
        .get_or_init(|| {
            let run = Tap::bare().with(&["--discover"]).run_raw();
            assert_eq!(run.code, 0, "{}", run.stderr);
            serde_json::from_str(&run.stdout).expect("the discovered catalog is JSON")
        })
        .clone()
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
