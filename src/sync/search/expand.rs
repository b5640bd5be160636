//! Per-message expansion: for a search stream that expands its records, one request per found
//! message (its details), read through the pipeline like any other request, and the records it
//! expands to: `message_events`, one per entry of `MessageEvents`; `messages_outbound_details`
//! and `messages_inbound_details`, the message with its content; `bounce_dumps`, the raw bounce.

use super::fetch::{MessageRef, Partition};
use crate::client::{path_segment, CallError, Client, Held, StreamedValue};
use crate::error::Error;
use crate::record::line::RecordWriter;
use crate::record::Stamps;
use crate::singer::catalog::Selected;
use crate::streams::Expand;
use crate::sync::context::extracted_now;
use crate::sync::windows::Window;
use serde_json::Value;
use std::sync::Arc;

/// The details of one found message, for the window that found it.
#[derive(Clone)]
pub struct DetailsRequest<'a> {
    pub part: Arc<Partition<'a>>,
    pub window: Window,
    pub message: MessageRef,
}

pub enum Fetched {
    /// The RECORD lines the message expands to, and how many records they are; and those of
    /// the stream served by the same answer ([`Partition::also`]).
    Lines {
        buf: Vec<u8>,
        records: u64,
        also: Option<(Vec<u8>, u64)>,
    },
    /// The message expired (retention) between the search and this request: Postmark answers
    /// 422 with ErrorCode 701, and there is nothing left to read.
    Expired,
}

/// Reads one message's details and writes what they expand to.
pub fn fetch(client: &Client, req: &DetailsRequest) -> Result<Fetched, Error> {
    let part = &*req.part;
    let Some(expand) = part.spec.expand else {
        return Err(Error::Internal(format!(
            "{} does not expand its records",
            part.name()
        )));
    };
    let id = path_segment(&req.message.id, expand.id_field())?;
    let endpoint = expand.path();
    let path = endpoint.replace("{id}", id);
    let Held { value, large } = match client.get_with(
        &part.server.token,
        &path,
        &[],
        endpoint,
        Some(&part.tally),
        StreamedValue,
    ) {
        Ok(d) => d,
        Err(CallError::Postmark {
            status: 422,
            code: 701,
            ..
        }) => return Ok(Fetched::Expired),
        Err(e) => return Err(e.into_error(endpoint)),
    };
    let extracted = extracted_now();
    let writer = |sel| {
        let stamps = Stamps::new(Some(part.server.id), Some(&part.id));
        RecordWriter::new(sel, stamps, &extracted)
    };
    // The stream that keeps the answer whole takes it last, so a shared answer (often a
    // message's bodies) is copied only when both streams keep it.
    let mut details = Some(value);
    let shared = part.also.is_some();
    let (buf, records) = expand_to(
        &writer(part.sel)?,
        &mut details,
        shared,
        part.sel,
        req,
        &path,
    )?;
    let also = match part.also {
        Some(sel) => Some(expand_to(
            &writer(sel)?,
            &mut details,
            false,
            sel,
            req,
            &path,
        )?),
        None => None,
    };
    // Only now may another large answer be read.
    drop(large);
    Ok(Fetched::Lines { buf, records, also })
}

/// The RECORD lines one answer gives a stream, and how many records they are. `keep` leaves
/// the answer for another stream; otherwise a stream that keeps it whole takes it.
fn expand_to(
    writer: &RecordWriter,
    details: &mut Option<Value>,
    keep: bool,
    sel: &Selected,
    req: &DetailsRequest,
    path: &str,
) -> Result<(Vec<u8>, u64), Error> {
    let missing = || Error::Internal(format!("{path}: the answer was already taken"));
    match sel.def.expands_to() {
        Some(Expand::MessageEvents) => events(
            writer,
            details.as_ref().ok_or_else(missing)?,
            &req.message,
            path,
        ),
        Some(expand) => {
            let answer = match keep {
                true => details.clone(),
                false => details.take(),
            };
            let time_field = sel.def.replication_key.unwrap_or_default();
            let answer = answer.ok_or_else(missing)?;
            content(writer, answer, (expand, time_field), &req.message, path)
        }
        None => Err(Error::Internal(format!(
            "{} does not expand its records",
            sel.def.name
        ))),
    }
}

/// The details (or dump) of one found record as one record: without `MessageEvents`, with the
/// found record's identity and message stream where the answer leaves them out.
fn content(
    writer: &RecordWriter,
    details: Value,
    (expand, time_field): (Expand, &str),
    found: &MessageRef,
    path: &str,
) -> Result<(Vec<u8>, u64), Error> {
    let mut record = match details {
        Value::Object(map) => map,
        _ => {
            return Err(Error::Api(format!(
                "{path}: the answer is not a JSON object"
            )))
        }
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
    path: &str,
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
        Some(_) => return Err(Error::Api(format!("{path}: MessageEvents is not a list"))),
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
