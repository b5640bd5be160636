//! Traffic ahead of the clock (`SimConfig::ahead_hours`): the future keeps the history's daily
//! rate and stays invisible until the clock gets there; moving the clock brings new messages and
//! late activity on older ones (opens, clicks, bounces with spam complaints, unsubscribes with
//! their suppressions); ground truth and statistics follow the clock; one long move answers as
//! many short ones do; `changed_messages` is what HTTP shows changing; live arrivals are refused.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::America::New_York;
use postmark_sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

use crate::common::{
    self, assert_stats_agree, get_all, instant, norm, text, wall, window, Client, SERVER,
};

type Keys = BTreeSet<Vec<String>>;

/// Wednesday 10:00 in New York: the day before and the day after are both weekdays.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 11, 13, 15, 0, 0).unwrap()
}

fn config(late_changes: bool) -> SimConfig {
    SimConfig {
        now: Some(start()),
        servers: 2,
        days: 3,
        messages_per_day: 1500,
        spike_messages: 0,
        ahead_hours: 24,
        late_changes,
        body_size_scale: 0.0,
        ..SimConfig::default()
    }
}

fn ahead_sim() -> Simulator {
    Simulator::start(config(true)).unwrap()
}

/// What these tests read of a server beyond [`Client`]'s own.
impl Client<'_> {
    /// Every item of a paged search.
    fn all(&self, path: &str, key: &str) -> Vec<Value> {
        get_all(self.sim, path, key, SERVER, &self.token)
    }

    /// Every record of one search over every sending stream, with `query` (a window).
    fn every_stream(&self, path: &str, key: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for st in &self.streams {
            out.extend(self.all(&format!("{path}?messagestream={st}&{query}"), key));
        }
        out
    }

    /// MessageID → `/details` answer of every message the searches list.
    fn details(&self) -> BTreeMap<String, String> {
        self.every_stream("/messages/outbound", "Messages", "")
            .iter()
            .map(|m| {
                let id = text(&m["MessageID"]);
                let (status, body) = self.raw(&format!("/messages/outbound/{id}/details"));
                assert_eq!(status, 200, "{id}");
                (id, body)
            })
            .collect()
    }
}

/// The newest time a search shows, if any.
fn newest(items: &[Value], field: &str) -> Option<DateTime<Utc>> {
    items
        .iter()
        .map(|r| instant(r[field].as_str().unwrap()))
        .max()
}

/// Nothing any search, dump or the ground truth shows is stamped after the clock.
fn assert_nothing_past_the_clock(sim: &Simulator, c: &Client, since: DateTime<Utc>) {
    let now = sim.now();
    let q = format!("fromdate={}", wall(since));
    for (path, key, field) in [
        ("/messages/outbound", "Messages", "ReceivedAt"),
        ("/messages/outbound/opens", "Opens", "ReceivedAt"),
        ("/messages/outbound/clicks", "Clicks", "ReceivedAt"),
        ("/bounces", "Bounces", "BouncedAt"),
    ] {
        let items = c.every_stream(path, key, &q);
        assert!(newest(&items, field).is_none_or(|t| t <= now), "{path}");
    }
    let inbound = c.all(&format!("/messages/inbound?{q}"), "InboundMessages");
    assert!(!inbound.is_empty());
    for st in &c.streams {
        let dump = c.get(&format!("/message-streams/{st}/suppressions/dump"));
        for s in dump["Suppressions"].as_array().unwrap() {
            assert!(instant(s["CreatedAt"].as_str().unwrap()) <= now, "{s}");
        }
    }
    for stream in [
        "messages_outbound",
        "messages_opens",
        "bounces",
        "messages_inbound",
    ] {
        let later = sim.ground_truth(
            c.id,
            stream,
            now + Duration::seconds(1),
            now + Duration::days(3),
        );
        assert_eq!(later, Some(Keys::new()), "{stream}");
    }
}

#[test]
fn the_future_keeps_the_daily_rate_and_stays_hidden() {
    let sim = ahead_sim();
    let later = ahead_sim(); // the same account, its clock two hours on
    later.advance(Duration::hours(2));
    let counts = sim.generated_counts();
    for server in 0..2 {
        future_stays_hidden(&sim, &later, server);
    }
    // The day after the start has the day before's volume and hourly curve.
    sim.set_now(start() + Duration::hours(24) + Duration::minutes(5));
    assert!(sim.generated_counts().messages > counts.messages * 5 / 4);
    for server in 0..2 {
        next_day_keeps_the_rate(&sim, server);
    }
}

/// At the start, server `server` shows nothing stamped at or after it: not the messages, nor
/// the details, dumps and bounces, that `later` (the same account two hours on) shows.
fn future_stays_hidden(sim: &Simulator, later: &Simulator, server: usize) {
    let c = Client::new(sim, server);
    assert_nothing_past_the_clock(sim, &c, start() - Duration::days(1));
    let ahead = c.every_stream(
        "/messages/outbound",
        "Messages",
        &format!("fromdate={}", wall(start())),
    );
    assert!(
        ahead.is_empty(),
        "nothing stamped at or after the start shows yet"
    );
    // What the later clock shows is unknown at the start.
    let l = Client::new(later, server);
    let fresh = l.all(
        &format!(
            "/messages/outbound?{}",
            window(start() + Duration::hours(1), start() + Duration::hours(2))
        ),
        "Messages",
    );
    assert!(!fresh.is_empty());
    for m in fresh.iter().take(20) {
        let id = text(&m["MessageID"]);
        for p in [
            format!("/messages/outbound/{id}/details"),
            format!("/messages/outbound/{id}/dump"),
        ] {
            let (status, body) = c.raw(&p);
            assert_eq!(
                (status, body.contains("\"ErrorCode\":701")),
                (422, true),
                "{p}"
            );
        }
    }
    let bounces = l.all(
        &format!(
            "/bounces?{}",
            window(
                start() + Duration::minutes(10),
                start() + Duration::hours(2)
            )
        ),
        "Bounces",
    );
    for b in bounces.iter().take(5) {
        assert_eq!(c.raw(&format!("/bounces/{}", b["ID"])).0, 422);
    }
}

/// Once the clock is a day past the start, server `server`'s day after the start has the day
/// before's volume and hourly curve, and its inbound volume.
fn next_day_keeps_the_rate(sim: &Simulator, server: usize) {
    let c = Client::new(sim, server);
    for hours in [(0, 24), (0, 6), (6, 12), (12, 18), (18, 24)] {
        let span = |base: DateTime<Utc>| {
            let q = window(
                base + Duration::hours(hours.0),
                base + Duration::hours(hours.1),
            );
            c.every_stream("/messages/outbound", "Messages", &q).len() as f64
        };
        let (before, after) = (span(start() - Duration::days(1)), span(start()));
        let tolerance = if hours == (0, 24) { 0.08 } else { 0.25 };
        assert!(
            (after / before - 1.0).abs() < tolerance,
            "server {server} hours {hours:?}: {before} before, {after} after"
        );
    }
    let inbound = |a: DateTime<Utc>| {
        c.all(
            &format!("/messages/inbound?{}", window(a, a + Duration::days(1))),
            "InboundMessages",
        )
        .len() as f64
    };
    let (before, after) = (inbound(start() - Duration::days(1)), inbound(start()));
    assert!(
        (after / before - 1.0).abs() < 0.3,
        "inbound {before} → {after}"
    );
}

/// What one server's searches and suppression dumps showed so far.
#[derive(Default)]
struct Seen {
    /// MessageID → ReceivedAt.
    messages: BTreeMap<String, DateTime<Utc>>,
    /// MessageID, ReceivedAt (and OriginalLink) of each open and click.
    hits: BTreeSet<(String, String, String)>,
    bounces: BTreeSet<String>,
    /// (stream, address).
    suppressions: BTreeSet<(String, String)>,
}

/// What one look showed that the looks before had not.
#[derive(Default)]
struct News {
    /// MessageID, time and whether it is a click, of each new open and click.
    hits: Vec<(String, DateTime<Utc>, bool)>,
    /// MessageID, BouncedAt and Type of each new bounce.
    bounces: Vec<(String, DateTime<Utc>, String)>,
    /// Stream, address and CreatedAt of each new unsubscribe suppression.
    unsubscribes: Vec<(String, String, DateTime<Utc>)>,
}

impl Seen {
    /// Adds what the searches show from `since` on and the suppression dumps show.
    fn update(&mut self, c: &Client, since: DateTime<Utc>) -> News {
        let q = format!("fromdate={}", wall(since));
        let time = |v: &Value| instant(v.as_str().unwrap());
        for m in c.every_stream("/messages/outbound", "Messages", &q) {
            let at = time(&m["ReceivedAt"]);
            self.messages.insert(text(&m["MessageID"]), at);
        }
        let mut news = News::default();
        for (path, key, click) in [
            ("/messages/outbound/opens", "Opens", false),
            ("/messages/outbound/clicks", "Clicks", true),
        ] {
            for h in c.every_stream(path, key, &q) {
                let (id, at) = (text(&h["MessageID"]), text(&h["ReceivedAt"]));
                let link = text(&h["OriginalLink"]);
                if self.hits.insert((id.clone(), at.clone(), link)) {
                    news.hits.push((id, instant(&at), click));
                }
            }
        }
        for b in c.every_stream("/bounces", "Bounces", &q) {
            if self.bounces.insert(text(&b["ID"])) {
                let (id, kind) = (text(&b["MessageID"]), text(&b["Type"]));
                news.bounces.push((id, time(&b["BouncedAt"]), kind));
            }
        }
        for st in &c.streams {
            let dump = c.get(&format!("/message-streams/{st}/suppressions/dump"));
            for s in dump["Suppressions"].as_array().unwrap() {
                let email = text(&s["EmailAddress"]);
                if self.suppressions.insert((st.clone(), email.clone()))
                    && s["Origin"] == "Recipient"
                    && s["SuppressionReason"] == "ManualSuppression"
                {
                    let created = time(&s["CreatedAt"]);
                    news.unsubscribes.push((st.clone(), email, created));
                }
            }
        }
        news
    }
}

/// Whether a message of `stream` to `email` lists an unsubscribe at `created` (to the second).
fn unsubscribe_listed(c: &Client, stream: &str, email: &str, created: DateTime<Utc>) -> bool {
    let path = format!("/messages/outbound?messagestream={stream}&recipient={email}");
    c.all(&path, "Messages").iter().any(|m| {
        let id = text(&m["MessageID"]);
        let d = c.get(&format!("/messages/outbound/{id}/details"));
        d["MessageEvents"].as_array().unwrap().iter().any(|e| {
            e["Type"] == "SubscriptionChanged"
                && e["Details"]["SuppressSending"] == "True"
                && instant(e["ReceivedAt"].as_str().unwrap()).timestamp() == created.timestamp()
        })
    })
}

#[test]
fn moving_the_clock_reveals_new_traffic_and_late_activity() {
    let sim = ahead_sim();
    let c = Client::new(&sim, 1);
    let mut seen = Seen::default();
    seen.update(&c, start() - Duration::days(4));
    let known = seen.messages.len();
    // Opens and clicks a day or more after the send, spam complaints, other bounces, unsubscribes.
    let mut tally = [0; 5];
    for _ in 0..96 {
        let previous = sim.now();
        sim.advance(Duration::minutes(15));
        let now = sim.now();
        let news = seen.update(&c, previous - Duration::minutes(5));
        for (id, at, click) in news.hits {
            assert!(
                at > previous - Duration::minutes(5) && at <= now,
                "{id} {at}"
            );
            // (An open may arrive before its message does: then the message is new.)
            let sent = seen.messages.get(&id).copied().unwrap_or(now);
            if at - sent >= Duration::days(1) {
                tally[usize::from(click)] += 1;
            }
        }
        for (id, at, kind) in news.bounces {
            let since = start() - Duration::minutes(4);
            assert!(at > since && at <= now, "{id}: bounced at {at}");
            assert!(seen.messages.get(&id).is_none_or(|sent| *sent <= at));
            tally[if kind == "SpamComplaint" { 2 } else { 3 }] += 1;
        }
        for (stream, email, created) in news.unsubscribes {
            let new = created > previous - Duration::seconds(1) && created <= now;
            assert!(new, "{email} suppressed at {created}, shown at {now}");
            let listed = unsubscribe_listed(&c, &stream, &email, created);
            assert!(listed, "{email}: no SubscriptionChanged event at {created}");
            tally[4] += 1;
        }
    }
    let new_messages = seen.messages.len() - known;
    assert!(new_messages > 3000, "{new_messages} new messages");
    let [opens, clicks, spam, bounces, unsubscribes] = tally;
    assert!(
        opens > 20 && clicks > 0,
        "{opens} opens, {clicks} clicks a day on"
    );
    assert!(
        spam > 0 && bounces > 20,
        "{spam} spam complaints, {bounces} others"
    );
    assert!(unsubscribes > 0, "{unsubscribes} unsubscribes");
    assert_nothing_past_the_clock(&sim, &c, start() - Duration::days(1));
}

/// The keys of the five record streams through HTTP over `[from, to)` (message events of the
/// messages in `[events_from, to)`).
fn http_keys(
    c: &Client,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    events_from: DateTime<Utc>,
) -> BTreeMap<&'static str, Keys> {
    let mut out: BTreeMap<&'static str, Keys> = BTreeMap::new();
    let q = window(from, to);
    for m in c.every_stream("/messages/outbound", "Messages", &q) {
        let id = text(&m["MessageID"]);
        out.entry("messages_outbound")
            .or_default()
            .insert(vec![id.clone()]);
        if instant(m["ReceivedAt"].as_str().unwrap()) < events_from {
            continue;
        }
        let d = c.get(&format!("/messages/outbound/{id}/details"));
        let expected = c
            .sim
            .expected_answer(c.id, "messages_outbound_details", &id);
        assert_eq!(expected.as_ref(), Some(&d), "{id}");
        let events = out.entry("message_events").or_default();
        for e in d["MessageEvents"].as_array().unwrap() {
            events.insert(vec![
                id.clone(),
                text(&e["Recipient"]),
                text(&e["Type"]),
                norm(e["ReceivedAt"].as_str().unwrap()),
            ]);
        }
    }
    for (path, key, stream) in [
        ("/messages/outbound/opens", "Opens", "messages_opens"),
        ("/messages/outbound/clicks", "Clicks", "messages_clicks"),
    ] {
        for h in c.every_stream(path, key, &q) {
            let mut k = vec![
                text(&h["MessageID"]),
                text(&h["Recipient"]),
                norm(h["ReceivedAt"].as_str().unwrap()),
            ];
            if key == "Clicks" {
                k.push(text(&h["OriginalLink"]));
            }
            out.entry(stream).or_default().insert(k);
        }
    }
    for b in c.every_stream("/bounces", "Bounces", &q) {
        out.entry("bounces")
            .or_default()
            .insert(vec![text(&b["ID"])]);
    }
    for m in c.all(&format!("/messages/inbound?{q}"), "InboundMessages") {
        out.entry("messages_inbound")
            .or_default()
            .insert(vec![text(&m["MessageID"])]);
    }
    out
}

#[test]
fn ground_truth_matches_http_at_several_clock_points() {
    let sim = ahead_sim();
    let c = Client::new(&sim, 0);
    let server = sim.servers()[0].id;
    let (from, to) = (start() - Duration::hours(20), start() + Duration::hours(30));
    for offset in [
        Duration::zero(),
        Duration::minutes(15),
        Duration::hours(7) + Duration::seconds(3),
        Duration::hours(24) + Duration::minutes(10),
    ] {
        sim.set_now(start() + offset);
        let events_from = sim.now() - Duration::hours(2);
        let http = http_keys(&c, from, to, events_from);
        for (stream, keys) in &http {
            let (a, b) = if *stream == "message_events" {
                (events_from, to)
            } else {
                (from, to)
            };
            let truth = sim.ground_truth(server, stream, a, b).unwrap();
            assert_eq!(&truth, keys, "{stream} at {}", sim.now());
        }
        assert_eq!(http.len(), 6, "every stream has records at {}", sim.now());
    }
}

/// The answers compared between two simulators at the same clock.
fn answers(sim: &Simulator) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for server in 0..2 {
        let c = Client::new(sim, server);
        let mut paths: Vec<String> = Vec::new();
        for st in &c.streams {
            for p in [
                "/messages/outbound",
                "/messages/outbound/opens",
                "/messages/outbound/clicks",
                "/bounces",
            ] {
                paths.push(format!("{p}?messagestream={st}&count=500&offset=0"));
            }
            paths.push(format!(
                "/messages/outbound?messagestream={st}&count=500&offset=0&status=queued"
            ));
            paths.push(format!("/message-streams/{st}/suppressions/dump"));
            paths.push(format!("/stats/outbound?messagestream={st}"));
        }
        paths.push("/messages/inbound?count=500&offset=0".into());
        paths.push("/deliverystats".into());
        for ep in common::STATS_ENDPOINTS {
            paths.push(format!("/stats/outbound/{ep}"));
        }
        let newest = c.get("/messages/outbound?count=30&offset=0");
        for m in newest["Messages"].as_array().unwrap() {
            let id = text(&m["MessageID"]);
            paths.push(format!("/messages/outbound/{id}/details"));
            paths.push(format!("/messages/outbound/opens/{id}?count=50&offset=0"));
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
    let (stepped, jumped) = (ahead_sim(), ahead_sim());
    let c = Client::new(&stepped, 1);
    for target in [Duration::hours(10), Duration::hours(30)] {
        while stepped.now() < start() + target {
            stepped.advance(Duration::minutes(15));
            c.get("/stats/outbound");
            c.get("/messages/outbound?count=10&offset=0");
        }
        jumped.set_now(start() + target);
        assert_eq!(stepped.now(), jumped.now());
        let (a, b) = (answers(&stepped), answers(&jumped));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!(x == y, "{} differs at {}", x.0, stepped.now());
        }
        let (x, y) = (stepped.generated_counts(), jumped.generated_counts());
        assert_eq!(
            (x.messages, x.opens, x.clicks, x.bounces, x.inbound),
            (y.messages, y.opens, y.clicks, y.bounces, y.inbound)
        );
    }
}

#[test]
fn statistics_count_what_the_searches_show() {
    let sim = ahead_sim();
    let minutes = [0, 3 * 60 + 7, 26 * 60].map(Duration::minutes);
    for offset in minutes {
        sim.set_now(start() + offset + Duration::seconds(13));
        let today = sim.now().with_timezone(&New_York).date_naive();
        for server in 0..2 {
            let c = Client::new(&sim, server);
            let mut bounced = 0;
            for st in &c.streams {
                for day in [today - Duration::days(1), today] {
                    assert_stats_agree(
                        &c,
                        &format!("messagestream={st}&fromdate={day}&todate={day}"),
                    );
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

/// Messages whose search record is new or whose details changed between two maps of details.
fn differing(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    after
        .iter()
        .filter(|(id, d)| before.get(*id) != Some(d))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Just before `t`: everything stamped before `t` is due, nothing stamped at `t`.
fn before(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::nanoseconds(100)
}

fn small(late_changes: bool) -> Simulator {
    Simulator::start(SimConfig {
        servers: 1,
        days: 2,
        messages_per_day: 150,
        ..config(late_changes)
    })
    .unwrap()
}

/// Without arrival delays every change shows at its own time: the messages whose details
/// change (or that appear) between the clock just before `from` and just before `to` are
/// exactly `changed_messages(from, to)`.
#[test]
fn changed_messages_are_what_http_shows_changing() {
    let sim = small(false);
    let (c, server) = (Client::new(&sim, 0), sim.servers()[0].id);
    let points = [5, 15, 30, 45, 6 * 60 + 45].map(|m| start() + Duration::minutes(m));
    sim.set_now(before(points[0]));
    let mut previous = c.details();
    let mut found = Vec::new();
    for w in points.windows(2) {
        sim.set_now(before(w[1]));
        let now = c.details();
        assert_eq!(sim.generated_counts().messages as usize, now.len());
        let expected = differing(&previous, &now);
        assert_eq!(
            sim.changed_messages(server, w[0], w[1]),
            expected,
            "{} – {}",
            w[0],
            w[1]
        );
        found.push(expected);
        previous = now;
    }
    assert!(found.iter().all(|f| !f.is_empty()));
    // Later clocks do not change the answer for a past interval.
    sim.advance(Duration::days(2));
    assert_eq!(sim.changed_messages(server, points[1], points[2]), found[1]);
}

/// With arrival delays a change shows up to four minutes after its time: what HTTP shows
/// changing lies within `changed_messages` of the interval widened by four minutes, and every
/// changed message shows changed once four more minutes have passed. Leaving the queue and
/// deliveries show at their own time, so those changes lie within the interval itself.
#[test]
fn changed_messages_bound_what_http_shows_changing() {
    let sim = small(true);
    let (c, server) = (Client::new(&sim, 0), sim.servers()[0].id);
    let four = Duration::minutes(4);
    let minutes = |m: i64| start() + Duration::minutes(m);
    let mut delivered = 0;
    for (from, to) in [(5, 20), (30, 90), (100, 160)].map(|(a, b)| (minutes(a), minutes(b))) {
        sim.set_now(before(from));
        let at_from = c.details();
        sim.set_now(before(to));
        let at_to = c.details();
        let shown = differing(&at_from, &at_to);
        let wide = sim.changed_messages(server, from - four, to);
        let outside: Vec<_> = shown.difference(&wide).collect();
        assert!(outside.is_empty(), "{outside:?}");
        let changed = sim.changed_messages(server, from, to);
        let deliveries = |d: Option<&String>| {
            let v: Value = d.map_or(Value::Null, |d| serde_json::from_str(d).unwrap());
            let events = v["MessageEvents"].as_array().cloned().unwrap_or_default();
            events.iter().filter(|e| e["Type"] == "Delivered").count()
        };
        for id in &shown {
            if deliveries(at_to.get(id)) > deliveries(at_from.get(id)) {
                delivered += 1;
                assert!(changed.contains(id), "{id} was delivered in the interval");
            }
        }
        sim.set_now(to + four + Duration::seconds(1));
        let settled = differing(&at_from, &c.details());
        let missed: Vec<_> = changed.difference(&settled).collect();
        assert!(missed.is_empty(), "{missed:?}");
    }
    assert!(delivered > 20, "{delivered} delivered");
    // Messages that leave the queue between two clocks do so in the interval between them.
    let queued = |since: DateTime<Utc>| -> BTreeSet<String> {
        let q = format!("status=queued&fromdate={}", wall(since));
        let held = c.every_stream("/messages/outbound", "Messages", &q);
        held.iter().map(|m| text(&m["MessageID"])).collect()
    };
    let mut left = 0;
    for step in 0..96 {
        let (from, to) = (minutes(240 + 15 * step), minutes(255 + 15 * step));
        // A message stays queued for an hour at most (or for good).
        sim.set_now(before(from));
        let was = queued(from - Duration::hours(2));
        sim.set_now(before(to));
        let is = queued(from - Duration::hours(2));
        let changed = sim.changed_messages(server, from, to);
        for id in was.difference(&is) {
            left += 1;
            assert!(changed.contains(id), "{id} left the queue in {from} – {to}");
        }
    }
    assert!(left > 0, "{left} messages left the queue");
}

#[test]
fn live_arrivals_and_traffic_ahead_do_not_go_together() {
    let live = Faults {
        live_arrivals_per_request: 2,
        ..Faults::default()
    };
    let alone = Simulator::start(SimConfig {
        faults: live.clone(),
        ..SimConfig::small()
    });
    assert!(alone.is_ok(), "live arrivals alone are fine");
    let err = Simulator::start(SimConfig {
        faults: live.clone(),
        ahead_hours: 1,
        ..SimConfig::small()
    })
    .err()
    .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains("ahead_hours") && msg.contains("live_arrivals_per_request"),
        "{msg}"
    );
    let sim = Simulator::start(SimConfig {
        ahead_hours: 1,
        ..SimConfig::small()
    })
    .unwrap();
    sim.set_faults(Faults::default());
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.set_faults(live)))
        .expect_err("set_faults panics");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        text.contains("ahead_hours") && text.contains("live_arrivals_per_request"),
        "{text}"
    );
}

/// Release timing of statistics requests and searches with and without traffic ahead:
/// `cargo test --release -p postmark-sim --test it ahead::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    for ahead_hours in [0, 24] {
        let t = std::time::Instant::now();
        let sim = Simulator::start(SimConfig {
            ahead_hours,
            days: 30,
            messages_per_day: 3000,
            body_size_scale: 1.0,
            ..config(true)
        })
        .unwrap();
        let n = sim.generated_counts().messages;
        println!(
            "ahead {ahead_hours}: {n} messages by now, generated in {:?}",
            t.elapsed()
        );
        let c = Client::new(&sim, 1);
        let time = |what: &str, path: &str, n: u32| {
            let t = std::time::Instant::now();
            for _ in 0..n {
                assert_eq!(c.raw(path).0, 200);
            }
            let ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
            println!("ahead {ahead_hours} {what}: {ms:.2} ms");
        };
        for (label, step) in [
            ("at start", Duration::zero()),
            ("15 min on", Duration::minutes(15)),
            ("12 h on", Duration::hours(12)),
        ] {
            sim.advance(step);
            time(&format!("first stats {label}"), "/stats/outbound", 1);
            time(&format!("stats {label}"), "/stats/outbound", 50);
            time(
                &format!("search page {label}"),
                "/messages/outbound?count=500&offset=0",
                20,
            );
            time(
                &format!("opens page {label}"),
                "/messages/outbound/opens?count=500&offset=0",
                20,
            );
        }
    }
}
