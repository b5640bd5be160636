//! The simulator controls under `/_sim/` through real HTTP: revoking and restoring a server's
//! token, their refusals, their request-log entries, and faults that never touch them.

use chrono::{TimeZone, Utc};
use postmark_sim::{Faults, SimConfig, Simulator};
use serde_json::json;

use crate::common::{get, send, SERVER};

fn sim() -> Simulator {
    Simulator::start(SimConfig {
        now: Some(Utc.with_ymd_and_hms(2024, 11, 20, 15, 0, 0).unwrap()),
        ..SimConfig::small()
    })
    .unwrap()
}

fn control(sim: &Simulator, method: &str, path: &str) -> (u16, String) {
    let r = send(sim, method, path, &[], "");
    (r.status, r.text)
}

#[test]
fn revoke_and_restore_a_server_token() {
    let sim = sim();
    let (s0, s1) = (sim.servers()[0].clone(), sim.servers()[1].clone());
    let status = |token: &str| get(&sim, "/server", &[(SERVER, token)]).status;
    let ok = (200, json!({"ok": true}).to_string());
    let revoke = format!("/_sim/servers/{}/revoke", s0.id);
    assert_eq!(control(&sim, "POST", &revoke), ok);
    assert_eq!((status(&s0.token), status(&s1.token)), (401, 200));
    assert_eq!(control(&sim, "POST", &revoke), ok);
    assert_eq!(status(&s0.token), 401);
    let restore = format!("/_sim/servers/{}/RESTORE/", s0.id);
    assert_eq!(control(&sim, "POST", &restore), ok);
    assert_eq!(status(&s0.token), 200);
}

#[test]
fn controls_refuse_unknown_servers_paths_and_methods() {
    let sim = sim();
    let unknown = json!({"ok": false, "error": "no server 99999"}).to_string();
    assert_eq!(
        control(&sim, "POST", "/_sim/servers/99999/revoke"),
        (404, unknown)
    );
    assert_eq!(control(&sim, "POST", "/_sim/servers/x/restore").0, 404);
    assert_eq!(control(&sim, "POST", "/_sim/clock").0, 404);
    let r = send(&sim, "GET", "/_sim/servers/10001/revoke", &[], "");
    assert_eq!((r.status, r.allow.as_deref()), (405, Some("POST")));
    assert_eq!(
        get(&sim, "/server", &[(SERVER, &sim.servers()[0].token)]).status,
        200
    );
}

#[test]
fn controls_are_logged_and_never_faulted() {
    let sim = sim();
    let token = sim.servers()[1].token.clone();
    sim.set_faults(Faults {
        burst_429: 2,
        error_rate: 1.0,
        ..Faults::default()
    });
    sim.clear_request_log();
    let path = "/_sim/servers/10001/revoke";
    for _ in 0..5 {
        assert_eq!(control(&sim, "POST", path).0, 200);
    }
    // The burst is still whole, then every request draws an error status.
    let statuses: Vec<u16> = (0..4)
        .map(|_| get(&sim, "/server", &[(SERVER, &token)]).status)
        .collect();
    assert_eq!(&statuses[..2], &[429, 429]);
    assert!(statuses[2..].iter().all(|s| [500, 503, 429].contains(s)));
    let log = sim.request_log();
    assert_eq!(log.len(), 9);
    for e in &log[..5] {
        let entry = (
            e.method.as_str(),
            e.path.as_str(),
            e.status,
            e.fault.as_deref(),
        );
        assert_eq!(entry, ("POST", path, 200, None));
        assert_eq!((e.server_id, e.account), (None, false));
    }
    let faults: Vec<Option<&str>> = log[5..].iter().map(|e| e.fault.as_deref()).collect();
    assert_eq!(&faults[..2], &[Some("burst_429"), Some("burst_429")]);
}

/// `GET /_sim/servers/{id}/outcomes` counts every outbound message listed at the clock's now
/// once, on its stream and Eastern day: as many as the ground truth of `messages_outbound`, each
/// delivered, bounced or queued. Another method is refused.
#[test]
fn outcomes_count_every_listed_message_once() {
    let sim = sim();
    let mut bounced = 0;
    for server in sim.servers() {
        let (status, text) = control(
            &sim,
            "GET",
            &format!("/_sim/servers/{}/outcomes", server.id),
        );
        assert_eq!(status, 200, "{text}");
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let n = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
        for r in &rows {
            assert_eq!(
                n(r, "Sent"),
                n(r, "Delivered") + n(r, "Bounced") + n(r, "Queued"),
                "{r}"
            );
            bounced += n(r, "Bounced");
        }
        let sent: u64 = rows.iter().map(|r| n(r, "Sent")).sum();
        let far = sim.now() - chrono::Duration::days(3650);
        let truth = sim
            .ground_truth(server.id, "messages_outbound", far, sim.now())
            .unwrap();
        assert_eq!(sent, truth.len() as u64, "server {}", server.id);
    }
    assert!(bounced > 0, "no message bounced");
    let r = send(&sim, "POST", "/_sim/servers/10001/outcomes", &[], "");
    assert_eq!((r.status, r.allow.as_deref()), (405, Some("GET")));
    assert_eq!(control(&sim, "GET", "/_sim/servers/99999/outcomes").0, 404);
}
