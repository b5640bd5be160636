//! Checks the stream schemas in `catalog/`: that they are valid JSON Schemas, use only
//! Draft-4 keywords, type their key properties as non-null and everything else as nullable,
//! keep `date-time` values at the top level, never declare secrets, and stay in step with the
//! stream table (`tap_postmark::streams::STREAMS`) and its copy in `docs/streams.md`.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::repo::{repo_file, repo_path};
use crate::common::table::{is_account, is_stats};
use serde_json::{json, Map, Value};
use tap_postmark::streams::STREAMS;

/// Keywords a schema may use: all understood by Draft 4 (singer-check-tap) and later drafts.
const ALLOWED_KEYWORDS: [&str; 6] = [
    "type",
    "properties",
    "items",
    "format",
    "additionalProperties",
    "description",
];

/// `catalog/<stream>.json`, by stream.
fn catalog() -> BTreeMap<String, Value> {
    let dir = repo_path("catalog");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("catalog/ is readable") {
        let path = entry.expect("catalog entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 file name")
            .to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let schema = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        out.insert(name, schema);
    }
    out
}

/// `stream -> key properties`, read from the table of `docs/streams.md` (stream name in
/// backticks in column 1, key properties in backticks in column 3).
fn documented_keys() -> BTreeMap<String, Vec<String>> {
    let text = repo_file("docs/streams.md");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // A leading and a trailing empty cell surround the four columns.
        assert!(cells.len() >= 5, "unexpected table row: {line}");
        let stream = backticked(cells[1]);
        assert_eq!(stream.len(), 1, "column 1 must name one stream: {line}");
        let keys = backticked(cells[3]);
        assert!(!keys.is_empty(), "no key properties in: {line}");
        let previous = out.insert(stream[0].clone(), keys);
        assert!(previous.is_none(), "stream {} listed twice", stream[0]);
    }
    out
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn props(schema: &Value) -> &Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .expect("schema has a properties object")
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_nullable(schema: &Value) -> bool {
    types(schema).contains(&"null")
}

/// Calls `f(path, subschema)` for every subschema below `schema` (not `schema` itself):
/// property schemas, `items`, and `additionalProperties` when it is a schema.
fn walk_subschemas(schema: &Value, path: &str, f: &mut dyn FnMut(&str, &Value)) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            let p = format!("{path}.{name}");
            f(&p, sub);
            walk_subschemas(sub, &p, f);
        }
    }
    if let Some(items) = schema.get("items") {
        let p = format!("{path}[]");
        f(&p, items);
        walk_subschemas(items, &p, f);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        let p = format!("{path}.*");
        f(&p, extra);
        walk_subschemas(extra, &p, f);
    }
}

#[test]
fn catalog_and_docs_hold_exactly_the_streams_of_the_table() {
    let expected: BTreeSet<String> = STREAMS.iter().map(|d| d.name.to_string()).collect();
    assert_eq!(
        expected.len(),
        STREAMS.len(),
        "a stream name is in the table twice"
    );
    let files: BTreeSet<String> = catalog().into_keys().collect();
    assert_eq!(
        files, expected,
        "catalog/*.json must be exactly the streams of the table"
    );

    let documented = documented_keys();
    assert_eq!(
        documented.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "docs/streams.md must list exactly the streams of the table"
    );
    for def in STREAMS {
        assert_eq!(
            documented[def.name], def.key_properties,
            "docs/streams.md: key properties of {}",
            def.name
        );
    }
}

#[test]
fn schemas_are_valid_json_schemas() {
    for (name, schema) in catalog() {
        if let Err(e) = jsonschema::draft4::meta::validate(&schema) {
            panic!("{name}: not a valid Draft 4 schema: {e}");
        }
        if let Err(e) = jsonschema::draft7::meta::validate(&schema) {
            panic!("{name}: not a valid Draft 7 schema: {e}");
        }
        if let Err(e) = jsonschema::draft4::new(&schema) {
            panic!("{name}: does not compile: {e}");
        }
    }
}

#[test]
fn schemas_are_open_object_schemas_with_properties() {
    for (name, schema) in catalog() {
        assert_eq!(
            schema.get("type"),
            Some(&json!("object")),
            "{name}: top-level type must be \"object\""
        );
        assert!(!props(&schema).is_empty(), "{name}: properties are empty");
        assert_ne!(
            schema.get("additionalProperties"),
            Some(&json!(false)),
            "{name}: the top level must accept fields Postmark adds"
        );
        assert!(
            schema.get("description").and_then(Value::as_str).is_some(),
            "{name}: missing top-level description"
        );
    }
}

#[test]
fn schemas_use_only_draft4_keywords() {
    fn check(name: &str, path: &str, schema: &Value) {
        let obj = schema
            .as_object()
            .unwrap_or_else(|| panic!("{name}{path}: a schema must be an object"));
        for key in obj.keys() {
            assert!(
                ALLOWED_KEYWORDS.contains(&key.as_str()),
                "{name}{path}: keyword {key:?} is not allowed"
            );
        }
        assert!(!types(schema).is_empty(), "{name}{path}: missing type");
    }
    for (name, schema) in catalog() {
        check(&name, "", &schema);
        walk_subschemas(&schema, "", &mut |path, sub| check(&name, path, sub));
    }
}

#[test]
fn date_times_are_top_level_only() {
    // singer-check-tap crashes on a null nested object whose schema holds a date-time property.
    for (name, schema) in catalog() {
        for (prop, sub) in props(&schema) {
            walk_subschemas(sub, &format!(".{prop}"), &mut |path, nested| {
                assert_ne!(
                    nested.get("format"),
                    Some(&json!("date-time")),
                    "{name}{path}: date-time inside a nested object"
                );
            });
        }
    }
}

#[test]
fn formats_are_typed_strings() {
    for (name, schema) in catalog() {
        walk_subschemas(&schema, "", &mut |path, sub| {
            if let Some(format) = sub.get("format") {
                assert!(
                    format == "date-time" || format == "date",
                    "{name}{path}: unexpected format {format}"
                );
                assert!(
                    types(sub).contains(&"string"),
                    "{name}{path}: a format needs a string type"
                );
            }
        });
    }
}

#[test]
fn no_secrets_are_declared() {
    for (name, schema) in catalog() {
        walk_subschemas(&schema, "", &mut |path, _| {
            let last = path.rsplit('.').next().unwrap_or(path);
            assert!(
                !last.contains("ApiTokens") && !last.contains("Password"),
                "{name}{path}: secrets must not be part of a schema"
            );
        });
    }
}

#[test]
fn documented_key_properties_are_non_null_and_the_rest_nullable() {
    let catalog = catalog();
    for (stream, keys) in documented_keys() {
        let schema = catalog
            .get(&stream)
            .unwrap_or_else(|| panic!("no schema for documented stream {stream}"));
        let properties = props(schema);
        for key in &keys {
            let sub = properties
                .get(key)
                .unwrap_or_else(|| panic!("{stream}: key property {key} is not in the schema"));
            assert!(!types(sub).is_empty(), "{stream}.{key}: missing type");
            assert!(
                !is_nullable(sub),
                "{stream}.{key}: a key property must not be nullable"
            );
        }
        for (prop, sub) in properties {
            if !keys.contains(prop) {
                assert!(
                    is_nullable(sub),
                    "{stream}.{prop}: a non-key property must be nullable"
                );
            }
        }
        walk_subschemas(schema, "", &mut |path, sub| {
            if path.matches('.').count() > 1 || path.contains("[]") || path.ends_with(".*") {
                assert!(
                    is_nullable(sub),
                    "{stream}{path}: nested members must be nullable"
                );
            }
        });
    }
}

#[test]
fn server_scoped_streams_carry_server_id() {
    let catalog = catalog();
    for def in STREAMS {
        let (stream, keys) = (def.name, def.key_properties);
        let properties = props(&catalog[stream]);
        if is_account(def) {
            assert!(
                !properties.contains_key("ServerID"),
                "{stream}: account-level records carry no ServerID"
            );
        } else {
            let server_id = properties
                .get("ServerID")
                .unwrap_or_else(|| panic!("{stream}: ServerID is missing"));
            assert_eq!(
                types(server_id),
                ["integer"],
                "{stream}: ServerID must be a non-null integer"
            );
            assert!(
                keys.contains(&"ServerID"),
                "{stream}: ServerID must be a key property"
            );
        }
    }
}

#[test]
fn stats_rows_have_a_date_column() {
    let catalog = catalog();
    for def in STREAMS.iter().filter(|d| is_stats(d)) {
        let name = def.name;
        let properties = props(&catalog[name]);
        assert_eq!(
            properties.get("Date"),
            Some(&json!({
                "type": "string",
                "description": "Calendar day in US Eastern time (added by the tap).",
                "format": "date"
            })),
            "{name}: Date must be a non-null date"
        );
        assert_eq!(
            types(&properties["MessageStream"]),
            ["string"],
            "{name}: MessageStream must be a non-null string"
        );
        // Every column but the key (server, message stream, day and the pivoted name) counts.
        for (prop, sub) in properties {
            if !def.key_properties.contains(&prop.as_str()) {
                let t = types(sub);
                assert!(
                    t.contains(&"integer") || t.contains(&"number"),
                    "{name}.{prop}: statistics columns are numeric"
                );
            }
        }
    }
}

/// A sample value for a non-null schema: enough to exercise types and formats.
fn sample(schema: &Value) -> Value {
    match (types(schema).first().copied(), schema.get("format")) {
        (Some("string"), Some(f)) if f == "date-time" => json!("2024-03-14T14:22:31.417864Z"),
        (Some("string"), Some(f)) if f == "date" => json!("2024-03-14"),
        (Some("string"), _) => json!("x"),
        (Some("integer"), _) => json!(1),
        (Some("number"), _) => json!(1.5),
        (Some("boolean"), _) => json!(true),
        (Some("object"), _) => json!({}),
        (Some("array"), _) => json!([]),
        other => panic!("no sample for type {other:?}"),
    }
}

#[test]
fn minimal_records_validate_and_null_keys_do_not() {
    for (name, schema) in catalog() {
        let validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{name}: does not compile: {e}"));
        let mut record = Map::new();
        for (prop, sub) in props(&schema) {
            let value = if is_nullable(sub) {
                Value::Null
            } else {
                sample(sub)
            };
            record.insert(prop.clone(), value);
        }
        let record = Value::Object(record);
        if let Err(e) = validator.validate(&record) {
            panic!("{name}: record with null non-key fields is rejected: {e}");
        }
        for (prop, sub) in props(&schema) {
            if is_nullable(sub) {
                continue;
            }
            let mut bad = record.clone();
            bad[prop] = Value::Null;
            assert!(
                !validator.is_valid(&bad),
                "{name}: a null {prop} must be rejected"
            );
        }
        for (prop, sub) in props(&schema) {
            if sub.get("format").is_none() {
                continue;
            }
            // Postmark's own spelling of a date is not what the tap emits.
            let mut bad = record.clone();
            bad[prop] = json!("14 Mar 2024 10:22");
            assert!(
                !validator.is_valid(&bad),
                "{name}: a malformed {prop} must be rejected"
            );
        }
    }
}

#[test]
fn webhook_auth_keeps_only_the_user_name() {
    let catalog = catalog();
    let auth = &props(&catalog["webhooks"])["HttpAuth"];
    let members: Vec<&String> = props(auth).keys().collect();
    assert_eq!(members, ["Username"]);
}
