//! Answers shaped like Postmark's documented examples and its recorded live answers (older
//! records without `MessageStream`, offsets -04:00/-05:00 with 0, 2 or 7 fractional digits, `Z`,
//! no offset at all, nulls, numbers where the reference shows strings, keys beyond the schemas),
//! replayed over HTTP from `tests/fixtures/`. Every record arrives, fits its schema, has its
//! times in UTC and its message stream; odd records warn and do not stop the run.

use crate::common::replay::{instant, Fixtures};
use crate::common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tap_postmark::streams::{find, STREAMS};

/// Syncs a fixture set through its replay server: `account` chooses the token, `streams` the
/// catalog (every stream when empty).
fn sync_fixtures(
    set: &str,
    account: bool,
    streams: &[&str],
    state: Option<&Value>,
) -> (Run, Fixtures) {
    let fixtures = Fixtures::load(set);
    let index = fixtures.index.clone();
    let server = Fixtures::load(set).serve();
    let scratch = Scratch::new();
    let token = if account {
        "account_token"
    } else {
        "server_token"
    };
    let mut config = json!({
        "base_url": server.base_url(),
        "start_date": index["start_date"],
        "end_date": index["end_date"],
        "retry_initial_delay_seconds": 0.01,
        "retry_max_delay_seconds": 0.05,
    });
    config[format!("postmark_{token}")] = index[token].clone();
    let names: Vec<&str> = if streams.is_empty() {
        STREAMS.iter().map(|d| d.name).collect()
    } else {
        streams.to_vec()
    };
    let tap = scratch.tap(&config).selecting(&names);
    let tap = match state {
        Some(state) => tap.state(state),
        None => tap,
    };
    let run = tap.run_within(std::time::Duration::from_secs(120));
    (run, fixtures)
}

/// The value of a key field as the index writes it (strings; numbers as their digits).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks one stream's records against the index: the same keys, and each expected time,
/// message stream and null-filled property.
fn check_stream(run: &Run, name: &str, expected: &Value) {
    let def = find(name).unwrap();
    let keys: Vec<&str> = def
        .key_properties
        .iter()
        .copied()
        .filter(|k| *k != "ServerID")
        .collect();
    let key_of = |r: &Value| keys.iter().map(|k| text(&r[*k])).collect::<Vec<_>>();
    let got: Vec<&Value> = run.records(name).collect();
    let got_keys: BTreeSet<Vec<String>> = got.iter().map(|r| key_of(r)).collect();
    assert_eq!(got_keys.len(), got.len(), "{name}: a record written twice");
    let want = expected["records"].as_array().unwrap();
    for w in want {
        let k = key_of(w);
        let r = got
            .iter()
            .find(|r| key_of(r) == k)
            .unwrap_or_else(|| panic!("{name}: record {k:?} missing"));
        for field in [
            "ReceivedAt",
            "BouncedAt",
            "CreatedAt",
            "MessageStream",
            "Date",
        ] {
            if let Some(v) = w.get(field) {
                assert_eq!(&r[field], v, "{name} {k:?}: {field}");
            }
        }
        for field in w["null_filled"].as_array().into_iter().flatten() {
            let f = field.as_str().unwrap();
            assert!(r[f].is_null(), "{name} {k:?}: {f} should be null");
        }
        for field in w["secret_dropped"].as_array().into_iter().flatten() {
            let f = field.as_str().unwrap();
            assert!(
                !r.to_string().contains(&format!("\"{f}\":\"")),
                "{name}: {f} emitted"
            );
        }
    }
    // The overview also has a row of zeros for every quiet day; other streams hold exactly the
    // records the index lists.
    if name != "stats_outbound_overview" {
        assert_eq!(
            got.len(),
            want.len(),
            "{name}: {} records, {} expected",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn documented_and_recorded_answers_arrive_whole_valid_and_in_utc() {
    let (run, fixtures) = sync_fixtures("postmark", true, &[], None);
    run.assert_ok();
    validate_records(&run);
    let streams = fixtures.index["streams"].as_object().unwrap();
    for def in STREAMS {
        let expected = streams
            .get(def.name)
            .unwrap_or_else(|| panic!("the fixtures have no {}", def.name));
        check_stream(&run, def.name, expected);
    }
    // Records Postmark sent without MessageStream carry the message stream they were read on.
    for stream in [
        "messages_outbound",
        "messages_opens",
        "messages_clicks",
        "bounces",
        "message_events",
    ] {
        assert!(
            run.records(stream).all(|r| r["MessageStream"].is_string()),
            "{stream}"
        );
    }
    // A count Postmark adds beyond the listed ones is kept (click platforms' WebMail).
    assert!(run
        .records("stats_outbound_click_platforms")
        .any(|r| r["WebMail"].as_i64().is_some_and(|n| n > 0)));
    // Event details keep the types Postmark sent.
    assert!(run
        .records("message_events")
        .any(|r| r["Details"]["BounceID"].is_number()
            || r["Details"]["SuppressSending"].is_boolean()));
    // The answers are an archive of years past: only the retention warning is expected.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("WARNING") && !l.contains("(retention_days)"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn odd_records_warn_and_the_next_run_moves_past_them() {
    let odd = Fixtures::load("postmark-odd");
    let selected: Vec<String> = odd.index["select_streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let selected: Vec<&str> = selected.iter().map(String::as_str).collect();
    let (run, fixtures) = sync_fixtures("postmark-odd", false, &selected, None);
    let index = &fixtures.index;
    run.assert_ok();
    validate_records(&run);
    let streams = index["streams"].as_object().unwrap();
    for name in index["select_streams"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        check_stream(&run, name, &streams[name]);
    }
    // A null time is kept (and warned about); a time without offset is Eastern wall time.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("WARNING"))
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("messages_outbound") && w.contains("without a readable ReceivedAt")),
        "{}",
        run.stderr
    );
    assert!(warnings
        .iter()
        .any(|w| w.contains("bounces") && w.contains("BouncedAt")));
    assert!(run
        .records("message_events")
        .any(|r| r["Details"]["BounceID"] == json!(3000000001u64)));
    // The summary counts them.
    assert!(run.stderr.contains("records without a readable timestamp"));
    // Every partition's bookmark reached the end: a second run starts there, not at the odd
    // records.
    let state = run.last_state().unwrap().clone();
    let end = instant(index["end_date"].as_str().unwrap());
    for stream in ["messages_outbound", "bounces"] {
        assert_eq!(search_end(&state, stream), end, "{stream}");
    }
    let (again, _) = sync_fixtures("postmark-odd", false, &selected, Some(&state));
    again.assert_ok();
    assert_eq!(again.last_state().unwrap(), &state);
}

/// A paged list that announces items and holds none stops the run loudly, on every paged list
/// (a recorded `/servers` answer reads `{"TotalCount": 1, "Servers": []}`).
#[test]
fn a_list_announcing_items_it_does_not_hold_stops_the_run() {
    use crate::common::hostile::{Hostile, Reply};
    let sim = sim(account(1, 1, 10));
    for (path, envelope, stream) in [
        ("/servers", "Servers", "messages_outbound"),
        ("/domains", "Domains", "domains"),
        ("/senders", "SenderSignatures", "sender_signatures"),
        ("/templates", "Templates", "templates"),
        ("/triggers/inboundrules", "InboundRules", "inbound_rules"),
    ] {
        let hostile = Hostile::start(Some(sim.base_url()), move |r, _| {
            if r.path == path {
                Reply::Json(200, json!({"TotalCount": 1, envelope: []}))
            } else {
                Reply::Forward
            }
        });
        let scratch = Scratch::new();
        let mut config = config_for(&sim, true, sim.now() - chrono::Duration::days(1));
        config["base_url"] = json!(hostile.base_url());
        let run = scratch.tap(&config).selecting(&[stream]).run();
        assert_eq!(run.code, 1, "{path}: {}", run.stderr);
        let critical = the_critical_line(&run.stderr);
        assert!(
            critical.contains(&format!(
                "Postmark's {path} reported 1 items but returned none at offset 0"
            )),
            "{critical}"
        );
        assert_eq!(run.records(stream).count(), 0, "{path}");
    }
}
