//! What became of every outbound message listed at the clock's now, counted per message stream
//! and US-Eastern day of its `ReceivedAt`: sent, delivered, bounced (a bounce that ends delivery
//! has arrived: one of the types that come before delivery) and queued (not sent yet). The truth
//! a warehouse's per-message delivery outcomes are held to.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::endpoints::env::Env;
use crate::endpoints::message_search::{desc, ranges_by};
use crate::endpoints::query::Query;
use crate::generate::eastern::{day_string, eastern_day};
use crate::generate::facts;
use crate::generate::model::Model;
use crate::generate::names::BOUNCE_TYPES;
use crate::generate::stream_type::StreamType;
use crate::generate::visible;

/// Counts of one message stream and day.
#[derive(Default)]
struct Outcomes {
    sent: u64,
    delivered: u64,
    bounced: u64,
    queued: u64,
}

/// `[{"MessageStream", "Date", "Sent", "Delivered", "Bounced", "Queued"}]` of server
/// `server_id`'s outbound messages retained and listed at `now`, by stream and day; `None` for
/// an unknown server.
pub fn outcomes(m: &Model, now: i64, server_id: u64) -> Option<Value> {
    let s = m.servers.iter().position(|x| x.id == server_id)?;
    let q = Query::default();
    let env = Env {
        m,
        s,
        q: &q,
        now,
        id: "",
    };
    let mut by_day: BTreeMap<(String, i32), Outcomes> = BTreeMap::new();
    let server = env.server();
    for k in (0..server.streams.len()).filter(|&k| server.streams[k].kind != StreamType::Inbound) {
        let st = &server.streams[k];
        let ctx = env.view(k).ctx;
        let hidden = visible::messages_shown(&ctx, st, now);
        let ranges = visible::hide(
            ranges_by(&st.messages, |t| *t, &[(env.cutoff(), now)]),
            &hidden,
        );
        for i in desc(&ranges) {
            let f = facts::message(&ctx, i, st.messages[i], i >= st.generated);
            let n = by_day
                .entry((st.id.clone(), eastern_day(st.messages[i])))
                .or_default();
            n.sent += 1;
            let failed = f
                .bounce
                .as_ref()
                .is_some_and(|b| b.at <= now && !BOUNCE_TYPES[b.kind].after_delivery);
            if f.sent_at > now {
                n.queued += 1;
            } else if failed {
                n.bounced += 1;
            } else {
                n.delivered += 1;
            }
        }
    }
    let rows = by_day.iter().map(|((ms, day), n)| {
        json!({"MessageStream": ms, "Date": day_string(*day), "Sent": n.sent,
               "Delivered": n.delivered, "Bounced": n.bounced, "Queued": n.queued})
    });
    Some(Value::Array(rows.collect()))
}
