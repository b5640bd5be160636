//! Turns a Postmark object into the record the stream's schema promises.
//!
//! Driven by the (possibly user-edited) schema: every declared property is present (null where
//! Postmark omitted it), undeclared ones are dropped, `date-time` strings become UTC RFC 3339
//! with six fractional digits, and NUL characters are removed from strings. Secrets are removed
//! before any of this, whatever the schema says.

use crate::error::Error;
use crate::timefmt::{format_utc, parse_timestamp};
use serde_json::{Map, Value};

/// A schema compiled for fast record shaping.
#[derive(Clone, Debug)]
pub enum Shape {
    /// A string with `format: date-time`.
    DateTime,
    /// An object with declared properties; `open` keeps undeclared keys too (the schema gives
    /// `additionalProperties` a schema of its own, as for free-form detail maps).
    Object {
        props: Vec<Prop>,
        open: bool,
        /// Finds a property by name without comparing it to the others.
        index: KeyIndex,
    },
    /// An array whose items have a shape.
    Array(Box<Shape>),
    /// Anything else: kept as it is (NULs removed from strings).
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
        if schema.get("format").and_then(Value::as_str) == Some("date-time") {
            return Shape::DateTime;
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            if !props.is_empty() {
                let mut compiled: Vec<Prop> = props
                    .iter()
                    .map(|(k, v)| Prop {
                        name: k.clone(),
                        key: format!("{}:", Value::String(k.clone())),
                        shape: Shape::compile(v),
                    })
                    .collect();
                // Sorted (as serde_json writes a map's keys), so a record's keys are merged or
                // looked up by binary search.
                compiled.sort_by(|a, b| a.name.cmp(&b.name));
                return Shape::Object {
                    index: KeyIndex::new(&compiled),
                    props: compiled,
                    open: schema
                        .get("additionalProperties")
                        .is_some_and(Value::is_object),
                };
            }
        }
        if let Some(items) = schema.get("items") {
            return Shape::Array(Box::new(Shape::compile(items)));
        }
        Shape::Plain
    }

    /// Shapes a record of `stream`.
    pub fn apply(&self, mut value: Value, stream: &str) -> Result<Value, Error> {
        self.shape(&mut value).map_err(|(path, s)| {
            Error::Api(format!(
                "Postmark returned {stream}{path} = {s:?}, which is not a timestamp"
            ))
        })?;
        Ok(value)
    }

    /// Shapes a value in place; on failure gives the field path (built on the way out) and the
    /// bad value.
    fn shape(&self, value: &mut Value) -> Result<(), (String, String)> {
        match (self, value) {
            (_, Value::Null) => Ok(()),
            (Shape::DateTime, Value::String(s)) => match parse_timestamp(s) {
                Some(t) => {
                    *s = format_utc(t);
                    Ok(())
                }
                None => Err((String::new(), s.clone())),
            },
            (Shape::Object { props, open, .. }, Value::Object(map)) => {
                // One merge pass: the map iterates its keys in sorted order (serde_json's
                // BTreeMap; a test pins that) and `props` is sorted the same way.
                let mut next = 0;
                let mut missing: Vec<&String> = Vec::new();
                let mut undeclared: Vec<String> = Vec::new();
                for (k, v) in map.iter_mut() {
                    while next < props.len() && props[next].name.as_str() < k.as_str() {
                        missing.push(&props[next].name);
                        next += 1;
                    }
                    if next < props.len() && props[next].name == *k {
                        props[next]
                            .shape
                            .shape(v)
                            .map_err(|(path, s)| (format!(".{k}{path}"), s))?;
                        next += 1;
                    } else if *open {
                        strip_nul(v);
                    } else {
                        undeclared.push(k.clone());
                    }
                }
                missing.extend(props[next..].iter().map(|p| &p.name));
                for k in undeclared {
                    map.remove(&k);
                }
                for name in missing {
                    map.insert(name.clone(), Value::Null);
                }
                if *open {
                    strip_nul_keys(map);
                }
                Ok(())
            }
            (Shape::Array(items), Value::Array(list)) => {
                list.iter_mut().try_for_each(|v| items.shape(v))
            }
            (_, v) => {
                strip_nul(v);
                Ok(())
            }
        }
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
    use serde_json::json;

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
        let out = shape.apply(rec, "r").unwrap();
        assert_eq!(
            out,
            json!({"ID": 1, "At": "2017-02-25T18:59:44.045361Z", "Tag": null,
            "To": [{"Email": "ab@x", "Name": null}], "Metadata": {"k": "v"}})
        );
        assert!(shape.apply(json!({"At": "yesterday"}), "r").is_err());
        let open = Shape::compile(
            &json!({"properties": {"A": {}}, "additionalProperties": {"type": "string"}}),
        );
        assert_eq!(
            open.apply(json!({"B": "x"}), "r").unwrap(),
            json!({"A": null, "B": "x"})
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
