//! One per-record read, on a worker thread: a message's details (or an inbound message's, or a
//! bounce's dump), the RECORD lines it gives each stream it serves (`message_events`: one per
//! entry of `MessageEvents`; the content streams: the record with its content), and whether
//! the record is settled or may still change.

use super::spec::{ReadsSpec, Why};
use crate::client::{path_segment, CallError, Client, Held, StreamedValue};
use crate::error::Error;
use crate::record::line::RecordWriter;
use crate::record::Selected;
use crate::record::Stamps;
use crate::streams::Expand;
use crate::sync::context::extracted_now;
use crate::sync::search::fetch::MessageRef;
use crate::timefmt::parse_timestamp;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// Whether a served stream writes the record this read gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    Always,
    Never,
    /// When the answer's timestamp (its stream's bookmark field) is at or after this instant,
    /// or unreadable: the record is new to the stream.
    From(DateTime<Utc>),
}

/// One record to read, numbered in its task's sequence, and what each served stream does with
/// the answer (in the order of [`ReadsSpec::serves`]).
#[derive(Clone)]
pub struct ReadRequest<'a> {
    pub spec: Arc<ReadsSpec<'a>>,
    pub message: MessageRef,
    pub seq: u64,
    pub why: Why,
    pub emit: Vec<Emit>,
}

/// Whether a record read may still change on its own (with no activity to tell it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Postmark has not sent it yet (`Status` `Queued`; for inbound mail, any status but
    /// `Processed`, `Blocked` and `Failed`).
    pub queued: bool,
    /// Sent, but some recipient has neither a delivery nor a bounce yet.
    pub awaiting: bool,
}

pub enum ReadAnswer {
    /// The RECORD lines each served stream writes, and how many records they are; whether
    /// the record is settled; its bookmark field's instant, as the answer gives it.
    Lines {
        lines: Vec<(Vec<u8>, u64)>,
        settled: Settled,
        found: Option<DateTime<Utc>>,
    },
    /// The record expired (retention) between its search and this request: Postmark answers
    /// 422 with ErrorCode 701, and there is nothing left to read.
    Expired,
}

/// Reads one record and writes what it gives each served stream.
pub fn fetch(client: &Client, req: &ReadRequest) -> Result<ReadAnswer, Error> {
    let spec = &*req.spec;
    let expand = spec.expand;
    let id = path_segment(&req.message.id, expand.id_field())?;
    let endpoint = expand.path();
    let path = endpoint.replace("{id}", id);
    let Held { value, large } = match client.get_with(
        &spec.server.token,
        &path,
        &[],
        endpoint,
        Some(&spec.tally),
        StreamedValue,
    ) {
        Ok(d) => d,
        Err(CallError::Postmark {
            status: 422, code, ..
        }) if code == expand.gone_code() => return Ok(ReadAnswer::Expired),
        Err(e) => return Err(e.into_error(endpoint)),
    };
    if !value.is_object() {
        return Err(Error::Api(format!(
            "{path}: the answer is not a JSON object"
        )));
    }
    let settled = settled(expand, &value);
    let found = answer_time(spec, &value);
    let lines = lines_for(req, value, &path)?;
    // Only now may another large answer be read.
    drop(large);
    Ok(ReadAnswer::Lines {
        lines,
        settled,
        found,
    })
}

/// The answer's bookmark field (the first served stream's), read.
fn answer_time(spec: &ReadsSpec, answer: &Value) -> Option<DateTime<Utc>> {
    let field = spec.serves.first()?.def.replication_key?;
    answer.get(field)?.as_str().and_then(parse_timestamp)
}

/// The RECORD lines the answer gives each served stream (in [`ReadsSpec::serves`]' order; none for
/// a stream that does not write it). `message_events` reads the answer first; the stream that
/// keeps it whole takes it last, so a shared answer (often a message's bodies) is copied only
/// when two streams keep it.
fn lines_for(req: &ReadRequest, value: Value, path: &str) -> Result<Vec<(Vec<u8>, u64)>, Error> {
    let spec = &*req.spec;
    let extracted = extracted_now();
    let stamps = || Stamps::new(Some(spec.server.id), Some(&spec.id));
    let writes: Vec<bool> = spec
        .serves
        .iter()
        .zip(&req.emit)
        .map(|(sel, emit)| writes(*emit, sel, &value))
        .collect();
    let is_events = |sel: &Selected| sel.def.expands_to() == Some(Expand::MessageEvents);
    let mut lines = vec![(Vec::new(), 0); spec.serves.len()];
    for (i, sel) in spec.serves.iter().enumerate() {
        if writes[i] && is_events(sel) {
            let writer = RecordWriter::new(sel, stamps(), &extracted)?;
            lines[i] = events(&writer, &value, &req.message)?;
        }
    }
    let keepers: Vec<usize> = (0..spec.serves.len())
        .filter(|&i| writes[i] && !is_events(spec.serves[i]))
        .collect();
    let mut answer = Some(value);
    for (n, &i) in keepers.iter().enumerate() {
        let sel = spec.serves[i];
        let writer = RecordWriter::new(sel, stamps(), &extracted)?;
        let taken = match n + 1 == keepers.len() {
            true => answer.take(),
            false => answer.clone(),
        };
        let taken = taken
            .ok_or_else(|| Error::Internal(format!("{path}: the answer was already taken")))?;
        let time_field = sel.def.replication_key.unwrap_or_default();
        lines[i] = content(&writer, taken, (spec.expand, time_field), &req.message)?;
    }
    Ok(lines)
}

/// Whether `sel` writes this answer.
fn writes(emit: Emit, sel: &Selected, answer: &Value) -> bool {
    match emit {
        Emit::Always => true,
        Emit::Never => false,
        Emit::From(start) => sel
            .def
            .replication_key
            .and_then(|f| answer.get(f))
            .and_then(Value::as_str)
            .and_then(parse_timestamp)
            .is_none_or(|t| t >= start),
    }
}

/// Whether the record may still change on its own.
fn settled(expand: Expand, answer: &Value) -> Settled {
    let status = answer.get("Status").and_then(Value::as_str).unwrap_or("");
    let is = |s: &str| status.eq_ignore_ascii_case(s);
    match expand {
        Expand::BounceDump => Settled::default(),
        Expand::InboundDetails => Settled {
            queued: !(is("Processed") || is("Blocked") || is("Failed")),
            awaiting: false,
        },
        Expand::MessageEvents | Expand::OutboundDetails => {
            let queued = is("Queued");
            let sandboxed = answer.get("Sandboxed") == Some(&Value::Bool(true));
            Settled {
                queued,
                awaiting: !queued && !sandboxed && awaits_outcome(answer),
            }
        }
    }
}

/// Whether some recipient of a sent message has neither a `Delivered` nor a `Bounced` event.
fn awaits_outcome(answer: &Value) -> bool {
    let lower = |v: &Value| v.as_str().map(str::to_ascii_lowercase);
    let events = answer
        .get("MessageEvents")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let outcomes: HashSet<String> = events
        .iter()
        .filter(|e| matches!(e["Type"].as_str(), Some("Delivered" | "Bounced")))
        .filter_map(|e| lower(&e["Recipient"]))
        .collect();
    let mut recipients: Vec<String> = answer
        .get("Recipients")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(lower).collect())
        .unwrap_or_default();
    if recipients.is_empty() {
        for field in ["To", "Cc", "Bcc"] {
            if let Some(list) = answer.get(field).and_then(Value::as_array) {
                recipients.extend(list.iter().filter_map(|r| lower(&r["Email"])));
            }
        }
    }
    if recipients.is_empty() {
        return outcomes.is_empty();
    }
    recipients.iter().any(|r| !outcomes.contains(r))
}

/// The details (or dump) of one found record as one record: without `MessageEvents`, with the
/// found record's identity and message stream where the answer leaves them out.
fn content(
    writer: &RecordWriter,
    details: Value,
    (expand, time_field): (Expand, &str),
    found: &MessageRef,
) -> Result<(Vec<u8>, u64), Error> {
    let Value::Object(mut record) = details else {
        return Ok((Vec::new(), 0));
    };
    record.remove("MessageEvents");
    let field = expand.id_field();
    if record.get(field).is_none_or(Value::is_null) {
        // The ID as the search wrote it: a number for a bounce, a string for a message.
        let id = serde_json::from_str::<Value>(&found.id)
            .ok()
            .filter(|v| v.is_number() && expand == Expand::BounceDump)
            .unwrap_or_else(|| Value::String(found.id.clone()));
        record.insert(field.into(), id);
    }
    for (name, found) in [("MessageStream", &found.stream), (time_field, &found.time)] {
        if name.is_empty() || !record.get(name).is_none_or(Value::is_null) {
            continue;
        }
        if let Some(value) = found.as_deref().and_then(|t| serde_json::from_str(t).ok()) {
            record.insert(name.into(), value);
        }
    }
    let mut buf = Vec::new();
    let records = u64::from(writer.value(Value::Object(record), &mut buf)?);
    Ok((buf, records))
}

/// `message_events`: each entry of `MessageEvents`, with its message's `MessageID` and
/// `MessageStream`.
fn events(
    writer: &RecordWriter,
    details: &Value,
    message: &MessageRef,
) -> Result<(Vec<u8>, u64), Error> {
    let found_stream = message
        .stream
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    // The message's stream as its details or its search record name it; the writer's stamp
    // (the message stream read) where neither does.
    let stream = details
        .get("MessageStream")
        .filter(|s| !s.is_null())
        .cloned()
        .or(found_stream)
        .unwrap_or(Value::Null);
    let events = match details.get("MessageEvents") {
        Some(Value::Array(list)) => list.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => {
            return Err(Error::Api(format!(
                "the details of message {} have a MessageEvents that is not a list",
                message.id
            )))
        }
    };
    let mut buf = Vec::new();
    let mut written = 0;
    for event in events {
        let mut record = event.clone();
        if let Some(map) = record.as_object_mut() {
            map.insert("MessageID".into(), Value::String(message.id.clone()));
            map.insert("MessageStream".into(), stream.clone());
        }
        written += u64::from(writer.value(record, &mut buf)?);
    }
    Ok((buf, written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outbound(answer: Value) -> Settled {
        settled(Expand::MessageEvents, &answer)
    }

    fn event(kind: &str, to: &str) -> Value {
        json!({"Type": kind, "Recipient": to, "ReceivedAt": "2026-12-01T10:00:00-05:00"})
    }

    #[test]
    fn a_message_is_settled_once_every_recipient_has_an_outcome() {
        let base = json!({"Status": "Sent", "Recipients": ["a@x.example", "B@x.example"]});
        let with = |events: Vec<Value>| {
            let mut m = base.clone();
            m["MessageEvents"] = Value::Array(events);
            outbound(m)
        };
        assert_eq!(
            with(vec![]),
            Settled {
                queued: false,
                awaiting: true
            }
        );
        let one = vec![
            event("Delivered", "a@x.example"),
            event("Opened", "b@x.example"),
        ];
        assert!(with(one).awaiting);
        // Addresses match whatever their case; a bounce is an outcome, a transient is not.
        let both = vec![
            event("Delivered", "A@x.example"),
            event("Bounced", "b@x.example"),
        ];
        assert_eq!(with(both), Settled::default());
        let transient = vec![
            event("Delivered", "a@x.example"),
            event("Transient", "b@x.example"),
        ];
        assert!(with(transient).awaiting);
    }

    #[test]
    fn queued_sandboxed_and_unlisted_recipients() {
        let queued = outbound(json!({"Status": "queued", "MessageEvents": []}));
        assert_eq!(
            queued,
            Settled {
                queued: true,
                awaiting: false
            }
        );
        let sandboxed = json!({"Status": "Sent", "Sandboxed": true, "Recipients": ["a@x.example"]});
        assert_eq!(outbound(sandboxed), Settled::default());
        // Without Recipients, the To/Cc/Bcc addresses; without any, one outcome will do.
        let to = json!({"Status": "Sent", "To": [{"Email": "a@x.example"}], "Cc": [{"Email": "c@x.example"}],
            "MessageEvents": [event("Delivered", "a@x.example")]});
        assert!(outbound(to).awaiting);
        let none = json!({"Status": "Sent", "MessageEvents": [event("Delivered", "a@x.example")]});
        assert_eq!(outbound(none), Settled::default());
    }

    #[test]
    fn inbound_messages_settle_when_processed_blocked_or_failed() {
        for (status, queued) in [
            ("Processed", false),
            ("Blocked", false),
            ("Failed", false),
            ("Queued", true),
            ("Scheduled", true),
            ("", true),
        ] {
            let s = settled(Expand::InboundDetails, &json!({"Status": status}));
            assert_eq!(s.queued, queued, "{status}");
        }
        assert_eq!(
            settled(Expand::BounceDump, &json!({"Body": ""})),
            Settled::default()
        );
    }
}
