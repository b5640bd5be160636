//! RECORD lines of one stream's records, shaped to the stream's schema and framed as Singer
//! messages: from a record's members (written straight from their text when the transcoder
//! can, through a `Value` otherwise) or from a `Value`. No I/O, so workers run it.

use super::drift::Event;
use super::page::Record;
use super::selected::Selected;
use super::shape::remove_secrets;
use super::transcode::Stamps;
use crate::error::Error;
use serde_json::Value;

/// Writes the RECORD lines of one stream's records extracted at one time, on one server (and
/// message stream).
pub struct RecordWriter<'a> {
    sel: &'a Selected,
    stamps: Stamps,
    /// Every line's start, up to the record, and its end after it.
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

impl<'a> RecordWriter<'a> {
    /// `stamps` sets `ServerID` on every record, and `MessageStream` where Postmark left it out.
    pub fn new(
        sel: &'a Selected,
        stamps: Stamps,
        time_extracted: &str,
    ) -> Result<RecordWriter<'a>, Error> {
        let (prefix, suffix) = record_frame(sel.def.name, time_extracted, sel.version)?;
        Ok(RecordWriter {
            sel,
            stamps,
            prefix,
            suffix,
        })
    }

    /// Appends the RECORD line of a record as read from its page to `out`; `clean` says the
    /// page holds no NUL character and no line break. `false`: not written (no key).
    pub fn text(&self, record: &Record, clean: bool, out: &mut Vec<u8>) -> Result<bool, Error> {
        let start = out.len();
        let fast = match (record, self.sel.def.secret_fields) {
            (Record::Object(members), []) if self.keys_present(members) => Some(members),
            _ => None,
        };
        if let Some(members) = fast {
            out.extend_from_slice(&self.prefix);
            let mut undeclared = Vec::new();
            let shape = &self.sel.shape;
            if shape
                .transcode_record(members, &self.stamps, clean, out, &mut undeclared)
                .is_ok()
            {
                out.extend_from_slice(&self.suffix);
                for key in undeclared {
                    self.note(Event::Undeclared { path: key });
                }
                return Ok(true);
            }
            out.truncate(start);
        }
        let value = record
            .to_value()
            .map_err(|e| Error::Internal(format!("a record of a parsed page is not JSON: {e}")))?;
        self.value(value, out)
    }

    /// Appends the RECORD line of a record given as a `Value` to `out`: stamped, secrets
    /// removed, shaped. A record whose key property would be null is not written (`false`):
    /// it could be neither told apart nor loaded; it is counted as drift.
    pub fn value(&self, mut record: Value, out: &mut Vec<u8>) -> Result<bool, Error> {
        let sel = self.sel;
        if let Some(map) = record.as_object_mut() {
            if let Some(id) = self.stamps.server_id {
                map.insert("ServerID".into(), Value::from(id));
            }
            if let Some(ms) = &self.stamps.message_stream {
                if map.get("MessageStream").is_none_or(Value::is_null) {
                    let stream = serde_json::from_str(ms).unwrap_or(Value::Null);
                    map.insert("MessageStream".into(), stream);
                }
            }
        }
        remove_secrets(&mut record, sel.def.secret_fields);
        let shaped = sel.shape.apply(record, sel.def.name, &sel.drift);
        let declared = sel.schema.get("properties");
        if let Some(key) = sel.key_properties.iter().find(|k| {
            declared.is_some_and(|p| p.get(k.as_str()).is_some()) && shaped[k.as_str()].is_null()
        }) {
            let known: Vec<String> = sel
                .key_properties
                .iter()
                .filter(|k| !shaped[k.as_str()].is_null())
                .map(|k| format!("{k} {}", shaped[k.as_str()]))
                .collect();
            self.note(Event::Keyless {
                field: key,
                key: &known.join(", "),
            });
            return Ok(false);
        }
        out.extend_from_slice(&self.prefix);
        write_consuming(out, shaped)
            .map_err(|e| Error::Internal(format!("cannot serialise a record: {e}")))?;
        out.extend_from_slice(&self.suffix);
        Ok(true)
    }

    /// Whether every key property the schema declares has a value, from the record or the
    /// stamps (the fast path writes no record without its key; the `Value` path counts it).
    fn keys_present(&self, members: &super::Members) -> bool {
        let declared = &self.sel.schema["properties"];
        self.sel.key_properties.iter().all(|k| {
            let stamped = match k.as_str() {
                "ServerID" => self.stamps.server_id.is_some(),
                "MessageStream" => self.stamps.message_stream.is_some(),
                _ => false,
            };
            stamped
                || declared.get(k.as_str()).is_none()
                || members.get(k).is_some_and(|v| v != "null")
        })
    }

    /// Notes drift of this stream.
    pub fn note(&self, event: Event) {
        self.sel.drift.note(self.sel.def.name, event);
    }
}

/// The bytes of a RECORD line before and after its record:
/// `{"type":"RECORD","stream":"<stream>","record":` and `,"time_extracted":"<t>"}` plus the
/// newline. Every RECORD line is framed by these, however its record is written.
pub fn record_frame(
    stream: &str,
    time_extracted: &str,
    version: Option<i64>,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let quoted = |s: &str| {
        serde_json::to_string(s)
            .map_err(|e| Error::Internal(format!("cannot serialise {s:?}: {e}")))
    };
    Ok((
        format!(
            "{{\"type\":\"RECORD\",\"stream\":{},\"record\":",
            quoted(stream)?
        )
        .into_bytes(),
        match version {
            Some(v) => format!(
                ",\"version\":{v},\"time_extracted\":{}}}\n",
                quoted(time_extracted)?
            ),
            None => format!(",\"time_extracted\":{}}}\n", quoted(time_extracted)?),
        }
        .into_bytes(),
    ))
}

/// Writes `value` as `serde_json::to_writer` would, freeing each member once it is written, so
/// a record holding message bodies is not in memory twice (as a `Value` and as its line).
fn write_consuming(out: &mut Vec<u8>, value: Value) -> serde_json::Result<()> {
    match value {
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, &k)?;
                out.push(b':');
                write_consuming(out, v)?;
            }
            out.push(b'}');
        }
        Value::Array(list) => {
            out.push(b'[');
            for (i, v) in list.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_consuming(out, v)?;
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, &other)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::write_consuming;
    use serde_json::{json, Value};

    #[test]
    fn writes_what_serde_json_writes() {
        let values = [
            json!({"b": [1, 2.5, -3, {"x": null}], "a": "q\"uote\r\n\u{1}é", "c": {}, "d": []}),
            json!([true, false, null, "", {"k": [[]]}]),
            json!("plain"),
            json!(18446744073709551615u64),
            json!({"Body": "x".repeat(100_000), "Headers": [{"Name": "A", "Value": "<b>"}]}),
        ];
        for v in values {
            let mut out = Vec::new();
            write_consuming(&mut out, v.clone()).unwrap();
            assert_eq!(out, serde_json::to_vec(&v).unwrap(), "{v}");
            let back: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, v);
        }
    }
}
