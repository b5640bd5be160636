//! Turns a Postmark object into the record the stream's schema promises: the `Value` path.
//!
//! Driven by the (possibly user-edited) schema: every declared property is present (null where
//! Postmark omitted it), undeclared ones are dropped, `date-time` strings become UTC RFC 3339
//! with six fractional digits, and NUL characters are removed from strings. A value of another
//! type than the schema allows is converted when nothing is lost (a number into a string
//! property, `"42"` into an integer one), and written as null otherwise; both are noted as
//! [`Drift`], so a record always fits its schema. Secrets are removed before any of this,
//! whatever the schema says.

use super::drift::{Drift, Event};
use super::types::{type_name, Types};
use crate::timefmt::{format_utc, parse_timestamp};
use serde_json::{Map, Number, Value};

/// A schema compiled for fast record shaping.
#[derive(Clone, Debug)]
pub struct Shape {
    pub types: Types,
    pub kind: ValueKind,
}

#[derive(Clone, Debug)]
pub enum ValueKind {
    /// A string with `format: date-time`.
    DateTime,
    /// An object with declared properties; `extra` shapes undeclared keys too (the schema gives
    /// `additionalProperties` a schema of its own, as for free-form detail maps), which are
    /// dropped otherwise.
    Object {
        props: Vec<Prop>,
        extra: Option<Box<Shape>>,
        /// Finds a property by name without comparing it to the others.
        index: KeyIndex,
    },
    /// An array whose items have a shape.
    Array(Box<Shape>),
    /// Anything else: kept as it is when its type is allowed (NULs removed from strings).
    Plain,
}

/// A declared property of an object shape.
#[derive(Clone, Debug)]
pub struct Prop {
    pub name: String,
    /// The name as written before its value: `"name":` (JSON-escaped).
    pub key: String,
    pub shape: Shape,
}

impl Shape {
    pub fn compile(schema: &Value) -> Shape {
        Shape {
            types: Types::from_schema(schema),
            kind: ValueKind::compile(schema),
        }
    }

    /// Shapes a record of `stream`, noting its drift.
    pub fn apply(&self, mut value: Value, stream: &str, drift: &Drift) -> Value {
        let mut path = String::new();
        self.fit(&mut value, &mut path, &mut |e| drift.note(stream, e));
        value
    }

    /// Shapes a value in place; `path` is where it is (`.To[0].Email`).
    fn fit(&self, value: &mut Value, path: &mut String, note: &mut dyn FnMut(Event)) {
        match (&self.kind, &mut *value) {
            (_, Value::Null) => {}
            (ValueKind::DateTime, Value::String(s)) => match parse_timestamp(s) {
                Some(t) => *s = format_utc(t),
                None => self.null(value, path, note),
            },
            (ValueKind::Object { props, extra, .. }, Value::Object(map)) => {
                fit_object(props, extra.as_deref(), map, path, note)
            }
            (ValueKind::Array(items), Value::Array(list)) => {
                for (i, item) in list.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    items.fit(item, path, note);
                    path.truncate(len);
                }
            }
            (ValueKind::DateTime, _) => self.null(value, path, note),
            // A value the schema allows as it is (a plain value, or an object or list where the
            // schema also allows one).
            (_, v) if self.types.allows(v) => strip_nul(v),
            (_, _) => self.convert(value, path, note),
        }
    }

    /// A value of a type the schema does not allow: converted when nothing is lost, else null.
    fn convert(&self, value: &mut Value, path: &str, note: &mut dyn FnMut(Event)) {
        match convert(value, self.types) {
            Some(mut converted) => {
                strip_nul(&mut converted);
                note(Event::Converted {
                    path: display(path),
                    from: type_name(value),
                    to: self.types.describe(),
                });
                *value = converted;
            }
            None => self.null(value, path, note),
        }
    }

    fn null(&self, value: &mut Value, path: &str, note: &mut dyn FnMut(Event)) {
        note(Event::Nulled {
            path: display(path),
            original: value,
        });
        *value = Value::Null;
    }
}

/// The record itself, where the path is empty.
fn display(path: &str) -> &str {
    if path.is_empty() {
        "the record"
    } else {
        path.trim_start_matches('.')
    }
}

impl ValueKind {
    fn compile(schema: &Value) -> ValueKind {
        if schema.get("format").and_then(Value::as_str) == Some("date-time") {
            return ValueKind::DateTime;
        }
        let extra = schema
            .get("additionalProperties")
            .filter(|a| a.is_object())
            .map(|a| Box::new(Shape::compile(a)));
        let props = schema.get("properties").and_then(Value::as_object);
        if props.is_some() || extra.is_some() {
            let empty = serde_json::Map::new();
            let props = props.unwrap_or(&empty);
            if !props.is_empty() || extra.is_some() {
                let mut compiled: Vec<Prop> = props
                    .iter()
                    .map(|(k, v)| Prop {
                        name: k.clone(),
                        key: format!("{}:", Value::String(k.clone())),
                        shape: Shape::compile(v),
                    })
                    .collect();
                // Sorted (as serde_json writes a map's keys), so a record's keys are merged in
                // one pass.
                compiled.sort_by(|a, b| a.name.cmp(&b.name));
                return ValueKind::Object {
                    index: KeyIndex::new(&compiled),
                    props: compiled,
                    extra,
                };
            }
        }
        if let Some(items) = schema.get("items") {
            return ValueKind::Array(Box::new(Shape::compile(items)));
        }
        ValueKind::Plain
    }
}

/// Shapes an object's members: declared ones by their property, undeclared ones by `extra` (or
/// dropped), absent ones written as null.
fn fit_object(
    props: &[Prop],
    extra: Option<&Shape>,
    map: &mut Map<String, Value>,
    path: &mut String,
    note: &mut dyn FnMut(Event),
) {
    // One merge pass: the map iterates its keys in sorted order (serde_json's BTreeMap; a test
    // pins that) and `props` is sorted the same way.
    let mut next = 0;
    let mut missing: Vec<&String> = Vec::new();
    let mut undeclared: Vec<String> = Vec::new();
    for (k, v) in map.iter_mut() {
        while next < props.len() && props[next].name.as_str() < k.as_str() {
            missing.push(&props[next].name);
            next += 1;
        }
        let len = path.len();
        path.push('.');
        path.push_str(k);
        if next < props.len() && props[next].name == *k {
            props[next].shape.fit(v, path, note);
            next += 1;
        } else if let Some(extra) = extra {
            extra.fit(v, path, note);
        } else {
            note(Event::Undeclared {
                path: display(path),
            });
            undeclared.push(k.clone());
        }
        path.truncate(len);
    }
    missing.extend(props[next..].iter().map(|p| &p.name));
    for k in undeclared {
        map.remove(&k);
    }
    for name in missing {
        map.insert(name.clone(), Value::Null);
    }
    if extra.is_some() {
        strip_nul_keys(map);
    }
}

/// `value` as one of `types`, when nothing is lost on the way: a number or a boolean as its
/// text, an object or an array as its JSON text, a string holding a number or a boolean as that
/// value, an integral float as an integer.
fn convert(value: &Value, types: Types) -> Option<Value> {
    match value {
        Value::Bool(b) if types.has(Types::STRING) => Some(Value::String(b.to_string())),
        Value::Number(n) if types.has(Types::STRING) => Some(Value::String(n.to_string())),
        Value::Array(_) | Value::Object(_) if types.has(Types::STRING) => {
            Some(Value::String(value.to_string()))
        }
        Value::Number(n) if types.has(Types::INTEGER) => {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then(|| Value::from(f as i64))
        }
        Value::String(s)
            if types.has(Types::INTEGER) && s.parse::<i64>().is_ok_and(|i| i.to_string() == *s) =>
        {
            s.parse::<i64>().ok().map(Value::from)
        }
        Value::String(s) if types.has(Types::NUMBER) => serde_json::from_str::<Number>(s)
            .ok()
            .filter(|_| !s.starts_with(['+', ' ']) && s.trim() == s)
            .map(Value::Number),
        Value::String(s) if types.has(Types::BOOLEAN) => match s.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

/// Removes NUL characters from every string (and key) in a value: targets such as PostgreSQL
/// reject them.
fn strip_nul(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', ""),
        Value::Array(list) => list.iter_mut().for_each(strip_nul),
        Value::Object(map) => {
            strip_nul_keys(map);
            map.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

/// Removes NUL characters from an object's keys (rare: rebuilt only when one has any).
fn strip_nul_keys(map: &mut Map<String, Value>) {
    if map.keys().any(|k| k.contains('\0')) {
        let old = std::mem::take(map);
        *map = old
            .into_iter()
            .map(|(k, v)| (k.replace('\0', ""), v))
            .collect();
    }
}

/// Removes the fields named by `paths` (each a path of object keys) from a record.
pub fn remove_secrets(record: &mut Value, paths: &[&[&str]]) {
    for path in paths {
        remove_path(record, path);
    }
}

fn remove_path(v: &mut Value, path: &[&str]) {
    if let Value::Array(list) = v {
        list.iter_mut().for_each(|item| remove_path(item, path));
        return;
    }
    match path {
        [] => {}
        [last] => {
            if let Some(map) = v.as_object_mut() {
                map.remove(*last);
            }
        }
        [first, rest @ ..] => {
            if let Some(child) = v.as_object_mut().and_then(|m| m.get_mut(*first)) {
                remove_path(child, rest);
            }
        }
    }
}

/// Finds an object shape's property by name: an open-addressing table of FNV-1a hashes, so a
/// record's key costs one hash and (almost always) one comparison.
#[derive(Clone, Debug, Default)]
pub struct KeyIndex {
    /// (hash, property index + 1); 0 marks an empty slot.
    table: Vec<(u32, u32)>,
}

impl KeyIndex {
    pub fn new(props: &[Prop]) -> KeyIndex {
        let size = (props.len() * 2).next_power_of_two().max(4);
        let mut table = vec![(0u32, 0u32); size];
        for (i, prop) in props.iter().enumerate() {
            let h = fnv1a(&prop.name);
            let mut at = h as usize & (size - 1);
            while table[at].1 != 0 {
                at = (at + 1) & (size - 1);
            }
            table[at] = (h, i as u32 + 1);
        }
        KeyIndex { table }
    }

    pub(crate) fn find(&self, props: &[Prop], key: &str) -> Option<usize> {
        let mask = self.table.len().checked_sub(1)?;
        let h = fnv1a(key);
        let mut at = h as usize & mask;
        loop {
            let (hash, slot) = self.table[at];
            if slot == 0 {
                return None;
            }
            let i = slot as usize - 1;
            if hash == h && props.get(i).is_some_and(|p| p.name == key) {
                return Some(i);
            }
            at = (at + 1) & mask;
        }
    }
}

fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::drift::DriftCounts;
    use serde_json::json;

    fn apply(shape: &Shape, rec: Value) -> (Value, DriftCounts) {
        let drift = Drift::default();
        let out = shape.apply(rec, "r", &drift);
        (out, drift.counts())
    }

    #[test]
    fn shapes_a_record() {
        let schema = json!({"type": "object", "properties": {
            "ID": {"type": "integer"},
            "At": {"type": ["string", "null"], "format": "date-time"},
            "Tag": {"type": ["string", "null"]},
            "To": {"type": "array", "items": {"type": "object", "properties": {
                "Email": {"type": "string"}, "Name": {"type": ["string", "null"]}}}},
            "Metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
        }});
        let shape = Shape::compile(&schema);
        let rec = json!({"ID": 1, "At": "2017-02-25T13:59:44.0453616-05:00", "Extra": 1,
            "To": [{"Email": "a\u{0}b@x"}], "Metadata": {"k": "v\u{0}"}});
        let (out, counts) = apply(&shape, rec);
        assert_eq!(
            out,
            json!({"ID": 1, "At": "2017-02-25T18:59:44.045361Z", "Tag": null,
            "To": [{"Email": "ab@x", "Name": null}], "Metadata": {"k": "v"}})
        );
        assert_eq!(counts.undeclared, 1);
        let open = Shape::compile(
            &json!({"properties": {"A": {}}, "additionalProperties": {"type": "string"}}),
        );
        assert_eq!(
            apply(&open, json!({"B": "x"})).0,
            json!({"A": null, "B": "x"})
        );
    }

    #[test]
    fn values_of_another_type_are_converted_without_loss_or_written_as_null() {
        let shape = Shape::compile(&json!({"properties": {
            "S": {"type": ["string", "null"]},
            "I": {"type": ["integer", "null"]},
            "N": {"type": ["number", "null"]},
            "B": {"type": ["boolean", "null"]},
            "At": {"type": ["string", "null"], "format": "date-time"},
            "O": {"type": ["object", "null"], "properties": {"x": {"type": ["string", "null"]}}},
            "Any": {}
        }}));
        let (out, counts) = apply(
            &shape,
            json!({"S": 1033567275, "I": "42", "N": "1.5", "B": "true", "At": "yesterday",
                   "O": [1], "Any": {"deep": [true]}}),
        );
        assert_eq!(
            out,
            json!({"S": "1033567275", "I": 42, "N": 1.5, "B": true, "At": null, "O": null,
                   "Any": {"deep": [true]}})
        );
        assert_eq!((counts.converted, counts.nulled), (4, 2));
        let (out, counts) = apply(
            &shape,
            json!({"S": {"a": [1]}, "I": 2.0, "N": true, "B": 1, "O": {"x": false}}),
        );
        assert_eq!(
            out,
            json!({"S": "{\"a\":[1]}", "I": 2, "N": null, "B": null, "At": null,
                   "O": {"x": "false"}, "Any": null})
        );
        assert_eq!((counts.converted, counts.nulled), (3, 2));
        // Strings that are not exactly a number stay strings where strings are allowed, and
        // become null where they are not.
        let (out, _) = apply(&shape, json!({"I": "042", "N": " 1", "B": "yes"}));
        assert_eq!(
            (&out["I"], &out["N"], &out["B"]),
            (&json!(null), &json!(null), &json!(null))
        );
    }

    /// Shaping merges a record's keys with the schema's in one sorted pass, which relies on
    /// serde_json's map iterating in key order (its default; the `preserve_order` feature would
    /// break it).
    #[test]
    fn json_maps_iterate_in_key_order() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"b": 1, "a": 2, "c": 3, "B": 4}"#).unwrap();
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["B", "a", "b", "c"]);
    }

    #[test]
    fn removes_nested_secrets() {
        let mut rec = json!({"ApiTokens": ["t"], "HttpAuth": {"Username": "u", "Password": "p"},
            "List": [{"Password": "p", "Keep": 1}]});
        remove_secrets(
            &mut rec,
            &[
                &["ApiTokens"],
                &["HttpAuth", "Password"],
                &["List", "Password"],
            ],
        );
        assert_eq!(
            rec,
            json!({"HttpAuth": {"Username": "u"}, "List": [{"Keep": 1}]})
        );
    }
}
