//! Input catalogs: selection, field deselection, and the input schema being the one emitted.

use crate::common::*;
use chrono::Duration;
use postmark_sim::Simulator;
use serde_json::{json, Value};

/// A server of two days of messages, and a config reading it from before the first.
fn one_server() -> (Simulator, Value) {
    let sim = sim(account(1, 2, 200));
    let config = config_for(&sim, false, sim.now() - Duration::days(3));
    (sim, config)
}

#[test]
fn deselected_fields_vanish_and_the_input_schema_is_emitted() {
    let (_sim, config) = one_server();
    let mut entry = discover()["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["tap_stream_id"] == "messages_outbound")
        .unwrap()
        .clone();
    // Meltano's way: everything deselected, then the stream and some fields selected, as strings
    // and booleans; a user schema override adds a property; extra keys everywhere.
    for m in entry["metadata"].as_array_mut().unwrap() {
        m["metadata"]["selected"] = json!(false);
    }
    let root = &mut entry["metadata"][0]["metadata"];
    root["selected"] = json!("true");
    root["meltano-extra"] = json!({"x": 1});
    for m in entry["metadata"].as_array_mut().unwrap() {
        if ["Subject", "Status", "Tag"].contains(&m["breadcrumb"][1].as_str().unwrap_or("")) {
            m["metadata"]["selected"] = json!(true);
        }
    }
    entry["schema"]["properties"]["CustomColumn"] = json!({"type": ["string", "null"]});
    entry["metadata"].as_array_mut().unwrap().push(json!({
        "breadcrumb": ["properties", "CustomColumn"], "metadata": {"inclusion": "automatic"}}));
    entry["replication_method"] = json!("INCREMENTAL");
    let scratch = Scratch::new();
    let run = scratch
        .tap(&config)
        .catalog(&json!({"streams": [entry]}))
        .sync();
    assert_eq!(
        run.streams_with_records().into_iter().collect::<Vec<_>>(),
        vec!["messages_outbound"]
    );
    let schema = &run.messages.iter().find(|m| m["type"] == "SCHEMA").unwrap()["schema"];
    let mut emitted: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    emitted.sort();
    // Keys and the bookmark are automatic: they stay although Meltano deselected them.
    assert_eq!(
        emitted,
        [
            "CustomColumn",
            "MessageID",
            "ReceivedAt",
            "ServerID",
            "Status",
            "Subject",
            "Tag"
        ]
    );
    let record = run.records("messages_outbound").next().unwrap();
    let mut keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, emitted);
    assert!(record["CustomColumn"].is_null());
}

#[test]
fn unselected_streams_make_no_requests_and_keep_their_bookmarks() {
    let (sim, config) = one_server();
    let catalog = json!({"streams": [{"tap_stream_id": "templates", "metadata": [
        {"breadcrumb": [], "metadata": {"selected": true}}]}]});
    let foreign = json!({"version": 1, "bookmarks": {
        "messages_outbound": {"10001": {"outbound": "2020-01-01T00:00:00.000000Z"}}}});
    let scratch = Scratch::new();
    let tap = scratch.tap(&config).catalog(&catalog).state(&foreign);
    sim.clear_request_log();
    let run = tap.sync();
    assert!(sim
        .request_log()
        .iter()
        .all(|r| !r.path.starts_with("/messages")));
    assert_eq!(
        run.last_state().unwrap()["bookmarks"]["messages_outbound"],
        foreign["bookmarks"]["messages_outbound"]
    );
    // The run ends with a STATE (targets that keep only the last STATE need it after the records).
    assert_eq!(run.messages.last().unwrap()["type"], "STATE");
}
