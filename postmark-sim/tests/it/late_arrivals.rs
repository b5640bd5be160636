//! Late arrivals (`SimConfig::late_arrival_rate`): a fraction of the records reach the searches
//! 6–40 minutes after their own time, so a window read five minutes behind the clock misses
//! records it lists 45 minutes later (messages, opens, clicks, bounces, inbound messages), and
//! their details, `MessageEvents` and per-ID answers follow; the ground truth, `expected_answer`
//! and the statistics agree with HTTP at every clock; `changed_messages` bounds what HTTP shows
//! changing with 40 minutes for 4; one long move answers as many short ones do; with rate 0
//! nothing arrives more than 4 minutes late; a rate outside `[0, 1]` is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::America::New_York;
use postmark_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::common::{
    self, assert_stats_agree, get_all, instant, norm, text, window, Client, SERVER,
};

type Keys = BTreeSet<Vec<String>>;

/// Wednesday 10:00 in New York.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 11, 13, 15, 0, 0).unwrap()
}

fn config(late_arrival_rate: f64) -> SimConfig {
    SimConfig {
        now: Some(start()),
        servers: 2,
        days: 2,
        messages_per_day: 1500,
        spike_messages: 0,
        ahead_hours: 24,
        late_arrival_rate,
        body_size_scale: 0.0,
        ..SimConfig::default()
    }
}

fn sim(late_arrival_rate: f64) -> Simulator {
    Simulator::start(config(late_arrival_rate)).unwrap()
}

/// What these tests read of a server beyond [`Client`]'s own.
impl Client<'_> {
    /// Every record of one search with `query`, over every sending stream (inbound: the
    /// server's).
    fn search(&self, s: &Search, query: &str) -> Vec<Value> {
        if s.path == "/messages/inbound" {
            let path = format!("{}?{query}", s.path);
            return get_all(self.sim, &path, s.list, SERVER, &self.token);
        }
        let mut out = Vec::new();
        for st in &self.streams {
            let path = format!("{}?messagestream={st}&{query}", s.path);
            out.extend(get_all(self.sim, &path, s.list, SERVER, &self.token));
        }
        out
    }

    /// The search's records in `[a, b)`: ground-truth key → the record's time, if it has one.
    fn keys(
        &self,
        s: &Search,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> BTreeMap<Vec<String>, String> {
        let records = self.search(s, &window(a, b));
        records.iter().map(|r| (s.key(r), s.time(r))).collect()
    }
}

/// A search, its ground-truth stream and how its records are keyed there.
struct Search {
    path: &'static str,
    list: &'static str,
    stream: &'static str,
    time: Option<&'static str>,
}

impl Search {
    fn key(&self, r: &Value) -> Vec<String> {
        match self.list {
            "Opens" | "Clicks" => {
                let mut k = vec![
                    text(&r["MessageID"]),
                    text(&r["Recipient"]),
                    norm(r["ReceivedAt"].as_str().unwrap()),
                ];
                if self.list == "Clicks" {
                    k.push(text(&r["OriginalLink"]));
                }
                k
            }
            "Bounces" => vec![text(&r["ID"])],
            _ => vec![text(&r["MessageID"])],
        }
    }

    fn time(&self, r: &Value) -> String {
        self.time.map(|f| text(&r[f])).unwrap_or_default()
    }
}

const SEARCHES: [Search; 5] = [
    Search {
        path: "/messages/outbound",
        list: "Messages",
        stream: "messages_outbound",
        time: Some("ReceivedAt"),
    },
    Search {
        path: "/messages/outbound/opens",
        list: "Opens",
        stream: "messages_opens",
        time: Some("ReceivedAt"),
    },
    Search {
        path: "/messages/outbound/clicks",
        list: "Clicks",
        stream: "messages_clicks",
        time: Some("ReceivedAt"),
    },
    Search {
        path: "/bounces",
        list: "Bounces",
        stream: "bounces",
        time: Some("BouncedAt"),
    },
    Search {
        path: "/messages/inbound",
        list: "InboundMessages",
        stream: "messages_inbound",
        time: None,
    },
];

/// Per search (by its list's name), the records a read missed: key and time.
type Missed = BTreeMap<&'static str, Vec<(Vec<String>, String)>>;

/// Reads 35-minute windows one after the other over a day, each ending `margin` before the
/// clock, then the same window again 45 minutes later on a second simulator of the same
/// account: per search, what the second read lists and the first missed (key, time), and how
/// many records the second reads listed in all. Checks on
/// the way that the first read lists nothing the second does not, that what was missed is
/// stamped in its window, and that the per-ID answers of missed messages and bounces are
/// not-found first and found later.
fn missed(rate: f64, margin: Duration) -> (Missed, usize) {
    let (reader, later) = (sim(rate), sim(rate));
    let (mut out, mut listed) = (Missed::new(), 0);
    for j in 1..=41 {
        let t = start() + Duration::minutes(35 * j);
        reader.set_now(t);
        later.set_now(t + Duration::minutes(45));
        let (a, b) = (t - margin - Duration::minutes(35), t - margin);
        for server in 0..2 {
            let (first, second) = (Client::new(&reader, server), Client::new(&later, server));
            for s in &SEARCHES {
                let (was, is) = (first.keys(s, a, b), second.keys(s, a, b));
                assert!(was.keys().all(|k| is.contains_key(k)), "{} at {t}", s.path);
                listed += is.len();
                for (k, at) in is.into_iter().filter(|(k, _)| !was.contains_key(k)) {
                    if s.time.is_some() {
                        let at = instant(&at);
                        assert!(a <= at && at < b, "{k:?} stamped {at}, window {a} – {b}");
                    }
                    per_id_answers_follow(s, &k, (&first, &second));
                    out.entry(s.list).or_default().push((k, at));
                }
            }
        }
    }
    (out, listed)
}

/// A record the first client missed and the second lists: its message (or bounce) answers
/// not-found to the first and is found by the second; an open's or click's message lists it
/// in `MessageEvents` for the second only.
fn per_id_answers_follow(s: &Search, key: &[String], (first, second): (&Client, &Client)) {
    let id = &key[0];
    match s.list {
        "Messages" | "InboundMessages" => {
            let kind = if s.list == "Messages" {
                "outbound"
            } else {
                "inbound"
            };
            let path = format!("/messages/{kind}/{id}/details");
            assert_eq!(first.raw(&path).0, 422, "{path} before it arrived");
            assert_eq!(second.raw(&path).0, 200, "{path} after");
        }
        "Bounces" => {
            assert_eq!(first.raw(&format!("/bounces/{id}")).0, 422, "bounce {id}");
            assert_eq!(second.raw(&format!("/bounces/{id}")).0, 200, "bounce {id}");
        }
        _ => {
            let kind = if s.list == "Opens" {
                "Opened"
            } else {
                "LinkClicked"
            };
            let path = format!("/messages/outbound/{id}/details");
            let listed = |c: &Client| {
                let (status, body) = c.raw(&path);
                let v: Value = serde_json::from_str(&body).unwrap();
                status == 200
                    && v["MessageEvents"].as_array().unwrap().iter().any(|e| {
                        e["Type"] == kind && norm(e["ReceivedAt"].as_str().unwrap()) == key[2]
                    })
            };
            assert!(
                !listed(first) && listed(second),
                "{kind} of {id} at {}",
                key[2]
            );
        }
    }
}

#[test]
fn searches_miss_records_that_arrive_late() {
    let (missed, listed) = missed(0.05, Duration::minutes(5));
    assert!(listed > 10_000, "{listed} records listed");
    for list in ["Messages", "Opens", "Clicks", "Bounces", "InboundMessages"] {
        let n = missed.get(list).map_or(0, Vec::len);
        assert!(
            n > 0,
            "no {list} arrived more than 5 minutes late: {missed:?}"
        );
    }
}

#[test]
fn without_late_arrivals_nothing_arrives_after_four_minutes() {
    let (missed, listed) = missed(0.0, Duration::minutes(4));
    assert!(missed.is_empty(), "{missed:?}");
    assert!(listed > 10_000, "{listed} records listed");
}

/// The keys of the five searches and of `message_events` (of the messages stamped from
/// `events_from` on) through HTTP over `[from, to)`; each message's details against
/// `expected_answer`.
fn http_keys(
    c: &Client,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    events_from: DateTime<Utc>,
) -> BTreeMap<&'static str, Keys> {
    let mut out: BTreeMap<&'static str, Keys> = BTreeMap::new();
    for s in &SEARCHES {
        let keys = c.keys(s, from, to);
        out.insert(s.stream, keys.keys().cloned().collect());
    }
    let mut events = Keys::new();
    for (k, at) in c.keys(&SEARCHES[0], events_from, to) {
        assert!(instant(&at) >= events_from);
        let d = c.get(&format!("/messages/outbound/{}/details", k[0]));
        let expected = c
            .sim
            .expected_answer(c.id, "messages_outbound_details", &k[0]);
        assert_eq!(expected.as_ref(), Some(&d), "{}", k[0]);
        for e in d["MessageEvents"].as_array().unwrap() {
            events.insert(vec![
                k[0].clone(),
                text(&e["Recipient"]),
                text(&e["Type"]),
                norm(e["ReceivedAt"].as_str().unwrap()),
            ]);
        }
    }
    out.insert("message_events", events);
    out
}

#[test]
fn ground_truth_and_expected_answers_match_http() {
    let (sim, settled) = (sim(0.05), sim(0.05));
    let c = Client::new(&sim, 1);
    for offset in [0, 23, 7 * 60 + 3, 24 * 60 + 10].map(Duration::minutes) {
        sim.set_now(start() + offset + Duration::seconds(7));
        let now = sim.now();
        let (from, to) = (now - Duration::hours(3), now + Duration::hours(1));
        let events_from = now - Duration::minutes(90);
        for (stream, keys) in http_keys(&c, from, to, events_from) {
            let a = if stream == "message_events" {
                events_from
            } else {
                from
            };
            let truth = sim.ground_truth(c.id, stream, a, to).unwrap();
            assert_eq!(truth, keys, "{stream} at {now}");
            assert!(!keys.is_empty(), "{stream} at {now}");
        }
        // Some records of the last 40 minutes are still on their way.
        let recent = |sim: &Simulator| {
            sim.ground_truth(c.id, "messages_outbound", now - Duration::minutes(40), now)
                .unwrap()
        };
        let before = recent(&sim);
        settled.set_now(now + Duration::minutes(41));
        let after = recent(&settled);
        assert!(
            before.is_subset(&after) && before.len() < after.len(),
            "at {now}"
        );
    }
}

/// MessageID → `/details` answer of every message the searches list.
fn details(c: &Client) -> BTreeMap<String, String> {
    let messages = c.search(&SEARCHES[0], "");
    messages
        .iter()
        .map(|m| {
            let id = text(&m["MessageID"]);
            let (status, body) = c.raw(&format!("/messages/outbound/{id}/details"));
            assert_eq!(status, 200, "{id}");
            (id, body)
        })
        .collect()
}

/// Messages whose search record is new or whose details changed between two maps of details.
fn differing(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let changed = after.iter().filter(|(id, d)| before.get(*id) != Some(d));
    changed.map(|(id, _)| id.clone()).collect()
}

/// A change shows up to 40 minutes after its time: what HTTP shows changing between the clocks
/// just before `from` and just before `to` lies within `changed_messages(from − 40 min, to)`
/// (some of it outside `changed_messages(from − 4 min, to)`), and every message of
/// `changed_messages(from, to)` shows changed by `to + 40 min`. (A high rate on a small account,
/// so that a few intervals meet changes more than 4 minutes late.)
#[test]
fn changed_messages_bound_what_http_shows_changing() {
    let sim = Simulator::start(SimConfig {
        servers: 1,
        messages_per_day: 200,
        ..config(0.3)
    })
    .unwrap();
    let c = Client::new(&sim, 0);
    let (minutes, tick) = (Duration::minutes, Duration::nanoseconds(100));
    let mut beyond_four = 0;
    for (a, b) in [(5, 20), (70, 130), (180, 240)] {
        let (from, to) = (start() + minutes(a), start() + minutes(b));
        sim.set_now(from - tick);
        let at_from = details(&c);
        sim.set_now(to - tick);
        let shown = differing(&at_from, &details(&c));
        let wide = sim.changed_messages(c.id, from - minutes(40), to);
        let outside: Vec<_> = shown.difference(&wide).collect();
        assert!(outside.is_empty(), "{outside:?}");
        let usual = sim.changed_messages(c.id, from - minutes(4), to);
        beyond_four += shown.difference(&usual).count();
        let changed = sim.changed_messages(c.id, from, to);
        sim.set_now(to + minutes(40) + Duration::seconds(1));
        let settled = differing(&at_from, &details(&c));
        let missed: Vec<_> = changed.difference(&settled).collect();
        assert!(missed.is_empty(), "{missed:?}");
    }
    assert!(beyond_four > 0, "no change showed more than 4 minutes late");
}

#[test]
fn statistics_count_what_the_searches_show() {
    let sim = sim(0.05);
    for offset in [0, 3 * 60 + 7, 24 * 60 + 12, 26 * 60].map(Duration::minutes) {
        sim.set_now(start() + offset + Duration::seconds(13));
        let today = sim.now().with_timezone(&New_York).date_naive();
        for server in 0..2 {
            let c = Client::new(&sim, server);
            let mut bounced = 0;
            for st in &c.streams {
                for day in [today - Duration::days(1), today] {
                    let q = format!("messagestream={st}&fromdate={day}&todate={day}");
                    assert_stats_agree(&c, &q);
                }
                let all = c.get(&format!("/bounces?messagestream={st}&count=1&offset=0"));
                bounced += all["TotalCount"].as_u64().unwrap();
            }
            let sent = c.get("/stats/outbound/sends?messagestream=outbound")["Sent"].as_u64();
            let listed = c.get("/messages/outbound?count=1&offset=0")["TotalCount"].as_u64();
            assert_eq!(sent, listed, "all days at {}", sim.now());
            let delivery = c.get("/deliverystats")["Bounces"][0]["Count"].as_u64();
            assert_eq!(delivery, Some(bounced), "/deliverystats at {}", sim.now());
        }
    }
}

/// The answers compared between two simulators at the same clock.
fn answers(sim: &Simulator) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    let recent = window(sim.now() - Duration::minutes(50), sim.now());
    for server in 0..2 {
        let c = Client::new(sim, server);
        let mut paths: Vec<String> = Vec::new();
        for st in &c.streams {
            for s in &SEARCHES[..4] {
                paths.push(format!("{}?messagestream={st}&count=500&offset=0", s.path));
                paths.push(format!(
                    "{}?messagestream={st}&count=500&offset=0&{recent}",
                    s.path
                ));
            }
            paths.push(format!("/stats/outbound?messagestream={st}"));
        }
        paths.push(format!("/messages/inbound?count=500&offset=0&{recent}"));
        paths.push("/deliverystats".into());
        for ep in common::STATS_ENDPOINTS {
            paths.push(format!("/stats/outbound/{ep}"));
        }
        let newest = c.get("/messages/outbound?count=30&offset=0");
        for m in newest["Messages"].as_array().unwrap() {
            let id = text(&m["MessageID"]);
            paths.push(format!("/messages/outbound/{id}/details"));
            paths.push(format!("/messages/outbound/clicks/{id}?count=50&offset=0"));
        }
        let bounces = c.get("/bounces?count=10&offset=0");
        for b in bounces["Bounces"].as_array().unwrap() {
            paths.push(format!("/bounces/{}", b["ID"]));
        }
        for p in paths {
            let (status, body) = c.raw(&p);
            out.push((p, status, body));
        }
    }
    out
}

#[test]
fn one_move_answers_as_many_small_ones() {
    let (stepped, jumped) = (sim(0.05), sim(0.05));
    let c = Client::new(&stepped, 0);
    for target in [10 * 60, 24 * 60 + 20, 30 * 60].map(Duration::minutes) {
        while stepped.now() < start() + target {
            stepped.advance(Duration::minutes(10));
            c.get("/stats/outbound");
            c.get("/messages/outbound/opens?count=10&offset=0");
        }
        jumped.set_now(start() + target);
        assert_eq!(stepped.now(), jumped.now());
        let (a, b) = (answers(&stepped), answers(&jumped));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!(x == y, "{} differs at {}", x.0, stepped.now());
        }
    }
}

#[test]
fn a_rate_outside_zero_to_one_is_refused() {
    for rate in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
        let err = Simulator::start(SimConfig {
            late_arrival_rate: rate,
            ..SimConfig::small()
        })
        .err()
        .unwrap_or_else(|| panic!("{rate} accepted"));
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("late_arrival_rate"), "{err}");
    }
    for rate in [0.0, 1.0] {
        let ok = Simulator::start(SimConfig {
            late_arrival_rate: rate,
            ..SimConfig::small()
        });
        assert!(ok.is_ok(), "{rate} refused");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_postmark-sim"))
        .args(["--port", "0", "--late-arrival-rate", "1.5"])
        .output()
        .expect("run postmark-sim");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--late-arrival-rate"), "{stderr}");
}

/// Release timing of statistics requests and search pages with and without late arrivals
/// (traffic ahead 24 h, 2 servers, 30 days, 3,000 messages a day; one client that keeps its
/// connection):
/// `cargo test --release -p postmark-sim --test it late_arrivals::timing -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn timing() {
    for rate in [0.0, 0.05] {
        let sim = Simulator::start(SimConfig {
            days: 30,
            messages_per_day: 3000,
            body_size_scale: 1.0,
            ..config(rate)
        })
        .unwrap();
        let (agent, token) = (common::agent(), sim.servers()[1].token.clone());
        let time = |what: &str, path: &str, n: u32| {
            let url = format!("{}{path}", sim.base_url());
            let mut ms: Vec<f64> = (0..n)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let mut r = agent.get(&url).header(SERVER, &token).call().unwrap();
                    assert_eq!(r.status(), 200);
                    r.body_mut().read_to_string().unwrap();
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            ms.sort_by(f64::total_cmp);
            let (min, median) = (ms[0], ms[ms.len() / 2]);
            println!("rate {rate} {what}: median {median:.2} ms, fastest {min:.2} ms");
        };
        for (label, step) in [
            ("at start", Duration::zero()),
            ("15 min on", Duration::minutes(15)),
            ("12 h on", Duration::hours(12)),
        ] {
            sim.advance(step);
            time(&format!("first stats {label}"), "/stats/outbound", 1);
            time(&format!("stats {label}"), "/stats/outbound", 100);
            let search = "/messages/outbound?count=500&offset=0";
            time(&format!("search page {label}"), search, 50);
            let opens = "/messages/outbound/opens?count=500&offset=0";
            time(&format!("opens page {label}"), opens, 50);
        }
    }
}
