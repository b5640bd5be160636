//! The fast path of record shaping: writes a record straight from its JSON text, guided by the
//! compiled [`Shape`], without building a `serde_json::Value` tree.
//!
//! Declared properties are written in the order serde_json writes a map's keys (sorted), absent
//! ones as `null`, undeclared ones dropped, and `date-time` strings converted to UTC; every other
//! value is copied through as Postmark wrote it. Whenever the text holds something a copy cannot
//! carry (a NUL character, a line break between tokens, an open object, a value of another type
//! than the schema expects, a timestamp that does not parse), the transcoder declines and the
//! caller takes the `Value` path ([`Shape::apply`]), which also words any error. Tests hold both
//! paths to the same records (`tests/prop_transcode.rs`). Numbers keep Postmark's spelling
//! (`1E+2`, or an integer past 2^64, stays as written where a `Value` would write `100.0` or round
//! it): the same JSON value, and nothing lost.

use crate::record::{Prop, Shape};
use crate::timefmt::{format_utc, parse_timestamp};
use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// The transcoder cannot carry this value; take the `Value` path.
#[derive(Debug, PartialEq, Eq)]
pub struct Declined;

/// A JSON object's members as written: keys unescaped, values still JSON text.
#[derive(Default)]
pub struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    pub const EMPTY: Members<'static> = Members(Vec::new());

    /// Reads an object's members; `None` when `text` is not a JSON object.
    pub fn parse(text: &'a str) -> Option<Members<'a>> {
        serde_json::from_str(text).ok()
    }

    /// Reads an object's members into `storage` (emptied first, so one list can serve many
    /// records).
    pub fn read<A: MapAccess<'a>>(
        mut storage: Vec<(Cow<'a, str>, &'a RawValue)>,
        mut map: A,
    ) -> Result<Members<'a>, A::Error> {
        storage.clear();
        while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
            storage.push((k, map.next_value::<&'a RawValue>()?));
        }
        Ok(Members(storage))
    }

    /// Gives the list back for the next record.
    pub fn into_storage(self) -> Vec<(Cow<'a, str>, &'a RawValue)> {
        self.0
    }

    /// The members in order: key and JSON text.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.get()))
    }

    /// A member's JSON text (the last one when a key repeats, as serde_json keeps it).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.get())
    }

    /// How many times a key occurs.
    pub fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == name).count()
    }

    /// What is wrong with the fields that identify a record, if anything: one that is missing,
    /// null, or written more than once ("has no MessageID").
    pub fn identity_problem(&self, fields: &[&str]) -> Option<String> {
        fields.iter().find_map(|field| match self.count(field) {
            0 => Some(format!("has no {field}")),
            1 if self.get(field) == Some("null") => Some(format!("has a null {field}")),
            1 => None,
            _ => Some(format!("has {field} more than once")),
        })
    }

    /// A member's value when it is a string (`Value::as_str`).
    pub fn str(&self, name: &str) -> Option<Cow<'a, str>> {
        json_string(self.get(name)?)
    }

    /// A member as one part of a record key: a string's value, any other value's JSON text as
    /// serde_json writes it, and `""` when the member is absent.
    pub fn key_part(&self, name: &str) -> Cow<'a, str> {
        match self.get(name) {
            None => Cow::Borrowed(""),
            Some(text) => json_string(text).unwrap_or_else(|| {
                Cow::Owned(
                    serde_json::from_str::<Value>(text)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|_| text.to_string()),
                )
            }),
        }
    }
}

/// The value of a JSON string, borrowed when it has no escapes; `None` for other values.
fn json_string(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Members<'de>, A::Error> {
                Members::read(Vec::new(), map)
            }
        }
        d.deserialize_map(MembersVisitor)
    }
}

/// An object key, borrowed from the text unless it had escapes (serde's own `Cow<str>` always
/// copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
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

    fn find(&self, props: &[Prop], key: &str) -> Option<usize> {
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

/// Object shapes with at most this many properties keep their slots on the stack.
const STACK_SLOTS: usize = 64;

impl Shape {
    /// Writes a top-level record from its members; `server_id` sets `ServerID` when the schema
    /// declares it. `clean` says the text is known to hold no NUL character (`\u0000`) and no
    /// line break, so values are copied without looking. On `Declined`, `out` may hold part of
    /// the record.
    pub fn transcode_record(
        &self,
        members: &Members,
        server_id: Option<u64>,
        clean: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Declined> {
        let Shape::Object {
            props,
            open: false,
            index,
        } = self
        else {
            return Err(Declined);
        };
        let server_id = server_id.map(|id| id.to_string());
        with_slots(props.len(), |slots| {
            for (k, v) in &members.0 {
                if let Some(i) = index.find(props, k) {
                    slots[i] = Some(v.get());
                }
            }
            if let (Some(id), Some(i)) = (&server_id, index.find(props, "ServerID")) {
                slots[i] = Some(id.as_str());
            }
            write_object(props, slots, clean, out)
        })
    }

    /// Writes one value (JSON text) shaped. On `Declined`, `out` may hold part of it.
    fn transcode(&self, text: &str, clean: bool, out: &mut Vec<u8>) -> Result<(), Declined> {
        if text == "null" {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        match self {
            Shape::Plain => copy(text, clean, out),
            Shape::DateTime => {
                let inner = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .filter(|t| !t.contains('\\'))
                    .ok_or(Declined)?;
                let t = parse_timestamp(inner).ok_or(Declined)?;
                out.push(b'"');
                out.extend_from_slice(format_utc(t).as_bytes());
                out.push(b'"');
                Ok(())
            }
            Shape::Array(items) => {
                if matches!(**items, Shape::Plain) {
                    return copy(text, clean, out);
                }
                let mut de = serde_json::Deserializer::from_str(text);
                de.deserialize_seq(ItemsWriter { items, clean, out })
                    .map_err(|_| Declined)?;
                de.end().map_err(|_| Declined)
            }
            Shape::Object {
                props,
                open: false,
                index,
            } => with_slots(props.len(), |slots| {
                let mut de = serde_json::Deserializer::from_str(text);
                de.deserialize_map(SlotFiller {
                    props,
                    index,
                    slots: &mut *slots,
                })
                .map_err(|_| Declined)?;
                de.end().map_err(|_| Declined)?;
                write_object(props, slots, clean, out)
            }),
            Shape::Object { open: true, .. } => Err(Declined),
        }
    }
}

/// Runs `f` with `n` empty slots, on the stack when they fit.
fn with_slots<'a, R>(n: usize, f: impl FnOnce(&mut [Option<&'a str>]) -> R) -> R {
    if n <= STACK_SLOTS {
        let mut slots = [None; STACK_SLOTS];
        f(&mut slots[..n])
    } else {
        f(&mut vec![None; n])
    }
}

/// Writes a closed object: every declared property in order, from its slot or `null`.
fn write_object(
    props: &[Prop],
    slots: &[Option<&str>],
    clean: bool,
    out: &mut Vec<u8>,
) -> Result<(), Declined> {
    out.push(b'{');
    for (i, (prop, slot)) in props.iter().zip(slots).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(prop.key.as_bytes());
        match slot {
            None => out.extend_from_slice(b"null"),
            Some(text) => prop.shape.transcode(text, clean, out)?,
        }
    }
    out.push(b'}');
    Ok(())
}

/// Reads a nested object straight into its property slots (the last value of a repeated key
/// wins, as in a `Value`); undeclared members are skipped.
struct SlotFiller<'s, 'a> {
    props: &'s [Prop],
    index: &'s KeyIndex,
    slots: &'s mut [Option<&'a str>],
}

impl<'de> Visitor<'de> for SlotFiller<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match self.index.find(self.props, &k) {
                Some(i) => self.slots[i] = Some(map.next_value::<&'de RawValue>()?.get()),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Writes a list's items shaped, as they are read.
struct ItemsWriter<'s> {
    items: &'s Shape,
    clean: bool,
    out: &'s mut Vec<u8>,
}

impl<'de> Visitor<'de> for ItemsWriter<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.items
                .transcode(item.get(), self.clean, self.out)
                .map_err(|Declined| A::Error::custom("declined"))?;
        }
        self.out.push(b']');
        Ok(())
    }
}

/// Copies a value's JSON text, unless it holds a NUL character (`\u0000`, which the `Value` path
/// removes) or a line break between tokens (which would split the JSON line).
fn copy(text: &str, clean: bool, out: &mut Vec<u8>) -> Result<(), Declined> {
    if clean {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = bytes[i..]
        .iter()
        .position(|&b| b == b'\\' || b == b'\n' || b == b'\r')
    {
        let at = i + off;
        if bytes[at] != b'\\' || bytes[at + 1..].starts_with(b"u0000") {
            return Err(Declined);
        }
        // Skips the escaped character, so `\\u0000` (a backslash, then text) is no NUL.
        i = at + 2;
        if i >= bytes.len() {
            break;
        }
    }
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape() -> Shape {
        Shape::compile(&json!({"type": "object", "properties": {
            "ID": {"type": "integer"},
            "ServerID": {"type": "integer"},
            "At": {"type": ["string", "null"], "format": "date-time"},
            "Tag": {"type": ["string", "null"]},
            "Tags": {"type": "array", "items": {"type": "string"}},
            "Times": {"type": "array", "items": {"type": "string", "format": "date-time"}},
            "To": {"type": "array", "items": {"type": "object", "properties": {
                "Email": {"type": "string"}, "Name": {"type": ["string", "null"]}}}},
            "Metadata": {"type": ["object", "null"]},
            "Open": {"type": "object", "properties": {"A": {}}, "additionalProperties": {}}
        }}))
    }

    /// The fast path's output, or `None` when it declines.
    fn fast(text: &str) -> Option<Value> {
        let members = Members::parse(text)?;
        let mut out = Vec::new();
        shape()
            .transcode_record(&members, Some(7), false, &mut out)
            .ok()?;
        Some(serde_json::from_slice(&out).expect("the fast path writes JSON"))
    }

    fn slow(text: &str) -> Value {
        let mut v: Value = serde_json::from_str(text).unwrap();
        v.as_object_mut()
            .unwrap()
            .insert("ServerID".into(), json!(7));
        shape().apply(v, "r").unwrap()
    }

    #[test]
    fn writes_what_the_value_path_writes() {
        for text in [
            r#"{"ID": 1, "At": "2017-02-25T13:59:44.0453616-05:00", "Extra": {"x": [1]},
                "To": [{"Email": "a@x", "Junk": 1}], "Metadata": {"b": "2", "a": "\"1\""},
                "Tags": ["a", "b\\u0001"], "Times": ["2020-01-01T00:00:00Z", null]}"#,
            r#"{"ID": 2, "ServerID": 99, "At": null, "To": null, "Tag": "\u00e9\"", "ID": 3}"#,
            r#"{}"#,
        ] {
            let fast = fast(text).expect("the fast path takes it");
            assert_eq!(fast, slow(text), "{text}");
        }
        // Sorted keys, declared properties only, as serde_json writes the shaped Value.
        let members = Members::parse(r#"{"Tag": "t", "ID": 1}"#).unwrap();
        let mut out = Vec::new();
        shape()
            .transcode_record(&members, None, true, &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&shape().apply(json!({"Tag": "t", "ID": 1}), "r").unwrap())
                .unwrap()
        );
    }

    #[test]
    fn declines_what_it_cannot_copy() {
        for text in [
            r#"{"Tag": "a\u0000b"}"#,
            "{\"Metadata\": {\n\"a\": 1}}",
            r#"{"At": "yesterday"}"#,
            r#"{"At": 5}"#,
            r#"{"At": "2020-01-01T00:00:00\u005a"}"#,
            r#"{"To": "a@x"}"#,
            r#"{"To": [{"Email": "a\u0000"}]}"#,
            r#"{"Open": {"A": 1}}"#,
        ] {
            assert_eq!(fast(text), None, "{text}");
        }
        // An escaped backslash before `u0000` is no NUL.
        assert_eq!(
            fast(r#"{"Tag": "a\\u0000"}"#),
            Some(slow(r#"{"Tag": "a\\u0000"}"#))
        );
    }

    #[test]
    fn members_read_strings_and_key_parts_as_the_value_path_does() {
        let m = Members::parse(r#"{"A": "x\"y", "B": 1.0, "C": null, "A2": "plain"}"#).unwrap();
        assert_eq!(m.str("A").as_deref(), Some("x\"y"));
        assert_eq!(m.str("A2").as_deref(), Some("plain"));
        assert_eq!(m.str("B"), None);
        assert_eq!(m.key_part("B"), "1.0");
        assert_eq!(m.key_part("C"), "null");
        assert_eq!(m.key_part("Z"), "");
        assert!(Members::parse("[1]").is_none());
    }
}
