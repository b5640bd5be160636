//! Every RECORD fits the SCHEMA written before it, whatever types Postmark sends.
//!
//! For every stream of the table, records are generated from its schema with their values'
//! types drifted: numbers, booleans, strings, objects, arrays and nulls where the schema has
//! something else, Postmark's timestamp forms and garbage where it has a date-time, keys Postmark
//! adds, keys left out. Each record is written both ways the tap writes records (from its JSON
//! text, with the fallback, and from a `Value`), and each line written is validated with
//! `jsonschema` (formats checked) against the stream's schema; both ways write the same record.
//! A record whose key would be null is not written at all.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestRunner};
use serde_json::{json, Map, Value};
use tap_postmark::record::line::RecordWriter;
use tap_postmark::record::page::{self, Record};
use tap_postmark::record::transcode::Stamps;
use tap_postmark::singer::catalog::{self, Selected};

/// Every stream, selected, with the schema it emits.
fn every_stream() -> Vec<Selected> {
    let mut catalog = catalog::discover(false).unwrap();
    for entry in catalog["streams"].as_array_mut().unwrap() {
        entry["metadata"][0]["metadata"]["selected"] = json!(true);
    }
    catalog::select(&catalog).unwrap()
}

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[a-zA-Z0-9 ._:@-]{0,12}".prop_map(Value::from),
        Just(json!("1033567275")),
        Just(json!("true")),
        Just(json!("2017-02-25T13:59:44.0453616-05:00")),
        Just(json!("2019-03-05T10:11:12.1234567")),
        Just(json!("2024-07-22T15:39:49Z")),
        Just(json!("not a time")),
    ]
    .boxed()
}

/// Any JSON value, nested a little.
fn drifted() -> BoxedStrategy<Value> {
    scalar()
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[A-Za-z]{1,6}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A value for a key property: of its type, or of one the tap converts without loss.
fn key_value(schema: &Value) -> BoxedStrategy<Value> {
    let types = schema["type"].clone();
    let is = |t: &str| types == json!(t) || types.as_array().is_some_and(|a| a.contains(&json!(t)));
    if schema["format"] == "date" {
        return Just(json!("2024-03-10")).boxed();
    }
    if schema["format"] == "date-time" {
        return prop_oneof![
            Just(json!("2017-02-25T13:59:44.0453616-05:00")),
            Just(json!("2019-11-03T01:30:00.5")),
        ]
        .boxed();
    }
    if is("integer") {
        return prop_oneof![(1i64..1_000_000).prop_map(Value::from), Just(json!("4242"))].boxed();
    }
    prop_oneof![
        "[a-z0-9-]{1,12}".prop_map(Value::from),
        (1i64..99).prop_map(Value::from)
    ]
    .boxed()
}

/// A record of `sel`: each declared property absent, drifted, or (for keys) of a usable type;
/// now and then a key the schema does not declare.
fn record(sel: &Selected) -> BoxedStrategy<Value> {
    let props = sel.schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
        .into_iter()
        .map(|(name, schema)| {
            let key = sel.key_properties.contains(&name);
            let value = if key { key_value(&schema) } else { drifted() };
            let weight = if key { 0.98 } else { 0.7 };
            prop::option::weighted(weight, value.prop_map(move |v| (name.clone(), v))).boxed()
        })
        .collect();
    (fields, prop::option::of(("Extra[A-Z]{1,3}", drifted())))
        .prop_map(|(fields, extra)| {
            let mut m: Map<String, Value> = fields.into_iter().flatten().collect();
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

/// The record written from its text (fast path, with the fallback) and from a `Value`.
fn write_both(sel: &Selected, record: &Value) -> (Option<Value>, Option<Value>) {
    let stamps = Stamps::new(Some(7), Some("outbound"));
    let writer = RecordWriter::new(sel, stamps, "2024-01-01T00:00:00.000000Z").unwrap();
    let body = json!({"TotalCount": 1, "Items": [record]}).to_string();
    let mut text_line = Vec::new();
    let mut written = false;
    page::parse(body.as_bytes(), "Items", &mut |so_far, rec: Record| {
        written = writer.text(&rec, so_far.clean, &mut text_line)?;
        Ok(())
    })
    .unwrap()
    .value
    .unwrap();
    let from_text = written.then(|| serde_json::from_slice::<Value>(&text_line).unwrap());
    let mut value_line = Vec::new();
    let from_value = writer
        .value(record.clone(), &mut value_line)
        .unwrap()
        .then(|| serde_json::from_slice::<Value>(&value_line).unwrap());
    (from_text, from_value)
}

#[test]
fn every_record_fits_its_schema_whatever_types_postmark_sends() {
    for sel in every_stream() {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&sel.schema)
            .unwrap();
        let config = ProptestConfig {
            cases: 300,
            rng_seed: RngSeed::Fixed(0xd21f7 + sel.def.name.len() as u64),
            ..ProptestConfig::default()
        };
        let mut runner = TestRunner::new(config);
        let written = std::cell::Cell::new(0u32);
        runner
            .run(&record(&sel), |rec| {
                let (from_text, from_value) = write_both(&sel, &rec);
                prop_assert_eq!(&from_text, &from_value, "the two ways differ on {}", rec);
                if let Some(line) = from_value {
                    assert_eq!(line["type"], "RECORD");
                    let out = &line["record"];
                    let errors: Vec<String> =
                        validator.iter_errors(out).map(|e| e.to_string()).collect();
                    prop_assert!(
                        errors.is_empty(),
                        "{}: {:?}\nin: {}\nout: {}",
                        sel.def.name,
                        errors,
                        rec,
                        out
                    );
                    written.set(written.get() + 1);
                }
                Ok(())
            })
            .unwrap();
        // Most records have their keys, so most are written: the property is not held by
        // writing nothing.
        assert!(written.get() > 0, "{}: no record written", sel.def.name);
        let counts = sel.drift.counts();
        assert!(
            counts.converted + counts.nulled > 0,
            "{}: no drift was met",
            sel.def.name
        );
    }
}
