//! Changes after the fact, on the simulator clock: records arrive 1 s to 4 min after their own
//! time, outbound messages leave `Queued` for `Sent`, bounce flags change hours later (and a
//! reactivated hard bounce leaves the suppression list), statistics grow as events arrive; the
//! ground truth follows each change at the instant it happens, the same clock gives the same
//! bytes, and `late_changes: false` turns every change off.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::America::New_York;
use postmark_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::common::{get, sget, SERVER};

fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 14, 15, 30, 0).unwrap()
}

fn busy(late_changes: bool) -> Simulator {
    Simulator::start(SimConfig {
        now: Some(anchor()),
        servers: 1,
        days: 2,
        messages_per_day: 30_000,
        spike_messages: 0,
        late_changes,
        ..SimConfig::default()
    })
    .unwrap()
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn wall(t: DateTime<Utc>) -> String {
    t.with_timezone(&New_York)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The first server's sending streams.
const STREAMS: &[&str] = &["outbound", "broadcast", "password-resets", "legacy-alerts"];

/// Every record of a search from `since` on, over every sending stream: its key field → its time
/// field.
fn search(
    sim: &Simulator,
    path: &str,
    list: &str,
    key: &str,
    since: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    let mut out = BTreeMap::new();
    for stream in STREAMS {
        let path = format!("{path}?messagestream={stream}&");
        out.extend(search_stream(sim, &path, list, key, since));
    }
    out
}

fn search_stream(
    sim: &Simulator,
    path: &str,
    list: &str,
    key: &str,
    since: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    let mut out = BTreeMap::new();
    loop {
        let v = sget(
            sim,
            &format!(
                "{path}count=500&offset={}&fromdate={}",
                out.len(),
                wall(since)
            ),
        );
        let items = v[list].as_array().unwrap();
        for r in items {
            let time = ["ReceivedAt", "BouncedAt"]
                .iter()
                .find_map(|k| r[*k].as_str())
                .unwrap();
            out.insert(common_key(&r[key]), instant(time));
        }
        if items.is_empty() || out.len() as u64 >= v["TotalCount"].as_u64().unwrap() {
            return out;
        }
    }
}

fn common_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Steps the clock 5 s at a time for 5 minutes: each search's records appear 1 s to 4 min after
/// their own time, never leave again, and the ground truth holds exactly what the search shows.
#[test]
fn records_arrive_after_their_time_and_truth_follows() {
    let sim = busy(true);
    let server = sim.servers()[0].id;
    let since = anchor() - Duration::minutes(10);
    let searches = [
        (
            "/messages/outbound",
            "Messages",
            "MessageID",
            "messages_outbound",
        ),
        ("/bounces", "Bounces", "ID", "bounces"),
    ];
    let mut first_seen: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut stamps: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut arrived_late = 0;
    let mut ever: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for step in 0..=60 {
        let now = sim.now();
        for (path, list, key, stream) in searches {
            let seen = search(&sim, path, list, key, since);
            let truth = sim
                .ground_truth(server, stream, since, now + Duration::seconds(1))
                .unwrap();
            let keys: BTreeSet<Vec<String>> = seen.keys().map(|k| vec![k.clone()]).collect();
            assert_eq!(keys, truth, "{stream} at {now}");
            for (k, at) in &seen {
                assert!(
                    *at + Duration::seconds(1) <= now,
                    "{k} stamped {at} shown at {now}"
                );
                if !first_seen.contains_key(k) {
                    first_seen.insert(k.clone(), now);
                    stamps.insert(k.clone(), *at);
                    arrived_late += usize::from(step > 0);
                }
            }
            let shown = ever.entry(stream).or_default();
            assert!(
                shown.iter().all(|k| seen.contains_key(k)),
                "{stream}: a record left again"
            );
            shown.extend(seen.keys().cloned());
        }
        // Everything stamped 4 minutes or more before now has arrived.
        let outbound = search(&sim, "/messages/outbound", "Messages", "MessageID", since);
        let settled = sim
            .ground_truth(
                server,
                "messages_outbound",
                since,
                now - Duration::minutes(4),
            )
            .unwrap();
        for k in settled {
            assert!(
                outbound.contains_key(&k[0]),
                "{k:?} not arrived after 4 minutes"
            );
        }
        sim.advance(Duration::seconds(5));
    }
    assert!(
        arrived_late > 5,
        "only {arrived_late} records arrived after the first search"
    );
    for (k, seen_at) in first_seen.iter().filter(|(_, t)| **t > anchor()) {
        assert!(
            *seen_at - stamps[k] <= Duration::minutes(4) + Duration::seconds(5),
            "{k}"
        );
    }
}

/// Opens and clicks arrive late too: the opens search and the ground truth grow together, and
/// a message's details list an open only once the opens search does.
#[test]
fn opens_arrive_late_in_searches_details_and_truth() {
    let sim = busy(true);
    let server = sim.servers()[0].id;
    let since = anchor() - Duration::minutes(6);
    let opens_at = |sim: &Simulator| {
        let mut out = BTreeSet::new();
        for stream in STREAMS {
            let v = sget(
                sim,
                &format!(
                    "/messages/outbound/opens?messagestream={stream}&count=500&offset=0&fromdate={}",
                    wall(since)
                ),
            );
            for o in v["Opens"].as_array().unwrap() {
                out.insert((
                    o["MessageID"].as_str().unwrap().to_string(),
                    o["ReceivedAt"].as_str().unwrap().to_string(),
                ));
            }
        }
        out
    };
    let before = opens_at(&sim);
    let truth_before = sim
        .ground_truth(
            server,
            "messages_opens",
            since,
            sim.now() + Duration::seconds(1),
        )
        .unwrap();
    assert_eq!(before.len(), truth_before.len());
    sim.advance(Duration::minutes(5));
    let after = opens_at(&sim);
    let truth_after = sim
        .ground_truth(server, "messages_opens", since, sim.now())
        .unwrap();
    assert_eq!(after.len(), truth_after.len());
    assert!(before.is_subset(&after));
    let new: Vec<_> = after.difference(&before).collect();
    assert!(!new.is_empty(), "no open arrived in 5 minutes");
    for (id, at) in new {
        assert!(
            instant(at) <= anchor(),
            "{at}: stamped before the first search"
        );
        let d = sget(&sim, &format!("/messages/outbound/{id}/details"));
        let listed = d["MessageEvents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["Type"] == "Opened" && e["ReceivedAt"] == at.as_str());
        assert!(listed, "{id}: the arrived open is in its details");
    }
}

/// `outbound_status` is the `Status` of `expected_answer` (the details answer) for every message
/// of the last two hours, queued or sent, as the clock moves; `None` where the details answer
/// not-found.
#[test]
fn outbound_status_is_the_status_of_the_details_answer() {
    let sim = busy(true);
    let server = sim.servers()[0].id;
    let since = anchor() - Duration::hours(2);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..3 {
        let ids = sim
            .ground_truth(
                server,
                "messages_outbound",
                since,
                sim.now() + Duration::days(1),
            )
            .unwrap();
        for id in ids.iter().map(|k| k[0].as_str()) {
            let details = sim
                .expected_answer(server, "messages_outbound_details", id)
                .unwrap();
            let status = sim.outbound_status(server, id);
            assert_eq!(
                status.map(Value::from),
                Some(details["Status"].clone()),
                "{id}"
            );
            *seen.entry(status.unwrap()).or_default() += 1;
        }
        sim.advance(Duration::minutes(30));
    }
    assert!(seen["Queued"] > 10 && seen["Sent"] > 1000, "{seen:?}");
    assert_eq!(sim.outbound_status(server, "no-such-message"), None);
    assert_eq!(sim.outbound_status(server + 1000, "any"), None);
}

/// Messages held in the queue show `Queued` (search, `status` filter and details, with no
/// events) until they leave it, at most an hour after `ReceivedAt`, then `Sent` for good.
#[test]
fn queued_messages_turn_sent_within_the_hour() {
    let sim = busy(true);
    let since = anchor() - Duration::hours(2);
    let queued = |sim: &Simulator| -> BTreeMap<String, DateTime<Utc>> {
        let v = sget(
            sim,
            &format!(
                "/messages/outbound?count=500&offset=0&status=queued&fromdate={}&todate={}",
                wall(since),
                wall(anchor() - Duration::minutes(5))
            ),
        );
        v["Messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(m["Status"], "Queued");
                (
                    m["MessageID"].as_str().unwrap().to_string(),
                    instant(m["ReceivedAt"].as_str().unwrap()),
                )
            })
            .collect()
    };
    let start = queued(&sim);
    let mut left: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for id in start.keys() {
        let d = sget(&sim, &format!("/messages/outbound/{id}/details"));
        assert_eq!(d["Status"], "Queued");
        assert_eq!(
            d["MessageEvents"].as_array().unwrap().len(),
            0,
            "{id}: no events while queued"
        );
    }
    let mut previous = start.clone();
    for _ in 0..14 {
        sim.advance(Duration::minutes(5));
        let now = queued(&sim);
        assert!(
            now.keys().all(|k| previous.contains_key(k)),
            "a message went back to the queue"
        );
        for (id, at) in &previous {
            if !now.contains_key(id) {
                left.insert(id.clone(), sim.now());
                assert!(
                    sim.now() - *at <= Duration::hours(1) + Duration::minutes(5),
                    "{id} left late"
                );
                let d = sget(&sim, &format!("/messages/outbound/{id}/details"));
                assert_eq!(d["Status"], "Sent", "{id}");
            }
        }
        previous = now;
    }
    assert!(
        left.len() >= 3,
        "only {} of {} queued messages left the queue",
        left.len(),
        start.len()
    );
    for (id, at) in &previous {
        assert!(
            sim.now() - *at > Duration::hours(1),
            "{id} still queued: queued for good"
        );
    }
}

/// `(Inactive, CanActivate)` of every HardBounce and SoftBounce of the last three days.
fn bounce_flags(sim: &Simulator) -> BTreeMap<u64, (String, DateTime<Utc>, bool, bool)> {
    let since = anchor() - Duration::days(3);
    let mut out = BTreeMap::new();
    loop {
        let v = sget(
            sim,
            &format!(
                "/bounces?count=500&offset={}&fromdate={}",
                out.len(),
                wall(since)
            ),
        );
        let items = v["Bounces"].as_array().unwrap();
        for b in items {
            out.insert(
                b["ID"].as_u64().unwrap(),
                (
                    b["Type"].as_str().unwrap().to_string(),
                    instant(b["BouncedAt"].as_str().unwrap()),
                    b["Inactive"].as_bool().unwrap(),
                    b["CanActivate"].as_bool().unwrap(),
                ),
            );
        }
        if items.is_empty() || out.len() as u64 >= v["TotalCount"].as_u64().unwrap() {
            return out;
        }
    }
}

/// Some hard bounces are reactivated 2–48 h after bouncing (their suppression goes), some soft
/// bounces deactivate 1–24 h after; `/bounces`, `/bounces/{id}`, `inactive=` and
/// `/deliverystats` agree at every step.
#[test]
fn bounce_flags_change_hours_later() {
    let sim = busy(true);
    let token = sim.servers()[0].token.clone();
    let mut flags = bounce_flags(&sim);
    let supp_start = hard_bounce_suppressions(&sim);
    let (mut reactivated, mut deactivated) = (0, 0);
    for _ in 0..16 {
        sim.advance(Duration::hours(3));
        let now_flags = bounce_flags(&sim);
        for (id, (kind, at, inactive, can)) in &now_flags {
            let Some(before) = flags.get(id) else {
                continue;
            };
            if (before.2, before.3) == (*inactive, *can) {
                continue;
            }
            match flag_change(
                &sim,
                *id,
                kind,
                *at,
                (before.2, before.3),
                (*inactive, *can),
            ) {
                Change::Reactivated => reactivated += 1,
                Change::Deactivated => deactivated += 1,
            }
            let one = sget(&sim, &format!("/bounces/{id}"));
            assert_eq!(
                (one["Inactive"].as_bool(), one["CanActivate"].as_bool()),
                (Some(*inactive), Some(*can))
            );
        }
        let inactive_listed = now_flags.values().filter(|f| f.2).count();
        let r = get(
            &sim,
            &format!(
                "/bounces?count=500&offset=0&inactive=true&fromdate={}",
                wall(anchor() - Duration::days(3))
            ),
            &[(SERVER, &token)],
        );
        assert_eq!(
            r.json()["TotalCount"].as_u64(),
            Some(inactive_listed as u64)
        );
        flags = now_flags;
    }
    assert!(
        reactivated > 0 && deactivated > 0,
        "{reactivated} reactivated, {deactivated} deactivated"
    );
    let supp_end = hard_bounce_suppressions(&sim);
    assert!(
        supp_end.is_subset(&supp_start) && supp_end.len() < supp_start.len(),
        "reactivated hard bounces leave the suppression list"
    );
    let truth: BTreeSet<String> = sim
        .ground_truth(sim.servers()[0].id, "suppressions", anchor(), anchor())
        .unwrap()
        .into_iter()
        .filter(|k| k[0] == "outbound")
        .map(|k| k[1].clone())
        .collect();
    assert!(
        supp_end.is_subset(&truth) && supp_start.difference(&supp_end).all(|e| !truth.contains(e))
    );
}

/// The addresses on the first server's `outbound` hard-bounce suppression list.
fn hard_bounce_suppressions(sim: &Simulator) -> BTreeSet<String> {
    sget(
        sim,
        "/message-streams/outbound/suppressions/dump?SuppressionReason=HardBounce",
    )["Suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["EmailAddress"].as_str().unwrap().to_string())
        .collect()
}

/// How a bounce's `(Inactive, CanActivate)` flags changed.
enum Change {
    Reactivated,
    Deactivated,
}

/// Checks that bounce `id` of type `kind`, bounced `at`, changed its flags from `before` to
/// `after` as its type does and within its time after `at` (at the clock's now).
fn flag_change(
    sim: &Simulator,
    id: u64,
    kind: &str,
    at: DateTime<Utc>,
    before: (bool, bool),
    after: (bool, bool),
) -> Change {
    let (inactive, can) = after;
    let age = sim.now() - at;
    match kind {
        "HardBounce" => {
            assert_eq!(
                (before.0, before.1, inactive, can),
                (true, true, false, false)
            );
            assert!(
                age >= Duration::hours(2) && age <= Duration::hours(51),
                "{id}"
            );
            Change::Reactivated
        }
        "SoftBounce" => {
            assert_eq!((before.0, inactive, can), (false, true, true));
            assert!(
                age >= Duration::hours(1) && age <= Duration::hours(27),
                "{id}"
            );
            Change::Deactivated
        }
        other => panic!("{other} bounce {id} changed flags"),
    }
}

/// Today's statistics count what has arrived: they agree with the searches at each step and grow
/// as the last minutes' messages and opens arrive.
#[test]
fn statistics_grow_as_events_arrive() {
    let sim = Simulator::start(SimConfig {
        now: Some(anchor()),
        servers: 1,
        days: 2,
        messages_per_day: 40_000,
        spike_messages: 0,
        ..SimConfig::default()
    })
    .unwrap();
    let today = anchor().with_timezone(&New_York).date_naive();
    // A statistic of today, held to its search's TotalCount.
    let count = |sim: &Simulator, endpoint: &str, key: &str, search: &str| {
        let day = format!("fromdate={today}&todate={today}");
        let stats = sget(
            sim,
            &format!("/stats/outbound/{endpoint}?messagestream=outbound&{day}"),
        );
        let listed = sget(sim, &format!("{search}?count=1&offset=0&{day}"));
        assert_eq!(
            stats[key], listed["TotalCount"],
            "{endpoint}: stats agree with the search"
        );
        stats[key].as_u64().unwrap()
    };
    let sent = |sim: &Simulator| count(sim, "sends", "Sent", "/messages/outbound");
    let opens = |sim: &Simulator| count(sim, "opens", "Opens", "/messages/outbound/opens");
    let (s0, o0) = (sent(&sim), opens(&sim));
    sim.advance(Duration::minutes(5));
    let (s1, o1) = (sent(&sim), opens(&sim));
    assert!(s1 > s0 && o1 > o0, "sends {s0} → {s1}, opens {o0} → {o1}");
    sim.advance(Duration::minutes(5));
    assert_eq!(
        (sent(&sim), opens(&sim)),
        (s1, o1),
        "nothing new was stamped after the anchor"
    );
}

/// The same seed and clock give the same bytes, whatever happened before; moving the clock
/// back does nothing.
#[test]
fn the_same_clock_gives_the_same_answers() {
    let (a, b) = (busy(true), busy(true));
    let paths = [
        "/messages/outbound?count=500&offset=0",
        "/messages/outbound/opens?count=500&offset=0",
        "/bounces?count=500&offset=0",
        "/stats/outbound",
        "/deliverystats",
    ];
    let token_a = a.servers()[0].token.clone();
    a.advance(Duration::minutes(2));
    let _ = get(&a, paths[0], &[(SERVER, &token_a)]);
    a.advance(Duration::minutes(40));
    b.set_now(anchor() + Duration::minutes(42));
    b.set_now(anchor());
    b.advance(Duration::minutes(-10));
    assert_eq!(a.now(), b.now());
    for p in paths {
        assert_eq!(sget(&a, p), sget(&b, p), "{p}");
    }
}

/// With `late_changes: false` nothing changes after the fact.
#[test]
fn late_changes_can_be_turned_off() {
    let sim = busy(false);
    let since = anchor() - Duration::minutes(10);
    let before = search(&sim, "/messages/outbound", "Messages", "MessageID", since);
    let queued = sget(
        &sim,
        &format!(
            "/messages/outbound?count=500&offset=0&status=queued&fromdate={}",
            wall(since)
        ),
    );
    sim.advance(Duration::hours(2));
    assert_eq!(
        before,
        search(&sim, "/messages/outbound", "Messages", "MessageID", since)
    );
    assert_eq!(
        queued,
        sget(
            &sim,
            &format!(
                "/messages/outbound?count=500&offset=0&status=queued&fromdate={}",
                wall(since)
            )
        )
    );
    let latest = before.values().max().unwrap();
    assert!(
        anchor() - *latest < Duration::seconds(30),
        "the newest records show at once"
    );
}
