//! Per-stream endpoints: message streams (list and one), the suppression dump, delivery stats
//! and the twelve `/stats/outbound…` endpoints.

use serde_json::{json, Value};

use super::eastern::{self, format_postmark_seconds, TICKS_PER_DAY};
use super::env::{unknown_stream, Env};
use super::model::{Server, Stream};
use super::names::{self, BOUNCE_TYPES};
use super::pending;
use super::query::{window, ApiError, ApiResult};
use super::search::{desc, ranges_by};
use super::stats;
use super::stream_type::StreamType;
use super::visible;

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

/// Counts of the server's bounces by type index (retained and arrived ones only), and how many
/// of them are inactive at the clock's now.
fn bounce_counts(env: &Env) -> ([u64; 10], u64) {
    let mut counts = [0u64; 10];
    let mut inactive = 0;
    let cutoff = env.cutoff();
    for (k, st) in env.server().streams.iter().enumerate() {
        let ranges = visible::hide(
            ranges_by(
                &st.bounces,
                |&b| env.m.bounces[b as usize].at,
                &[(cutoff, i64::MAX)],
            ),
            &visible::bounces_shown(&env.view(k).ctx, st, &env.m.bounces, env.now),
        );
        for i in desc(&ranges) {
            let pos = st.bounces[i];
            counts[usize::from(env.m.bounces[pos as usize].kind)] += 1;
            inactive += u64::from(visible::bounce_flags(env.m, pos, env.now).0);
        }
    }
    (counts, inactive)
}

/// One `/deliverystats` entry: (Name, Type, Count).
pub type DeliveryEntry = (&'static str, Option<&'static str>, u64);

/// The `Bounces` entries of `/deliverystats` as (Name, Type, Count); "All" first.
pub fn delivery_entries(env: &Env) -> (u64, Vec<DeliveryEntry>) {
    let (counts, inactive) = bounce_counts(env);
    let mut out = vec![("All", None, counts.iter().sum())];
    for (i, b) in BOUNCE_TYPES.iter().enumerate() {
        if counts[i] > 0 {
            out.push((b.name, Some(b.key), counts[i]));
        }
    }
    (inactive, out)
}

/// `GET /deliverystats`.
pub fn delivery_stats(env: &Env) -> ApiResult {
    let (inactive, entries) = delivery_entries(env);
    let bounces: Vec<Value> = entries
        .into_iter()
        .map(|(name, kind, n)| match kind {
            None => json!({"Name": name, "Count": n}),
            Some(t) => json!({"Type": t, "Name": name, "Count": n}),
        })
        .collect();
    Ok(json!({"InactiveMails": inactive, "Bounces": bounces}))
}

/// Streams a stats request covers: the `messagestream` one, or every non-inbound stream.
pub fn stats_streams(server: &Server, param: Option<String>) -> Result<Vec<usize>, ApiError> {
    match param {
        Some(id) => server
            .stream_index(&id)
            .map(|k| vec![k])
            .ok_or_else(unknown_stream),
        None => Ok((0..server.streams.len())
            .filter(|&k| server.streams[k].kind != StreamType::Inbound)
            .collect()),
    }
}

/// `GET /stats/outbound` (`endpoint` empty) and `/stats/outbound/{endpoint}`.
pub fn stats(env: &Env, endpoint: &str) -> ApiResult {
    let server = env.server();
    let streams = stats_streams(server, env.q.text("messagestream"))?;
    let tag = env.q.text("tag").map(|t| {
        names::TAGS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(&t))
            .map_or(usize::MAX, |p| p + 1)
    });
    let (first, last, nothing) = super::query::day_range(env.q, 900)?;
    let days = if nothing {
        Default::default()
    } else {
        let last = Some(last.unwrap_or_else(|| eastern::eastern_day(env.now)));
        let pending = pending::pending_stats(env);
        stats::per_day(&server.stats, &pending, &streams, tag, first, last)
    };
    Ok(if endpoint.is_empty() {
        stats::render_overview(&days)
    } else {
        stats::render_days(endpoint, &days)
    })
}
