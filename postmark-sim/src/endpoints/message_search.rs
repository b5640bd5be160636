//! The paged searches: outbound messages, opens, clicks and inbound messages (bounces in
//! [`super::bounces`]). Each one
//! maps the date window (already cut at the retention limit) onto its sorted time index, then
//! pages newest first; extra filters fall back to a scan of the window.

use serde_json::{json, Value};

use super::env::Env;
use super::query::{paging, window_since, ApiError, ApiResult, Paging, Query};
use crate::generate::facts::{self, MsgFacts};
use crate::generate::model::Hit;
use crate::generate::names;
use crate::generate::stream_type::StreamType;
use crate::generate::visible;
use crate::render::events;
use crate::render::inbound;
use crate::render::messages;

/// Paging rules of the message searches (ErrorCode 700).
pub const MESSAGES: Paging = Paging {
    code: 700,
    ceiling: true,
};
/// Paging rules of the bounce search (ErrorCode 1000).
pub const BOUNCES: Paging = Paging {
    code: 1000,
    ceiling: true,
};

/// Index ranges (ascending, disjoint) of the items whose time falls in the intervals.
pub fn ranges_by<T>(
    items: &[T],
    key: impl Fn(&T) -> i64,
    iv: &[(i64, i64)],
) -> Vec<(usize, usize)> {
    iv.iter()
        .map(|&(a, b)| {
            (
                items.partition_point(|x| key(x) < a),
                items.partition_point(|x| key(x) < b),
            )
        })
        .filter(|(s, e)| s < e)
        .collect()
}

/// Positions newest first.
pub fn desc(ranges: &[(usize, usize)]) -> impl Iterator<Item = usize> + '_ {
    ranges.iter().rev().flat_map(|&(s, e)| (s..e).rev())
}

/// One page (newest first) and the total, with an optional per-position predicate.
pub fn page(
    ranges: &[(usize, usize)],
    offset: usize,
    count: usize,
    mut keep: Option<&mut dyn FnMut(usize) -> bool>,
) -> (usize, Vec<usize>) {
    match keep.as_mut() {
        None => {
            let total = ranges.iter().map(|(s, e)| e - s).sum();
            (total, desc(ranges).skip(offset).take(count).collect())
        }
        Some(pred) => {
            let mut total = 0;
            let mut out = Vec::new();
            for i in desc(ranges) {
                if pred(i) {
                    if total >= offset && out.len() < count {
                        out.push(i);
                    }
                    total += 1;
                }
            }
            (total, out)
        }
    }
}

/// `GET /messages/outbound`, serialised straight from the records (the hot path of every sync).
pub fn outbound(env: &Env) -> Result<String, ApiError> {
    let (count, offset) = paging(env.q, MESSAGES)?;
    let k = env.stream_param(700)?;
    let iv = window_since(env.q, 700, env.cutoff())?;
    let st = &env.server().streams[k];
    if st.kind == StreamType::Inbound {
        return Ok(json!({"TotalCount": 0, "Messages": []}).to_string());
    }
    let view = env.view(k);
    let filter = messages::Filter {
        recipient: env.q.text("recipient"),
        fromemail: env.q.text("fromemail"),
        tag: env.q.text("tag"),
        status: env.q.text("status"),
        subject: env.q.text("subject"),
        metadata: env.q.with_prefix("metadata_"),
    };
    let ranges = visible::hide(
        ranges_by(&st.messages, |t| *t, &iv),
        &visible::messages_shown(&view.ctx, st, env.now),
    );
    let facts_of = |i: usize| facts::message(&view.ctx, i, st.messages[i], i >= st.generated);
    let mut pred = |i: usize| filter.matches(&view, &facts_of(i));
    let (total, idx) = page(
        &ranges,
        offset,
        count,
        if filter.is_empty() {
            None
        } else {
            Some(&mut pred)
        },
    );
    let records: Vec<messages::Outbound> = idx
        .into_iter()
        .map(|i| messages::render(&view, &facts_of(i)))
        .collect();
    let body = OutboundPage {
        total_count: total,
        messages: records,
    };
    serde_json::to_string(&body).map_err(|e| ApiError {
        status: 500,
        code: 1,
        message: e.to_string(),
    })
}

#[derive(serde::Serialize)]
struct OutboundPage {
    #[serde(rename = "TotalCount")]
    total_count: usize,
    #[serde(rename = "Messages")]
    messages: Vec<messages::Outbound>,
}

/// Filters shared by the opens and clicks searches.
struct HitFilter {
    recipient: Option<String>,
    tag: Option<String>,
    platform: Option<String>,
    client_name: Option<String>,
    client_family: Option<String>,
    os_name: Option<String>,
    os_family: Option<String>,
    country: Option<String>,
    city: Option<String>,
}

impl HitFilter {
    fn from(q: &Query) -> HitFilter {
        HitFilter {
            recipient: q.text("recipient"),
            tag: q.text("tag"),
            platform: q.text("platform"),
            client_name: q.text("client_name"),
            client_family: q.text("client_family"),
            os_name: q.text("os_name"),
            os_family: q.text("os_family"),
            country: q.text("country"),
            city: q.text("city"),
        }
    }

    fn is_empty(&self) -> bool {
        [
            &self.recipient,
            &self.tag,
            &self.platform,
            &self.client_name,
            &self.client_family,
            &self.os_name,
            &self.os_family,
            &self.country,
            &self.city,
        ]
        .iter()
        .all(|o| o.is_none())
    }

    #[allow(clippy::too_many_arguments)]
    fn matches(
        &self,
        env: &Env,
        f: &MsgFacts,
        slot: u8,
        client: (&str, &str),
        os: (&str, &str),
        platform: &str,
        place: u8,
    ) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(have))
        };
        let tag = if f.tag > 0 {
            names::TAGS[f.tag - 1]
        } else {
            ""
        };
        let (country, city) = names::PLACES
            .get(usize::from(place))
            .map_or(("", ""), |p| (p.1, p.4));
        let rcpt_ok = self.recipient.as_ref().is_none_or(|r| {
            let a = f
                .recipients
                .get(usize::from(slot))
                .copied()
                .unwrap_or(f.recipients[0]);
            facts::email(env.m.seed, env.s, a).eq_ignore_ascii_case(r)
        });
        rcpt_ok
            && eq(&self.tag, tag)
            && eq(&self.platform, platform)
            && eq(&self.client_name, client.0)
            && eq(&self.client_family, client.1)
            && eq(&self.os_name, os.0)
            && eq(&self.os_family, os.1)
            && (eq(&self.country, country)
                || self.country.as_deref().is_some_and(|c| {
                    names::PLACES
                        .get(usize::from(place))
                        .is_some_and(|p| p.0.eq_ignore_ascii_case(c))
                }))
            && eq(&self.city, city)
    }
}

fn hits(env: &Env, clicks: bool) -> ApiResult {
    let (count, offset) = paging(env.q, MESSAGES)?;
    let k = env.stream_param(700)?;
    let iv = window_since(env.q, 700, env.cutoff())?;
    let key = if clicks { "Clicks" } else { "Opens" };
    let st = &env.server().streams[k];
    let list: &[Hit] = if clicks { &st.clicks } else { &st.opens };
    let view = env.view(k);
    let filter = HitFilter::from(env.q);
    let ranges = visible::hide(
        ranges_by(list, |h| h.at, &iv),
        &visible::hits_shown(&view.ctx, st, clicks, env.now),
    );
    let facts_of = |i: usize| {
        let m = list[i].msg as usize;
        facts::message(&view.ctx, m, st.messages[m], m >= st.generated)
    };
    let mut pred = |i: usize| {
        let f = facts_of(i);
        let n = usize::from(list[i].n);
        // A click's agent is its browser, an open's its mail client.
        let hit = if clicks {
            f.clicks.get(n).map(|c| {
                let b = names::BROWSERS[usize::from(c.browser)];
                let platform = names::CLICK_PLATFORMS[usize::from(c.platform)];
                (c.slot, (b.1, b.0), c.os, platform, c.place)
            })
        } else {
            f.opens.get(n).map(|o| {
                let cl = names::CLIENTS[usize::from(o.client)];
                let platform = names::OPEN_PLATFORMS[usize::from(o.platform)];
                (o.slot, (cl.0, cl.2), o.os, platform, o.place)
            })
        };
        let Some((slot, agent, os, platform, place)) = hit else {
            return false;
        };
        let os = names::OSES[usize::from(os)];
        filter.matches(env, &f, slot, agent, (os.0, os.2), platform, place)
    };
    let (total, idx) = page(
        &ranges,
        offset,
        count,
        if filter.is_empty() {
            None
        } else {
            Some(&mut pred)
        },
    );
    let records: Vec<Value> = idx
        .into_iter()
        .filter_map(|i| {
            let f = facts_of(i);
            let n = usize::from(list[i].n);
            if clicks {
                f.clicks.get(n).map(|c| events::render_click(&view, &f, c))
            } else {
                f.opens.get(n).map(|o| events::render_open(&view, &f, o))
            }
        })
        .collect();
    Ok(json!({"TotalCount": total, key: records}))
}

/// `GET /messages/outbound/opens`.
pub fn opens(env: &Env) -> ApiResult {
    hits(env, false)
}

/// `GET /messages/outbound/clicks`.
pub fn clicks(env: &Env) -> ApiResult {
    hits(env, true)
}

/// `GET /messages/inbound`.
pub fn inbound(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, MESSAGES)?;
    let iv = window_since(env.q, 700, env.cutoff())?;
    let server = env.server();
    let filter = inbound::Filter {
        recipient: env.q.text("recipient"),
        fromemail: env.q.text("fromemail"),
        subject: env.q.text("subject"),
        mailboxhash: env.q.text("mailboxhash"),
        tag: env.q.text("tag"),
        status: env.q.text("status"),
    };
    let ranges = visible::hide(
        ranges_by(&server.inbound, |t| *t, &iv),
        &visible::inbound_shown(env.m, env.s, env.now),
    );
    let facts_of = |i: usize| inbound::derive(env.m.seed, env.s, i, server.inbound[i]);
    let mut pred = |i: usize| filter.matches(&server.inbound_hash, &facts_of(i));
    let (total, idx) = page(
        &ranges,
        offset,
        count,
        if filter.is_empty() {
            None
        } else {
            Some(&mut pred)
        },
    );
    let records: Vec<Value> = idx
        .into_iter()
        .map(|i| {
            Value::Object(inbound::render(
                env.m.seed,
                env.s,
                &server.inbound_hash,
                &facts_of(i),
            ))
        })
        .collect();
    Ok(json!({"TotalCount": total, "InboundMessages": records}))
}
