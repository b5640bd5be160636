//! A search answer read in one pass: `TotalCount`, the error fields, and each record of the
//! envelope handed to the caller as it is read, as its members' JSON text (see
//! [`crate::transcode`]), so no record is scanned twice or built into a `Value`.

use super::depth::{too_deep, MAX_DEPTH, RECORD_VALUE_DEPTH};
use super::members::Members;
use super::parsed::Parsed;
use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// What a page held besides its records.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub total: Total,
    pub records: Records,
}

/// The page's `TotalCount`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Total {
    /// Absent or `null`.
    Missing,
    Count(u64),
    /// Something that is not a count (negative, fractional, past 2^64, not a number), as
    /// written (at most 40 characters).
    Invalid(String),
}

impl Total {
    fn read(raw: &str) -> Total {
        match serde_json::from_str::<u64>(raw) {
            Ok(n) => Total::Count(n),
            Err(_) if raw == "null" => Total::Missing,
            Err(_) => Total::Invalid(raw.chars().take(40).collect()),
        }
    }

    /// The count, or the error naming `path` and what it said instead.
    pub fn count(&self, path: &str) -> Result<u64, crate::error::Error> {
        match self {
            Total::Count(n) => Ok(*n),
            Total::Missing => Err(crate::error::Error::Api(format!(
                "Postmark's {path} answer has no TotalCount"
            ))),
            Total::Invalid(raw) => Err(crate::error::Error::Api(format!(
                "Postmark's {path} answer has a TotalCount of {raw}, which is not a count of records (a whole number from 0 to 2^64 - 1)"
            ))),
        }
    }
}

/// What the envelope (`Messages`, `Bounces`, …) held.
#[derive(Debug, PartialEq, Eq)]
pub enum Records {
    /// Absent or `null`.
    Missing,
    /// Something other than a list.
    NotAList,
    /// A list of this many records.
    List(u64),
}

/// One record of the envelope, as read.
pub enum Record<'m, 'a> {
    /// An object: its members.
    Object(&'m Members<'a>),
    /// Anything else, which has no fields (the `Value` path words its error).
    Other(Value),
}

impl Record<'_, '_> {
    /// The record as a `Value`, for the slow path.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            Record::Object(members) => members.to_value(),
            Record::Other(v) => Ok(v.clone()),
        }
    }
}

/// What the caller is told as each record arrives.
pub struct SoFar {
    /// `TotalCount`, if it came before the records (as Postmark writes it).
    pub total: Option<u64>,
    /// The body holds no NUL character (`\u0000`) and no line break, so values can be copied
    /// without looking (see [`crate::transcode`]).
    pub clean: bool,
}

/// Parses a 2xx answer, calling `handle` with each record of `envelope` in order; `Err(why)`
/// when the body is not a JSON object, or a record nests [`MAX_DEPTH`] levels deep. The first error
/// `handle` returns stops the handling (the body is still read to its end, to tell a broken
/// answer, which is retried, from a bad record) and is given back in place of the page.
pub fn parse(
    body: &[u8],
    envelope: &str,
    handle: &mut dyn FnMut(&SoFar, Record) -> Result<(), crate::error::Error>,
) -> Result<Parsed<Result<Page, crate::error::Error>>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut reader = PageVisitor {
        envelope,
        so_far: SoFar {
            total: None,
            clean: !text.contains('\n') && !text.contains('\r') && !text.contains("\\u0000"),
        },
        handle,
        failed: None,
    };
    let top = {
        let mut de = serde_json::Deserializer::from_str(text);
        let top = (&mut reader)
            .deserialize(&mut de)
            .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        top
    };
    Ok(Parsed {
        error_code: top.error_code,
        message: top.message,
        value: match reader.failed {
            Some(e) => Err(e),
            None => Ok(Page {
                total: top.total,
                records: top.records,
            }),
        },
    })
}

/// The top-level fields, as `serde_json::Value` would read them.
struct Top {
    total: Total,
    error_code: Option<i64>,
    message: String,
    records: Records,
}

struct PageVisitor<'h, 'e> {
    envelope: &'e str,
    so_far: SoFar,
    handle: &'h mut dyn FnMut(&SoFar, Record) -> Result<(), crate::error::Error>,
    failed: Option<crate::error::Error>,
}

impl<'de> DeserializeSeed<'de> for &mut PageVisitor<'_, '_> {
    type Value = Top;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut PageVisitor<'_, '_> {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut top = Top {
            total: Total::Missing,
            error_code: None,
            message: String::new(),
            records: Records::Missing,
        };
        // As with a `Value`, a repeated key counts with its last value.
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == self.envelope {
                top.records = map.next_value_seed(Envelope(&mut *self))?;
                continue;
            }
            match key.as_ref() {
                "TotalCount" => {
                    let raw: &RawValue = map.next_value()?;
                    top.total = Total::read(raw.get());
                    if let Total::Count(n) = top.total {
                        self.so_far.total = Some(n);
                    }
                }
                "ErrorCode" => {
                    let raw: &RawValue = map.next_value()?;
                    top.error_code = serde_json::from_str(raw.get()).ok();
                }
                "Message" => {
                    let raw: &RawValue = map.next_value()?;
                    top.message = serde_json::from_str(raw.get()).unwrap_or_default();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// The envelope's value: a list whose records are handed over one by one.
struct Envelope<'r, 'h, 'e>(&'r mut PageVisitor<'h, 'e>);

impl<'de> DeserializeSeed<'de> for Envelope<'_, '_, '_> {
    type Value = Records;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Records, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Envelope<'_, '_, '_> {
    type Value = Records;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Records, A::Error> {
        let reader = self.0;
        let mut count = 0;
        // One members list, reused for every record of the page.
        let mut scratch: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(item) = seq.next_element_seed(Item(std::mem::take(&mut scratch)))? {
            count += 1;
            let mut handle = |record: Record| {
                if reader.failed.is_none() {
                    if let Err(e) = (reader.handle)(&reader.so_far, record) {
                        reader.failed = Some(e);
                    }
                }
            };
            match item {
                ItemValue::Object(members) => {
                    let limit = MAX_DEPTH - 1 - RECORD_VALUE_DEPTH;
                    if let Some((key, _)) = members.iter().find(|(_, v)| too_deep(v, limit)) {
                        return Err(A::Error::custom(format!(
                            "a record's {key} is nested {MAX_DEPTH} levels deep or more"
                        )));
                    }
                    handle(Record::Object(&members));
                    scratch = members.into_storage();
                }
                ItemValue::Other(v) => handle(Record::Other(v)),
            }
        }
        Ok(Records::List(count))
    }
    fn visit_unit<E>(self) -> Result<Records, E> {
        Ok(Records::Missing)
    }
    fn visit_none<E>(self) -> Result<Records, E> {
        Ok(Records::Missing)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Records, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Records::NotAList)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Records, E> {
        Ok(Records::NotAList)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Records, E> {
        Ok(Records::NotAList)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Records, E> {
        Ok(Records::NotAList)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Records, E> {
        Ok(Records::NotAList)
    }
    fn visit_str<E>(self, _: &str) -> Result<Records, E> {
        Ok(Records::NotAList)
    }
}

/// One element of the envelope: an object's members (read into the given storage), or any other
/// value.
struct Item<'de>(Vec<(Cow<'de, str>, &'de RawValue)>);

enum ItemValue<'de> {
    Object(Members<'de>),
    Other(Value),
}

impl<'de> DeserializeSeed<'de> for Item<'de> {
    type Value = ItemValue<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ItemValue<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item<'de> {
    type Value = ItemValue<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ItemValue<'de>, A::Error> {
        Members::read(self.0, map).map(ItemValue::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ItemValue<'de>, A::Error> {
        let mut list = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            list.push(v);
        }
        Ok(ItemValue::Other(Value::Array(list)))
    }
    fn visit_unit<E>(self) -> Result<ItemValue<'de>, E> {
        Ok(ItemValue::Other(Value::Null))
    }
    fn visit_none<E>(self) -> Result<ItemValue<'de>, E> {
        Ok(ItemValue::Other(Value::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<ItemValue<'de>, E> {
        Ok(ItemValue::Other(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<ItemValue<'de>, E> {
        Ok(ItemValue::Other(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<ItemValue<'de>, E> {
        Ok(ItemValue::Other(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<ItemValue<'de>, E> {
        Ok(ItemValue::Other(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<ItemValue<'de>, E> {
        Ok(ItemValue::Other(Value::String(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use crate::record::depth::{nests_deeper_than, MAX_DEPTH};

    #[test]
    fn refuses_records_nested_as_deep_as_serde_json_refuses() {
        let nested = |depth: usize| {
            format!(
                r#"{{"TotalCount": 1, "Messages": [{{"A": {}1{}, "B": "x"}}]}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        // The answer, the list and the record are three levels: 124 more make the 127 that
        // serde_json reads, 125 the 128 it refuses.
        let ok = nested(MAX_DEPTH - 4);
        assert!(serde_json::from_str::<Value>(&ok).is_ok());
        assert!(parse(ok.as_bytes(), "Messages", &mut |_, _| Ok(())).is_ok());
        let deep = nested(MAX_DEPTH - 3);
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        let why = parse(deep.as_bytes(), "Messages", &mut |_, _| Ok(()))
            .err()
            .unwrap();
        assert!(
            why.contains("a record's A is nested 128 levels deep"),
            "{why}"
        );
        // Brackets inside strings (escaped quotes too) do not count.
        let text = format!(r#"{{"A": "{}\"{}"}}"#, "[".repeat(500), "{".repeat(500));
        assert!(!nests_deeper_than(text.as_bytes(), 2));
        assert!(!nests_deeper_than(b"\"unterminated [[[", 1));
        assert!(nests_deeper_than(b"[[[", 2));
        assert!(!nests_deeper_than(br#"["\\", [[1]]]"#, 3));
    }

    use super::*;
    use crate::error::Error;

    /// Each record handed over, with the `clean` flag it came with.
    type Seen = Vec<(Value, bool)>;

    /// Parses `body`; gives the page and each record as JSON.
    fn read(body: &str) -> Option<(Parsed<Result<Page, Error>>, Seen)> {
        let mut seen = Vec::new();
        let parsed = parse(body.as_bytes(), "Messages", &mut |so_far, record| {
            seen.push((record.to_value().unwrap(), so_far.clean));
            Ok(())
        })
        .ok()?;
        Some((parsed, seen))
    }

    #[test]
    fn reads_the_total_the_errors_and_each_record() {
        let (p, seen) = read(
            r#"{"TotalCount": 3, "Messages": [{"A": 1, "A": 2}, {"B": [2, {"C": "]"}]}, "x"], "Other": {"x": []}}"#,
        )
        .unwrap();
        let page = p.value.unwrap();
        assert_eq!(page.total, Total::Count(3));
        assert_eq!(page.records, Records::List(3));
        assert_eq!(p.error_code, None);
        let values: Vec<Value> = seen.into_iter().map(|(v, _)| v).collect();
        assert_eq!(
            values,
            [
                serde_json::json!({"A": 2}),
                serde_json::json!({"B": [2, {"C": "]"}]}),
                serde_json::json!("x")
            ]
        );

        let (p, _) = read(r#"{"ErrorCode": 100, "Message": "M\u00e9", "TotalCount": -1}"#).unwrap();
        assert_eq!((p.error_code, p.message.as_str()), (Some(100), "Mé"));
        let page = p.value.unwrap();
        assert_eq!(page.total, Total::Invalid("-1".into()));
        assert!(page
            .total
            .count("/p")
            .unwrap_err()
            .to_string()
            .contains("TotalCount of -1"));
        assert_eq!(page.records, Records::Missing);
        for (raw, total) in [
            ("null", Total::Missing),
            (
                "18446744073709551616",
                Total::Invalid("18446744073709551616".into()),
            ),
            ("1.5", Total::Invalid("1.5".into())),
            ("\"7\"", Total::Invalid("\"7\"".into())),
        ] {
            let body = format!(r#"{{"TotalCount": {raw}}}"#);
            assert_eq!(read(&body).unwrap().0.value.unwrap().total, total, "{raw}");
        }
    }

    #[test]
    fn the_first_handler_error_stands_for_the_page() {
        let mut calls = 0;
        let parsed = parse(
            br#"{"Messages": [1, 2, 3], "TotalCount": 3}"#,
            "Messages",
            &mut |_, _| {
                calls += 1;
                Err(Error::Api("bad record".into()))
            },
        )
        .unwrap();
        assert!(matches!(parsed.value, Err(Error::Api(m)) if m == "bad record"));
        assert_eq!(calls, 1);
        // A broken body is refused (and retried) whatever the handler said.
        assert!(parse(br#"{"Messages": [1, 2"#, "Messages", &mut |_, _| Err(
            Error::Api("x".into())
        ))
        .is_err());
    }

    #[test]
    fn a_body_with_a_nul_or_a_line_break_is_not_clean() {
        assert!(read(r#"{"Messages": [{"A": "x"}]}"#).unwrap().1[0].1);
        for body in [
            r#"{"Messages": [{"A": "x\u0000"}]}"#,
            "{\"Messages\": [{\"A\":\n1}]}",
            "{\"Messages\": [{\"A\":\r1}]}",
        ] {
            assert!(!read(body).unwrap().1[0].1, "{body}");
        }
    }

    #[test]
    fn tells_a_missing_list_from_something_else() {
        let records = |body: &str| read(body).unwrap().0.value.unwrap().records;
        assert_eq!(
            records(r#"{"TotalCount": 0, "Messages": null}"#),
            Records::Missing
        );
        for other in [r#""x""#, "{}", "1", "true", "-1.5"] {
            let body = format!(r#"{{"TotalCount": 1, "Messages": {other}}}"#);
            assert_eq!(records(&body), Records::NotAList);
        }
    }

    #[test]
    fn refuses_what_is_not_a_json_object() {
        for body in ["", "<html>", "[1]", r#"{"TotalCount": 1"#, r#"{"a": 1} x"#] {
            assert!(read(body).is_none(), "{body}");
        }
        assert!(parse(&[b'{', 0xff, b'}'], "Messages", &mut |_, _| Ok(())).is_err());
        let why = parse(b"<html>", "Messages", &mut |_, _| Ok(()))
            .err()
            .unwrap();
        assert!(why.contains("line 1 column 1"), "{why}");
    }
}
