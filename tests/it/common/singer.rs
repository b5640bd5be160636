//! Singer output as a target reads it: the protocol rules it relies on, records against their
//! SCHEMA, and what a cut-off run delivered.

use super::run::Run;
use chrono::DateTime;
use serde_json::Value;
use std::collections::HashMap;

/// Parses Singer lines, checking the protocol rules a target relies on.
pub fn parse_singer(stdout: &str) -> Vec<Value> {
    let mut schemas: HashMap<String, Value> = HashMap::new();
    let mut messages = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        let m: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line {} is not JSON ({e}): {line}", i + 1));
        match m["type"].as_str() {
            Some("SCHEMA") => {
                let stream = m["stream"].as_str().expect("SCHEMA stream").to_string();
                assert!(
                    m["key_properties"].is_array(),
                    "SCHEMA without key_properties: {line}"
                );
                assert!(
                    m["schema"]["properties"].is_object(),
                    "SCHEMA without properties"
                );
                assert!(!schemas.contains_key(&stream), "second SCHEMA for {stream}");
                schemas.insert(stream, m["schema"].clone());
            }
            Some("RECORD") => {
                let stream = m["stream"].as_str().expect("RECORD stream");
                assert!(
                    schemas.contains_key(stream),
                    "RECORD for {stream} before its SCHEMA"
                );
                assert!(m["record"].is_object());
                let t = m["time_extracted"].as_str().expect("time_extracted");
                assert!(
                    t.ends_with('Z') && DateTime::parse_from_rfc3339(t).is_ok(),
                    "{t}"
                );
            }
            Some("STATE") => assert!(m["value"].is_object(), "STATE value not an object"),
            Some("ACTIVATE_VERSION") => {
                let stream = m["stream"].as_str().expect("ACTIVATE_VERSION stream");
                assert!(
                    schemas.contains_key(stream),
                    "ACTIVATE_VERSION for {stream} before its SCHEMA"
                );
                assert!(m["version"].is_i64(), "version not an integer: {line}");
            }
            other => panic!("unexpected message type {other:?}: {line}"),
        }
        messages.push(m);
    }
    messages
}

/// Validates every RECORD against its stream's SCHEMA with `jsonschema` (formats checked), and
/// checks that key properties are present and non-null and that every schema key is present.
pub fn validate_records(run: &Run) {
    let mut validators: HashMap<String, (jsonschema::Validator, Value, Vec<String>)> =
        HashMap::new();
    for m in &run.messages {
        match m["type"].as_str() {
            Some("SCHEMA") => {
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&m["schema"])
                    .expect("schema compiles");
                let keys = m["key_properties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap().to_string())
                    .collect();
                validators.insert(
                    m["stream"].as_str().unwrap().to_string(),
                    (v, m["schema"].clone(), keys),
                );
            }
            Some("RECORD") => {
                let stream = m["stream"].as_str().unwrap();
                let (validator, schema, keys) = &validators[stream];
                let record = &m["record"];
                // `is_valid` stops at the first error; the errors are listed only for a failure.
                if !validator.is_valid(record) {
                    let errors: Vec<String> = validator
                        .iter_errors(record)
                        .map(|e| e.to_string())
                        .collect();
                    panic!("{stream} record invalid: {errors:?}\n{record}");
                }
                for k in keys {
                    assert!(!record[k].is_null(), "{stream}: key {k} null in {record}");
                }
                for p in schema["properties"].as_object().unwrap().keys() {
                    assert!(
                        record.get(p).is_some(),
                        "{stream}: property {p} missing in {record}"
                    );
                }
                assert!(!has_nul(record), "{stream}: NUL in {record}");
            }
            _ => {}
        }
    }
}

/// Whether a string of `v` (a key or a value, at any depth) holds a NUL character.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The messages a target keeps of a run cut off before its end: those up to and including the
/// last STATE (none without one).
pub fn covered_by_last_state(messages: &[Value]) -> &[Value] {
    let end = messages
        .iter()
        .rposition(|m| m["type"] == "STATE")
        .map_or(0, |i| i + 1);
    &messages[..end]
}

/// stdout with every `time_extracted` blanked: the only part of it that depends on the clock.
pub fn without_extraction_times(stdout: &str) -> String {
    let mut out = String::with_capacity(stdout.len());
    let mut rest = stdout;
    while let Some(at) = rest.find("\"time_extracted\":\"") {
        let value = at + "\"time_extracted\":\"".len();
        out.push_str(&rest[..value]);
        let end = rest[value..].find('"').map_or(rest.len(), |e| value + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_nul_is_found_at_any_depth_in_keys_and_values() {
    use serde_json::json;
    assert!(!has_nul(&json!({"a": ["b", {"c": 1}], "d": null})));
    assert!(has_nul(&json!({"a": "x\u{0}y"})));
    assert!(has_nul(&json!({"a": [{"b": ["\u{0}"]}]})));
    assert!(has_nul(&json!({"a": {"k\u{0}": 1}})));
}
