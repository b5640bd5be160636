//! Deterministic derivation of everything about one outbound message from (seed, server,
//! stream, message number, send time): recipients, tag, status, tracking, deliveries, opens,
//! clicks, the bounce and unsubscribes. Generation and every endpoint call this same function,
//! so the indexes, the rendered records, the statistics and the ground truth agree.

use super::eastern::TICKS_PER_SEC;
use super::ids;
use super::late;
use super::names;
use super::stream_type::StreamType;

/// Where a message lives, plus what its derivation depends on.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub seed: u64,
    pub server: usize,
    pub stream: usize,
    pub kind: StreamType,
    pub pool: u32,
    /// Events later than this are not generated (the end of the generated traffic:
    /// `Model::horizon`).
    pub horizon: i64,
    /// Whether records change after the fact (`SimConfig::late_changes`).
    pub late: bool,
    /// Fraction of records arriving late (`Model::late_arrival_rate`).
    pub late_rate: f64,
    /// The longest arrival delay (`Model::max_arrival`).
    pub max_arrival: i64,
}

/// One open.
#[derive(Clone, Copy, Debug)]
pub struct OpenFact {
    pub at: i64,
    pub slot: u8,
    pub client: u8,
    pub platform: u8,
    pub os: u8,
    pub place: u8,
    pub agent: u8,
    /// First open of the message (counted as a unique open).
    pub first: bool,
}

/// One click.
#[derive(Clone, Copy, Debug)]
pub struct ClickFact {
    pub at: i64,
    pub slot: u8,
    pub link: u8,
    /// 0 = HTML, 1 = Text.
    pub location: u8,
    pub browser: u8,
    /// Index into `CLICK_PLATFORMS`.
    pub platform: u8,
    pub os: u8,
    pub place: u8,
    /// First click of this link in the message (counted as unique).
    pub first: bool,
}

/// The message's bounce.
#[derive(Clone, Copy, Debug)]
pub struct BounceFact {
    pub at: i64,
    pub kind: usize,
    pub slot: u8,
}

/// Everything structural about one message.
#[derive(Clone, Debug)]
pub struct MsgFacts {
    pub index: usize,
    pub at: i64,
    /// 0 = untagged, otherwise `TAGS[tag - 1]`.
    pub tag: usize,
    /// When the status turns from `Queued` to `Sent` (`i64::MAX` for a message queued for good,
    /// which has no events).
    pub sent_at: i64,
    /// Address numbers of To, then Cc, then Bcc recipients.
    pub recipients: Vec<u32>,
    pub n_to: usize,
    pub n_cc: usize,
    pub track_opens: bool,
    /// 0 None, 1 HtmlAndText, 2 HtmlOnly, 3 TextOnly.
    pub track_links: u8,
    pub transient: Option<i64>,
    /// (recipient slot, time) of each delivery.
    pub delivered: Vec<(u8, i64)>,
    pub opens: Vec<OpenFact>,
    pub clicks: Vec<ClickFact>,
    pub bounce: Option<BounceFact>,
    pub unsubscribed: Option<i64>,
}

/// Track-links values by number.
pub const TRACK_LINKS: [&str; 4] = ["None", "HtmlAndText", "HtmlOnly", "TextOnly"];

fn secs(r: &mut fastrand::Rng, lo: i64, hi: i64) -> i64 {
    r.i64(lo * TICKS_PER_SEC..hi * TICKS_PER_SEC)
}

/// Log-uniform delay between `lo` and `hi` seconds, in ticks.
fn log_delay(r: &mut fastrand::Rng, lo: f64, hi: f64) -> i64 {
    let x = (lo.ln() + r.f64() * (hi.ln() - lo.ln())).exp();
    (x * TICKS_PER_SEC as f64) as i64
}

fn pick_bounce(r: &mut fastrand::Rng) -> usize {
    let total: u32 = names::BOUNCE_TYPES.iter().map(|b| b.weight).sum();
    let mut x = r.u32(0..total);
    for (i, b) in names::BOUNCE_TYPES.iter().enumerate() {
        if x < b.weight {
            return i;
        }
        x -= b.weight;
    }
    0
}

fn stream_tags(kind: StreamType, stream: usize) -> &'static [usize] {
    match (kind, stream) {
        (StreamType::Broadcasts, _) => &[4, 5],
        (_, 3) => &[3],
        _ => &[1, 2, 6, 7],
    }
}

/// Derives a message. `live` messages (arrivals after start) get opens right away and no bounce.
pub fn message(ctx: &Ctx, index: usize, at: i64, live: bool) -> MsgFacts {
    let mut r = ids::rng(
        ctx.seed,
        &[1, ctx.server as u64, ctx.stream as u64, index as u64],
    );
    let tags = stream_tags(ctx.kind, ctx.stream);
    let tag = if r.u32(0..10) < 3 {
        0
    } else {
        tags[r.usize(0..tags.len())]
    };
    let queued = !live && r.u32(0..100) == 0;
    let n_to = if r.u32(0..10) == 0 { 2 } else { 1 };
    let n_cc = usize::from(r.u32(0..10) == 0);
    let n_bcc = usize::from(r.u32(0..20) == 0);
    let mut recipients: Vec<u32> = Vec::with_capacity(n_to + n_cc + n_bcc);
    while recipients.len() < n_to + n_cc + n_bcc {
        let a = r.u32(0..ctx.pool.max(1));
        if !recipients.contains(&a) {
            recipients.push(a);
        }
    }
    let broadcast = ctx.kind == StreamType::Broadcasts;
    let track_opens = live || broadcast || r.u32(0..10) < 8;
    let track_links = match r.u32(0..10) {
        0..=5 => 1,
        6 => 2,
        7 => 3,
        _ => 0,
    };
    let mut f = MsgFacts {
        index,
        at,
        tag,
        sent_at: i64::MAX,
        recipients,
        n_to,
        n_cc,
        track_opens,
        track_links,
        transient: None,
        delivered: Vec::new(),
        opens: Vec::new(),
        clicks: Vec::new(),
        bounce: None,
        unsubscribed: None,
    };
    if queued {
        return f;
    }
    if live {
        f.sent_at = at;
        live_events(&mut r, &mut f);
        return f;
    }
    let delay = if ctx.late {
        late::sent_delay(ctx.seed, ctx.server, ctx.stream, index)
    } else {
        0
    };
    f.sent_at = at + delay;
    // A message held in the queue for minutes has its events after it leaves the queue.
    let base = if delay > TICKS_PER_SEC {
        at + delay
    } else {
        at
    };
    events(&mut r, &mut f, base, broadcast);
    apply_cutoff(&mut f, ctx.horizon);
    f
}

/// Events of a live arrival: delivered at once, opened once or twice right after.
fn live_events(r: &mut fastrand::Rng, f: &mut MsgFacts) {
    let at = f.at;
    for slot in 0..f.recipients.len() {
        f.delivered.push((slot as u8, at + 5 + slot as i64));
    }
    for j in 0..1 + r.u8(0..2) {
        f.opens
            .push(open_details(r, at + 10 * (i64::from(j) + 1), 0, j == 0));
    }
}

/// Events of a sent message from `at` (its send, or its leaving the queue): the bounce,
/// deliveries, opens, then clicks and the unsubscribe.
fn events(r: &mut fastrand::Rng, f: &mut MsgFacts, at: i64, broadcast: bool) {
    if r.u32(0..1000) < 30 {
        let kind = pick_bounce(r);
        let bt = &names::BOUNCE_TYPES[kind];
        let delay = if kind == names::SPAM_COMPLAINT {
            log_delay(r, 3600.0, 3.0 * 86_400.0)
        } else if bt.after_delivery {
            log_delay(r, 60.0, 6.0 * 3600.0)
        } else {
            log_delay(r, 1.0, 600.0)
        };
        f.bounce = Some(BounceFact {
            at: at + delay,
            kind,
            slot: 0,
        });
    }
    let mut t0 = at;
    if r.u32(0..100) < 3 {
        t0 = at + secs(r, 1, 5);
        f.transient = Some(t0);
    }
    let slot0_delivered = f
        .bounce
        .is_none_or(|b| names::BOUNCE_TYPES[b.kind].after_delivery);
    for slot in 0..f.recipients.len() {
        let whole = r.bool();
        let mut t = t0 + secs(r, 1, 30);
        if whole {
            t -= t.rem_euclid(TICKS_PER_SEC);
        }
        if slot > 0 || slot0_delivered {
            f.delivered.push((slot as u8, t));
        }
    }
    if f.track_opens && slot0_delivered {
        let n = match r.u32(0..100) {
            0..=49 => 0,
            50..=79 => 1,
            80..=91 => 2,
            92..=96 => 3,
            _ => 4,
        };
        let mut t = at + log_delay(r, 20.0, 2.0 * 86_400.0);
        for j in 0..n {
            let slot = if f.recipients.len() > 1 && r.u32(0..10) < 3 {
                1
            } else {
                0
            };
            f.opens.push(open_details(r, t, slot, j == 0));
            t += log_delay(r, 60.0, 3.0 * 86_400.0);
        }
    }
    let unsubscribe = broadcast && slot0_delivered;
    clicks_and_unsubscribe(r, f, at, unsubscribe);
}

fn clicks_and_unsubscribe(r: &mut fastrand::Rng, f: &mut MsgFacts, at: i64, unsubscribe: bool) {
    if f.track_links != 0 && !f.opens.is_empty() && r.u32(0..100) < 35 {
        let mut t = f.opens[0].at + secs(r, 5, 600);
        let n = 1 + r.usize(0..3);
        for _ in 0..n {
            let link = r.u8(0..names::LINKS.len() as u8);
            let text_only = f.track_links == 3;
            let location = if text_only || (f.track_links == 1 && r.u32(0..100) < 15) {
                1
            } else {
                0
            };
            f.clicks.push(ClickFact {
                at: t,
                slot: f.opens[0].slot,
                link,
                location,
                browser: r.u8(0..names::BROWSERS.len() as u8),
                platform: r.u8(0..names::CLICK_PLATFORMS.len() as u8),
                os: r.u8(0..names::OSES.len() as u8),
                place: r.u8(0..names::PLACES.len() as u8),
                first: false,
            });
            t += secs(r, 5, 900);
        }
    }
    if unsubscribe && r.u32(0..1000) < 8 {
        f.unsubscribed = Some(at + log_delay(r, 300.0, 2.0 * 86_400.0));
    }
}

fn open_details(r: &mut fastrand::Rng, at: i64, slot: u8, first: bool) -> OpenFact {
    let client = r.u8(0..names::CLIENTS.len() as u8);
    OpenFact {
        at,
        slot,
        client,
        platform: if names::CLIENTS[usize::from(client)].0 == "unknown" {
            3
        } else {
            r.u8(0..3)
        },
        os: r.u8(0..names::OSES.len() as u8),
        place: r.u8(0..names::PLACES.len() as u8 + 1),
        agent: r.u8(0..names::USER_AGENTS.len() as u8),
        first,
    }
}

/// Drops everything scheduled after `horizon` and recomputes the first-open/first-click flags.
fn apply_cutoff(f: &mut MsgFacts, horizon: i64) {
    f.opens.retain(|o| o.at <= horizon);
    f.clicks.retain(|c| c.at <= horizon);
    f.delivered.retain(|d| d.1 <= horizon);
    if f.transient.is_some_and(|t| t > horizon) {
        f.transient = None;
    }
    if f.bounce.is_some_and(|b| b.at > horizon) {
        f.bounce = None;
    }
    if f.unsubscribed.is_some_and(|t| t > horizon) {
        f.unsubscribed = None;
    }
    for (j, o) in f.opens.iter_mut().enumerate() {
        o.first = j == 0;
    }
    let mut seen = 0u32;
    for c in &mut f.clicks {
        c.first = seen & (1 << c.link) == 0;
        seen |= 1 << c.link;
    }
}

/// Recipient address of address number `addr` on server `server`.
pub fn email(seed: u64, server: usize, addr: u32) -> String {
    let h = ids::hash(seed, &[5, server as u64, u64::from(addr)]);
    let first = ascii(names::FIRST_NAMES[(h % names::FIRST_NAMES.len() as u64) as usize]);
    let last = ascii(names::LAST_NAMES[((h >> 16) % names::LAST_NAMES.len() as u64) as usize]);
    let domain =
        names::RECIPIENT_DOMAINS[((h >> 32) % names::RECIPIENT_DOMAINS.len() as u64) as usize];
    format!("{first}.{last}{addr}@{domain}")
}

/// Display name of an address: `Some("")` or `None` for some addresses, as Postmark returns.
pub fn display_name(seed: u64, server: usize, addr: u32) -> Option<String> {
    let h = ids::hash(seed, &[5, server as u64, u64::from(addr)]);
    match (h >> 48) % 20 {
        0 => None,
        1..=5 => Some(String::new()),
        _ => Some(format!(
            "{} {}",
            names::FIRST_NAMES[(h % names::FIRST_NAMES.len() as u64) as usize],
            names::LAST_NAMES[((h >> 16) % names::LAST_NAMES.len() as u64) as usize]
        )),
    }
}

fn ascii(s: &str) -> String {
    let v: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    if v.is_empty() {
        "user".to_string()
    } else {
        v
    }
}
