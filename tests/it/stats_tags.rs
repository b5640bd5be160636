//! Statistics per tag (`stats_tags`): every statistics stream's rows of each tag equal the
//! simulator's per-tag counters day by day, in server and account mode; the rows of all
//! messages stay as they are without the setting; `"*"` finds the tags on outbound messages,
//! remembers them, and stops loudly past `stats_tags_max`.

use crate::common::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use postmark_sim::Simulator;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use tap_postmark::streams::{Kind, Stats, StreamDef, STREAMS};

/// The columns the tap adds to a statistics row (not Postmark's figures).
const STAMPS: &[&str] = &["ServerID", "MessageStream", "Tag", "Date"];

fn stats_streams() -> impl Iterator<Item = (&'static StreamDef, Stats)> {
    STREAMS.iter().filter_map(|d| match d.kind {
        Kind::Stats(shape) => Some((d, shape)),
        _ => None,
    })
}

fn eastern_day(t: DateTime<Utc>) -> NaiveDate {
    tap_postmark::timefmt::eastern_date(t)
}

/// A stream's rows of one server, message stream and `Tag`, day by day in the form the
/// simulator answers a single day in: the figures without the tap's columns (a pivoted stream's
/// rows folded back into `{name: count}`; zero figures left out, as Postmark leaves them out).
fn tap_days(
    run: &Run,
    def: &StreamDef,
    shape: Stats,
    server: u64,
    ms: &str,
    tag: &str,
) -> BTreeMap<String, Value> {
    let mut days: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let rows = run
        .records(def.name)
        .filter(|r| r["ServerID"] == server && r["MessageStream"] == ms && r["Tag"] == tag);
    for r in rows {
        let day = days
            .entry(r["Date"].as_str().expect("a Date").to_string())
            .or_default();
        match shape {
            Stats::Long(name) => {
                let key = r[name].as_str().expect("a name").to_string();
                assert!(day.insert(key, r["Count"].clone()).is_none(), "{r}");
            }
            _ => {
                assert!(day.is_empty(), "{}: two rows for one day: {r}", def.name);
                for (k, v) in r.as_object().expect("an object") {
                    let zero = shape != Stats::Overview && v == &json!(0);
                    if !STAMPS.contains(&k.as_str()) && !zero {
                        day.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    days.into_iter()
        .map(|(d, m)| (d, Value::Object(m)))
        .collect()
}

/// Asserts every statistics stream's rows of each tag (and of all messages, `Tag` "") on every
/// outbound message stream of `servers` equal the simulator's, day by day from `start`'s
/// Eastern day to today's; returns the number of (stream, server, message stream, tag) checked
/// that had rows.
fn assert_tags_match(
    run: &Run,
    sim: &Simulator,
    servers: &[u64],
    tags: &BTreeMap<(u64, String), BTreeSet<String>>,
    start: DateTime<Utc>,
) -> usize {
    let days = (eastern_day(start), eastern_day(sim.now()));
    let mut with_rows = 0;
    for &server in servers {
        let streams = tags.keys().filter(|(s, _)| *s == server).map(|(_, ms)| ms);
        for ms in streams {
            let wanted =
                std::iter::once("").chain(tags[&(server, ms.clone())].iter().map(|t| t.as_str()));
            for tag in wanted {
                for (def, shape) in stats_streams() {
                    let ours = tap_days(run, def, shape, server, ms, tag);
                    let truth = sim
                        .stats_days(server, def.name, ms, (!tag.is_empty()).then_some(tag), days)
                        .expect("the simulator knows the stream");
                    assert_eq!(ours, truth, "{} server {server} {ms} tag {tag:?}", def.name);
                    with_rows += usize::from(!ours.is_empty());
                }
            }
        }
    }
    with_rows
}

/// The outbound message streams of each server, as the run's SCHEMA-checked `message_streams`
/// rows give them, each with `tags`.
fn outbound_streams(
    run: &Run,
    tags: &BTreeSet<String>,
) -> BTreeMap<(u64, String), BTreeSet<String>> {
    run.records("message_streams")
        .filter(|r| r["MessageStreamType"] != "Inbound")
        .map(|r| {
            let key = (
                r["ServerID"].as_u64().unwrap(),
                r["ID"].as_str().unwrap().to_string(),
            );
            (key, tags.clone())
        })
        .collect()
}

/// Every key of `stream`'s records, under the key its SCHEMA declares, is unique.
fn assert_keys_unique(run: &Run, stream: &str) {
    let schema = run
        .messages
        .iter()
        .find(|m| m["type"] == "SCHEMA" && m["stream"] == stream)
        .expect("a SCHEMA");
    let keys: Vec<&str> = schema["key_properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(keys[..3], ["ServerID", "MessageStream", "Tag"], "{stream}");
    let mut seen = BTreeSet::new();
    for r in run.records(stream) {
        let key: Vec<String> = keys.iter().map(|k| r[*k].to_string()).collect();
        assert!(seen.insert(key), "{stream}: a key twice: {r}");
    }
}

/// Listed tags, in server mode: each tag's rows (and a tag no message has: none) equal the
/// simulator's per-tag counters, day by day, on every statistics stream and message stream.
#[test]
fn listed_tags_match_the_simulator_day_by_day_in_server_mode() {
    let sim = sim(account(1, 12, 150));
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(13);
    let mut config = config_for(&sim, false, start);
    config["stats_tags"] = json!(["welcome", "newsletter", "no-such-tag"]);
    let run = scratch.tap(&config).sync();
    let listed: BTreeSet<String> = ["welcome", "newsletter", "no-such-tag"]
        .map(String::from)
        .into();
    let server = sim.servers()[0].id;
    let checked = assert_tags_match(
        &run,
        &sim,
        &[server],
        &outbound_streams(&run, &listed),
        start,
    );
    assert!(checked > 30, "only {checked} tagged series had rows");
    for (def, shape) in stats_streams() {
        assert_keys_unique(&run, def.name);
        // A tag no message carries: zero figures in the overview (which answers every day),
        // no row anywhere else.
        let ghost = run.records(def.name).filter(|r| r["Tag"] == "no-such-tag");
        match shape {
            Stats::Overview => {
                assert!(ghost
                    .flat_map(|r| r.as_object().unwrap().iter())
                    .all(|(k, v)| STAMPS.contains(&k.as_str())
                        || v == &json!(0)
                        || v == &json!(0.0)))
            }
            _ => assert_eq!(ghost.count(), 0, "{}", def.name),
        }
    }
}

/// `"*"`, in account mode: the tags read are exactly those on each server's and message
/// stream's outbound messages, and their rows equal the simulator's day by day. The state keeps
/// them; a later run reads them again.
#[test]
fn found_tags_match_the_simulator_day_by_day_in_account_mode() {
    let sim = sim(account(2, 8, 120));
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(9);
    let mut config = config_for(&sim, true, start);
    config["stats_tags"] = json!(["*"]);
    let tap = scratch.tap(&config);
    let run = tap.sync();
    let mut found: BTreeMap<(u64, String), BTreeSet<String>> =
        outbound_streams(&run, &BTreeSet::new());
    for r in run.records("messages_outbound") {
        let key = (
            r["ServerID"].as_u64().unwrap(),
            r["MessageStream"].as_str().unwrap().to_string(),
        );
        if let Some(tag) = r["Tag"].as_str().filter(|t| !t.is_empty()) {
            found
                .get_mut(&key)
                .expect("an outbound stream")
                .insert(tag.to_string());
        }
    }
    let tagged: BTreeSet<(u64, String, String)> = stats_streams()
        .flat_map(|(def, _)| run.records(def.name))
        .filter(|r| r["Tag"] != "")
        .map(|r| {
            (
                r["ServerID"].as_u64().unwrap(),
                r["MessageStream"].as_str().unwrap().to_string(),
                r["Tag"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(u64, String, String)> = found
        .iter()
        .flat_map(|((s, ms), tags)| tags.iter().map(move |t| (*s, ms.clone(), t.clone())))
        .collect();
    assert!(expected.len() >= 6, "{expected:?}");
    assert_eq!(tagged, expected, "the tags read are the tags found");
    let checked = assert_tags_match(&run, &sim, &server_ids(&sim), &found, start);
    assert!(checked > 60, "only {checked} tagged series had rows");
    for (def, _) in stats_streams() {
        assert_keys_unique(&run, def.name);
    }
    // The state remembers each tag found; the next run reads every one again, from its own
    // bookmark (the days of the lookback only).
    let state = run.last_state().unwrap();
    for (s, ms, tag) in &expected {
        assert!(
            state["stats_tags"][s.to_string()][ms][tag].is_string(),
            "{s} {ms} {tag}: {state}"
        );
        let bookmark =
            &state["bookmarks"]["stats_outbound_sends"][s.to_string()][format!("{ms}/{tag}")];
        assert!(bookmark.is_string(), "{s} {ms} {tag}: {state}");
    }
    let again = tap.state(state).sync();
    for (s, ms, tag) in &expected {
        let days: BTreeSet<&str> = again
            .records("stats_outbound_overview")
            .filter(|r| {
                r["ServerID"] == *s && r["MessageStream"] == ms.as_str() && r["Tag"] == tag.as_str()
            })
            .map(|r| r["Date"].as_str().unwrap())
            .collect();
        assert!((1..=3).contains(&days.len()), "{s} {ms} {tag}: {days:?}");
    }
}

/// Without `stats_tags` the statistics streams have no `Tag` at all; with it, the rows of all
/// messages are the same rows with `Tag` "" (and `Tag` in the key).
#[test]
fn rows_of_all_messages_are_unchanged_by_the_setting() {
    let sim = sim(account(1, 4, 100));
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(5);
    let config = config_for(&sim, false, start);
    let mut tagged_config = config.clone();
    tagged_config["stats_tags"] = json!(["receipt"]);
    let plain = scratch.tap(&config).sync();
    let tagged = scratch.tap(&tagged_config).sync();
    for (def, _) in stats_streams() {
        let schema = |run: &Run| {
            run.messages
                .iter()
                .find(|m| m["type"] == "SCHEMA" && m["stream"] == def.name)
                .cloned()
                .expect("a SCHEMA")
        };
        let before = schema(&plain);
        assert!(
            before["schema"]["properties"].get("Tag").is_none(),
            "{}",
            def.name
        );
        assert_eq!(
            before["key_properties"],
            json!(def.key_properties),
            "{}",
            def.name
        );
        assert!(plain.records(def.name).all(|r| r.get("Tag").is_none()));
        let after = schema(&tagged);
        assert_eq!(
            after["schema"]["properties"]["Tag"],
            json!({"type": "string"})
        );
        let all: Vec<Value> = tagged
            .records(def.name)
            .filter(|r| r["Tag"] == "")
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("Tag");
                r
            })
            .collect();
        let rows: Vec<Value> = plain.records(def.name).cloned().collect();
        assert_eq!(all, rows, "{}", def.name);
    }
}

/// More tags found than `stats_tags_max` stops the run with one line naming the setting; `"*"`
/// without `messages_outbound` selected is refused before any request (when a statistics stream
/// is selected).
#[test]
fn found_tags_past_the_cap_or_without_their_source_are_loud_errors() {
    let sim = sim(account(1, 3, 100));
    let scratch = Scratch::new();
    let mut config = config_for(&sim, false, sim.now() - Duration::days(4));
    config["stats_tags"] = json!(["*"]);
    config["stats_tags_max"] = json!(2);
    let run = scratch.tap(&config).run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    let line = the_critical_line(&run.stderr);
    assert!(line.contains("more than stats_tags_max (2)"), "{line}");
    for (def, _) in stats_streams() {
        assert!(
            run.records(def.name).all(|r| r["Tag"] == ""),
            "{}: a tag read",
            def.name
        );
    }
    sim.clear_request_log();
    let run = scratch
        .tap(&config)
        .selecting(&["stats_outbound_sends"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    let line = the_critical_line(&run.stderr);
    assert!(line.contains("messages_outbound"), "{line}");
    assert!(sim.request_log().is_empty(), "a request was made");
    // Without a statistics stream selected, `"*"` has nothing to read for, and asks nothing.
    let run = scratch.tap(&config).selecting(&["messages_outbound"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `--discover` with a config that sets `stats_tags` declares `Tag` on every statistics stream
/// (a string, in the key after `MessageStream`, selected automatically) and nowhere else.
#[test]
fn discover_with_stats_tags_declares_the_tag() {
    let scratch = Scratch::new();
    let config = json!({"postmark_server_token": "t", "stats_tags": ["welcome"]});
    let run = scratch.tap(&config).with(&["--discover"]).run_raw();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let catalog: Value = serde_json::from_str(&run.stdout).unwrap();
    let plain = discover();
    for (entry, before) in catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .zip(plain["streams"].as_array().unwrap())
    {
        let name = entry["stream"].as_str().unwrap();
        let def = tap_postmark::streams::find(name).unwrap();
        if !matches!(def.kind, Kind::Stats(_)) {
            assert_eq!(entry, before, "{name}");
            continue;
        }
        let mut key: Vec<&str> = def.key_properties.to_vec();
        key.insert(2, "Tag");
        assert_eq!(entry["key_properties"], json!(key), "{name}");
        assert_eq!(
            entry["schema"]["properties"]["Tag"],
            json!({"type": "string"}),
            "{name}"
        );
        let root = &entry["metadata"][0]["metadata"];
        assert_eq!(root["table-key-properties"], json!(key), "{name}");
        let tag = entry["metadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["breadcrumb"] == json!(["properties", "Tag"]))
            .expect("metadata for Tag");
        assert_eq!(tag["metadata"]["inclusion"], "automatic", "{name}");
    }
}
