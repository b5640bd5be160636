//! `--demo`: a real sync of a simulated Postmark account, started in-process.
//!
//! The simulator is the same one the tests use (see `sim`), seeded so every run shows the same
//! account; the output is real Singer output, so it can be piped into any target.

use crate::client::Client;
use crate::config;
use crate::error::Error;
use crate::log;
use crate::singer::catalog;
use crate::singer::output::Output;
use crate::singer::state::State;
use crate::sync;
use chrono::{Duration, Utc};
use postmark_sim::{SimConfig, Simulator};
use serde_json::json;

pub fn run() -> Result<(), Error> {
    let sim_config = SimConfig::small();
    let days = i64::from(sim_config.days);
    let sim = Simulator::start(sim_config)
        .map_err(|e| Error::Internal(format!("cannot start the demo simulator: {e}")))?;
    log::info(&format!(
        "demo: simulated Postmark account at {}",
        sim.base_url()
    ));
    let config_value = json!({
        "postmark_account_token": sim.account_token(),
        "base_url": sim.base_url(),
        "start_date": (sim.now() - Duration::days(days + 1)).to_rfc3339(),
    });
    let config = config::parse(&config_value, Utc::now())?;
    let client = Client::new(&config);
    let selection = catalog::default_selection()?;
    let mut state = State::empty();
    let mut out = Output::stdout();
    let result = sync::run(&config, &client, &selection, &mut state, &mut out);
    sim.stop();
    out.finish(result)
}
