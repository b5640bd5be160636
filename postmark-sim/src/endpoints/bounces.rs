//! The bounce endpoints that list: the bounce search (`GET /bounces`: the window's bounces
//! newest first, filtered by type, `inactive`, recipient address, tag or message when the query
//! asks) and the delivery stats (`GET /deliverystats`: the retained, arrived bounces counted by
//! type, and how many are inactive). One bounce and its dump are per-ID endpoints (`details`).

use serde_json::{json, Value};

use super::env::Env;
use super::message_search::{desc, page, ranges_by, BOUNCES};
use super::query::{paging, window_since, ApiError, ApiResult};
use crate::generate::facts::{self, MsgFacts};
use crate::generate::ids::MessageKey;
use crate::generate::model::{Bounce, BOUNCE_BASE};
use crate::generate::names::{self, BOUNCE_TYPES};
use crate::generate::visible;
use crate::render::events;

/// `GET /bounces`.
pub fn bounces(env: &Env) -> ApiResult {
    let message_id = env.q.text("messageid");
    let (count, offset) = match (&message_id, paging(env.q, BOUNCES)) {
        (_, Ok(p)) => p,
        (Some(_), Err(_)) if env.q.get("count").is_none() && env.q.get("offset").is_none() => {
            (500, 0)
        }
        (_, Err(e)) => return Err(e),
    };
    let k = env.stream_param(1000)?;
    let iv = window_since(env.q, 1000, env.cutoff())?;
    let st = &env.server().streams[k];
    let view = env.view(k);
    let all = &env.m.bounces;
    let ranges = visible::hide(
        ranges_by(&st.bounces, |&b| all[b as usize].at, &iv),
        &visible::bounces_shown(&view.ctx, st, all, env.now),
    );
    let filter = BounceFilter::from_query(env, message_id)?;
    let facts_of = |i: usize| {
        let m = all[st.bounces[i] as usize].msg as usize;
        facts::message(&view.ctx, m, st.messages[m], false)
    };
    let mut pred = |i: usize| {
        let inactive_now = || visible::bounce_flags(env.m, st.bounces[i], env.now).0;
        let b = &all[st.bounces[i] as usize];
        filter.keeps(env, k, b, inactive_now, || facts_of(i))
    };
    let pred: Option<&mut dyn FnMut(usize) -> bool> = match filter.any() {
        true => Some(&mut pred),
        false => None,
    };
    let (total, idx) = page(&ranges, offset, count, pred);
    let records: Vec<Value> = idx
        .into_iter()
        .map(|i| {
            events::render_bounce(
                &view,
                &facts_of(i),
                (BOUNCE_BASE + u64::from(st.bounces[i]), env.server().id),
                visible::bounce_flags(env.m, st.bounces[i], env.now),
                None,
            )
        })
        .collect();
    Ok(json!({"TotalCount": total, "Bounces": records}))
}

/// The filters of a bounce search, as its query gives them.
struct BounceFilter {
    kind: Option<String>,
    inactive: Option<bool>,
    /// Part of the recipient's address, lower-cased.
    email: Option<String>,
    tag: Option<String>,
    /// `messageid`: the message it names (`None` inside when it names none of ours).
    message: Option<Option<MessageKey>>,
}

impl BounceFilter {
    fn from_query(env: &Env, message_id: Option<String>) -> Result<BounceFilter, ApiError> {
        Ok(BounceFilter {
            kind: env.q.text("type"),
            inactive: env.q.flag("inactive", 1000)?,
            email: env.q.text("emailfilter").map(|e| e.to_lowercase()),
            tag: env.q.text("tag"),
            message: message_id
                .as_deref()
                .map(|id| crate::generate::ids::decode_message_id(env.m.seed, id)),
        })
    }

    /// Whether any filter is set.
    fn any(&self) -> bool {
        self.kind.is_some()
            || self.inactive.is_some()
            || self.email.is_some()
            || self.tag.is_some()
            || self.message.is_some()
    }

    /// Whether bounce `b` of stream `k` passes; `inactive_now` and `facts` (of its message)
    /// are only asked for when a filter needs them.
    fn keeps(
        &self,
        env: &Env,
        k: usize,
        b: &Bounce,
        inactive_now: impl FnOnce() -> bool,
        facts: impl FnOnce() -> MsgFacts,
    ) -> bool {
        let bt = &names::BOUNCE_TYPES[usize::from(b.kind)];
        if self
            .kind
            .as_ref()
            .is_some_and(|t| !t.eq_ignore_ascii_case(bt.key))
            || self.inactive.is_some_and(|x| x != inactive_now())
        {
            return false;
        }
        if let Some(wanted) = &self.message {
            if !wanted.is_some_and(|key| {
                key.server == env.s && key.stream == k && key.index == b.msg as usize
            }) {
                return false;
            }
        }
        if self.email.is_none() && self.tag.is_none() {
            return true;
        }
        let f = facts();
        let email = facts::email(env.m.seed, env.s, f.recipients[usize::from(b.slot)]);
        let tag_name = if f.tag > 0 {
            names::TAGS[f.tag - 1]
        } else {
            ""
        };
        self.email
            .as_ref()
            .is_none_or(|e| email.to_lowercase().contains(e))
            && self
                .tag
                .as_ref()
                .is_none_or(|t| t.eq_ignore_ascii_case(tag_name))
    }
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
