//! Every simulator fault, live arrivals and the request log, through real HTTP.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use postmark_sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

use crate::common::{get, get_json, try_get, Resp, ACCOUNT, SERVER};

fn sim() -> Simulator {
    let now = Utc.with_ymd_and_hms(2024, 6, 12, 14, 0, 0).unwrap();
    Simulator::start(SimConfig {
        now: Some(now),
        servers: 2,
        days: 10,
        messages_per_day: 50,
        spike_messages: 0,
        ..SimConfig::default()
    })
    .unwrap()
}

/// GETs `path` with the first server's token: the answer, or the transport error.
fn fetch(sim: &Simulator, path: &str) -> Result<Resp, ureq::Error> {
    try_get(sim, path, &[(SERVER, &sim.servers()[0].token)])
}

const SEARCH: &str = "/messages/outbound?count=20&offset=0";

#[test]
fn latency_is_added() {
    let sim = sim();
    sim.set_faults(Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(fetch(&sim, "/server").unwrap().status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[test]
fn error_rate_answers_500_503_429() {
    let sim = sim();
    sim.set_faults(Faults {
        error_rate: 1.0,
        seed: 7,
        ..Faults::default()
    });
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let r = fetch(&sim, SEARCH).unwrap();
        assert!(r.content_type.starts_with("application/json"));
        let v = r.json();
        if r.status == 503 {
            assert_eq!(v["ErrorCode"], 100);
            assert_eq!(v["Message"], "Maintenance");
        }
        seen.insert(r.status);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![429, 500, 503]);
    // Faults come before auth: even a tokenless request gets one.
    let r = get(&sim, "/server", &[]);
    assert!([429, 500, 503].contains(&r.status));
    sim.set_faults(Faults {
        error_rate: 0.5,
        seed: 3,
        ..Faults::default()
    });
    let ok = (0..40)
        .filter(|_| fetch(&sim, "/server").unwrap().status == 200)
        .count();
    assert!((8..=32).contains(&ok), "{ok}");
}

#[test]
fn burst_of_429_counts_down() {
    let sim = sim();
    sim.set_faults(Faults {
        burst_429: 3,
        ..Faults::default()
    });
    let statuses: Vec<u16> = (0..5)
        .map(|_| fetch(&sim, "/server").unwrap().status)
        .collect();
    assert_eq!(statuses, vec![429, 429, 429, 200, 200]);
    let log = sim.request_log();
    let faults: Vec<Option<&str>> = log.iter().map(|e| e.fault.as_deref()).collect();
    assert_eq!(
        faults,
        vec![
            Some("burst_429"),
            Some("burst_429"),
            Some("burst_429"),
            None,
            None
        ]
    );
}

#[test]
fn dropped_connection_is_an_io_error() {
    let sim = sim();
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    for _ in 0..3 {
        let err = fetch(&sim, SEARCH).expect_err("the body is cut off");
        assert!(
            matches!(err, ureq::Error::Io(_) | ureq::Error::Protocol(_)),
            "{err:?}"
        );
    }
    sim.set_faults(Faults::default());
    assert_eq!(fetch(&sim, SEARCH).unwrap().status, 200);
    assert!(sim
        .request_log()
        .iter()
        .take(3)
        .all(|e| e.fault.as_deref() == Some("drop")));
}

#[test]
fn truncated_body_is_invalid_json() {
    let sim = sim();
    sim.set_faults(Faults {
        truncate_rate: 1.0,
        ..Faults::default()
    });
    let r = fetch(&sim, SEARCH).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
    assert!(!r.text.is_empty());
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
}

#[test]
fn html_instead_of_json() {
    let sim = sim();
    sim.set_faults(Faults {
        non_json_rate: 1.0,
        ..Faults::default()
    });
    let mut statuses = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let r = fetch(&sim, SEARCH).unwrap();
        assert_eq!(r.content_type, "text/html; charset=utf-8");
        assert!(r.text.starts_with("<!DOCTYPE html>"));
        statuses.insert(r.status);
    }
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), vec![200, 502]);
}

#[test]
fn http_200_with_error_code() {
    let sim = sim();
    sim.set_faults(Faults {
        error_code_200_rate: 1.0,
        ..Faults::default()
    });
    let r = fetch(&sim, SEARCH).unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_ne!(v["ErrorCode"].as_i64().unwrap(), 0);
    assert!(v["Message"].is_string());
    assert!(v.get("Messages").is_none());
}

#[test]
fn live_arrivals_are_newest_and_in_ground_truth() {
    let sim = sim();
    let server = sim.servers()[0].id;
    let before: u64 = (0..2)
        .map(|_| {
            fetch(&sim, SEARCH).unwrap().json()["TotalCount"]
                .as_u64()
                .unwrap()
        })
        .max()
        .unwrap();
    let start = sim.now();
    sim.set_faults(Faults {
        live_arrivals_per_request: 40,
        ..Faults::default()
    });
    let mut last_total = before;
    for _ in 0..3 {
        let v = fetch(&sim, SEARCH).unwrap().json();
        let total = v["TotalCount"].as_u64().unwrap();
        assert!(total >= last_total);
        last_total = total;
    }
    assert!(
        last_total > before,
        "some of the 120 arrivals landed on server 1's outbound stream"
    );
    let v = fetch(&sim, SEARCH).unwrap().json();
    let newest = &v["Messages"][0];
    let at = chrono::DateTime::parse_from_rfc3339(newest["ReceivedAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        at >= start - chrono::Duration::seconds(1) && at <= sim.now(),
        "{at} vs {start}"
    );
    let id = newest["MessageID"].as_str().unwrap().to_string();
    let truth = sim
        .ground_truth(
            server,
            "messages_outbound",
            start - chrono::Duration::seconds(1),
            sim.now() + chrono::Duration::seconds(1),
        )
        .unwrap();
    assert!(truth.contains(&vec![id.clone()]));
    let opens = sim
        .ground_truth(
            server,
            "messages_opens",
            start - chrono::Duration::seconds(1),
            sim.now() + chrono::Duration::seconds(1),
        )
        .unwrap();
    assert!(
        opens.iter().any(|k| k[0] == id),
        "live messages come with opens"
    );
    let r = fetch(&sim, &format!("/messages/outbound/{id}/details")).unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let times: Vec<String> = v["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ReceivedAt"].as_str().unwrap().to_string())
        .collect();
    let parsed: Vec<_> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first"
    );
}

#[test]
fn request_log_records_everything() {
    let sim = sim();
    let s = sim.servers()[1].clone();
    sim.clear_request_log();
    get(
        &sim,
        "/Messages/Outbound/?count=3&OFFSET=0&fromdate=2024-06-10",
        &[(SERVER, &s.token)],
    );
    get(
        &sim,
        "/servers?count=5&offset=0",
        &[(ACCOUNT, &sim.account_token())],
    );
    get(&sim, "/server", &[]);
    sim.set_faults(Faults {
        burst_429: 1,
        ..Faults::default()
    });
    get(&sim, "/server", &[(SERVER, &s.token)]);
    let log = sim.request_log();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/Messages/Outbound/");
    assert_eq!(
        log[0].query,
        vec![
            ("count".to_string(), "3".to_string()),
            ("OFFSET".to_string(), "0".to_string()),
            ("fromdate".to_string(), "2024-06-10".to_string())
        ]
    );
    assert_eq!(
        (
            log[0].server_id,
            log[0].account,
            log[0].status,
            log[0].fault.clone()
        ),
        (Some(s.id), false, 200, None)
    );
    assert_eq!(
        (log[1].server_id, log[1].account, log[1].status),
        (None, true, 200)
    );
    assert_eq!(
        (log[2].server_id, log[2].account, log[2].status),
        (None, false, 401)
    );
    assert_eq!(
        (log[3].status, log[3].fault.as_deref()),
        (429, Some("burst_429"))
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    sim.clear_request_log();
    assert!(sim.request_log().is_empty());
}

#[test]
fn concurrent_clients_are_served() {
    let sim = std::sync::Arc::new(sim());
    sim.set_faults(Faults {
        live_arrivals_per_request: 5,
        ..Faults::default()
    });
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let sim = sim.clone();
            std::thread::spawn(move || {
                (0..25).all(|_| {
                    fetch(&sim, SEARCH)
                        .map(|r| r.status == 200)
                        .unwrap_or(false)
                })
            })
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}

/// The count/offset-paged full-table lists: (path with a full page's query, envelope, whether
/// it takes the account token).
const PAGED_LISTS: &[(&str, &str, bool)] = &[
    ("/servers?count=500&offset=0", "Servers", true),
    ("/domains?count=500&offset=0", "Domains", true),
    ("/senders?count=500&offset=0", "SenderSignatures", true),
    ("/templates?Count=500&Offset=0", "Templates", false),
    (
        "/triggers/inboundrules?count=500&offset=0",
        "InboundRules",
        false,
    ),
];

/// A JSON answer (status 200 required), with the account token or the first server's.
fn fetch_list(sim: &Simulator, path: &str, account: bool) -> Value {
    if account {
        get_json(sim, path, ACCOUNT, &sim.account_token())
    } else {
        get_json(sim, path, SERVER, &sim.servers()[0].token)
    }
}

/// Every paged list as served without faults.
fn whole_lists(sim: &Simulator) -> Vec<Value> {
    PAGED_LISTS
        .iter()
        .map(|(path, _, account)| fetch_list(sim, path, *account))
        .collect()
}

/// With `faults`, every paged list answers the first `keep(n)` of its n items, `TotalCount`
/// unchanged, and the log names `fault` whenever items went missing.
fn assert_lists_cut(faults: Faults, keep: fn(usize) -> usize, fault: &str) {
    let sim = sim();
    let whole = whole_lists(&sim);
    sim.set_faults(faults);
    sim.clear_request_log();
    for ((path, envelope, account), whole) in PAGED_LISTS.iter().zip(&whole) {
        let all = whole[envelope].as_array().unwrap();
        assert!(all.len() >= 2, "{path} has {} items", all.len());
        let got = fetch_list(&sim, path, *account);
        assert_eq!(got["TotalCount"], whole["TotalCount"], "{path}");
        assert_eq!(
            got[envelope].as_array().unwrap()[..],
            all[..keep(all.len())],
            "{path}"
        );
    }
    let log = sim.request_log();
    assert_eq!(log.len(), PAGED_LISTS.len());
    assert!(log.iter().all(|e| e.fault.as_deref() == Some(fault)));
}

#[test]
fn short_page_rate_halves_paged_lists_while_total_count_stays() {
    assert_lists_cut(
        Faults {
            short_page_rate: 1.0,
            ..Faults::default()
        },
        |n| n / 2,
        "short_page",
    );
}

#[test]
fn empty_page_rate_empties_paged_lists_while_total_count_stays() {
    assert_lists_cut(
        Faults {
            empty_page_rate: 1.0,
            ..Faults::default()
        },
        |_| 0,
        "empty_page",
    );
}

#[test]
fn page_fault_rates_of_zero_change_nothing() {
    let sim = sim();
    let whole = whole_lists(&sim);
    sim.set_faults(Faults {
        short_page_rate: 0.0,
        empty_page_rate: 0.0,
        seed: 5,
        ..Faults::default()
    });
    sim.clear_request_log();
    assert_eq!(whole_lists(&sim), whole);
    assert!(sim.request_log().iter().all(|e| e.fault.is_none()));
}

#[test]
fn a_short_page_of_one_item_stays_whole() {
    let sim = sim();
    sim.set_faults(Faults {
        short_page_rate: 1.0,
        ..Faults::default()
    });
    let one = fetch_list(&sim, "/templates?Count=1&Offset=0", false);
    assert_eq!(one["Templates"].as_array().unwrap().len(), 1);
    assert_eq!(sim.request_log()[0].fault, None);
}

#[test]
fn page_faults_spare_searches_and_other_lists() {
    let sim = sim();
    let before: Vec<Value> = ["/message-streams", "/webhooks", SEARCH]
        .iter()
        .map(|p| fetch_list(&sim, p, false))
        .collect();
    sim.set_faults(Faults {
        short_page_rate: 0.5,
        empty_page_rate: 0.5,
        ..Faults::default()
    });
    sim.clear_request_log();
    let after: Vec<Value> = ["/message-streams", "/webhooks", SEARCH]
        .iter()
        .map(|p| fetch_list(&sim, p, false))
        .collect();
    assert_eq!(after, before);
    assert!(sim.request_log().iter().all(|e| e.fault.is_none()));
}

#[test]
fn page_faults_are_drawn_from_the_fault_seed() {
    let sim = sim();
    let faults = Faults {
        short_page_rate: 0.4,
        empty_page_rate: 0.3,
        seed: 11,
        ..Faults::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        sim.set_faults(faults.clone());
        sim.clear_request_log();
        for _ in 0..30 {
            fetch_list(&sim, "/triggers/inboundrules?count=500&offset=0", false);
        }
        let drawn: Vec<Option<String>> = sim.request_log().into_iter().map(|e| e.fault).collect();
        runs.push(drawn);
    }
    assert_eq!(runs[0], runs[1], "same seed, same faults");
    let count = |name: Option<&str>| runs[0].iter().filter(|f| f.as_deref() == name).count();
    assert!(count(Some("short_page")) >= 4, "{:?}", runs[0]);
    assert!(count(Some("empty_page")) >= 3, "{:?}", runs[0]);
    assert!(count(None) >= 3, "{:?}", runs[0]);
}
