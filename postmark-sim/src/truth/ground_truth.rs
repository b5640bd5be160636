//! Ground truth: the set of record keys each tap stream should emit for a server and a UTC
//! range as of the clock's now (what has arrived, what is still listed), computed from the same
//! indexes and derivations the endpoints serve.

use std::collections::{BTreeSet, HashSet};

use crate::endpoints::bounces;
use crate::endpoints::env::Env;
use crate::endpoints::message_search::{desc, ranges_by};
use crate::endpoints::pending_stats;
use crate::endpoints::query::Query;
use crate::endpoints::statistics;
use crate::generate::day_counters;
use crate::generate::eastern::{day_string, eastern_day, format_normalised};
use crate::generate::facts;
use crate::generate::facts::Ctx;
use crate::generate::model::{Model, Stream, BOUNCE_BASE};
use crate::generate::stream_type::StreamType;
use crate::generate::visible;
use crate::render::events;
use crate::render::inbound;
use crate::render::view;

/// Keys of one stream.
pub type Keys = BTreeSet<Vec<String>>;

/// Tap stream name → stats endpoint and whether it is pivoted on a dynamic key.
fn stats_endpoint(stream: &str) -> Option<(&'static str, bool)> {
    Some(match stream {
        "stats_outbound_overview" => ("", false),
        "stats_outbound_sends" => ("sends", false),
        "stats_outbound_bounces" => ("bounces", true),
        "stats_outbound_spam" => ("spam", false),
        "stats_outbound_tracked" => ("tracked", false),
        "stats_outbound_opens" => ("opens", false),
        "stats_outbound_platform" => ("opens/platforms", false),
        "stats_outbound_clients" => ("opens/emailclients", true),
        "stats_outbound_clicks" => ("clicks", false),
        "stats_outbound_browser_families" => ("clicks/browserfamilies", true),
        "stats_outbound_click_platforms" => ("clicks/platforms", false),
        "stats_outbound_click_location" => ("clicks/location", false),
        _ => return None,
    })
}

const KNOWN: &[&str] = &[
    "messages_outbound",
    "messages_opens",
    "messages_clicks",
    "messages_inbound",
    "message_events",
    "messages_outbound_details",
    "messages_inbound_details",
    "bounce_dumps",
    "bounces",
    "templates",
    "message_streams",
    "suppressions",
    "delivery_stats",
    "server",
    "webhooks",
    "inbound_rules",
    "servers",
    "domains",
    "sender_signatures",
];

/// Ground truth of `stream` for server `server_id` over `[from, to)` (ticks) at clock `now`.
pub fn ground_truth(
    m: &Model,
    now: i64,
    server_id: u64,
    stream: &str,
    from: i64,
    to: i64,
) -> Option<Keys> {
    let stats_ep = stats_endpoint(stream);
    if stats_ep.is_none() && !KNOWN.contains(&stream) {
        return None;
    }
    let one = |v: String| vec![v];
    match stream {
        "servers" => return Some(m.servers.iter().map(|s| one(s.id.to_string())).collect()),
        "domains" => {
            let ids = m.domains.iter().map(|d| d.id);
            return Some(live(ids, &m.deleted.domains).map(one).collect());
        }
        "sender_signatures" => {
            let ids = m.senders.iter().map(|d| d.id);
            return Some(live(ids, &m.deleted.senders).map(one).collect());
        }
        _ => {}
    }
    let Some(s) = m.servers.iter().position(|x| x.id == server_id) else {
        return Some(Keys::new());
    };
    let q = Query::default();
    let env = Env {
        m,
        s,
        q: &q,
        now,
        id: "",
    };
    let iv = [(from.max(env.cutoff()), to)];
    Some(match stats_ep {
        Some((ep, pivot)) => stats_keys(&env, ep, pivot, from, to),
        None => match stream {
            "messages_inbound" | "messages_inbound_details" => inbound_keys(&env, &iv),
            "bounces" | "bounce_dumps" => bounce_keys(&env, &iv, stream == "bounce_dumps"),
            "messages_outbound"
            | "messages_outbound_details"
            | "message_events"
            | "messages_opens"
            | "messages_clicks" => message_keys(&env, stream, &iv),
            _ => config_keys(&env, stream),
        },
    })
}

/// The statistics tap stream `stream` reads for one tag (`None`: all messages) on message stream
/// `ms` of server `server_id`, Eastern day by Eastern day over `first..=last` (`YYYY-MM-DD`):
/// each day the endpoint reports, as it answers a request for that day alone (its `Days` row,
/// `Date` left out; the overview's whole answer, every day). `None` for an unknown stream,
/// server or message stream.
pub fn stats_days(
    m: &Model,
    now: i64,
    server_id: u64,
    stream: &str,
    ms: &str,
    tag: Option<&str>,
    days: (chrono::NaiveDate, chrono::NaiveDate),
) -> Option<std::collections::BTreeMap<String, serde_json::Value>> {
    let (ep, _) = stats_endpoint(stream)?;
    let s = m.servers.iter().position(|x| x.id == server_id)?;
    m.servers[s].stream_index(ms)?;
    let mut out = std::collections::BTreeMap::new();
    for day in days.0.iter_days().take_while(|d| *d <= days.1) {
        let date = day.format("%Y-%m-%d").to_string();
        let mut pairs = vec![
            ("messagestream".to_string(), ms.to_string()),
            ("fromdate".to_string(), date.clone()),
            ("todate".to_string(), date.clone()),
        ];
        pairs.extend(tag.map(|t| ("tag".to_string(), t.to_string())));
        let q = Query { pairs };
        let env = Env {
            m,
            s,
            q: &q,
            now,
            id: "",
        };
        let answer = statistics::stats(&env, ep).ok()?;
        let row = match ep.is_empty() {
            true => Some(answer),
            false => answer["Days"].as_array().and_then(|d| d.first()).cloned(),
        };
        if let Some(mut row) = row {
            if let Some(o) = row.as_object_mut() {
                o.remove("Date");
            }
            out.insert(date, row);
        }
    }
    Some(out)
}

/// Indexes of the server's non-inbound streams.
fn outbound_streams<'a>(env: &'a Env) -> impl Iterator<Item = usize> + 'a {
    let server = env.server();
    (0..server.streams.len()).filter(|&k| server.streams[k].kind != StreamType::Inbound)
}

fn stats_keys(env: &Env, ep: &str, pivot: bool, from: i64, to: i64) -> Keys {
    let mut out = Keys::new();
    if from >= to {
        return out;
    }
    let server = env.server();
    let pending = pending_stats::pending_stats(env);
    let (first, last) = (eastern_day(from), eastern_day(to - 1));
    for k in outbound_streams(env) {
        let id = &server.streams[k].id;
        if ep.is_empty() {
            out.extend((first..=last).map(|d| vec![id.clone(), day_string(d)]));
            continue;
        }
        let days =
            day_counters::per_day(&server.stats, &pending, &[k], None, Some(first), Some(last));
        for (day, d) in days {
            let row = statistics::row(ep, &d);
            if pivot {
                out.extend(
                    row.iter()
                        .map(|(key, _)| vec![id.clone(), day_string(day), key.to_string()]),
                );
            } else if !row.is_empty() {
                out.insert(vec![id.clone(), day_string(day)]);
            }
        }
    }
    out
}

/// The IDs not deleted through the API, as strings.
fn live<'a>(
    ids: impl Iterator<Item = u64> + 'a,
    deleted: &'a HashSet<u64>,
) -> impl Iterator<Item = String> + 'a {
    ids.filter(|id| !deleted.contains(id))
        .map(|id| id.to_string())
}

fn config_keys(env: &Env, stream: &str) -> Keys {
    let server = env.server();
    let gone = &env.m.deleted;
    let one = |v: String| vec![v];
    let mut out = Keys::new();
    match stream {
        "server" => {
            out.insert(one(server.id.to_string()));
        }
        "templates" => {
            let ids = server.templates.iter().map(|t| t.id);
            out.extend(live(ids, &gone.templates).map(one));
        }
        "message_streams" => out.extend(server.streams.iter().map(|st| one(st.id.clone()))),
        "webhooks" => {
            let ids = server.webhooks.iter().map(|w| w.id);
            out.extend(live(ids, &gone.webhooks).map(one));
        }
        "inbound_rules" => {
            let ids = server.inbound_rules.iter().map(|r| r.0);
            out.extend(live(ids, &gone.inbound_rules).map(one));
        }
        "suppressions" => {
            for st in &server.streams {
                out.extend(
                    st.suppressions
                        .iter()
                        .filter(|x| x.active(env.now))
                        .map(|x| vec![st.id.clone(), x.email.clone()]),
                );
            }
        }
        "delivery_stats" => out.extend(
            bounces::delivery_entries(env)
                .1
                .into_iter()
                .map(|(name, _, _)| one(name.to_string())),
        ),
        _ => {}
    }
    out
}

fn inbound_keys(env: &Env, iv: &[(i64, i64)]) -> Keys {
    let server = env.server();
    let m = env.m;
    let hidden = visible::inbound_shown(m, env.s, env.now);
    let ranges = visible::hide(ranges_by(&server.inbound, |t| *t, iv), &hidden);
    desc(&ranges)
        .map(|i| vec![inbound::message_id(m.seed, env.s, i)])
        .collect()
}

/// Bounce IDs (only those with a dump when `dumps`).
fn bounce_keys(env: &Env, iv: &[(i64, i64)], dumps: bool) -> Keys {
    let m = env.m;
    let mut out = Keys::new();
    for (k, st) in env.server().streams.iter().enumerate() {
        let ctx = env.view(k).ctx;
        let hidden = visible::bounces_shown(&ctx, st, &m.bounces, env.now);
        let ranges = ranges_by(&st.bounces, |&b| m.bounces[b as usize].at, iv);
        for i in desc(&visible::hide(ranges, &hidden)) {
            let b = &m.bounces[st.bounces[i] as usize];
            if !dumps || events::has_dump(&ctx, b.msg as usize, usize::from(b.kind)) {
                out.insert(vec![(BOUNCE_BASE + u64::from(st.bounces[i])).to_string()]);
            }
        }
    }
    out
}

/// Keys of the streams read from the outbound indexes: messages (and their details), their
/// events, opens and clicks.
fn message_keys(env: &Env, stream: &str, iv: &[(i64, i64)]) -> Keys {
    let mut out = Keys::new();
    for k in outbound_streams(env) {
        let st = &env.server().streams[k];
        let ctx = env.view(k).ctx;
        match stream {
            "messages_opens" | "messages_clicks" => {
                hit_keys(env, &ctx, st, stream == "messages_clicks", iv, &mut out);
            }
            _ => {
                let hidden = visible::messages_shown(&ctx, st, env.now);
                let ranges = visible::hide(ranges_by(&st.messages, |t| *t, iv), &hidden);
                for i in desc(&ranges) {
                    let id = view::message_id(&ctx, i);
                    if stream == "message_events" {
                        event_keys(env, &ctx, st, i, id, &mut out);
                    } else {
                        out.insert(vec![id]);
                    }
                }
            }
        }
    }
    out
}

/// The `MessageEvents` keys of message `i` (MessageID, Recipient, Type, ReceivedAt).
fn event_keys(env: &Env, ctx: &Ctx, st: &Stream, i: usize, id: String, out: &mut Keys) {
    let f = facts::message(ctx, i, st.messages[i], i >= st.generated);
    let bounce = st
        .bounce_by_msg
        .get(&(i as u32))
        .map(|&b| BOUNCE_BASE + u64::from(b));
    for e in events::message_events(ctx, &f, bounce, i >= st.generated, env.now) {
        out.insert(vec![
            id.clone(),
            e.recipient,
            e.kind.to_string(),
            format_normalised(e.at),
        ]);
    }
}

/// Open (or click) keys: MessageID, Recipient, ReceivedAt (and OriginalLink).
fn hit_keys(env: &Env, ctx: &Ctx, st: &Stream, clicks: bool, iv: &[(i64, i64)], out: &mut Keys) {
    let list = if clicks { &st.clicks } else { &st.opens };
    let hidden = visible::hits_shown(ctx, st, clicks, env.now);
    for i in desc(&visible::hide(ranges_by(list, |h| h.at, iv), &hidden)) {
        let h = list[i];
        let msg = h.msg as usize;
        let f = facts::message(ctx, msg, st.messages[msg], msg >= st.generated);
        let n = usize::from(h.n);
        let key = if clicks {
            f.clicks.get(n).map(|c| {
                (
                    c.slot,
                    c.at,
                    Some(crate::generate::names::LINKS[usize::from(c.link)]),
                )
            })
        } else {
            f.opens.get(n).map(|o| (o.slot, o.at, None))
        };
        if let Some((slot, at, link)) = key {
            let a = f
                .recipients
                .get(usize::from(slot))
                .copied()
                .unwrap_or(f.recipients[0]);
            let mut k = vec![
                view::message_id(ctx, msg),
                facts::email(env.m.seed, env.s, a),
                format_normalised(at),
            ];
            k.extend(link.map(str::to_string));
            out.insert(k);
        }
    }
}
