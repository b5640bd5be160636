//! The generated account structure (no traffic): servers with their tokens, message streams
//! (including the archived one), templates, webhooks, inbound rules, domains and senders.

use std::collections::{BTreeMap, HashMap};

use super::eastern::{TICKS_PER_DAY, TICKS_PER_HOUR};
use super::ids;
use super::late;
use super::model::{BodyKnobs, Deleted, Domain, Model, Sender, Server, Stream, Template, Webhook};
use super::names;
use super::stream_type::StreamType;
use crate::knobs::SimConfig;

fn token(seed: u64, parts: &[u64], marker: Option<&str>) -> String {
    let u = ids::uuid(seed, parts);
    match marker {
        Some(m) => format!("{}-{m}-{}", &u[..8], &u[9..]),
        None => u,
    }
}

fn stream(id: &str, name: &str, kind: StreamType, created_at: i64, volume: f64) -> Stream {
    let description = match kind {
        StreamType::Transactional if id == "outbound" => {
            Some("Default stream used for sending transactional messages".to_string())
        }
        StreamType::Broadcasts if id == "broadcast" => {
            Some("Default stream used for sending broadcast messages".to_string())
        }
        StreamType::Inbound => {
            Some("Default stream used for receiving inbound messages".to_string())
        }
        _ => None,
    };
    Stream {
        id: id.to_string(),
        name: name.to_string(),
        description,
        kind,
        created_at,
        updated_at: None,
        archived_at: None,
        unsubscribe: if kind == StreamType::Broadcasts {
            "Postmark"
        } else {
            "None"
        },
        volume,
        messages: Vec::new(),
        generated: 0,
        opens: Vec::new(),
        clicks: Vec::new(),
        bounces: Vec::new(),
        bounce_by_msg: HashMap::new(),
        suppressions: Vec::new(),
    }
}

fn streams_for(s: usize, anchor: i64, days: u32, seed: u64) -> Vec<Stream> {
    let created = anchor - (i64::from(days) + 400 + s as i64 * 37) * TICKS_PER_DAY
        + (ids::hash(seed, &[40, s as u64]) % 86_400) as i64 * 10_000_000;
    let mut v = vec![
        stream(
            "outbound",
            "Default Transactional Stream",
            StreamType::Transactional,
            created,
            1.0,
        ),
        stream(
            "inbound",
            "Default Inbound Stream",
            StreamType::Inbound,
            created,
            0.0,
        ),
        stream(
            "broadcast",
            "Default Broadcast Stream",
            StreamType::Broadcasts,
            created,
            0.35,
        ),
    ];
    let mut resets = stream(
        "password-resets",
        "Password Resets",
        StreamType::Transactional,
        created + 90 * TICKS_PER_DAY,
        0.12,
    );
    resets.description = Some("Sign-in and reset codes — high priority".to_string());
    resets.updated_at = Some(created + 120 * TICKS_PER_DAY);
    v.push(resets);
    if s == 1 {
        v.push(stream(
            "welcome-series",
            "Welcome Series",
            StreamType::Broadcasts,
            created + 150 * TICKS_PER_DAY,
            0.15,
        ));
    }
    if s == 0 {
        let mut old = stream(
            "legacy-alerts",
            "Legacy Alerts",
            StreamType::Transactional,
            created + 30 * TICKS_PER_DAY,
            0.1,
        );
        let archived =
            anchor - (i64::from(days) / 3).max(1) * TICKS_PER_DAY - 3 * 3600 * 10_000_000;
        old.archived_at = Some(archived);
        old.updated_at = Some(archived);
        v.push(old);
    }
    v
}

fn templates_for(seed: u64, s: usize, next_id: &mut u64) -> Vec<Template> {
    let mut out = Vec::new();
    let mut add = |name: &str,
                   alias: Option<&str>,
                   layout: bool,
                   layout_template: Option<&str>,
                   text: bool,
                   active: bool| {
        *next_id += 1 + ids::hash(seed, &[41, *next_id]) % 7;
        let html = if layout {
            "<html><body>{{{@content}}}<footer>Acme · 1 Main St</footer></body></html>".to_string()
        } else {
            format!("<p>Hi {{{{name}}}}, this is “{name}”.</p>")
        };
        out.push(Template {
            id: *next_id,
            name: name.to_string(),
            alias: alias.map(str::to_string),
            layout,
            layout_template: layout_template.map(str::to_string),
            subject: if layout {
                None
            } else {
                Some(format!("{name} — {{{{product}}}}"))
            },
            html: Some(html),
            text: if text {
                Some(format!("Hi {{{{name}}}}, this is {name}."))
            } else {
                None
            },
            active,
        });
    };
    add("Basic layout", Some("basic-layout"), true, None, true, true);
    add(
        "Welcome",
        Some("welcome"),
        false,
        Some("basic-layout"),
        true,
        true,
    );
    add(
        "Receipt",
        Some("receipt"),
        false,
        Some("basic-layout"),
        false,
        true,
    );
    add(
        "Password reset",
        Some("password-reset"),
        false,
        None,
        true,
        true,
    );
    add("Réunion invitation", None, false, None, false, s % 2 == 0);
    if s == 0 {
        add(
            "Plain layout",
            Some("plain-layout"),
            true,
            None,
            false,
            true,
        );
        add(
            "Invoice",
            Some("invoice"),
            false,
            Some("plain-layout"),
            true,
            false,
        );
    }
    out
}

fn webhooks_for(seed: u64, s: usize, server_id: u64, marker: Option<&str>) -> Vec<Webhook> {
    let password = |n: u64| {
        let h = ids::hex(seed, &[42, s as u64, n], 16);
        match marker {
            Some(m) => format!("pw-{m}-{h}"),
            None => format!("pw-{h}"),
        }
    };
    let mut v = vec![
        Webhook {
            id: 1_234_500 + server_id % 1000 * 10 + 1,
            url: format!("https://hooks.acme.example/postmark/{server_id}"),
            stream: "outbound".to_string(),
            auth: Some(("postmark".to_string(), password(1))),
            headers: vec![("X-Source".to_string(), "postmark".to_string())],
            triggers: [true, false, true, true, true, false, true, true, false],
        },
        Webhook {
            id: 1_234_500 + server_id % 1000 * 10 + 2,
            url: "https://hooks.acme.example/broadcast-events".to_string(),
            stream: "broadcast".to_string(),
            auth: Some(("hook-user".to_string(), password(2))),
            headers: Vec::new(),
            triggers: [true, true, true, false, false, false, true, false, true],
        },
    ];
    if s == 1 {
        v.push(Webhook {
            id: 1_234_500 + server_id % 1000 * 10 + 3,
            url: "https://hooks.acme.example/inbound".to_string(),
            stream: "inbound".to_string(),
            auth: None,
            headers: vec![("X-Tenant".to_string(), "ünïcode".to_string())],
            triggers: [false; 9],
        });
    }
    v
}

/// Builds the account structure (no traffic yet).
pub fn account(cfg: &SimConfig, anchor: i64) -> Model {
    let seed = cfg.seed;
    let marker = cfg.secret_marker.as_deref();
    let n = cfg.servers.max(1) as usize;
    let mut next = NextIds {
        template: 3_100_000 + ids::hash(seed, &[43]) % 50_000,
        rule: 960_000 + ids::hash(seed, &[44]) % 1000,
    };
    let servers = (0..n).map(|s| server(cfg, anchor, s, &mut next)).collect();
    Model {
        seed,
        anchor,
        horizon: anchor + i64::from(cfg.ahead_hours) * TICKS_PER_HOUR,
        late: cfg.late_changes,
        late_arrival_rate: cfg.late_arrival_rate,
        max_arrival: late::max_arrival(cfg.late_arrival_rate),
        retention: i64::from(cfg.retention_days) * TICKS_PER_DAY,
        account_token: token(seed, &[48], marker),
        servers,
        domains: domains(),
        senders: senders(),
        bounces: Vec::new(),
        last_live: anchor,
        reactivated: HashMap::new(),
        deleted: Deleted::default(),
        body: BodyKnobs {
            scale: cfg.body_size_scale,
            large_rate: cfg.large_body_rate,
        },
    }
}

/// The account's sending domains.
const DOMAINS: [&str; 3] = ["acme.example", "mail.acme.example", "acme-billing.example"];

/// The next template and inbound rule IDs, shared by every server in turn.
struct NextIds {
    template: u64,
    rule: u64,
}

/// Server number `s` (from 0) of the account.
fn server(cfg: &SimConfig, anchor: i64, s: usize, next: &mut NextIds) -> Server {
    let (seed, marker) = (cfg.seed, cfg.secret_marker.as_deref());
    let volumes = [1.0, 1.6, 0.5, 0.8, 1.2];
    let id = 10_001 + s as u64;
    let base_name = names::SERVER_NAMES[s % names::SERVER_NAMES.len()];
    let name = if s < names::SERVER_NAMES.len() {
        base_name.to_string()
    } else {
        format!("{base_name} {}", s / names::SERVER_NAMES.len() + 1)
    };
    let volume = volumes[s % volumes.len()];
    let pool = ((f64::from(cfg.messages_per_day) * cfg.scale * volume * f64::from(cfg.days.max(1))
        / 3.0) as u32)
        .clamp(200, 2_000_000);
    let inbound_rules = (0..2 + s % 3)
        .map(|r| {
            next.rule += 1 + ids::hash(seed, &[45, next.rule]) % 9;
            let rule = match r {
                0 => "spam@example.net".to_string(),
                1 => "bulk-sender.example".to_string(),
                2 => format!("noreply+{s}@example.org"),
                _ => "ads.example.com".to_string(),
            };
            (next.rule, rule)
        })
        .collect();
    Server {
        id,
        name,
        color: names::COLORS[s % names::COLORS.len()],
        token: token(seed, &[46, s as u64], marker),
        revoked: false,
        forbidden: false,
        inbound_hash: ids::hex(seed, &[47, s as u64], 32),
        sandbox: s == 2,
        track_opens: s != 2,
        track_links: if s == 2 { "None" } else { "HtmlAndText" },
        from_domain: DOMAINS[s % DOMAINS.len()].to_string(),
        volume,
        streams: streams_for(s, anchor, cfg.days, seed),
        templates: templates_for(seed, s, &mut next.template),
        webhooks: webhooks_for(seed, s, id, marker),
        inbound_rules,
        inbound: Vec::new(),
        stats: BTreeMap::new(),
        future: Default::default(),
        pool,
    }
}

/// The account's domains.
fn domains() -> Vec<Domain> {
    DOMAINS
        .iter()
        .enumerate()
        .map(|(i, d)| Domain {
            id: 64_054 + i as u64 * 113,
            name: d.to_string(),
            spf: true,
            dkim: i != 2,
            return_path: i == 0,
        })
        .collect()
}

/// The account's sender signatures.
fn senders() -> Vec<Sender> {
    let sender = |id, domain: usize, email: &str, name: &str, reply_to: &str| Sender {
        id,
        domain: DOMAINS[domain].into(),
        email: email.into(),
        name: name.into(),
        reply_to: reply_to.into(),
        confirmed: true,
        note: None,
    };
    vec![
        sender(128_462, 0, "support@acme.example", "Acme Support", ""),
        Sender {
            note: Some("Newsletter sender".into()),
            ..sender(
                128_463,
                1,
                "news@mail.acme.example",
                "Acme News 📰",
                "hello@acme.example",
            )
        },
        Sender {
            confirmed: false,
            note: Some("Please confirm — Zoë".into()),
            ..sender(
                128_470,
                2,
                "billing@acme-billing.example",
                "Acme Billing",
                "",
            )
        },
        sender(128_471, 0, "no-reply@acme.example", "Acme", ""),
    ]
}
