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

use super::members::{Key, Members};
use super::shape::{KeyIndex, Prop, Shape, ValueKind};
use super::types::Types;
use crate::timefmt::{format_utc, parse_timestamp};
use serde::de::{Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// The transcoder cannot carry this value; take the `Value` path.
#[derive(Debug, PartialEq, Eq)]
pub struct Declined;

/// Object shapes with at most this many properties keep their slots on the stack.
const STACK_SLOTS: usize = 64;

/// What the tap writes into every record of a page, whatever Postmark sent: `ServerID` (the
/// server read), and `MessageStream` when Postmark left it out or null (the message stream read).
#[derive(Clone, Debug, Default)]
pub struct Stamps {
    pub server_id: Option<u64>,
    /// The message stream read, as JSON text.
    pub message_stream: Option<String>,
}

impl Stamps {
    pub fn new(server_id: Option<u64>, message_stream: Option<&str>) -> Stamps {
        Stamps {
            server_id,
            message_stream: message_stream.map(|m| Value::String(m.to_string()).to_string()),
        }
    }
}

impl Shape {
    /// Writes a top-level record from its members, stamped. `clean` says the text is known to
    /// hold no NUL character (`\u0000`) and no line break, so values are copied without
    /// looking. The names of undeclared members are pushed to `undeclared`. On `Declined`,
    /// `out` may hold part of the record.
    pub fn transcode_record<'m>(
        &self,
        members: &'m Members,
        stamps: &Stamps,
        clean: bool,
        out: &mut Vec<u8>,
        undeclared: &mut Vec<&'m str>,
    ) -> Result<(), Declined> {
        let ValueKind::Object {
            props,
            extra: None,
            index,
        } = &self.kind
        else {
            return Err(Declined);
        };
        let server_id = stamps.server_id.map(|id| id.to_string());
        with_slots(props.len(), |slots| {
            for (k, v) in &members.0 {
                match index.find(props, k) {
                    Some(i) => slots[i] = Some(v.get()),
                    None => undeclared.push(k),
                }
            }
            if let (Some(id), Some(i)) = (&server_id, index.find(props, "ServerID")) {
                slots[i] = Some(id.as_str());
            }
            if let (Some(ms), Some(i)) =
                (&stamps.message_stream, index.find(props, "MessageStream"))
            {
                if slots[i].is_none_or(|v| v == "null") {
                    slots[i] = Some(ms.as_str());
                }
            }
            write_object(props, slots, clean, out)
        })
    }

    /// Writes one value (JSON text) shaped, when it fits the schema's types as it is. On
    /// `Declined`, `out` may hold part of it.
    fn transcode(&self, text: &str, clean: bool, out: &mut Vec<u8>) -> Result<(), Declined> {
        let is = Types::of_text(text);
        if !self.types.allows_bit(is) {
            return Err(Declined);
        }
        if text == "null" {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        match &self.kind {
            ValueKind::Plain => copy(text, clean, out),
            ValueKind::DateTime => {
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
            ValueKind::Array(items) if text.starts_with('[') => {
                if matches!(items.kind, ValueKind::Plain) && items.types == Types::ANY {
                    return copy(text, clean, out);
                }
                let mut de = serde_json::Deserializer::from_str(text);
                de.deserialize_seq(ItemsWriter { items, clean, out })
                    .map_err(|_| Declined)?;
                de.end().map_err(|_| Declined)
            }
            ValueKind::Object {
                props,
                extra: None,
                index,
            } if text.starts_with('{') => with_slots(props.len(), |slots| {
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
            _ => Err(Declined),
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
    use serde_json::{json, Value};

    fn shape() -> Shape {
        Shape::compile(&json!({"type": "object", "properties": {
            "ID": {"type": "integer"},
            "ServerID": {"type": "integer"},
            "At": {"type": ["string", "null"], "format": "date-time"},
            "Tag": {"type": ["string", "null"]},
            "Tags": {"type": "array", "items": {"type": "string"}},
            "Times": {"type": "array", "items": {"type": ["string", "null"], "format": "date-time"}},
            "To": {"type": ["array", "null"], "items": {"type": "object", "properties": {
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
            .transcode_record(
                &members,
                &Stamps::new(Some(7), None),
                false,
                &mut out,
                &mut Vec::new(),
            )
            .ok()?;
        Some(serde_json::from_slice(&out).expect("the fast path writes JSON"))
    }

    fn slow(text: &str) -> Value {
        let mut v: Value = serde_json::from_str(text).unwrap();
        v.as_object_mut()
            .unwrap()
            .insert("ServerID".into(), json!(7));
        shape().apply(v, "r", &Default::default())
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
            .transcode_record(
                &members,
                &Stamps::default(),
                true,
                &mut out,
                &mut Vec::new(),
            )
            .unwrap();
        let slow = shape().apply(json!({"Tag": "t", "ID": 1}), "r", &Default::default());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&slow).unwrap()
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
            // A value of another type than the schema's: the Value path converts it.
            r#"{"Tag": 5}"#,
            r#"{"ID": "5"}"#,
            r#"{"Tags": ["a", 1]}"#,
            r#"{"To": [{"Email": 7}]}"#,
            r#"{"Metadata": []}"#,
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
