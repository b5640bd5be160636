//! A search answer read once: `TotalCount`, the error fields, and the envelope's records kept as
//! their JSON text (positions in the body), so each record is shaped straight from its text.

use crate::client::Parsed;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;

/// A page of a search.
pub struct Page {
    body: String,
    pub total: Option<u64>,
    pub records: Records,
}

/// What the envelope (`Messages`, `Bounces`, …) held.
#[derive(Debug, PartialEq, Eq)]
pub enum Records {
    /// Absent or `null`.
    Missing,
    /// Something other than a list.
    NotAList,
    /// Each record's place in the body.
    List(Vec<Range<usize>>),
}

impl Page {
    /// Parses a 2xx answer; `None` when it is not a JSON object.
    pub fn parse(body: Vec<u8>, envelope: &str) -> Option<Parsed<Page>> {
        let body = String::from_utf8(body).ok()?;
        let top = {
            let mut de = serde_json::Deserializer::from_str(&body);
            let top = TopSeed {
                envelope,
                base: body.as_ptr() as usize,
            }
            .deserialize(&mut de)
            .ok()?;
            de.end().ok()?;
            top
        };
        Some(Parsed {
            error_code: top.error_code,
            message: top.message,
            value: Page {
                body,
                total: top.total,
                records: top.records,
            },
        })
    }

    /// The records' JSON text, in the order Postmark listed them.
    pub fn records(&self) -> impl Iterator<Item = &str> {
        let list = match &self.records {
            Records::List(list) => list.as_slice(),
            _ => &[],
        };
        list.iter().map(|r| &self.body[r.clone()])
    }
}

/// The top-level fields, as `serde_json::Value` would read them.
struct Top {
    total: Option<u64>,
    error_code: Option<i64>,
    message: String,
    records: Records,
}

struct TopSeed<'e> {
    envelope: &'e str,
    /// Where the body starts in memory, to turn the records' text into positions.
    base: usize,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut top = Top {
            total: None,
            error_code: None,
            message: String::new(),
            records: Records::Missing,
        };
        // As with a `Value`, a repeated key counts once, with its last value.
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.envelope {
                top.records = map.next_value_seed(EnvelopeSeed { base: self.base })?;
                continue;
            }
            match key.as_ref() {
                "TotalCount" => {
                    let raw: &RawValue = map.next_value()?;
                    top.total = serde_json::from_str(raw.get()).ok();
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

struct EnvelopeSeed {
    base: usize,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Records;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Records, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = Records;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Records, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(500));
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let text = raw.get();
            let start = text.as_ptr() as usize - self.base;
            list.push(start..start + text.len());
        }
        Ok(Records::List(list))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Option<Parsed<Page>> {
        Page::parse(body.as_bytes().to_vec(), "Messages")
    }

    #[test]
    fn reads_the_total_the_errors_and_each_record_as_text() {
        let p = parse(
            r#"{"TotalCount": 2, "Messages": [{"A": 1}, {"B": [2, {"C": "]"}]}], "Other": {"x": []}}"#,
        )
        .unwrap();
        assert_eq!(p.value.total, Some(2));
        assert_eq!(p.error_code, None);
        let texts: Vec<&str> = p.value.records().collect();
        assert_eq!(texts, [r#"{"A": 1}"#, r#"{"B": [2, {"C": "]"}]}"#]);

        let p = parse(r#"{"ErrorCode": 100, "Message": "M\u00e9", "TotalCount": -1}"#).unwrap();
        assert_eq!((p.error_code, p.message.as_str()), (Some(100), "Mé"));
        assert_eq!(p.value.total, None);
        assert_eq!(p.value.records, Records::Missing);
    }

    #[test]
    fn tells_a_missing_list_from_something_else() {
        assert_eq!(
            parse(r#"{"TotalCount": 0, "Messages": null}"#)
                .unwrap()
                .value
                .records,
            Records::Missing
        );
        for other in [r#""x""#, "{}", "1", "true", "-1.5"] {
            let body = format!(r#"{{"TotalCount": 1, "Messages": {other}}}"#);
            assert_eq!(parse(&body).unwrap().value.records, Records::NotAList);
        }
    }

    #[test]
    fn refuses_what_is_not_a_json_object() {
        for body in [
            "",
            "<html>",
            "[1]",
            r#"{"TotalCount": 1"#,
            r#"{"a": 1} x"#,
            "\u{ff}",
        ] {
            assert!(parse(body).is_none(), "{body}");
        }
        assert!(Page::parse(vec![b'{', 0xff, b'}'], "Messages").is_none());
    }
}
