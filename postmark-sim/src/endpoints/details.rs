//! Per-ID message endpoints: outbound details and dump, one message's opens and clicks,
//! inbound details, one bounce and its dump. Unknown, expired or foreign IDs get Postmark's
//! 422 "not found" codes (701 messages, 1001 bounces).

use serde_json::{json, Value};

use super::env::Env;
use super::message_search::MESSAGES;
use super::query::{paging, ApiError, ApiResult};
use crate::content::dsn;
use crate::content::inbound_details;
use crate::content::outbound;
use crate::generate::facts::{self, MsgFacts};
use crate::generate::ids::{self, KIND_INBOUND, KIND_OUTBOUND};
use crate::generate::model::BOUNCE_BASE;
use crate::generate::stream_type::StreamType;
use crate::generate::visible;
use crate::render::events;
use crate::render::inbound;
use crate::render::messages;

fn not_found() -> ApiError {
    ApiError::unprocessable(701, "This message was not found.")
}

/// Resolves an outbound message ID of the authenticated server, within retention and arrived:
/// the stream, the facts and whether it is a live arrival.
fn outbound_message(env: &Env) -> Result<(usize, MsgFacts, bool), ApiError> {
    let key = ids::decode_message_id(env.m.seed, env.id).ok_or_else(not_found)?;
    if key.kind != KIND_OUTBOUND || key.server != env.s {
        return Err(not_found());
    }
    let st = env.server().streams.get(key.stream).ok_or_else(not_found)?;
    let at = *st.messages.get(key.index).ok_or_else(not_found)?;
    let view = env.view(key.stream);
    if st.kind == StreamType::Inbound
        || at < env.cutoff()
        || !visible::message_arrived(&view.ctx, st, key.index, env.now)
    {
        return Err(not_found());
    }
    let live = key.index >= st.generated;
    Ok((
        key.stream,
        facts::message(&view.ctx, key.index, at, live),
        live,
    ))
}

fn bounce_id_of(env: &Env, k: usize, f: &MsgFacts) -> Option<u64> {
    env.server().streams[k]
        .bounce_by_msg
        .get(&(f.index as u32))
        .map(|&b| BOUNCE_BASE + u64::from(b))
}

/// `GET /messages/outbound/{id}/details`.
pub fn outbound_details(env: &Env) -> ApiResult {
    let (k, f, live) = outbound_message(env)?;
    let view = env.view(k);
    let d = outbound::details(&view, &f, bounce_id_of(env, k, &f), live, env.m.body);
    Ok(serde_json::to_value(d).unwrap_or(Value::Null))
}

/// The `Status` the outbound details of the message give, without rendering them; not-found as
/// [`outbound_details`] answers it.
pub fn outbound_status(env: &Env) -> Result<&'static str, ApiError> {
    let (_, f, _) = outbound_message(env)?;
    Ok(messages::status(&f, env.now))
}

/// `GET /messages/outbound/{id}/dump`.
pub fn outbound_dump(env: &Env) -> ApiResult {
    let (k, f, _) = outbound_message(env)?;
    Ok(json!({"Body": outbound::raw_source(&env.view(k), &f, env.m.body)}))
}

/// `GET /messages/outbound/opens/{id}` and `/clicks/{id}` (422/701 when there are none).
pub fn hits_for(env: &Env, clicks: bool) -> ApiResult {
    let (count, offset) = paging(env.q, MESSAGES)?;
    let (k, f, _) = outbound_message(env)?;
    let view = env.view(k);
    let st = &env.server().streams[k];
    let shown = |n: usize, at: i64| {
        at >= env.cutoff() && visible::hit_arrived(&view.ctx, st, clicks, f.index, n, at, env.now)
    };
    let mut records: Vec<(i64, Value)> = if clicks {
        f.clicks
            .iter()
            .enumerate()
            .filter(|(n, c)| shown(*n, c.at))
            .map(|(_, c)| (c.at, events::render_click(&view, &f, c)))
            .collect()
    } else {
        f.opens
            .iter()
            .enumerate()
            .filter(|(n, o)| shown(*n, o.at))
            .map(|(_, o)| (o.at, events::render_open(&view, &f, o)))
            .collect()
    };
    if records.is_empty() {
        return Err(not_found());
    }
    records.sort_by_key(|r| std::cmp::Reverse(r.0));
    let total = records.len();
    let page: Vec<Value> = records
        .into_iter()
        .skip(offset)
        .take(count)
        .map(|(_, v)| v)
        .collect();
    let key = if clicks { "Clicks" } else { "Opens" };
    Ok(json!({"TotalCount": total, key: page}))
}

/// `GET /messages/inbound/{id}/details`.
pub fn inbound_details(env: &Env) -> ApiResult {
    let key = ids::decode_message_id(env.m.seed, env.id).ok_or_else(not_found)?;
    let server = env.server();
    if key.kind != KIND_INBOUND || key.server != env.s {
        return Err(not_found());
    }
    let at = *server.inbound.get(key.index).ok_or_else(not_found)?;
    if at < env.cutoff() || !visible::inbound_arrived(env.m, env.s, key.index, at, env.now) {
        return Err(not_found());
    }
    let f = inbound::derive(env.m.seed, env.s, key.index, at);
    Ok(inbound_details::render(
        env.m.seed,
        env.s,
        &server.inbound_hash,
        (&f, at),
        env.m.body,
    ))
}

fn bounce_not_found() -> ApiError {
    ApiError::unprocessable(1001, "Bounce was not found.")
}

/// Resolves a bounce ID of the authenticated server, within retention and arrived: the ID, its
/// position in `Model::bounces`, the stream and the message's facts.
fn find_bounce(env: &Env) -> Result<(u64, u32, usize, MsgFacts), ApiError> {
    let id: u64 = env.id.trim().parse().map_err(|_| bounce_not_found())?;
    let pos = id.checked_sub(BOUNCE_BASE).ok_or_else(bounce_not_found)? as usize;
    let b = env.m.bounces.get(pos).ok_or_else(bounce_not_found)?;
    if usize::from(b.server) != env.s || b.at < env.cutoff() {
        return Err(bounce_not_found());
    }
    let k = usize::from(b.stream);
    let st = &env.server().streams[k];
    let view = env.view(k);
    if !visible::bounce_arrived(&view.ctx, b.msg as usize, b.at, env.now) {
        return Err(bounce_not_found());
    }
    let f = facts::message(
        &view.ctx,
        b.msg as usize,
        st.messages[b.msg as usize],
        false,
    );
    Ok((id, pos as u32, k, f))
}

/// `GET /bounces/{id}`.
pub fn bounce(env: &Env) -> ApiResult {
    let (id, pos, k, f) = find_bounce(env)?;
    let view = env.view(k);
    Ok(events::render_bounce(
        &view,
        &f,
        (id, env.server().id),
        visible::bounce_flags(env.m, pos, env.now),
        Some(dsn::dump(&view, &f)),
    ))
}

/// `GET /bounces/{id}/dump`.
pub fn bounce_dump(env: &Env) -> ApiResult {
    let (_, _, k, f) = find_bounce(env)?;
    let available = f
        .bounce
        .is_some_and(|b| events::has_dump(&env.view(k).ctx, f.index, b.kind));
    let body = if available {
        dsn::dump(&env.view(k), &f)
    } else {
        String::new()
    };
    Ok(json!({"Body": body}))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::query::Query;
    use super::*;
    use crate::generate::eastern::to_ticks;
    use crate::generate::traffic;
    use crate::knobs::SimConfig;

    #[test]
    fn expired_messages_are_not_found() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
        let cfg = SimConfig {
            now: Some(now),
            servers: 1,
            days: 40,
            retention_days: 20,
            messages_per_day: 30,
            spike_messages: 0,
            ..SimConfig::default()
        };
        let m = traffic::build(&cfg, to_ticks(now));
        let key = |index| {
            ids::encode_message_id(
                m.seed,
                ids::MessageKey {
                    kind: KIND_OUTBOUND,
                    server: 0,
                    stream: 0,
                    index,
                },
            )
        };
        let q = Query::default();
        let status = |id: &str| {
            let env = Env {
                m: &m,
                s: 0,
                q: &q,
                now: m.anchor,
                id,
            };
            outbound_details(&env).map_or_else(|e| e.status, |_| 200)
        };
        assert_eq!(status(&key(0)), 422);
        assert_eq!(
            status(&key(m.servers[0].streams[0].messages.len() - 1)),
            200
        );
    }
}
