//! Ground truth: the set of record keys each tap stream should emit for a server and a UTC
//! range, computed from the same indexes and derivations the endpoints serve.

use std::collections::BTreeSet;

use super::eastern::{day_string, eastern_day, format_normalised};
use super::env::Env;
use super::events;
use super::facts;
use super::inbound;
use super::model::{Model, BOUNCE_BASE};
use super::query::Query;
use super::search::{desc, ranges_by};
use super::stats;
use super::stream_type::StreamType;
use super::streams;
use super::view;

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
    let mut out = Keys::new();
    let one = |v: String| vec![v];
    match stream {
        "servers" => return Some(m.servers.iter().map(|s| one(s.id.to_string())).collect()),
        "domains" => return Some(m.domains.iter().map(|d| one(d.id.to_string())).collect()),
        "sender_signatures" => {
            return Some(m.senders.iter().map(|d| one(d.id.to_string())).collect())
        }
        _ => {}
    }
    let Some(s) = m.servers.iter().position(|x| x.id == server_id) else {
        return Some(out);
    };
    let q = Query::default();
    let env = Env {
        m,
        s,
        q: &q,
        now,
        id: "",
    };
    let server = env.server();
    let iv = [(from.max(env.cutoff()), to)];
    let outbound_streams =
        || (0..server.streams.len()).filter(|&k| server.streams[k].kind != StreamType::Inbound);
    if let Some((ep, pivot)) = stats_ep {
        if from >= to {
            return Some(out);
        }
        let (first, last) = (eastern_day(from), eastern_day(to - 1));
        for k in outbound_streams() {
            let id = &server.streams[k].id;
            if ep.is_empty() {
                out.extend((first..=last).map(|d| vec![id.clone(), day_string(d)]));
                continue;
            }
            for (day, d) in stats::per_day(&server.stats, &[k], None, Some(first), Some(last)) {
                let row = stats::row(ep, &d);
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
        return Some(out);
    }
    match stream {
        "server" => {
            out.insert(one(server.id.to_string()));
        }
        "templates" => out.extend(server.templates.iter().map(|t| one(t.id.to_string()))),
        "message_streams" => out.extend(server.streams.iter().map(|st| one(st.id.clone()))),
        "webhooks" => out.extend(server.webhooks.iter().map(|w| one(w.id.to_string()))),
        "inbound_rules" => out.extend(server.inbound_rules.iter().map(|r| one(r.0.to_string()))),
        "suppressions" => {
            for st in &server.streams {
                out.extend(
                    st.suppressions
                        .iter()
                        .map(|x| vec![st.id.clone(), x.email.clone()]),
                );
            }
        }
        "delivery_stats" => out.extend(
            streams::delivery_entries(&env)
                .1
                .into_iter()
                .map(|(name, _, _)| one(name.to_string())),
        ),
        "messages_inbound" => {
            for i in desc(&ranges_by(&server.inbound, |t| *t, &iv)) {
                out.insert(one(inbound::message_id(m.seed, s, i)));
            }
        }
        "bounces" => {
            for st in &server.streams {
                for i in desc(&ranges_by(&st.bounces, |&b| m.bounces[b as usize].at, &iv)) {
                    out.insert(one((BOUNCE_BASE + u64::from(st.bounces[i])).to_string()));
                }
            }
        }
        _ => {
            for k in outbound_streams() {
                let st = &server.streams[k];
                let view = env.view(k);
                let facts_of =
                    |i: usize| facts::message(&view.ctx, i, st.messages[i], i >= st.generated);
                match stream {
                    "messages_outbound" => {
                        for i in desc(&ranges_by(&st.messages, |t| *t, &iv)) {
                            out.insert(one(view::message_id(&view.ctx, i)));
                        }
                    }
                    "message_events" => {
                        for i in desc(&ranges_by(&st.messages, |t| *t, &iv)) {
                            let f = facts_of(i);
                            let bounce = st
                                .bounce_by_msg
                                .get(&(i as u32))
                                .map(|&b| BOUNCE_BASE + u64::from(b));
                            let id = view::message_id(&view.ctx, i);
                            for e in events::message_events(&view.ctx, &f, bounce) {
                                out.insert(vec![
                                    id.clone(),
                                    e.recipient,
                                    e.kind.to_string(),
                                    format_normalised(e.at),
                                ]);
                            }
                        }
                    }
                    "messages_opens" | "messages_clicks" => {
                        let clicks = stream == "messages_clicks";
                        let list = if clicks { &st.clicks } else { &st.opens };
                        for i in desc(&ranges_by(list, |h| h.at, &iv)) {
                            let h = list[i];
                            let f = facts_of(h.msg as usize);
                            let id = view::message_id(&view.ctx, f.index);
                            let n = usize::from(h.n);
                            let key = if clicks {
                                f.clicks.get(n).map(|c| {
                                    (c.slot, c.at, Some(crate::names::LINKS[usize::from(c.link)]))
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
                                let mut k =
                                    vec![id, facts::email(m.seed, s, a), format_normalised(at)];
                                k.extend(link.map(str::to_string));
                                out.insert(k);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Some(out)
}
