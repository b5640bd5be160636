//! Ground truth agrees with what the HTTP endpoints serve, stream by stream.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::America::New_York;
use postmark_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::common::{self, get_all, get_json, ACCOUNT, SERVER};

type Keys = BTreeSet<Vec<String>>;

struct Client<'a> {
    sim: &'a Simulator,
    header: &'static str,
    token: String,
}

impl Client<'_> {
    fn get(&self, path: &str) -> Value {
        get_json(self.sim, path, self.header, &self.token)
    }

    /// Every item of a paged list.
    fn all(&self, path: &str, key: &str) -> Vec<Value> {
        get_all(self.sim, path, key, self.header, &self.token)
    }
}

fn norm(s: &str) -> String {
    DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn wall(t: DateTime<Utc>) -> String {
    t.with_timezone(&New_York)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

struct Setup {
    sim: Simulator,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

fn setup() -> Setup {
    let now = Utc.with_ymd_and_hms(2024, 6, 12, 14, 0, 0).unwrap();
    let sim = Simulator::start(SimConfig {
        now: Some(now),
        servers: 2,
        days: 10,
        messages_per_day: 60,
        spike_messages: 0,
        secret_marker: Some("CANARY".into()),
        ..SimConfig::default()
    })
    .unwrap();
    Setup {
        sim,
        from: Utc.with_ymd_and_hms(2024, 6, 8, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2024, 6, 10, 0, 0, 0).unwrap(),
    }
}

impl Setup {
    fn client(&self, server: usize) -> Client<'_> {
        Client {
            sim: &self.sim,
            header: SERVER,
            token: self.sim.servers()[server].token.clone(),
        }
    }

    fn window(&self) -> String {
        format!(
            "fromdate={}&todate={}.9999999",
            wall(self.from),
            wall(self.to - Duration::seconds(1))
        )
    }

    fn truth(&self, server: usize, stream: &str) -> Keys {
        self.sim
            .ground_truth(self.sim.servers()[server].id, stream, self.from, self.to)
            .unwrap()
    }

    fn outbound_streams(&self, c: &Client) -> Vec<String> {
        common::sending_streams(c.sim, &c.token)
    }
}

#[test]
fn message_streams_match_the_searches() {
    let t = setup();
    for server in 0..2 {
        let c = t.client(server);
        let w = t.window();
        let mut outbound = Keys::new();
        let mut opens = Keys::new();
        let mut clicks = Keys::new();
        let mut bounces = Keys::new();
        let mut events = Keys::new();
        for st in t.outbound_streams(&c) {
            for m in c.all(
                &format!("/messages/outbound?messagestream={st}&{w}"),
                "Messages",
            ) {
                let id = s(&m["MessageID"]);
                let d = c.get(&format!("/messages/outbound/{id}/details"));
                for e in d["MessageEvents"].as_array().unwrap() {
                    events.insert(vec![
                        id.clone(),
                        s(&e["Recipient"]),
                        s(&e["Type"]),
                        norm(e["ReceivedAt"].as_str().unwrap()),
                    ]);
                }
                outbound.insert(vec![id]);
            }
            for o in c.all(
                &format!("/messages/outbound/opens?messagestream={st}&{w}"),
                "Opens",
            ) {
                opens.insert(vec![
                    s(&o["MessageID"]),
                    s(&o["Recipient"]),
                    norm(o["ReceivedAt"].as_str().unwrap()),
                ]);
            }
            for o in c.all(
                &format!("/messages/outbound/clicks?messagestream={st}&{w}"),
                "Clicks",
            ) {
                clicks.insert(vec![
                    s(&o["MessageID"]),
                    s(&o["Recipient"]),
                    norm(o["ReceivedAt"].as_str().unwrap()),
                    s(&o["OriginalLink"]),
                ]);
            }
            for b in c.all(&format!("/bounces?messagestream={st}&{w}"), "Bounces") {
                bounces.insert(vec![s(&b["ID"])]);
            }
        }
        let inbound: Keys = c
            .all(&format!("/messages/inbound?{w}"), "InboundMessages")
            .iter()
            .map(|m| vec![s(&m["MessageID"])])
            .collect();
        assert!(
            outbound.len() > 50
                && !opens.is_empty()
                && !clicks.is_empty()
                && !bounces.is_empty()
                && !inbound.is_empty()
        );
        assert_eq!(
            outbound,
            t.truth(server, "messages_outbound"),
            "server {server}"
        );
        assert_eq!(opens, t.truth(server, "messages_opens"));
        assert_eq!(clicks, t.truth(server, "messages_clicks"));
        assert_eq!(bounces, t.truth(server, "bounces"));
        assert_eq!(inbound, t.truth(server, "messages_inbound"));
        assert_eq!(events, t.truth(server, "message_events"));
    }
}

#[test]
fn full_table_streams_match() {
    let t = setup();
    server_tables_match(&t);
    account_tables_match(&t);
    assert!(t
        .sim
        .ground_truth(10001, "no_such_stream", t.from, t.to)
        .is_none());
}

/// The keys of a list answer: the `id` member of each item of its `key` array.
fn ids(v: &Value, key: &str, id: &str) -> Keys {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| vec![s(&x[id])])
        .collect()
}

/// The second server's full-table streams (templates, message streams, suppressions,
/// delivery stats, the server, webhooks, inbound rules) against their ground truth.
fn server_tables_match(t: &Setup) {
    let c = t.client(1);
    assert_eq!(
        ids(
            &c.get("/templates?Count=500&Offset=0"),
            "Templates",
            "TemplateId"
        ),
        t.truth(1, "templates")
    );
    let streams = c.get("/message-streams?IncludeArchivedStreams=true");
    assert_eq!(
        ids(&streams, "MessageStreams", "ID"),
        t.truth(1, "message_streams")
    );
    let mut sup = Keys::new();
    for st in streams["MessageStreams"].as_array().unwrap() {
        let id = s(&st["ID"]);
        for x in c.get(&format!("/message-streams/{id}/suppressions/dump"))["Suppressions"]
            .as_array()
            .unwrap()
        {
            sup.insert(vec![id.clone(), s(&x["EmailAddress"])]);
        }
    }
    assert!(sup.len() > 2);
    assert_eq!(sup, t.truth(1, "suppressions"));
    assert_eq!(
        ids(&c.get("/deliverystats"), "Bounces", "Name"),
        t.truth(1, "delivery_stats")
    );
    assert_eq!(
        c.get("/deliverystats")["Bounces"][0],
        serde_json::json!({"Name": "All", "Count": c.get("/deliverystats")["Bounces"][0]["Count"]})
    );
    let server = c.get("/server");
    assert_eq!(
        BTreeSet::from([vec![s(&server["ID"])]]),
        t.truth(1, "server")
    );
    let hooks = c.get("/webhooks");
    assert_eq!(ids(&hooks, "Webhooks", "ID"), t.truth(1, "webhooks"));
    assert!(hooks["Webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| !w["HttpAuth"].is_null())
        .all(|w| w["HttpAuth"]["Password"]
            .as_str()
            .unwrap()
            .contains("CANARY")));
    assert!(hooks["Webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["HttpAuth"].is_null()));
    assert_eq!(
        ids(
            &c.get("/triggers/inboundrules?count=500&offset=0"),
            "InboundRules",
            "ID"
        ),
        t.truth(1, "inbound_rules")
    );
}

/// The account's full-table streams (servers, domains, sender signatures) against their ground
/// truth, with the secret marker in the account token and every server token.
fn account_tables_match(t: &Setup) {
    let a = Client {
        sim: &t.sim,
        header: ACCOUNT,
        token: t.sim.account_token(),
    };
    assert!(a.token.contains("CANARY"));
    let servers = a.get("/servers?count=500&offset=0");
    assert_eq!(ids(&servers, "Servers", "ID"), t.truth(0, "servers"));
    assert!(servers["Servers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["ApiTokens"][0].as_str().unwrap().contains("CANARY")));
    let domains = a.get("/domains?count=500&offset=0");
    assert_eq!(ids(&domains, "Domains", "ID"), t.truth(0, "domains"));
    let d = a.get(&format!("/domains/{}", s(&domains["Domains"][0]["ID"])));
    assert!(d["DKIMHost"].is_string() && d["ReturnPathDomainCNAMEValue"].is_string());
    let senders = a.get("/senders?count=500&offset=0");
    assert_eq!(
        ids(&senders, "SenderSignatures", "ID"),
        t.truth(0, "sender_signatures")
    );
    assert!(a.get(&format!(
        "/senders/{}",
        s(&senders["SenderSignatures"][0]["ID"])
    ))["SPFHost"]
        .is_string());
}

#[test]
fn stats_streams_match() {
    let t = setup();
    let c = t.client(0);
    let streams = t.outbound_streams(&c);
    let days = "fromdate=2024-06-07&todate=2024-06-09";
    let fixed = [
        ("stats_outbound_sends", "sends"),
        ("stats_outbound_spam", "spam"),
        ("stats_outbound_tracked", "tracked"),
        ("stats_outbound_opens", "opens"),
        ("stats_outbound_platform", "opens/platforms"),
        ("stats_outbound_clicks", "clicks"),
        ("stats_outbound_click_platforms", "clicks/platforms"),
        ("stats_outbound_click_location", "clicks/location"),
    ];
    for (name, ep) in fixed {
        let mut keys = Keys::new();
        for st in &streams {
            for d in c.get(&format!("/stats/outbound/{ep}?messagestream={st}&{days}"))["Days"]
                .as_array()
                .unwrap()
            {
                keys.insert(vec![st.clone(), s(&d["Date"])]);
            }
        }
        assert_eq!(keys, t.truth(0, name), "{name}");
    }
    for (name, ep) in [
        ("stats_outbound_bounces", "bounces"),
        ("stats_outbound_clients", "opens/emailclients"),
        ("stats_outbound_browser_families", "clicks/browserfamilies"),
    ] {
        let mut keys = Keys::new();
        for st in &streams {
            for d in c.get(&format!("/stats/outbound/{ep}?messagestream={st}&{days}"))["Days"]
                .as_array()
                .unwrap()
            {
                for k in d.as_object().unwrap().keys().filter(|k| *k != "Date") {
                    keys.insert(vec![st.clone(), s(&d["Date"]), k.clone()]);
                }
            }
        }
        assert!(!keys.is_empty(), "{name}");
        assert_eq!(keys, t.truth(0, name), "{name}");
    }
    let overview = t.truth(0, "stats_outbound_overview");
    assert_eq!(overview.len(), streams.len() * 3);
    assert!(overview.contains(&vec!["outbound".to_string(), "2024-06-07".to_string()]));
}

#[test]
fn small_config_has_every_kind_of_record() {
    let sim = Simulator::start(SimConfig::small()).unwrap();
    let (from, to) = (
        sim.now() - Duration::days(400),
        sim.now() + Duration::days(1),
    );
    for server in sim.servers() {
        for stream in [
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
            "stats_outbound_overview",
            "stats_outbound_sends",
            "stats_outbound_bounces",
            "stats_outbound_spam",
            "stats_outbound_tracked",
            "stats_outbound_opens",
            "stats_outbound_platform",
            "stats_outbound_clients",
            "stats_outbound_clicks",
            "stats_outbound_browser_families",
            "stats_outbound_click_platforms",
            "stats_outbound_click_location",
        ] {
            let keys = sim.ground_truth(server.id, stream, from, to).unwrap();
            assert!(!keys.is_empty(), "server {} {stream}", server.id);
        }
        let delivery = sim
            .ground_truth(server.id, "delivery_stats", from, to)
            .unwrap();
        assert!(
            delivery.len() >= 4,
            "several bounce types on server {}: {delivery:?}",
            server.id
        );
    }
    let c = Client {
        sim: &sim,
        header: SERVER,
        token: sim.servers()[0].token.clone(),
    };
    let nul = ["outbound", "broadcast", "password-resets", "legacy-alerts"]
        .iter()
        .flat_map(|st| {
            c.all(
                &format!("/messages/outbound?messagestream={st}"),
                "Messages",
            )
        })
        .filter(|m| m["Subject"].as_str().unwrap().contains('\u{0}'))
        .count();
    assert!(nul > 0, "a NUL character in some subject");
}
