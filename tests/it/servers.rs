//! Many servers: `server_ids`, a failing server that does not stop the others, and servers added
//! later being backfilled without disturbing the rest.

use crate::common::time::utc;
use crate::common::*;
use chrono::Duration;
use postmark_sim::Simulator;
use serde_json::json;
use std::collections::BTreeSet;

fn three_servers() -> Simulator {
    sim(account(3, 4, 150))
}

fn servers_in(run: &Run, stream: &str) -> BTreeSet<u64> {
    run.records(stream)
        .map(|r| r["ServerID"].as_u64().unwrap())
        .collect()
}

#[test]
fn one_failing_server_does_not_stop_the_others_and_resumes() {
    let sim = three_servers();
    let [a, b, c] = [
        sim.servers()[0].id,
        sim.servers()[1].id,
        sim.servers()[2].id,
    ];
    sim.set_server_token_revoked(b, true);
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(5);
    let tap = scratch.tap(&config_for(&sim, true, start));
    let run = tap.run();
    assert_eq!(
        run.code, 4,
        "partial failure exit code; stderr:\n{}",
        run.stderr
    );
    let critical = the_critical_line(&run.stderr);
    assert!(
        critical.contains("1 of 3 servers failed") && critical.contains(&format!("server {b}")),
        "{critical}"
    );
    assert!(
        critical.contains("rejected the server token of server"),
        "{}",
        critical
    );
    assert_eq!(
        servers_in(&run, "messages_outbound"),
        BTreeSet::from([a, c])
    );
    validate_records(&run);
    let state = run.last_state().unwrap();
    assert!(state["bookmarks"]["messages_outbound"]
        .get(b.to_string())
        .is_none());

    // The token is fixed; the next run from that state completes the failed server.
    sim.set_server_token_revoked(b, false);
    let resumed = tap.state(state).sync();
    let end = search_end(resumed.last_state().unwrap(), "messages_outbound");
    assert_server_complete(&resumed, &sim, "messages_outbound", b, start, end);
}

#[test]
fn server_ids_restrict_and_a_server_added_later_is_backfilled() {
    let sim = three_servers();
    let [a, b] = [sim.servers()[0].id, sim.servers()[1].id];
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(5);
    let mut config = config_for(&sim, true, start);
    config["server_ids"] = json!([a]);
    config["lookback_hours"] = json!(1);
    let first = scratch.tap(&config).sync();
    assert_eq!(servers_in(&first, "messages_outbound"), BTreeSet::from([a]));
    let state = first.last_state().unwrap();
    let bookmark_a = search_end(state, "messages_outbound");

    config["server_ids"] = json!([a, b]);
    let second = scratch.tap(&config).state(state).sync();
    // Server b: everything since start_date. Server a: only its lookback.
    let end = search_end(second.last_state().unwrap(), "messages_outbound");
    assert_server_complete(&second, &sim, "messages_outbound", b, start, end);
    for r in second
        .records("messages_outbound")
        .filter(|r| r["ServerID"] == a)
    {
        let t = utc(r["ReceivedAt"].as_str().unwrap());
        assert!(t >= bookmark_a - Duration::hours(1), "server a re-read {t}");
    }
    // Stats of server b start at start_date too.
    let first_day = second
        .records("stats_outbound_overview")
        .filter(|r| r["ServerID"] == b)
        .map(|r| r["Date"].as_str().unwrap().to_string())
        .min()
        .unwrap();
    assert_eq!(
        first_day,
        tap_postmark::timefmt::eastern_date(start).to_string()
    );

    // A server the account does not have is a clear input error.
    config["server_ids"] = json!([a, 99]);
    let run = scratch.tap(&config).run_raw();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("server_ids lists server(s) 99"),
        "{}",
        run.stderr
    );
}
