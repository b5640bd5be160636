//! Fuzz-style property tests of everything the tap reads from outside: the config, the state,
//! the input catalog and Postmark's records (shaped to the stream schemas).
//!
//! Inputs are arbitrary JSON values, biased towards the keys and values these readers look for,
//! and arbitrary strings. Nothing here talks to a server.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::common::props::seeded;
use crate::common::time::is_utc_text;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Map, Number, Value};
use tap_postmark::config;
use tap_postmark::error::Error;
use tap_postmark::record::{remove_secrets, Drift, Shape};
use tap_postmark::singer::catalog;
use tap_postmark::singer::state::State;
use tap_postmark::streams::{StreamDef, STREAMS};
use tap_postmark::timefmt::{eastern_wall, format_utc, parse_timestamp, wall_range};

/// The fixed instant configs are parsed at.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).expect("in range")
}

/// Unknown config keys are logged as warnings; keep the test output quiet.
fn quiet() {
    tap_postmark::log::set_level(tap_postmark::log::Level::Critical);
}

fn one_line(s: &str) -> bool {
    !s.contains('\n') && !s.contains('\r')
}

// ---------------------------------------------------------------------------------------------
// Arbitrary JSON, biased to what the readers look for.
// ---------------------------------------------------------------------------------------------

const CONFIG_KEYS: &[&str] = &[
    "postmark_server_token",
    "postmark_account_token",
    "server_ids",
    "start_date",
    "end_date",
    "lookback_hours",
    "base_url",
    "request_timeout_seconds",
    "max_attempts",
    "retry_initial_delay_seconds",
    "retry_max_delay_seconds",
    "user_agent",
    "log_level",
];

const OTHER_KEYS: &[&str] = &[
    "bookmarks",
    "version",
    "streams",
    "tap_stream_id",
    "stream",
    "metadata",
    "breadcrumb",
    "selected",
    "selected-by-default",
    "inclusion",
    "replication-method",
    "replication_method",
    "schema",
    "properties",
    "type",
    "format",
    "items",
    "additionalProperties",
    "10001",
    "10002",
    "outbound",
    "broadcast",
    "ReceivedAt",
    "MessageID",
    "ServerID",
    "Details",
];

fn stream_names() -> Vec<&'static str> {
    STREAMS.iter().map(|d| d.name).collect()
}

fn key() -> BoxedStrategy<String> {
    let mut known: Vec<&'static str> = CONFIG_KEYS.iter().chain(OTHER_KEYS).copied().collect();
    known.extend(stream_names());
    prop_oneof![
        6 => prop::sample::select(known).prop_map(str::to_string),
        2 => "[a-zA-Z_]{0,10}",
        1 => any::<String>(),
    ]
    .boxed()
}

/// Postmark-style and other timestamps, valid and not.
fn timestamp_text() -> BoxedStrategy<String> {
    prop_oneof![
        Just("2017-02-25T13:59:44.0453616-05:00".to_string()),
        Just("2024-11-03T01:30:00-04:00".to_string()),
        Just("2024-07-22T15:39:49.3723691Z".to_string()),
        Just("2024-01-01".to_string()),
        Just("2026-11-22T17:05:00.000000Z".to_string()),
        (0i64..4_000_000_000, 0u32..1_000_000_000, 0usize..3).prop_map(|(s, n, o)| {
            let t = DateTime::from_timestamp(s, n).expect("in range");
            let off = ["-05:00", "-04:00", "Z"][o];
            let local = match o {
                0 => t - Duration::hours(5),
                1 => t - Duration::hours(4),
                _ => t,
            };
            let wall = local.naive_utc();
            format!("{}.{:07}{}", wall.format("%Y-%m-%dT%H:%M:%S"), n / 100, off)
        }),
        "[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,9})?)?(Z|[-+][0-9]{2}:?[0-9]{2})?",
    ]
    .boxed()
}

fn text() -> BoxedStrategy<String> {
    let mut plausible: Vec<&'static str> = vec![
        "true",
        "false",
        "TRUE",
        "yes",
        "INCREMENTAL",
        "FULL_TABLE",
        "automatic",
        "available",
        "unsupported",
        "date-time",
        "object",
        "string",
        "integer",
        "null",
        "properties",
        "https://api.postmarkapp.com",
        "https://api.postmarkapp.com/",
        "http://127.0.0.1:8025",
        "http://localhost",
        "http://example.com",
        "ftp://x",
        "debug",
        "warning",
        "loud",
        "",
        "a\u{0}b",
        "line\nbreak",
    ];
    plausible.extend(stream_names());
    prop_oneof![
        4 => prop::sample::select(plausible).prop_map(str::to_string),
        3 => timestamp_text(),
        2 => any::<String>(),
        2 => "[ -~]{0,16}",
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (-3i64..=100).prop_map(Value::from),
        1 => prop::sample::select(vec![0i64, 1, 8, 24, 50, 51, 600, 3600, 3601, 8760, 8761, 10_001])
            .prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        2 => any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => (-10i32..=100).prop_map(|n| Value::from(f64::from(n) / 2.0)),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        2 => any::<bool>().prop_map(Value::Bool),
        3 => number(),
        5 => text().prop_map(Value::String),
    ]
    .boxed()
}

/// Arbitrary JSON values: depth up to 5, biased keys and leaves.
fn json_value() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(5, 96, 8, |inner| {
            prop_oneof![
                2 => prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                3 => prop::collection::btree_map(key(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Arbitrary JSON objects (most readers refuse anything else at once).
fn json_object() -> BoxedStrategy<Value> {
    prop::collection::btree_map(key(), json_value(), 0..10)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// 1. Config.
// ---------------------------------------------------------------------------------------------

/// Plausible settings, mostly valid.
fn setting(key: &'static str) -> BoxedStrategy<Value> {
    match key {
        "server_ids" => prop_oneof![
            8 => prop::collection::btree_set(1u64..20_000, 0..4)
                .prop_map(|s| Value::from(s.into_iter().collect::<Vec<_>>())),
            1 => json_value(),
        ]
        .boxed(),
        "start_date" | "end_date" => prop_oneof![
            6 => (0i64..1_800_000_000).prop_map(|s| {
                let t = DateTime::from_timestamp(s, 0).expect("in range");
                Value::from(t.format("%Y-%m-%d").to_string())
            }),
            2 => timestamp_text().prop_map(Value::from),
            1 => json_value(),
        ]
        .boxed(),
        "lookback_hours" | "max_attempts" => {
            prop_oneof![8 => (1i64..=50).prop_map(Value::from), 1 => number()].boxed()
        }
        "request_timeout_seconds" | "retry_initial_delay_seconds" | "retry_max_delay_seconds" => {
            prop_oneof![
                4 => (1i64..=60).prop_map(Value::from),
                4 => (1u32..=600).prop_map(|n| Value::from(f64::from(n) / 10.0)),
                1 => number(),
            ]
            .boxed()
        }
        "base_url" => prop_oneof![
            8 => prop::sample::select(vec![
                "https://api.postmarkapp.com",
                "https://api.postmarkapp.com/",
                "http://127.0.0.1:8025",
                "http://localhost/",
                "http://[::1]:80",
                "HTTPS://proxy.example.com/postmark",
            ])
            .prop_map(Value::from),
            1 => text().prop_map(Value::from),
            1 => json_value(),
        ]
        .boxed(),
        "log_level" => prop_oneof![
            8 => prop::sample::select(vec!["debug", "info", "warning", "error", "critical"]).prop_map(Value::from),
            1 => text().prop_map(Value::from),
            1 => json_value(),
        ]
        .boxed(),
        "user_agent" => prop_oneof![8 => "[ -~]{1,30}".prop_map(Value::from), 1 => json_value()].boxed(),
        _ => json_value(),
    }
}

fn config_object() -> BoxedStrategy<Value> {
    let fields: Vec<BoxedStrategy<Option<(&'static str, Value)>>> = CONFIG_KEYS
        .iter()
        .filter(|k| !k.ends_with("_token"))
        .map(|k| prop::option::weighted(0.4, setting(k).prop_map(move |v| (*k, v))).boxed())
        .collect();
    (
        fields,
        prop::collection::btree_map(key(), json_value(), 0..3),
    )
        .prop_map(|(fields, extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            for (k, v) in fields.into_iter().flatten() {
                m.insert(k.to_string(), v);
            }
            Value::Object(m)
        })
        .boxed()
}

/// A token that cannot occur by chance in any message.
fn canary() -> impl Strategy<Value = String> {
    "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"
        .prop_map(|s| format!("CANARY{s}"))
}

/// One setting made invalid, and the key it is under.
fn bad_setting() -> BoxedStrategy<(&'static str, Value)> {
    prop_oneof![
        Just(("lookback_hours", json!("x"))),
        Just(("lookback_hours", json!(-1))),
        Just(("lookback_hours", json!(8761))),
        Just(("start_date", json!("soon"))),
        Just(("start_date", json!("2999-01-01"))),
        Just(("end_date", json!("0000-01-01"))),
        Just(("end_date", json!(12))),
        Just(("base_url", json!("http://example.com"))),
        Just(("base_url", json!("nope"))),
        Just(("max_attempts", json!(0))),
        Just(("max_attempts", json!(51))),
        Just(("server_ids", json!([0]))),
        Just(("server_ids", json!([5, 5]))),
        Just(("server_ids", json!("10001"))),
        Just(("log_level", json!("loud"))),
        Just(("request_timeout_seconds", json!(0))),
        Just(("retry_max_delay_seconds", json!(3601))),
        Just(("user_agent", json!(""))),
        text().prop_map(|s| ("start_date", Value::from(format!("{s}!")))),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(seeded(3000, 0x9a25_0001))]

    /// Any JSON value: no panic; Ok, or Err(Input) in one line that never carries a string token.
    #[test]
    fn config_parse_never_panics(
        value in prop_oneof![1 => json_value(), 2 => json_object(), 4 => config_object()],
        plant in prop::option::of((canary(), any::<bool>())),
    ) {
        quiet();
        let mut value = value;
        if let (Some((token, account)), Some(m)) = (&plant, value.as_object_mut()) {
            let k = if *account { "postmark_account_token" } else { "postmark_server_token" };
            m.insert(k.to_string(), Value::from(token.clone()));
        }
        match config::parse(&value, now()) {
            Ok(c) => {
                prop_assert!(value.is_object());
                prop_assert!(c.start <= now());
                if let Some(end) = c.end {
                    prop_assert!(end > c.start);
                }
                prop_assert!(!c.base_url.ends_with('/'));
                prop_assert!((1..=50).contains(&c.max_attempts));
                for def in STREAMS {
                    let l = c.lookback(def);
                    prop_assert!(l >= Duration::zero() && l <= Duration::hours(8760));
                }
                prop_assert!(c.retry_initial_delay <= c.retry_max_delay);
            }
            Err(Error::Input(msg)) => {
                prop_assert!(one_line(&msg), "{:?}", msg);
                if let Some((token, _)) = &plant {
                    prop_assert!(!msg.contains(token.as_str()), "token in {:?}", msg);
                }
            }
            Err(other) => prop_assert!(false, "not an input error: {:?}", other),
        }
    }

    /// Canary tokens plus at least one bad setting: an input error naming the bad setting, in one
    /// line, without either token.
    #[test]
    fn config_errors_never_carry_tokens(
        base in config_object(),
        server in prop::option::of(canary()),
        account in prop::option::of(canary()),
        bad in prop::collection::vec(bad_setting(), 1..4),
    ) {
        quiet();
        let Value::Object(mut m) = base else { unreachable!("config_object is an object") };
        if let Some(t) = &server {
            m.insert("postmark_server_token".into(), Value::from(t.clone()));
        }
        if let Some(t) = &account {
            m.insert("postmark_account_token".into(), Value::from(t.clone()));
        }
        for (k, v) in &bad {
            m.insert(k.to_string(), v.clone());
        }
        let value = Value::Object(m);
        match config::parse(&value, now()) {
            Err(Error::Input(msg)) => {
                prop_assert!(one_line(&msg), "{:?}", msg);
                for t in server.iter().chain(account.iter()) {
                    prop_assert!(!msg.contains(t.as_str()), "token in {:?}", msg);
                }
                prop_assert!(msg.starts_with("config has "), "{:?}", msg);
                let last = bad.last().expect("one bad setting").0;
                prop_assert!(msg.contains(last), "{:?} does not name {}", msg, last);
            }
            other => prop_assert!(false, "{} accepted: {:?}", value, other.map(|c| c.start)),
        }
    }

    /// Integer settings given as JSON integers are what the Config holds.
    #[test]
    fn config_integer_settings_are_kept(
        lookback in 0i64..=8760,
        attempts in 1u64..=50,
        ids in prop::collection::btree_set(1u64..1_000_000, 0..5),
    ) {
        quiet();
        let ids: Vec<u64> = ids.into_iter().collect();
        let value = json!({"postmark_account_token": "t", "lookback_hours": lookback,
            "max_attempts": attempts, "server_ids": ids});
        let c = config::parse(&value, now()).expect("valid");
        prop_assert_eq!(c.lookback, Some(Duration::hours(lookback)));
        prop_assert_eq!(u64::from(c.max_attempts), attempts);
        // An empty list means every server.
        let expected = (!ids.is_empty()).then_some(ids);
        prop_assert_eq!(c.server_ids, expected);
    }
}

proptest! {
    #![proptest_config(seeded(500, 0x9a25_0002))]

    /// JSON Schema's `integer` includes numbers with a zero fraction (`48.0`), so the config
    /// schema accepts them; the Config must then hold them too.
    #[test]
    fn config_integer_settings_written_as_floats_are_kept(
        lookback in 0i64..=8760,
        attempts in 1u64..=50,
        ids in prop::collection::btree_set(1u64..1_000_000, 1..5),
    ) {
        quiet();
        let value = json!({"postmark_account_token": "t",
            "lookback_hours": lookback as f64,
            "max_attempts": attempts as f64,
            "server_ids": ids.iter().map(|&i| i as f64).collect::<Vec<_>>()});
        match config::parse(&value, now()) {
            Ok(c) => {
                prop_assert_eq!(c.lookback, Some(Duration::hours(lookback)));
                prop_assert_eq!(u64::from(c.max_attempts), attempts);
                prop_assert_eq!(c.server_ids, Some(ids.into_iter().collect::<Vec<_>>()));
            }
            Err(e) => {
                // Refusing them would be correct too.
                prop_assert!(matches!(e, Error::Input(_)), "{:?}", e);
            }
        }
    }

    /// A start_date the config accepts can be turned into Eastern windows.
    #[test]
    fn config_start_date_can_be_windowed(
        year in prop_oneof![3 => Just(-262_143i32), 1 => -262_144i32..=1969],
        month in prop_oneof![Just(1u32), 1u32..=12],
        day in prop_oneof![Just(1u32), 1u32..=28],
    ) {
        quiet();
        let date = if year >= 0 { format!("{year:04}") } else { format!("{year:+}") };
        let value = json!({"postmark_server_token": "t",
            "start_date": format!("{date}-{month:02}-{day:02}")});
        if let Ok(c) = config::parse(&value, now()) {
            let start = c.start;
            let first = catch_unwind(|| (eastern_wall(start), wall_range(start, start + Duration::days(1))));
            prop_assert!(first.is_ok(), "{} accepted, but its first window panics", value);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. State.
// ---------------------------------------------------------------------------------------------

/// Values shaped like this tap's state, with occasional foreign shapes.
fn state_like() -> BoxedStrategy<Value> {
    let partitions = prop::collection::btree_map(
        prop_oneof![
            3 => prop::sample::select(vec!["outbound", "broadcast", "inbound", "password-resets"]).prop_map(str::to_string),
            1 => any::<String>(),
        ],
        prop_oneof![8 => timestamp_text().prop_map(Value::from), 1 => json_value()],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()));
    let servers = prop::collection::btree_map(
        prop_oneof![
            4 => (1u64..20_000).prop_map(|n| n.to_string()),
            1 => "[-+0-9a-z ]{0,6}",
        ],
        prop_oneof![8 => partitions, 1 => json_value()],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()));
    let bookmarks = prop::collection::btree_map(
        prop_oneof![4 => prop::sample::select(stream_names()).prop_map(str::to_string), 1 => key()],
        prop_oneof![8 => servers, 1 => json_value()],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()));
    (
        prop::option::weighted(0.7, prop_oneof![6 => Just(json!(1)), 1 => json_value()]),
        prop::option::weighted(0.9, prop_oneof![8 => bookmarks, 1 => json_value()]),
        prop::collection::btree_map(key(), json_value(), 0..2),
    )
        .prop_map(|(version, bookmarks, extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            if let Some(v) = version {
                m.insert("version".into(), v);
            }
            if let Some(b) = bookmarks {
                m.insert("bookmarks".into(), b);
            }
            Value::Object(m)
        })
        .boxed()
}

/// Every (stream, server key, partition, value) of a value's `bookmarks`.
fn bookmark_entries(v: &Value) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for (stream, servers) in v["bookmarks"].as_object().into_iter().flatten() {
        for (server, parts) in servers.as_object().into_iter().flatten() {
            for (part, value) in parts.as_object().into_iter().flatten() {
                out.push((stream.clone(), server.clone(), part.clone(), value.clone()));
            }
        }
    }
    out
}

/// A prefix of `s` (cut at a character boundary).
fn prefix(s: &str, at: prop::sample::Index) -> String {
    let at = at.index(s.len() + 1);
    let at = (0..=at).rev().find(|j| s.is_char_boundary(*j)).unwrap_or(0);
    s[..at].to_string()
}

fn check_state(input: &Value, state: &State) -> Result<(), TestCaseError> {
    let out = state.to_value();
    prop_assert_eq!(&out["version"], &json!(1));
    prop_assert!(out["bookmarks"].is_object());
    // Round trip: what parses comes back the same, through a value and through text.
    let again = State::from_value(out.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&again.to_value(), &out);
    let text = serde_json::to_string(&out).expect("serialises");
    let parsed = State::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&parsed.to_value(), &out);
    // The bookmarks are kept as they were; every other top-level key is dropped (each STATE
    // repeats the whole state, so a foreign key would be copied into all of them).
    for (k, v) in input.as_object().into_iter().flatten() {
        match k.as_str() {
            "version" => {}
            "bookmarks" => prop_assert_eq!(&out[k], v, "bookmarks changed"),
            _ => prop_assert!(out.get(k).is_none(), "foreign key {} kept", k),
        }
    }
    prop_assert_eq!(out.as_object().map(|m| m.len()), Some(2));
    Ok(())
}

proptest! {
    #![proptest_config(seeded(3000, 0x9a25_0003))]

    /// Any JSON value: no panic; what parses round-trips through `to_value`, keeps every
    /// bookmark, and finds the bookmarks of canonical server ids.
    #[test]
    fn state_from_value_never_panics(input in prop_oneof![1 => json_value(), 4 => state_like()]) {
        match State::from_value(input.clone()) {
            Ok(state) => {
                check_state(&input, &state)?;
                for (stream, server, part, value) in bookmark_entries(&input) {
                    let id: u64 = server.parse().expect("accepted ids are numbers");
                    if id.to_string() == server {
                        prop_assert_eq!(state.bookmark(&stream, id, &part), value.as_str());
                    }
                }
                // Setting a bookmark changes that one bookmark only.
                let mut changed = state.clone();
                changed.set_bookmark("messages_outbound", 10001, "outbound", "2026-01-01T00:00:00.000000Z".into());
                prop_assert_eq!(
                    changed.bookmark("messages_outbound", 10001, "outbound"),
                    Some("2026-01-01T00:00:00.000000Z")
                );
                let before = bookmark_entries(&state.to_value());
                let after = bookmark_entries(&changed.to_value());
                for entry in &before {
                    if !(entry.0 == "messages_outbound" && entry.1 == "10001" && entry.2 == "outbound") {
                        prop_assert!(after.contains(entry), "{:?} lost", entry);
                    }
                }
                check_state(&changed.to_value(), &changed)?;
            }
            Err(Error::Input(msg)) => prop_assert!(one_line(&msg), "{:?}", msg),
            Err(other) => prop_assert!(false, "not an input error: {:?}", other),
        }
    }

    /// Any text: no panic; JSON that parses gives the same as `from_value`.
    #[test]
    fn state_parse_never_panics(
        text in prop_oneof![
            2 => any::<String>(),
            1 => "[{}\\[\\]\":,0-9a-z ]{0,40}",
            4 => state_like().prop_map(|v| v.to_string()),
            1 => (state_like(), any::<prop::sample::Index>())
                .prop_map(|(v, i)| prefix(&v.to_string(), i)),
        ]
    ) {
        match State::parse(&text) {
            Ok(state) => {
                let value: Value = serde_json::from_str(&text).expect("parsed as JSON");
                check_state(&value, &state)?;
                let direct = State::from_value(value).expect("same answer");
                prop_assert_eq!(direct.to_value(), state.to_value());
            }
            Err(Error::Input(msg)) => prop_assert!(one_line(&msg), "{:?}", msg),
            Err(other) => prop_assert!(false, "not an input error: {:?}", other),
        }
    }
}

proptest! {
    #![proptest_config(seeded(500, 0x9a25_0004))]

    /// A state the tap accepts is one it reads: each accepted bookmark is found again. Server
    /// keys are checked with `str::parse::<u64>`, which also takes `+10001` and `010001`, but
    /// bookmarks are looked up by `10001`, so such a bookmark is accepted and silently unused.
    #[test]
    fn accepted_bookmarks_are_found(
        id in 1u64..20_000,
        form in 0usize..2,
        stream in prop::sample::select(stream_names()),
    ) {
        let key = [format!("+{id}"), format!("0{id}")][form].clone();
        let input = json!({"version": 1, "bookmarks": {stream: {key: {"outbound": "2026-01-01T00:00:00.000000Z"}}}});
        if let Ok(state) = State::from_value(input) {
            prop_assert_eq!(state.bookmark(stream, id, "outbound"), Some("2026-01-01T00:00:00.000000Z"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Catalog.
// ---------------------------------------------------------------------------------------------

fn discovered() -> &'static Value {
    static CATALOG: OnceLock<Value> = OnceLock::new();
    CATALOG.get_or_init(|| catalog::discover(false).expect("discovery works"))
}

fn flag_value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => any::<bool>().prop_map(Value::Bool),
        2 => prop::sample::select(vec!["true", "false", "TRUE", "False", "yes", ""]).prop_map(Value::from),
        1 => leaf(),
    ]
    .boxed()
}

/// One edit to a discovered catalog entry.
#[derive(Clone, Debug)]
enum Edit {
    RootSelected(Value),
    EntrySelected(Value),
    SchemaSelected(Value),
    RemoveRootMetadata,
    Method(Value),
    FieldSelected(prop::sample::Index, Value),
    FieldUnsupported(prop::sample::Index),
    UnknownField(String),
    DropSchemaProperty(prop::sample::Index),
    Schema(Value),
    RemoveSchema,
    Id(Value),
    UseStreamKey,
    Set(String, Value),
}

fn edit() -> BoxedStrategy<Edit> {
    prop_oneof![
        6 => flag_value().prop_map(Edit::RootSelected),
        2 => flag_value().prop_map(Edit::EntrySelected),
        1 => flag_value().prop_map(Edit::SchemaSelected),
        1 => Just(Edit::RemoveRootMetadata),
        2 => prop_oneof![
            Just(json!("INCREMENTAL")),
            Just(json!("FULL_TABLE")),
            Just(json!("full_table")),
            Just(json!("LOG_BASED")),
            leaf()
        ]
        .prop_map(Edit::Method),
        4 => (any::<prop::sample::Index>(), flag_value()).prop_map(|(i, f)| Edit::FieldSelected(i, f)),
        1 => any::<prop::sample::Index>().prop_map(Edit::FieldUnsupported),
        1 => "[A-Za-z]{1,8}".prop_map(Edit::UnknownField),
        2 => any::<prop::sample::Index>().prop_map(Edit::DropSchemaProperty),
        1 => json_value().prop_map(Edit::Schema),
        1 => Just(Edit::RemoveSchema),
        1 => prop_oneof![3 => prop::sample::select(stream_names()).prop_map(Value::from), 1 => leaf()]
            .prop_map(Edit::Id),
        1 => Just(Edit::UseStreamKey),
        1 => (key(), json_value()).prop_map(|(k, v)| Edit::Set(k, v)),
    ]
    .boxed()
}

fn apply_edit(entry: &mut Value, e: Edit) {
    let props: Vec<String> = entry["schema"]["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let metadata = |entry: &mut Value| -> Vec<Value> {
        entry["metadata"].as_array().cloned().unwrap_or_default()
    };
    match e {
        Edit::RootSelected(v) => {
            let mut md = metadata(entry);
            if let Some(root) = md.iter_mut().find(|m| m["breadcrumb"] == json!([])) {
                if root["metadata"].is_object() {
                    root["metadata"]["selected"] = v;
                }
            } else {
                md.push(json!({"breadcrumb": [], "metadata": {"selected": v}}));
            }
            entry["metadata"] = Value::Array(md);
        }
        Edit::EntrySelected(v) => entry["selected"] = v,
        Edit::SchemaSelected(v) if entry["schema"].is_object() => {
            entry["schema"]["selected"] = v;
        }
        Edit::RemoveRootMetadata => {
            let md: Vec<Value> = metadata(entry)
                .into_iter()
                .filter(|m| m["breadcrumb"] != json!([]))
                .collect();
            entry["metadata"] = Value::Array(md);
        }
        Edit::Method(v) => {
            let mut md = metadata(entry);
            if let Some(root) = md.iter_mut().find(|m| m["breadcrumb"] == json!([])) {
                if root["metadata"].is_object() {
                    root["metadata"]["replication-method"] = v;
                }
            }
            entry["metadata"] = Value::Array(md);
        }
        Edit::FieldSelected(i, v) if !props.is_empty() => {
            let name = &props[i.index(props.len())];
            let mut md = metadata(entry);
            md.push(json!({"breadcrumb": ["properties", name], "metadata": {"selected": v}}));
            entry["metadata"] = Value::Array(md);
        }
        Edit::FieldUnsupported(i) if !props.is_empty() => {
            let name = &props[i.index(props.len())];
            let mut md = metadata(entry);
            md.insert(
                0,
                json!({"breadcrumb": ["properties", name], "metadata": {"inclusion": "unsupported"}}),
            );
            entry["metadata"] = Value::Array(md);
        }
        Edit::UnknownField(name) => {
            let mut md = metadata(entry);
            md.push(json!({"breadcrumb": ["properties", format!("Zz{name}")], "metadata": {"selected": true}}));
            entry["metadata"] = Value::Array(md);
        }
        Edit::DropSchemaProperty(i) if !props.is_empty() => {
            let name = props[i.index(props.len())].clone();
            if let Some(p) = entry["schema"]["properties"].as_object_mut() {
                p.remove(&name);
            }
        }
        Edit::Schema(v) => entry["schema"] = v,
        Edit::RemoveSchema => {
            if let Some(m) = entry.as_object_mut() {
                m.remove("schema");
            }
        }
        Edit::Id(v) => entry["tap_stream_id"] = v,
        Edit::UseStreamKey => {
            if let Some(m) = entry.as_object_mut() {
                m.remove("tap_stream_id");
            }
        }
        Edit::Set(k, v) => {
            if let Some(m) = entry.as_object_mut() {
                m.insert(k, v);
            }
        }
        _ => {}
    }
}

/// The discovered catalog: some of its streams (in any order, some twice), each with a few
/// edits; the root selection of each entry as last set by an edit (for the oracle below).
fn edited_catalog() -> BoxedStrategy<Value> {
    let n = STREAMS.len();
    prop::collection::vec((0..n, prop::collection::vec(edit(), 0..4)), 0..8)
        .prop_map(|entries| {
            let streams = discovered()["streams"].as_array().expect("streams");
            let list: Vec<Value> = entries
                .into_iter()
                .map(|(i, edits)| {
                    let mut entry = streams[i].clone();
                    for e in edits {
                        apply_edit(&mut entry, e);
                    }
                    entry
                })
                .collect();
            json!({ "streams": list })
        })
        .boxed()
}

/// Catalogs that are arbitrary JSON under `streams`.
fn loose_catalog() -> BoxedStrategy<Value> {
    let entry = (
        prop::option::weighted(0.8, prop_oneof![4 => prop::sample::select(stream_names()).prop_map(Value::from), 1 => leaf()]),
        prop::collection::btree_map(key(), json_value(), 0..5),
    )
        .prop_map(|(id, rest)| {
            let mut m: Map<String, Value> = rest.into_iter().collect();
            if let Some(id) = id {
                m.insert("tap_stream_id".into(), id);
            }
            Value::Object(m)
        });
    prop_oneof![
        1 => json_value(),
        4 => prop::collection::vec(entry, 0..5).prop_map(|l| json!({ "streams": l })),
    ]
    .boxed()
}

fn check_selection(
    input: &Value,
    result: Result<Vec<catalog::Selected>, Error>,
) -> Result<(), TestCaseError> {
    match result {
        Ok(chosen) => {
            let order: Vec<&str> = stream_names();
            let mut last = None;
            let mut seen = BTreeSet::new();
            for s in &chosen {
                let pos = order.iter().position(|n| *n == s.def.name);
                prop_assert!(pos.is_some(), "unknown stream {}", s.def.name);
                prop_assert!(seen.insert(s.def.name), "{} twice", s.def.name);
                prop_assert!(pos > last, "not in sync order");
                last = pos;
                let entries: Vec<&Value> = input["streams"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| entry_id(e) == Some(s.def.name))
                    .collect();
                prop_assert!(!entries.is_empty(), "{} is not in the catalog", s.def.name);
                let props = s.schema.get("properties").and_then(Value::as_object);
                prop_assert!(props.is_some(), "{}: schema without properties", s.def.name);
                let props = props.expect("checked");
                let ours = catalog::stream_schema(s.def).expect("valid");
                for k in props.keys() {
                    prop_assert!(
                        ours["properties"].get(k).is_some()
                            || entries
                                .iter()
                                .any(|e| e["schema"]["properties"].get(k).is_some()),
                        "{}: field {} from nowhere",
                        s.def.name,
                        k
                    );
                }
                let keys: Vec<String> =
                    s.def.key_properties.iter().map(|k| k.to_string()).collect();
                prop_assert_eq!(&s.key_properties, &keys);
            }
        }
        Err(Error::Input(msg)) => prop_assert!(one_line(&msg), "{:?}", msg),
        Err(other) => prop_assert!(false, "not an input error: {:?}", other),
    }
    Ok(())
}

/// The stream an entry names.
fn entry_id(e: &Value) -> Option<&str> {
    e.get("tap_stream_id")
        .or_else(|| e.get("stream"))
        .and_then(Value::as_str)
}

/// A boolean `selected` in an entry's root metadata (which decides over every other flag).
fn root_selected(entry: &Value) -> Option<bool> {
    let md = entry["metadata"].as_array()?;
    let root = md
        .iter()
        .find(|m| m["breadcrumb"] == json!([]) && m["metadata"].is_object())?;
    root["metadata"]["selected"].as_bool()
}

proptest! {
    #![proptest_config(seeded(1500, 0x9a25_0005))]

    /// Edited discovered catalogs: no panic; Ok names only known streams, once each, in sync
    /// order, with schemas whose fields all come from the stream or the catalog; a root
    /// `selected: true/false` decides.
    #[test]
    fn catalog_select_on_edited_catalogs(input in edited_catalog()) {
        let result = catalog::select(&input);
        let ok_names: Option<BTreeSet<&str>> = result
            .as_ref()
            .ok()
            .map(|c| c.iter().map(|s| s.def.name).collect());
        if let Some(names) = ok_names {
            let entries: Vec<&Value> = input["streams"].as_array().into_iter().flatten().collect();
            for e in &entries {
                let (Some(id), Some(sel)) = (entry_id(e), root_selected(e)) else { continue };
                if entries.iter().filter(|o| entry_id(o) == Some(id)).count() == 1 {
                    prop_assert_eq!(names.contains(id), sel, "{}: root selected {}", id, sel);
                }
            }
        }
        check_selection(&input, result)?;
    }

    /// Arbitrary catalogs: no panic; Ok or Err(Input), the same checks.
    #[test]
    fn catalog_select_never_panics(input in loose_catalog()) {
        let result = catalog::select(&input);
        check_selection(&input, result)?;
    }
}

#[test]
fn discovered_catalog_selects_the_defaults() {
    let chosen = catalog::select(discovered()).expect("valid");
    let names: Vec<&str> = chosen.iter().map(|s| s.def.name).collect();
    let defaults: Vec<&str> = STREAMS
        .iter()
        .filter(|d| d.selected_by_default)
        .map(|d| d.name)
        .collect();
    assert_eq!(names, defaults);
}

// ---------------------------------------------------------------------------------------------
// 4. Record shaping.
// ---------------------------------------------------------------------------------------------

/// The stream schemas, read from `catalog/*.json`.
fn real_schemas() -> &'static [(String, Value)] {
    static SCHEMAS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/catalog");
        let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
            .expect("catalog dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let name = p.file_stem().expect("name").to_string_lossy().to_string();
                let text = std::fs::read_to_string(&p).expect("readable");
                (
                    name,
                    serde_json::from_str(&text).expect("catalog schemas are JSON"),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(out.len(), STREAMS.len());
        out
    })
}

fn schema_props(schema: &Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Arbitrary JSON Schemas-ish values (the shaper reads `format`, `properties`, `items`,
/// `additionalProperties`).
fn schema_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        2 => Just(json!({"type": ["string", "null"], "format": "date-time"})),
        2 => Just(json!({"type": ["string", "null"]})),
        1 => Just(json!({})),
        1 => json_value(),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            3 => (prop::collection::btree_map(key(), inner.clone(), 0..6), prop::option::of(json_value()))
                .prop_map(|(props, extra)| {
                    let mut s = json!({"type": ["object", "null"], "properties": Value::Object(props.into_iter().collect())});
                    if let Some(a) = extra {
                        s["additionalProperties"] = a;
                    }
                    s
                }),
            1 => inner.prop_map(|items| json!({"type": ["array", "null"], "items": items})),
        ]
    })
    .boxed()
}

/// A record for a real schema: each property absent, null, a timestamp, a string with NULs or
/// any JSON; plus extra keys.
fn record_for(schema: &Value) -> BoxedStrategy<Value> {
    let names = schema_props(schema);
    let field = prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        3 => timestamp_text().prop_map(|s| Some(Value::from(s))),
        1 => "[a-z\u{0}]{0,6}".prop_map(|s| Some(Value::from(s))),
        3 => json_value().prop_map(Some),
    ];
    (
        prop::collection::vec(field, names.len()),
        prop::collection::btree_map(key(), json_value(), 0..3),
    )
        .prop_map(move |(values, extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            for (name, v) in names.iter().zip(values) {
                match v {
                    Some(v) => {
                        m.insert(name.clone(), v);
                    }
                    None => {
                        m.remove(name);
                    }
                }
            }
            Value::Object(m)
        })
        .boxed()
}

fn real_schema_and_record() -> BoxedStrategy<(usize, Value)> {
    (0..STREAMS.len())
        .prop_flat_map(|i| {
            let (_, schema) = &real_schemas()[i];
            (
                Just(i),
                prop_oneof![6 => record_for(schema), 1 => json_value()],
            )
        })
        .boxed()
}

/// Every string in a value, keys included (`keys`) or not.
fn strings(v: &Value, keys: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(l) => l.iter().for_each(|x| strings(x, keys, out)),
        Value::Object(m) => {
            for (k, x) in m {
                if keys {
                    out.push(k.clone());
                }
                strings(x, keys, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(seeded(3000, 0x9a25_0006))]

    /// Arbitrary schema and value: no panic, and shaping is idempotent.
    #[test]
    fn shape_never_panics(schema in schema_value(), value in json_value()) {
        let shape = Shape::compile(&schema);
        let drift = Drift::default();
        let out = shape.apply(value, "s", &drift);
        prop_assert_eq!(shape.apply(out.clone(), "s", &drift), out);
    }

    /// Real schemas: an object comes out with exactly the schema's properties, date-times as
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` of the same instant, no NUL in any string value, and
    /// shaping again changes nothing.
    #[test]
    fn shape_real_schemas((i, value) in real_schema_and_record()) {
        let (name, schema) = &real_schemas()[i];
        let shape = Shape::compile(schema);
        let drift = Drift::default();
        let out = shape.apply(value.clone(), name, &drift);
        {
            {
                if value.is_object() {
                    let keys: BTreeSet<&String> = out.as_object().expect("object").keys().collect();
                    let props = schema_props(schema);
                    let mut want: BTreeSet<&String> = props.iter().collect();
                    // A schema for undeclared keys (a table of counts) keeps them.
                    if schema["additionalProperties"].is_object() {
                        want.extend(value.as_object().expect("object").keys());
                    }
                    prop_assert_eq!(keys, want);
                    for (k, p) in schema["properties"].as_object().expect("properties") {
                        if p["format"] == "date-time" {
                            // A readable timestamp in UTC; anything else null (and counted).
                            match value.get(k).and_then(Value::as_str).and_then(parse_timestamp) {
                                Some(t) => {
                                    prop_assert_eq!(&out[k], &Value::from(format_utc(t)));
                                    prop_assert!(is_utc_text(out[k].as_str().expect("text")), "{}", out[k]);
                                }
                                None => prop_assert!(out[k].is_null(), "{}", out[k]),
                            }
                        }
                    }
                } else {
                    prop_assert!(!out.is_object() || value.is_object());
                }
                let mut found = Vec::new();
                strings(&out, false, &mut found);
                prop_assert!(found.iter().all(|s| !s.contains('\0')), "NUL in {}", out);
                prop_assert_eq!(shape.apply(out.clone(), name, &drift), out);
            }
        }
    }
}

proptest! {
    #![proptest_config(seeded(500, 0x9a25_0007))]

    /// NUL characters are removed from every string of a record, object keys included (as
    /// `strip_nul` does for nested objects). The undeclared keys an open object keeps
    /// (`message_events.Details`) are inserted as they came.
    #[test]
    fn no_nul_in_record_keys(key in "[a-z]{0,3}\u{0}[a-z]{0,3}", value in "[a-z]{0,4}") {
        let (_, schema) = real_schemas()
            .iter()
            .find(|(n, _)| n == "message_events")
            .expect("message_events schema");
        let shape = Shape::compile(schema);
        let mut details = Map::new();
        details.insert(key, Value::from(value));
        let out = shape.apply(
            json!({"Details": Value::Object(details)}),
            "message_events",
            &Drift::default(),
        );
        let mut found = Vec::new();
        strings(&out, true, &mut found);
        prop_assert!(found.iter().all(|s| !s.contains('\0')), "NUL in {:?}", out);
    }
}

proptest! {
    #![proptest_config(seeded(500, 0x9a25_0009))]

    /// A date-time Postmark's parser accepts comes out as RFC 3339 (`YYYY-…`), which the tap
    /// itself reads back.
    #[test]
    fn shaped_date_times_are_rfc3339(
        year in prop_oneof![2 => Just("0000".to_string()), 1 => (-262_143i32..=-1).prop_map(|y| format!("{y:+}")), 1 => (10_000i32..=200_000).prop_map(|y| format!("{y:+}"))],
        offset in prop::sample::select(vec!["+01:00", "+0000", "-0500"]),
    ) {
        let (_, schema) = real_schemas()
            .iter()
            .find(|(n, _)| n == "messages_outbound")
            .expect("messages_outbound schema");
        let shape = Shape::compile(schema);
        let input = format!("{year}-01-01T00:00:00{offset}");
        let out = shape.apply(json!({"ReceivedAt": input}), "messages_outbound", &Drift::default());
        // Null when the tap cannot write it as RFC 3339 (a year past 9999): noted as drift.
        if let Some(at) = out["ReceivedAt"].as_str() {
            prop_assert!(is_utc_text(at), "{:?} -> {:?}", input, at);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Page decoding, without a server: body text → JSON → envelope → secrets removed → shaped.
// ---------------------------------------------------------------------------------------------

fn def_schema(def: &StreamDef) -> Value {
    serde_json::from_str(def.schema).expect("schema is JSON")
}

/// Page bodies: a JSON object with the stream's envelope holding records, sometimes cut short or
/// replaced by arbitrary text.
fn page_body() -> BoxedStrategy<(usize, String, Option<String>)> {
    (0..STREAMS.len())
        .prop_flat_map(|i| {
            let def = &STREAMS[i];
            let schema = def_schema(def);
            let envelope = if def.envelope.is_empty() {
                "Items".to_string()
            } else {
                def.envelope.to_string()
            };
            (
                Just(i),
                prop::collection::vec(record_for(&schema), 0..4),
                prop::option::of(canary()),
                any::<prop::sample::Index>(),
                0u8..10,
                any::<String>(),
                json_value(),
            )
                .prop_map(move |(i, mut records, secret, cut, how, junk, other)| {
                    if let Some(secret) = &secret {
                        for r in &mut records {
                            r["ApiTokens"] = json!([secret]);
                            r["HttpAuth"] = json!({"Username": "u", "Password": secret});
                        }
                    }
                    let mut page = Map::new();
                    page.insert("TotalCount".into(), Value::from(records.len()));
                    page.insert(envelope.clone(), Value::Array(records));
                    let text = Value::Object(page).to_string();
                    let body = match how {
                        0 => junk,
                        1 => other.to_string(),
                        2 => prefix(&text, cut),
                        _ => text,
                    };
                    (i, body, secret)
                })
        })
        .boxed()
}

proptest! {
    #![proptest_config(seeded(1500, 0x9a25_0008))]

    /// Decoding a page and shaping its records never panics, and secrets never come out.
    #[test]
    fn page_records_decode_and_shape((i, body, secret) in page_body()) {
        let def = &STREAMS[i];
        let shape = Shape::compile(&def_schema(def));
        let envelope = if def.envelope.is_empty() { "Items" } else { def.envelope };
        let decoded = catch_unwind(AssertUnwindSafe(|| serde_json::from_str::<Value>(&body)));
        prop_assert!(decoded.is_ok(), "decoding panicked");
        let Ok(Ok(page)) = decoded else { return Ok(()) };
        for record in page.get(envelope).and_then(Value::as_array).into_iter().flatten() {
            let mut record = record.clone();
            remove_secrets(&mut record, def.secret_fields);
            let out = shape.apply(record, def.name, &Drift::default());
            if let (Some(secret), false) = (&secret, def.secret_fields.is_empty()) {
                prop_assert!(!out.to_string().contains(secret.as_str()), "{} leaks a secret", def.name);
            }
        }
    }
}

/// The streams with secret fields, and that none of their schemas reaches them.
#[test]
fn secret_fields_are_not_in_schemas() {
    let mut with_secrets = BTreeMap::new();
    for def in STREAMS {
        if def.secret_fields.is_empty() {
            continue;
        }
        with_secrets.insert(def.name, def.secret_fields.len());
        let schema = def_schema(def);
        for path in def.secret_fields {
            let mut at = &schema;
            let mut reached = true;
            for p in *path {
                match at.get("properties").and_then(|ps| ps.get(*p)) {
                    Some(next) => at = next,
                    None => {
                        reached = false;
                        break;
                    }
                }
            }
            assert!(!reached, "{} declares secret {:?}", def.name, path);
        }
    }
    assert!(!with_secrets.is_empty());
}
