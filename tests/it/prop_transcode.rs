//! The record transcoder (`Shape::transcode_record`, the fast path) held to `Shape::apply` (the
//! `Value` path it stands in for).
//!
//! Schemas are built from a pool of property names (some needing JSON escapes) and every shape
//! the shaper knows: plain values, date-times, arrays of strings, of date-times and of closed
//! objects, closed and open objects. Records are generated as JSON *text*, mostly fitting the
//! schema: strings with escapes, numbers in several spellings, Postmark's timestamps and garbage,
//! spaces, tabs and line breaks between tokens, keys written escaped, repeated keys.
//!
//! Whenever the fast path writes a record, it is one line of JSON equal to what the `Value` path
//! makes of the same text (with `ServerID` added); it never writes a record the `Value` path
//! rejects; told the text is clean (no `\u0000`, no line break, as a page's text is checked), it
//! writes what it writes when it looks; and it declines only what it says it cannot carry (a NUL
//! in a copied value, a line break in the text, an open object, a timestamp it cannot read as
//! written, a value of another kind than its shape), so the property cannot hold by declining
//! everything.

use crate::common::props::seeded;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};
use std::fmt;
use tap_postmark::record::{Declined, Members};
use tap_postmark::record::{Drift, Shape, Stamps};
use tap_postmark::timefmt::parse_timestamp;

// ---------------------------------------------------------------------------------------------
// Schemas.
// ---------------------------------------------------------------------------------------------

/// Property names schemas declare (and records use); some need escaping in JSON.
const DECLARED: &[&str] = &[
    "ID",
    "ServerID",
    "MessageID",
    "ReceivedAt",
    "Tag",
    "To",
    "Email",
    "Metadata",
    "a\"b",
    "é",
    "back\\slash",
    "line\nbreak",
    "x\u{0}y",
    "",
    "liquid",
];

/// Names only records use; "costarring" has the same 32-bit FNV-1a hash as "liquid".
const UNDECLARED: &[&str] = &["Extra", "Ünknown", "nul\u{0}", "tab\there", "costarring"];

/// A property's schema, as generated.
#[derive(Clone, Debug)]
enum Field {
    /// A schema the shaper keeps values of as they are (`{"type": ["string", "null"]}`, an
    /// object without properties, ...).
    Plain(Value),
    DateTime,
    /// An array of strings.
    Strings,
    /// An array of date-times.
    DateTimes,
    /// An array of closed objects.
    List(Props),
    /// A closed object; `true` also writes `additionalProperties: false`.
    Closed(Props, bool),
    /// An object whose `additionalProperties` is a schema: undeclared keys are kept.
    Open(Props, Value),
}

/// Declared properties, names unique.
type Props = Vec<(String, Field)>;

fn object_schema(props: &Props) -> Value {
    let props: Map<String, Value> = props
        .iter()
        .map(|(name, field)| (name.clone(), field.schema()))
        .collect();
    json!({"type": ["object", "null"], "properties": props})
}

impl Field {
    fn schema(&self) -> Value {
        match self {
            Field::Plain(schema) => schema.clone(),
            Field::DateTime => json!({"type": ["string", "null"], "format": "date-time"}),
            Field::Strings => json!({"type": ["array", "null"], "items": {"type": "string"}}),
            Field::DateTimes => json!({"type": ["array", "null"],
                "items": {"type": ["string", "null"], "format": "date-time"}}),
            Field::List(props) => json!({"type": ["array", "null"], "items": object_schema(props)}),
            Field::Closed(props, no_more) => {
                let mut schema = object_schema(props);
                if *no_more {
                    schema["additionalProperties"] = json!(false);
                }
                schema
            }
            Field::Open(props, more) => {
                let mut schema = object_schema(props);
                schema["additionalProperties"] = more.clone();
                schema
            }
        }
    }
}

fn plain_schema() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!({"type": ["string", "null"]}),
        json!({"type": "integer"}),
        json!({"type": ["number", "null"]}),
        json!({"type": ["boolean", "null"]}),
        json!({}),
        json!({"type": ["object", "null"]}),
        // No properties, values of a schema: an open object, which the Value path shapes.
        json!({"type": ["object", "null"], "additionalProperties": {"type": "string"}}),
        json!({"type": "array"}),
    ])
}

fn props(field: BoxedStrategy<Field>, size: std::ops::Range<usize>) -> BoxedStrategy<Props> {
    prop::collection::btree_map(
        prop::sample::select(DECLARED).prop_map(str::to_string),
        field,
        size,
    )
    .prop_map(|m| m.into_iter().collect())
    .boxed()
}

/// A property's schema: nested objects two levels deep at most.
fn field() -> BoxedStrategy<Field> {
    let leaf = prop_oneof![
        4 => plain_schema().prop_map(Field::Plain),
        3 => Just(Field::DateTime),
        1 => Just(Field::Strings),
        1 => Just(Field::DateTimes),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            3 => props(inner.clone(), 1..4).prop_map(Field::List),
            3 => (props(inner.clone(), 1..4), any::<bool>())
                .prop_map(|(p, no_more)| Field::Closed(p, no_more)),
            1 => (
                props(inner, 1..4),
                prop::sample::select(vec![json!({}), json!({"type": ["string", "null"]})]),
            )
                .prop_map(|(p, more)| Field::Open(p, more)),
        ]
    })
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Records, as JSON text.
// ---------------------------------------------------------------------------------------------

/// A JSON value as written: strings and keys hold their text between the quotes.
#[derive(Clone, Debug)]
enum Json {
    /// `null`, `true`, `false` or a number, as written.
    Lit(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

fn null() -> Json {
    Json::Lit("null".to_string())
}

/// The value of a string's text (between the quotes).
fn decode(text: &str) -> String {
    serde_json::from_str(&format!("\"{text}\"")).expect("generated strings are valid JSON")
}

/// Pieces of string text: plain characters and escapes (`\\u0000` is no NUL).
const PIECES: &[&str] = &[
    "a",
    "Z",
    " ",
    "é",
    "😀",
    "<>&'",
    "\u{2028}",
    "\\\"",
    "\\\\",
    "\\u00e9",
    "\\u00E9",
    "\\/",
    "\\\\u0000",
    "\\n",
    "\\r\\n",
    "\\t",
    "\\b\\f",
    "\\u001f",
    "\\ud83d\\ude00",
];

/// Timestamps as Postmark writes them, in other accepted forms, and not timestamps at all.
fn timestamp() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "2017-02-25T13:59:44.0453616-05:00",
            "2024-01-01T00:00:00Z",
            "2024-11-03T01:30:00-04:00",
            "2024-07-22T15:39:49.3723691Z",
            "2024-01-01T00:00:00.123456789+05:30",
            "2024-01-01 00:00:00+0100",
            " 2024-01-01T00:00:00Z ",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec![
            // Read by the `Value` path; the fast path takes no escaped timestamp.
            "2024-01-01T00:00:00\\u005a",
            // Not timestamps: the `Value` path rejects them.
            "2024-03-10T02:30:00",
            "0001-01-01T00:00:00Z",
            "yesterday",
            "",
        ])
        .prop_map(str::to_string),
        3 => (
            0i64..4_000_000_000,
            0u32..1_000_000_000,
            prop::sample::select(vec!["-05:00", "-04:00", "Z", "+00:00"]),
        )
            .prop_map(|(secs, nanos, offset)| {
                let t = chrono::DateTime::from_timestamp(secs, nanos).expect("in range");
                format!("{}.{:07}{offset}", t.format("%Y-%m-%dT%H:%M:%S"), nanos / 100)
            }),
    ]
    .boxed()
}

/// A piece of string text, sometimes with a NUL (`\u0000`).
fn piece() -> BoxedStrategy<&'static str> {
    prop_oneof![
        12 => prop::sample::select(PIECES),
        1 => prop::sample::select(vec!["\\u0000", "\\\\\\u0000"]),
    ]
    .boxed()
}

fn string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::collection::vec(piece(), 0..5).prop_map(|p| p.concat()),
        2 => timestamp(),
        1 => "[a-zA-Z0-9 .:-]{0,12}",
    ]
    .boxed()
}

fn number() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "0",
            "-0",
            "7",
            "-17",
            "1.0",
            "1e2",
            "1E+2",
            "-0.0",
            "2.5e-3",
            "0.1",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "123456789012345678901234567890",
            "1.7976931348623157e308",
        ])
        .prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| f.to_string()),
    ]
    .boxed()
}

/// A key's text for `name`: as serde_json writes it, or every character as `\uXXXX`.
fn key_text(name: &str, escape_all: bool) -> String {
    if escape_all {
        name.encode_utf16().map(|u| format!("\\u{u:04x}")).collect()
    } else {
        let quoted = Value::from(name).to_string();
        quoted[1..quoted.len() - 1].to_string()
    }
}

fn key_for(name: String) -> BoxedStrategy<String> {
    prop::bool::weighted(0.2)
        .prop_map(move |all| key_text(&name, all))
        .boxed()
}

fn any_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(DECLARED),
        2 => prop::sample::select(UNDECLARED),
    ]
    .prop_flat_map(|name| key_for(name.to_string()))
    .boxed()
}

/// Any JSON value, three levels deep at most.
fn any_json() -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        1 => Just(null()),
        1 => any::<bool>().prop_map(|b| Json::Lit(b.to_string())),
        2 => number().prop_map(Json::Lit),
        5 => string().prop_map(Json::Str),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            2 => prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Arr),
            3 => prop::collection::vec((any_key(), inner), 0..5).prop_map(Json::Obj),
        ]
    })
    .boxed()
}

/// A value for a property: mostly of the kind its schema describes.
fn value_for(field: &Field) -> BoxedStrategy<Json> {
    let fitting = match field {
        Field::Plain(schema) => {
            let schema = schema.clone();
            any_json()
                .prop_filter("a type the schema allows", move |v| allows(&schema, v))
                .boxed()
        }
        Field::DateTime => timestamp().prop_map(Json::Str).boxed(),
        Field::Strings => prop::collection::vec(string().prop_map(Json::Str), 0..3)
            .prop_map(Json::Arr)
            .boxed(),
        Field::DateTimes => prop::collection::vec(
            prop_oneof![4 => timestamp().prop_map(Json::Str), 1 => Just(null())],
            0..3,
        )
        .prop_map(Json::Arr)
        .boxed(),
        Field::List(props) => prop::collection::vec(object_for(props), 0..3)
            .prop_map(Json::Arr)
            .boxed(),
        Field::Closed(props, _) | Field::Open(props, _) => object_for(props),
    };
    prop_oneof![12 => fitting, 1 => Just(null()), 2 => any_json()].boxed()
}

/// An object for declared properties: each absent, once or twice (the last one counts), plus a
/// few other members, in any order.
fn object_for(props: &Props) -> BoxedStrategy<Json> {
    let declared: Vec<BoxedStrategy<Vec<(String, Json)>>> = props
        .iter()
        .map(|(name, field)| {
            prop::collection::vec((key_for(name.clone()), value_for(field)), 0..=2).boxed()
        })
        .collect();
    let others = prop::collection::vec((any_key(), any_json()), 0..3);
    (declared, others)
        .prop_flat_map(|(declared, others)| {
            let members: Vec<(String, Json)> =
                declared.into_iter().flatten().chain(others).collect();
            Just(members).prop_shuffle()
        })
        .prop_map(Json::Obj)
        .boxed()
}

/// Whitespace between tokens: blanks only, or with line breaks too.
fn spacing() -> BoxedStrategy<Vec<&'static str>> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(vec!["", "", " ", "\t", "  ", " \t "]), 1..12),
        1 => prop::collection::vec(prop::sample::select(vec!["", " ", "\t", "\n", "\r", "\r\n", " \n\t"]), 1..12),
    ]
    .boxed()
}

/// Writes a value, with whitespace from `spacing` (in turn) between every two tokens.
struct Writer<'a> {
    spacing: &'a [&'static str],
    turn: usize,
    out: String,
}

impl Writer<'_> {
    fn gap(&mut self) {
        self.out
            .push_str(self.spacing[self.turn % self.spacing.len()]);
        self.turn += 1;
    }

    fn write(&mut self, v: &Json) {
        match v {
            Json::Lit(text) => self.out.push_str(text),
            Json::Str(text) => {
                self.out.push('"');
                self.out.push_str(text);
                self.out.push('"');
            }
            Json::Arr(items) => {
                self.out.push('[');
                self.gap();
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                        self.gap();
                    }
                    self.write(item);
                    self.gap();
                }
                self.out.push(']');
            }
            Json::Obj(members) => {
                self.out.push('{');
                self.gap();
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                        self.gap();
                    }
                    self.out.push('"');
                    self.out.push_str(key);
                    self.out.push('"');
                    self.gap();
                    self.out.push(':');
                    self.gap();
                    self.write(value);
                    self.gap();
                }
                self.out.push('}');
            }
        }
    }
}

fn render(v: &Json, spacing: &[&'static str]) -> String {
    let mut w = Writer {
        spacing,
        turn: 0,
        out: String::new(),
    };
    w.gap();
    w.write(v);
    w.gap();
    w.out
}

/// One generated case: a schema's properties, a record (as a tree and as its text) and the
/// server ID the tap adds.
#[derive(Clone)]
struct Case {
    props: Props,
    record: Json,
    text: String,
    server_id: Option<u64>,
}

impl Case {
    fn schema(&self) -> Value {
        let mut schema = object_schema(&self.props);
        schema["type"] = json!("object");
        schema
    }
}

/// Shows what a failure needs to be reproduced: the schema, the text and the server ID.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Case")
            .field("schema", &self.schema().to_string())
            .field("text", &self.text)
            .field("server_id", &self.server_id)
            .finish()
    }
}

fn case() -> BoxedStrategy<Case> {
    prop_oneof![1 => Just(Vec::new()), 12 => props(field(), 1..7)]
        .prop_flat_map(|props| {
            let record = prop_oneof![
                6 => object_for(&props),
                1 => prop::collection::vec((any_key(), any_json()), 0..8).prop_map(Json::Obj),
            ];
            (
                Just(props),
                record,
                spacing(),
                prop::option::of(prop_oneof![Just(7u64), any::<u64>()]),
            )
        })
        .prop_map(|(props, record, spacing, server_id)| Case {
            text: render(&record, &spacing),
            props,
            record,
            server_id,
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// What the fast path must take.
// ---------------------------------------------------------------------------------------------

/// The last member named `name` (serde_json keeps the last of repeated keys).
fn member<'a>(members: &'a [(String, Json)], name: &str) -> Option<&'a Json> {
    members
        .iter()
        .rev()
        .find(|(key, _)| decode(key) == name)
        .map(|(_, v)| v)
}

/// Whether a value holds a NUL character, in a string or a key.
fn has_nul(v: &Json) -> bool {
    match v {
        Json::Lit(_) => false,
        Json::Str(text) => decode(text).contains('\0'),
        Json::Arr(items) => items.iter().any(has_nul),
        Json::Obj(members) => members
            .iter()
            .any(|(key, value)| decode(key).contains('\0') || has_nul(value)),
    }
}

/// The JSON type of a value as written (`"number"` for a number with a fraction or exponent).
fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Lit(text) if text == "null" => "null",
        Json::Lit(text) if text == "true" || text == "false" => "boolean",
        Json::Lit(text) if text.contains(['.', 'e', 'E']) || text == "-0" => "number",
        Json::Lit(text) if text.parse::<i64>().is_err() && text.parse::<u64>().is_err() => "number",
        Json::Lit(_) => "integer",
        Json::Str(_) => "string",
        Json::Arr(_) => "array",
        Json::Obj(_) => "object",
    }
}

/// Whether a schema's `type` allows a value as written.
fn allows(schema: &Value, v: &Json) -> bool {
    let is = json_type(v);
    let names: Vec<&str> = match schema.get("type") {
        None => return true,
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(_) => return true,
    };
    names
        .iter()
        .any(|t| *t == is || (*t == "number" && is == "integer"))
}

/// Whether the fast path must write `v` for `field` (given a text without line breaks): a value
/// of a type the schema allows, as it is.
fn fits(field: &Field, v: &Json) -> bool {
    if !allows(&field.schema(), v) {
        return false;
    }
    if json_type(v) == "null" {
        return true;
    }
    match (field, v) {
        // An object whose `additionalProperties` is a schema is open: the Value path's.
        (Field::Plain(schema), Json::Obj(_)) if schema["additionalProperties"].is_object() => false,
        (Field::Plain(_), v) => !has_nul(v),
        (Field::Strings, Json::Arr(items)) => items
            .iter()
            .all(|x| matches!(x, Json::Str(_)) && !has_nul(x)),
        (Field::DateTime, Json::Str(text)) => {
            !text.contains('\\') && parse_timestamp(&decode(text)).is_some()
        }
        (Field::DateTimes, Json::Arr(items)) => items.iter().all(|x| fits(&Field::DateTime, x)),
        (Field::List(props), Json::Arr(items)) => items.iter().all(|x| fits_object(props, x)),
        (Field::Closed(props, _), v) => fits_object(props, v),
        _ => false,
    }
}

fn fits_object(props: &Props, v: &Json) -> bool {
    let Json::Obj(members) = v else { return false };
    props
        .iter()
        .all(|(name, field)| member(members, name).is_none_or(|v| fits(field, v)))
}

/// Whether the fast path must take a case.
fn must_take(case: &Case) -> bool {
    let Json::Obj(members) = &case.record else {
        return false;
    };
    !case.props.is_empty()
        && !case.text.contains(['\n', '\r'])
        && case.props.iter().all(|(name, field)| {
            let value = match case.server_id {
                Some(id) if name == "ServerID" => Some(Json::Lit(id.to_string())),
                _ => member(members, name).cloned(),
            };
            value.is_none_or(|v| fits(field, &v))
        })
}

// ---------------------------------------------------------------------------------------------
// The property.
// ---------------------------------------------------------------------------------------------

/// What became of a case.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The text is no JSON (not generated on purpose; kept for safety).
    Skipped,
    Written,
    Declined,
}

/// The fast path's line for a record, or `Declined`.
fn fast_path(
    shape: &Shape,
    members: &Members,
    server_id: Option<u64>,
    clean: bool,
) -> Result<Vec<u8>, Declined> {
    let mut out = Vec::new();
    let stamps = Stamps::new(server_id, None);
    shape.transcode_record(members, &stamps, clean, &mut out, &mut Vec::new())?;
    Ok(out)
}

/// Whether a text is clean, as a page's text is checked: no line break and no `\u0000`.
fn is_clean(text: &str) -> bool {
    !text.contains(['\n', '\r']) && !text.contains("\\u0000")
}

/// Runs both paths on a case and checks the fast path against the `Value` path.
fn check(case: &Case) -> Result<Outcome, TestCaseError> {
    let Ok(mut record) = serde_json::from_str::<Value>(&case.text) else {
        return Ok(Outcome::Skipped);
    };
    let shape = Shape::compile(&case.schema());
    let members = Members::parse(&case.text);
    prop_assert!(members.is_some(), "the text is an object");
    let members = members.expect("checked");
    let fast = fast_path(&shape, &members, case.server_id, false);
    if is_clean(&case.text) {
        // Copying without looking changes nothing when there is nothing to find.
        let told_clean = fast_path(&shape, &members, case.server_id, true);
        prop_assert_eq!(&told_clean, &fast, "told the text is clean");
    }

    if let (Some(id), Some(map)) = (case.server_id, record.as_object_mut()) {
        map.insert("ServerID".into(), Value::from(id));
    }
    // The `Value` path always gives a record; it is what the fast path is held to.
    let slow = shape.apply(record, "s", &Drift::default());

    let Ok(out) = fast else {
        prop_assert!(
            !must_take(case),
            "the fast path declined a record it can carry; the Value path gives {:?}",
            slow
        );
        return Ok(Outcome::Declined);
    };
    let line = String::from_utf8_lossy(&out).into_owned();
    prop_assert!(
        !out.contains(&b'\n') && !out.contains(&b'\r'),
        "a line break in {:?}",
        line
    );
    let written: Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => return Err(TestCaseError::fail(format!("not JSON ({e}): {line:?}"))),
    };
    prop_assert_eq!(written, slow, "written: {}", line);
    Ok(Outcome::Written)
}

proptest! {
    #![proptest_config(seeded(256, 0x7a25_0001))]

    /// Any schema and record text: the fast path writes one JSON line equal to the `Value`
    /// path's record, or declines; it declines only what it cannot carry.
    #[test]
    fn fast_path_writes_what_the_value_path_writes(case in case()) {
        check(&case)?;
    }
}

/// The property cannot hold by declining everything: the fast path must write every generated
/// record that fits its schema (a text without line breaks, no NUL in a copied value, no open
/// object, every timestamp readable as written), and a good share of them do. Declined ones
/// (the `Value` path) are common too.
#[test]
fn fast_path_takes_a_good_share_of_generated_records() {
    const CASES: usize = 256;
    let mut runner = TestRunner::new(seeded(CASES as u32, 0x7a25_0002));
    let strategy = case();
    let (mut fitting, mut written, mut declined) = (0, 0, 0);
    for _ in 0..CASES {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        fitting += usize::from(must_take(&case));
        match check(&case) {
            Ok(Outcome::Written) => written += 1,
            Ok(Outcome::Declined) => declined += 1,
            Ok(Outcome::Skipped) => {}
            Err(e) => panic!("{e} in {case:?}"),
        }
    }
    assert!(fitting >= CASES / 5, "only {fitting} of {CASES} fit");
    assert!(
        written >= fitting,
        "{written} written of {fitting} that fit"
    );
    assert!(
        declined >= CASES / 10,
        "only {declined} of {CASES} declined"
    );
}

// ---------------------------------------------------------------------------------------------
// A typical record.
// ---------------------------------------------------------------------------------------------

/// More properties than the transcoder keeps on the stack, looked up by hash: every one is
/// found, written in order, the last of a repeated key winning.
#[test]
fn fast_path_writes_a_wide_record() {
    let names: Vec<String> = (0..100).map(|i| format!("P{i}")).collect();
    let props: Map<String, Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let field = if i % 2 == 0 {
                Field::Plain(json!({}))
            } else {
                Field::DateTime
            };
            (name.clone(), field.schema())
        })
        .collect();
    let shape = Shape::compile(&json!({"type": "object", "properties": props}));
    let members: Vec<String> = names
        .iter()
        .rev()
        .enumerate()
        .map(|(i, name)| format!("\"{name}\": \"2024-01-01T00:00:0{}Z\"", i % 10))
        .chain([
            "\"P1\": null".to_string(),
            "\"P99\": \"2024-01-01T00:00:00Z\"".to_string(),
        ])
        .collect();
    let text = format!("{{{}}}", members.join(", "));
    let out = fast_path(
        &shape,
        &Members::parse(&text).expect("an object"),
        None,
        false,
    )
    .expect("taken");
    let expected = shape.apply(
        serde_json::from_str(&text).expect("JSON"),
        "s",
        &Drift::default(),
    );
    assert_eq!(expected["P1"], Value::Null);
    assert_eq!(expected["P99"], "2024-01-01T00:00:00.000000Z");
    assert_eq!(
        serde_json::from_slice::<Value>(&out).expect("JSON"),
        expected
    );
}

fn outbound_schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/catalog/messages_outbound.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

/// A message from the outbound search, as Postmark writes it: the fast path takes it and
/// writes, byte for byte, what serde_json writes for the `Value` path's record.
#[test]
fn fast_path_takes_a_typical_outbound_message() {
    let text = r#"{"Tag": "welcome", "MessageID": "0ac29aee-e1cd-480d-b08d-4f48548ff48d",
        "MessageStream": "outbound", "To": [{"Email": "john.doe@example.com", "Name": null}],
        "Cc": [], "Bcc": [], "Recipients": ["john.doe@example.com"],
        "ReceivedAt": "2017-02-25T13:59:44.0453616-05:00",
        "From": "\"Acme \u00e9\" <notifications@example.com>", "Subject": "Welcome\/hello",
        "Attachments": [], "Status": "Sent", "TrackOpens": true, "TrackLinks": "None",
        "Metadata": {"color": "blue", "client-id": "12345"}, "Sandboxed": false}"#
        .replace("\n        ", " ");
    let shape = Shape::compile(&outbound_schema());
    let members = Members::parse(&text).expect("an object");
    assert!(is_clean(&text));
    let out = fast_path(&shape, &members, Some(42), false)
        .expect("the fast path takes a typical message");
    assert_eq!(fast_path(&shape, &members, Some(42), true), Ok(out.clone()));

    let mut record: Value = serde_json::from_str(&text).expect("JSON");
    record["ServerID"] = json!(42);
    let expected = shape.apply(record, "messages_outbound", &Drift::default());
    assert_eq!(expected["ReceivedAt"], "2017-02-25T18:59:44.045361Z");
    assert_eq!(expected["ServerID"], 42);
    let written: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(written, expected);
    // Compact JSON with no escape serde_json would write otherwise: the very same bytes.
    let compact = r#"{"Tag":"t","MessageID":"m","ReceivedAt":"2024-01-01T00:00:00Z","Metadata":{"a":"1"},"To":[{"Email":"e","Name":"n"}],"Extra":[1]}"#;
    let members = Members::parse(compact).expect("an object");
    let out = fast_path(&shape, &members, None, true).expect("taken");
    let expected = shape.apply(
        serde_json::from_str(compact).expect("JSON"),
        "messages_outbound",
        &Drift::default(),
    );
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        serde_json::to_string(&expected).expect("serialisable")
    );
}
