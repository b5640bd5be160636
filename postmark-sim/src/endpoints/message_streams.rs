//! The message stream endpoints (list and one) and a stream's suppression dump
//! (`/message-streams/{id}/suppressions/dump`; lifting suppressions is a write, in `lift`).

use serde_json::{json, Value};

use super::env::Env;
use super::query::{window, ApiError, ApiResult};
use crate::generate::eastern::{format_postmark_seconds, TICKS_PER_DAY};
use crate::generate::model::{Server, Stream};
use crate::generate::stream_type::StreamType;

/// 422/1226 for a stream ID the server does not have.
pub fn stream_not_found() -> ApiError {
    ApiError::unprocessable(
        1226,
        "The message stream for the provided 'ID' was not found.",
    )
}

fn time_or_null(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| json!(format_postmark_seconds(t)))
}

/// The message stream object (§3.16).
pub fn stream_json(server: &Server, st: &Stream) -> Value {
    json!({
        "ID": st.id,
        "ServerID": server.id,
        "Name": st.name,
        "Description": st.description,
        "MessageStreamType": st.kind.as_str(),
        "CreatedAt": format_postmark_seconds(st.created_at),
        "UpdatedAt": time_or_null(st.updated_at),
        "ArchivedAt": time_or_null(st.archived_at),
        "ExpectedPurgeDate": time_or_null(st.archived_at.map(|a| a + 45 * TICKS_PER_DAY)),
        "SubscriptionManagementConfiguration": {"UnsubscribeHandlingType": st.unsubscribe},
    })
}

/// `GET /message-streams`.
pub fn list(env: &Env) -> ApiResult {
    let kind = env
        .q
        .text("messagestreamtype")
        .unwrap_or_else(|| "All".to_string());
    let wanted = match kind.to_ascii_lowercase().as_str() {
        "all" => None,
        "transactional" => Some(StreamType::Transactional),
        "broadcasts" => Some(StreamType::Broadcasts),
        "inbound" => Some(StreamType::Inbound),
        _ => {
            return Err(ApiError::unprocessable(
                1225,
                format!("The value '{kind}' is not a valid MessageStreamType."),
            ))
        }
    };
    let archived = env.q.flag("includearchivedstreams", 1225)?.unwrap_or(false);
    let server = env.server();
    let mut v: Vec<&Stream> = server
        .streams
        .iter()
        .filter(|s| wanted.is_none_or(|w| w == s.kind) && (archived || s.archived_at.is_none()))
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    let items: Vec<Value> = v.iter().map(|s| stream_json(server, s)).collect();
    Ok(json!({"MessageStreams": items, "TotalCount": items.len()}))
}

/// `GET /message-streams/{id}`.
pub fn one(env: &Env) -> ApiResult {
    let server = env.server();
    let k = server.stream_index(env.id).ok_or_else(stream_not_found)?;
    Ok(stream_json(server, &server.streams[k]))
}

/// `GET /message-streams/{id}/suppressions/dump`.
pub fn suppressions(env: &Env) -> ApiResult {
    let server = env.server();
    let k = server.stream_index(env.id).ok_or_else(stream_not_found)?;
    let st = &server.streams[k];
    let reason = env.q.text("suppressionreason");
    let origin = env.q.text("origin");
    let email = env.q.text("emailaddress");
    let iv = window(env.q, 1226)?;
    let items: Vec<Value> = st
        .suppressions
        .iter()
        .filter(|x| {
            reason
                .as_ref()
                .is_none_or(|r| r.eq_ignore_ascii_case(x.reason))
                && origin
                    .as_ref()
                    .is_none_or(|o| o.eq_ignore_ascii_case(x.origin))
                && email
                    .as_ref()
                    .is_none_or(|e| e.eq_ignore_ascii_case(&x.email))
                && iv.iter().any(|&(a, b)| x.at >= a && x.at < b)
                && x.active(env.now)
        })
        .map(|x| {
            json!({
                "EmailAddress": x.email,
                "SuppressionReason": x.reason,
                "Origin": x.origin,
                "CreatedAt": format_postmark_seconds(x.at),
            })
        })
        .collect();
    Ok(json!({"Suppressions": items}))
}
