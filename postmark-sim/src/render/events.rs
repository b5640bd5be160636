//! Records derived from a message's events: opens, clicks, bounces (list and single; their
//! raw dumps are `content::dsn`'s) and the `MessageEvents` array of the details endpoint.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::view::{self, StreamView};
use crate::generate::eastern::format_postmark;
use crate::generate::facts::{self, ClickFact, Ctx, MsgFacts, OpenFact};
use crate::generate::ids;
use crate::generate::late::Arrival;
use crate::generate::names::{self, BOUNCE_TYPES};
use crate::generate::visible;

/// One element of `MessageEvents`.
#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct MessageEvent {
    pub recipient: String,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub received_at: String,
    pub details: BTreeMap<&'static str, String>,
    #[serde(skip)]
    pub at: i64,
}

fn recipient(ctx: &Ctx, f: &MsgFacts, slot: u8) -> String {
    let a = f
        .recipients
        .get(usize::from(slot))
        .copied()
        .unwrap_or(f.recipients[0]);
    facts::email(ctx.seed, ctx.server, a)
}

fn delivery_details(ctx: &Ctx, f: &MsgFacts, ok: bool) -> BTreeMap<&'static str, String> {
    let ip = format!("192.0.2.{}", 10 + (f.index + ctx.server) % 200);
    let mut d = BTreeMap::new();
    d.insert(
        "DeliveryMessage",
        if ok {
            format!("smtp;250 2.0.0 OK {} - gsmtp", 1_700_000_000 + f.index)
        } else {
            "smtp;421 4.7.0 Try again later, closing connection.".to_string()
        },
    );
    d.insert(
        "DestinationServer",
        format!("mx{}.example.net ({ip})", f.index % 3 + 1),
    );
    d.insert("DestinationIP", ip);
    d
}

/// Every event of a message that shows at `now`, oldest first: the transient, deliveries and
/// the unsubscribe once their time has come, opens, clicks and the bounce once they have
/// arrived, as their search records do (`live` for a live arrival).
pub fn message_events(
    ctx: &Ctx,
    f: &MsgFacts,
    bounce_id: Option<u64>,
    live: bool,
    now: i64,
) -> Vec<MessageEvent> {
    let due = |t: i64| visible::due(ctx.horizon, t, now);
    let mut raw: Vec<Raw> = Vec::new();
    if let Some(t) = f.transient.filter(|&t| due(t)) {
        raw.push((0, "Transient", t, delivery_details(ctx, f, false)));
    }
    for &(slot, t) in f.delivered.iter().filter(|d| due(d.1)) {
        raw.push((slot, "Delivered", t, delivery_details(ctx, f, true)));
    }
    engagement(ctx, f, live, now, &mut raw);
    let bounce = f
        .bounce
        .filter(|b| live || visible::bounce_arrived(ctx, f.index, b.at, now));
    if let (Some(b), Some(id)) = (bounce, bounce_id) {
        let d = BTreeMap::from([
            ("Summary", BOUNCE_TYPES[b.kind].description.to_string()),
            ("BounceID", id.to_string()),
        ]);
        raw.push((b.slot, "Bounced", b.at, d));
    }
    if let Some(t) = f.unsubscribed.filter(|&t| due(t)) {
        let d = BTreeMap::from([
            ("Origin", "Recipient".to_string()),
            ("SuppressSending", "True".to_string()),
        ]);
        raw.push((0, "SubscriptionChanged", t, d));
    }
    let mut out: Vec<MessageEvent> = raw
        .into_iter()
        .map(|(slot, kind, at, details)| MessageEvent {
            recipient: recipient(ctx, f, slot),
            kind,
            received_at: format_postmark(at),
            details,
            at,
        })
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

/// An event before it is dated and addressed: recipient slot, type, time and details.
type Raw = (u8, &'static str, i64, BTreeMap<&'static str, String>);

/// The opens and clicks of a message that have arrived by `now` (all of them when `live`).
fn engagement(ctx: &Ctx, f: &MsgFacts, live: bool, now: i64, raw: &mut Vec<Raw>) {
    let parts = |n: usize| {
        [
            ctx.server as u64,
            ctx.stream as u64,
            f.index as u64,
            n as u64,
        ]
    };
    let arrived = |what, n: usize, at: i64| visible::arrived(ctx, what, at, &parts(n), live, now);
    for (n, o) in f.opens.iter().enumerate() {
        if arrived(Arrival::Open, n, o.at) {
            let client = names::CLIENTS[usize::from(o.client)].0;
            let platform = names::OPEN_PLATFORMS[usize::from(o.platform)];
            let summary = format!("Opened using {client} on {platform}");
            raw.push((
                o.slot,
                "Opened",
                o.at,
                BTreeMap::from([("Summary", summary)]),
            ));
        }
    }
    for (n, c) in f.clicks.iter().enumerate() {
        if arrived(Arrival::Click, n, c.at) {
            let browser = names::BROWSERS[usize::from(c.browser)].0;
            let location = if c.location == 0 { "HTML" } else { "Text" };
            let d = BTreeMap::from([
                ("Summary", format!("Clicked using {browser}")),
                ("Link", names::LINKS[usize::from(c.link)].to_string()),
                ("ClickLocation", location.to_string()),
            ]);
            raw.push((c.slot, "LinkClicked", c.at, d));
        }
    }
}

fn triple(t: (&str, &str, &str)) -> Value {
    json!({"Name": t.0, "Company": t.1, "Family": t.2})
}

fn geo(place: u8, salt: usize) -> Value {
    match names::PLACES.get(usize::from(place)) {
        None => json!({}),
        Some(p) => json!({
            "CountryISOCode": p.0, "Country": p.1, "RegionISOCode": p.2, "Region": p.3,
            "City": p.4, "Zip": p.5, "Coords": p.6,
            "IP": format!("198.51.100.{}", salt % 250 + 1),
        }),
    }
}

fn base(v: &StreamView, f: &MsgFacts, record_type: &str, slot: u8, at: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("RecordType".into(), json!(record_type));
    m.insert("MessageID".into(), json!(view::message_id(&v.ctx, f.index)));
    m.insert("MessageStream".into(), json!(v.stream_id));
    m.insert("Recipient".into(), json!(recipient(&v.ctx, f, slot)));
    m.insert("ReceivedAt".into(), json!(format_postmark(at)));
    if f.tag > 0 {
        m.insert("Tag".into(), json!(names::TAGS[f.tag - 1]));
    }
    m
}

/// Renders one open (§3.4).
pub fn render_open(v: &StreamView, f: &MsgFacts, o: &OpenFact) -> Value {
    let mut m = base(v, f, "Open", o.slot, o.at);
    m.insert("FirstOpen".into(), json!(o.first));
    m.insert(
        "Client".into(),
        triple(names::CLIENTS[usize::from(o.client)]),
    );
    m.insert("OS".into(), triple(names::OSES[usize::from(o.os)]));
    m.insert(
        "Platform".into(),
        json!(names::OPEN_PLATFORMS[usize::from(o.platform)]),
    );
    m.insert(
        "UserAgent".into(),
        json!(names::USER_AGENTS[usize::from(o.agent)]),
    );
    m.insert("Geo".into(), geo(o.place, f.index));
    m.insert("ReadSeconds".into(), json!((o.at / 10_000_000) % 40));
    Value::Object(m)
}

/// Renders one click (§3.6).
pub fn render_click(v: &StreamView, f: &MsgFacts, c: &ClickFact) -> Value {
    let mut m = base(v, f, "Click", c.slot, c.at);
    let b = names::BROWSERS[usize::from(c.browser)];
    m.insert(
        "ClickLocation".into(),
        json!(if c.location == 0 { "HTML" } else { "Text" }),
    );
    m.insert(
        "OriginalLink".into(),
        json!(names::LINKS[usize::from(c.link)]),
    );
    m.insert(
        "Client".into(),
        json!({"Name": b.1, "Company": b.2, "Family": b.0}),
    );
    m.insert("OS".into(), triple(names::OSES[usize::from(c.os)]));
    m.insert(
        "Platform".into(),
        json!(names::CLICK_PLATFORMS[usize::from(c.platform)]),
    );
    m.insert(
        "UserAgent".into(),
        json!(names::USER_AGENTS[usize::from(c.browser)]),
    );
    m.insert("Geo".into(), geo(c.place, f.index + 7));
    Value::Object(m)
}

/// Renders a bounce (§3.10) with its `(Inactive, CanActivate)` flags; the single-bounce
/// endpoint adds its raw `content`.
pub fn render_bounce(
    v: &StreamView,
    f: &MsgFacts,
    (id, server_id): (u64, u64),
    (inactive, can_activate): (bool, bool),
    content: Option<String>,
) -> Value {
    let Some(b) = f.bounce else { return json!({}) };
    let bt = &BOUNCE_TYPES[b.kind];
    let c = view::cosmetic(&v.ctx, v.stream_id, v.from_domain, f);
    let mut m = Map::new();
    m.insert("RecordType".into(), json!("Bounce"));
    m.insert("ID".into(), json!(id));
    m.insert("Type".into(), json!(bt.key));
    m.insert("TypeCode".into(), json!(bt.code));
    m.insert("Name".into(), json!(bt.name));
    if f.tag > 0 {
        m.insert("Tag".into(), json!(names::TAGS[f.tag - 1]));
    }
    m.insert("MessageID".into(), json!(view::message_id(&v.ctx, f.index)));
    m.insert("ServerID".into(), json!(server_id));
    m.insert("MessageStream".into(), json!(v.stream_id));
    m.insert("Description".into(), json!(bt.description));
    m.insert("Details".into(), json!(bt.details));
    m.insert("Email".into(), json!(recipient(&v.ctx, f, b.slot)));
    m.insert("From".into(), json!(c.from_email));
    m.insert("BouncedAt".into(), json!(format_postmark(b.at)));
    m.insert(
        "DumpAvailable".into(),
        json!(has_dump(&v.ctx, f.index, b.kind)),
    );
    m.insert("Inactive".into(), json!(inactive));
    m.insert("CanActivate".into(), json!(can_activate));
    m.insert("Subject".into(), json!(c.subject));
    if let Some(c) = content {
        m.insert("Content".into(), json!(c));
    }
    Value::Object(m)
}

/// Whether the bounce of message `msg` (of type `kind`) kept its raw dump: never for SMTP API
/// errors (nothing came back), and one in eight others has none either.
pub fn has_dump(ctx: &Ctx, msg: usize, kind: usize) -> bool {
    kind != names::SMTP_API_ERROR
        && ids::hash(
            ctx.seed,
            &[0xD0, ctx.server as u64, ctx.stream as u64, msg as u64],
        ) % 8
            != 0
}
