//! A JSON object's members as written: keys unescaped, values still JSON text. The record path
//! reads a record this way once, and keys, filters and writes it from the text.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON object's members as written: keys unescaped, values still JSON text.
#[derive(Default)]
pub struct Members<'a>(pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>);

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
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

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

impl Members<'_> {
    /// The object as a `Value` (a repeated key keeps its last value, as when parsed whole).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        let mut map = Map::new();
        for (k, v) in self.iter() {
            map.insert(k.to_string(), serde_json::from_str(v)?);
        }
        Ok(Value::Object(map))
    }
}
