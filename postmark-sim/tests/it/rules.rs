//! The simulator enforces Postmark's request rules, checked through real HTTP: tokens, methods,
//! paths, paging limits, date filters (Eastern wall time, DST), ordering, streams, not-found
//! codes, retention and response headers.

use chrono::{DateTime, TimeZone, Utc};
use postmark_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::common::{agent, get, sget, Resp, ACCOUNT, SERVER};

fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 11, 20, 15, 0, 0).unwrap()
}

fn small() -> Simulator {
    Simulator::start(SimConfig {
        now: Some(anchor()),
        servers: 2,
        days: 25,
        messages_per_day: 60,
        spike_messages: 0,
        ..SimConfig::default()
    })
    .unwrap()
}

fn error(r: &Resp) -> (u16, i64, String) {
    let v = r.json();
    (
        r.status,
        v["ErrorCode"].as_i64().unwrap_or(-1),
        v["Message"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn tokens_are_checked_per_endpoint_kind() {
    let sim = small();
    let server = sim.servers()[0].token.clone();
    let account = sim.account_token();
    let server_msg = (
        401,
        10,
        "Request does not contain a valid Server token.".to_string(),
    );
    let account_msg = (
        401,
        10,
        "Request does not contain a valid Account token.".to_string(),
    );
    assert_eq!(error(&get(&sim, "/server", &[])), server_msg);
    assert_eq!(
        error(&get(&sim, "/server", &[(SERVER, "bogus")])),
        server_msg
    );
    assert_eq!(
        error(&get(&sim, "/server", &[(ACCOUNT, &account)])),
        server_msg
    );
    assert_eq!(
        error(&get(&sim, "/servers?count=10&offset=0", &[])),
        account_msg
    );
    assert_eq!(
        error(&get(
            &sim,
            "/servers?count=10&offset=0",
            &[(SERVER, &server)]
        )),
        account_msg
    );
    assert_eq!(
        error(&get(
            &sim,
            "/domains?count=10&offset=0",
            &[(ACCOUNT, "nope")]
        )),
        account_msg
    );
    // Header names (and token values) are case-insensitive.
    assert_eq!(
        get(
            &sim,
            "/server",
            &[("x-postmark-server-token", &server.to_uppercase())]
        )
        .status,
        200
    );
    let r = get(
        &sim,
        "/servers?count=10&offset=0",
        &[("X-POSTMARK-ACCOUNT-TOKEN", &account)],
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["TotalCount"], 2);
    assert_eq!(v["Servers"][0]["ApiTokens"][0], server.as_str());
    assert_eq!(
        get(&sim, "/server", &[(SERVER, &sim.servers()[1].token)]).json()["ID"],
        sim.servers()[1].id
    );
}

#[test]
fn methods_paths_and_headers() {
    let sim = small();
    let token = sim.servers()[0].token.clone();
    let r = agent()
        .post(format!("{}/messages/outbound", sim.base_url()))
        .send("{}")
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "GET");
    let mut r = agent()
        .put(format!("{}/templates/123", sim.base_url()))
        .send("{}")
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "GET, DELETE");
    assert_eq!(r.body_mut().read_to_string().unwrap(), "");
    assert_eq!(get(&sim, "/no/such/path", &[(SERVER, &token)]).status, 404);
    assert_eq!(
        get(&sim, "/stats/outbound/nothing", &[(SERVER, &token)]).status,
        404
    );
    for path in [
        "/Messages/Outbound/?COUNT=2&Offset=0",
        "/messages/outbound?Count=2&OFFSET=0&MessageStream=outbound",
        "/deliveryStats",
        "/stats/outbound/opens/emailClients/",
        "/triggers/inboundRules?count=5&offset=0",
        "/templates?count=5&offset=0",
        "/Templates/?Count=5&Offset=0&TemplateType=Layout",
    ] {
        let r = get(&sim, path, &[(SERVER, &token)]);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.content_type, "application/json; charset=utf-8");
        assert!(
            r.request_id.as_deref().is_some_and(|id| id.len() == 36),
            "{path}"
        );
    }
    let v = sget(&sim, "/Messages/Outbound/?COUNT=2&Offset=0");
    assert_eq!(v["Messages"].as_array().unwrap().len(), 2);
    let layouts = sget(&sim, "/Templates/?Count=5&Offset=0&TemplateType=Layout");
    assert!(layouts["Templates"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["TemplateType"] == "Layout"));
}

#[test]
fn paging_limits() {
    let sim = small();
    let token = sim.servers()[0].token.clone();
    let e = |p: &str| error(&get(&sim, p, &[(SERVER, &token)]));
    assert_eq!(
        e("/messages/outbound?count=10"),
        (
            422,
            700,
            "Parameter 'offset' is required but has been left out".into()
        )
    );
    assert_eq!(
        e("/messages/outbound?offset=0"),
        (
            422,
            700,
            "Parameter 'count' is required but has been left out".into()
        )
    );
    assert_eq!(e("/messages/outbound?count=501&offset=0").1, 700);
    assert_eq!(e("/messages/outbound?count=0&offset=0").0, 422);
    assert_eq!(e("/messages/outbound?count=abc&offset=0").0, 422);
    let limit = "Count + Offset cannot exceed 10000 messages.".to_string();
    for p in [
        "/messages/outbound",
        "/messages/outbound/opens",
        "/messages/outbound/clicks",
        "/messages/inbound",
    ] {
        assert_eq!(
            e(&format!("{p}?count=500&offset=9501")),
            (422, 700, limit.clone()),
            "{p}"
        );
        assert_eq!(
            get(
                &sim,
                &format!("{p}?count=500&offset=9500"),
                &[(SERVER, &token)]
            )
            .status,
            200,
            "{p}"
        );
    }
    assert_eq!(e("/bounces?count=500&offset=9501"), (422, 1000, limit));
    assert_eq!(e("/bounces?count=10").1, 1000);
    assert_eq!(e("/templates?Count=10").0, 422);
    assert_eq!(e("/triggers/inboundrules?offset=0").0, 422);
    let acc = sim.account_token();
    assert_eq!(
        error(&get(
            &sim,
            "/senders?count=501&offset=0",
            &[(ACCOUNT, &acc)]
        ))
        .0,
        422
    );
}

fn wall(received_at: &str) -> String {
    received_at[..19].to_string()
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn date_filters_are_inclusive_eastern_wall_time() {
    let sim = small();
    let v = sget(&sim, "/messages/outbound?count=50&offset=100");
    let m = v["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| !m["ReceivedAt"].as_str().unwrap().contains(".0000000"))
        .unwrap()
        .clone();
    let id = m["MessageID"].as_str().unwrap();
    let at = m["ReceivedAt"].as_str().unwrap();
    let sec = wall(at);
    let next = (chrono::NaiveDateTime::parse_from_str(&sec, "%Y-%m-%dT%H:%M:%S").unwrap()
        + chrono::Duration::seconds(1))
    .format("%Y-%m-%dT%H:%M:%S")
    .to_string();
    let has = |from: &str, to: &str| {
        let v = sget(
            &sim,
            &format!("/messages/outbound?count=500&offset=0&fromdate={from}&todate={to}"),
        );
        v["Messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["MessageID"] == id)
    };
    assert!(has(&sec, &next), "from the second, to the next second");
    assert!(
        !has(&sec, &sec),
        "a fractional second is after a whole-second todate"
    );
    assert!(!has(&next, &next));
    assert!(has(&sec, &format!("{sec}.9999999")));
    assert!(has(&at[..10], &at[..10]), "date-only bounds cover the day");
    // Date-only todate = the whole day.
    let day = &at[..10];
    let whole = sget(
        &sim,
        &format!("/messages/outbound?count=1&offset=0&fromdate={day}&todate={day}"),
    )["TotalCount"]
        .as_u64()
        .unwrap();
    let explicit = sget(&sim, &format!("/messages/outbound?count=1&offset=0&fromdate={day}T00:00:00&todate={day}T23:59:59.9999999"))["TotalCount"].as_u64().unwrap();
    assert!(whole > 0);
    assert_eq!(whole, explicit);
    // Offsets or Z: silently nothing.
    for p in [
        "fromdate=2024-11-10T00:00:00Z",
        "todate=2024-11-18T00:00:00-05:00",
        "fromdate=2024-11-10T00:00:00%2B01:00",
    ] {
        let v = sget(&sim, &format!("/messages/outbound?count=10&offset=0&{p}"));
        assert_eq!(v["TotalCount"], 0, "{p}");
        assert_eq!(v["Messages"].as_array().unwrap().len(), 0);
    }
    let token = sim.servers()[0].token.clone();
    let r = get(
        &sim,
        "/messages/outbound?count=10&offset=0&fromdate=last-week",
        &[(SERVER, &token)],
    );
    assert_eq!((r.status, r.json()["ErrorCode"].as_i64()), (422, Some(700)));
}

#[test]
fn fall_back_hour_is_matched_twice() {
    let sim = small();
    // 2024-11-03 01:00–01:59 Eastern happened at 05:00–06:00Z (EDT) and 06:00–07:00Z (EST).
    let mut offsets = std::collections::BTreeSet::new();
    let mut total = 0;
    for stream in ["outbound", "broadcast", "password-resets", "legacy-alerts"] {
        let v = sget(&sim, &format!("/messages/outbound?count=500&offset=0&messagestream={stream}&fromdate=2024-11-03T01:00:00&todate=2024-11-03T01:59:59.9999999"));
        total += v["TotalCount"].as_u64().unwrap();
        for m in v["Messages"].as_array().unwrap() {
            let at = m["ReceivedAt"].as_str().unwrap();
            assert!(at.starts_with("2024-11-03T01:"), "{at}");
            offsets.insert(at[at.len() - 6..].to_string());
        }
    }
    let utc = sim
        .ground_truth(
            sim.servers()[0].id,
            "messages_outbound",
            Utc.with_ymd_and_hms(2024, 11, 3, 5, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 11, 3, 7, 0, 0).unwrap(),
        )
        .unwrap();
    assert_eq!(total as usize, utc.len());
    assert_eq!(
        offsets.into_iter().collect::<Vec<_>>(),
        vec!["-04:00".to_string(), "-05:00".to_string()]
    );
}

#[test]
fn spring_forward_day() {
    let now = Utc.with_ymd_and_hms(2024, 3, 20, 15, 0, 0).unwrap();
    let sim = Simulator::start(SimConfig {
        now: Some(now),
        servers: 1,
        days: 15,
        messages_per_day: 400,
        spike_messages: 0,
        ..SimConfig::default()
    })
    .unwrap();
    let v = sget(&sim, "/messages/outbound?count=1&offset=0&fromdate=2024-03-10T02:00:00&todate=2024-03-10T02:59:59.9999999");
    assert_eq!(
        v["TotalCount"], 0,
        "02:00–03:00 does not exist on 2024-03-10"
    );
    let mut total = 0;
    let mut offsets = std::collections::BTreeSet::new();
    for stream in ["outbound", "broadcast", "password-resets", "legacy-alerts"] {
        let v = sget(&sim, &format!("/messages/outbound?count=500&offset=0&messagestream={stream}&fromdate=2024-03-10&todate=2024-03-10"));
        total += v["TotalCount"].as_u64().unwrap();
        for m in v["Messages"].as_array().unwrap() {
            let at = m["ReceivedAt"].as_str().unwrap();
            let hour: u32 = at[11..13].parse().unwrap();
            let off = &at[at.len() - 6..];
            assert_eq!(off, if hour < 2 { "-05:00" } else { "-04:00" }, "{at}");
            assert_ne!(hour, 2, "{at}");
            offsets.insert(off.to_string());
        }
    }
    assert_eq!(offsets.len(), 2);
    let truth = sim
        .ground_truth(
            sim.servers()[0].id,
            "messages_outbound",
            Utc.with_ymd_and_hms(2024, 3, 10, 5, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 3, 11, 4, 0, 0).unwrap(),
        )
        .unwrap();
    assert_eq!(total as usize, truth.len());
}

#[test]
fn newest_first_across_pages_and_default_stream() {
    let sim = small();
    let mut seen = std::collections::HashSet::new();
    let mut last: Option<DateTime<Utc>> = None;
    for offset in [0, 100, 200, 300] {
        let v = sget(
            &sim,
            &format!("/messages/outbound?count=100&offset={offset}"),
        );
        for m in v["Messages"].as_array().unwrap() {
            assert_eq!(
                m["MessageStream"], "outbound",
                "omitted messagestream = outbound only"
            );
            let t = instant(m["ReceivedAt"].as_str().unwrap());
            assert!(last.is_none_or(|l| t <= l));
            last = Some(t);
            assert!(seen.insert(m["MessageID"].as_str().unwrap().to_string()));
        }
    }
    other_searches_are_newest_first(&sim);
    let total_outbound = sget(&sim, "/messages/outbound?count=1&offset=0")["TotalCount"]
        .as_u64()
        .unwrap();
    let all = sim
        .ground_truth(
            sim.servers()[0].id,
            "messages_outbound",
            anchor() - chrono::Duration::days(60),
            anchor() + chrono::Duration::days(1),
        )
        .unwrap();
    assert!(all.len() as u64 > total_outbound);
    unknown_streams_are_refused(&sim);
}

/// Opens, clicks, bounces and a broadcast stream's messages come newest first, from the
/// `outbound` stream when `messagestream` is omitted.
fn other_searches_are_newest_first(sim: &Simulator) {
    for path in [
        "/messages/outbound/opens",
        "/messages/outbound/clicks",
        "/bounces",
        "/messages/outbound?messagestream=broadcast",
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let v = sget(sim, &format!("{path}{sep}count=200&offset=0"));
        let key = ["Opens", "Clicks", "Bounces", "Messages"]
            .into_iter()
            .find(|k| v.get(*k).is_some())
            .unwrap();
        let items = v[key].as_array().unwrap();
        assert!(!items.is_empty(), "{path}");
        let field = if key == "Bounces" {
            "BouncedAt"
        } else {
            "ReceivedAt"
        };
        let times: Vec<DateTime<Utc>> = items
            .iter()
            .map(|x| instant(x[field].as_str().unwrap()))
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "{path} newest first"
        );
        let want = if path.contains("broadcast") {
            "broadcast"
        } else {
            "outbound"
        };
        assert!(items.iter().all(|x| x["MessageStream"] == want), "{path}");
    }
}

/// 422/1235 for an unknown `messagestream` on the searches and the statistics.
fn unknown_streams_are_refused(sim: &Simulator) {
    let token = sim.servers()[0].token.clone();
    for p in [
        "/messages/outbound",
        "/bounces",
        "/messages/outbound/opens",
        "/messages/outbound/clicks",
        "/stats/outbound/sends",
    ] {
        let r = get(
            sim,
            &format!("{p}?count=1&offset=0&messagestream=nope"),
            &[(SERVER, &token)],
        );
        assert_eq!(
            error(&r),
            (
                422,
                1235,
                "The MessageStream provided does not exist on this server.".into()
            ),
            "{p}"
        );
    }
}

#[test]
fn per_message_endpoints_and_not_found() {
    let sim = small();
    let token0 = sim.servers()[0].token.clone();
    let token1 = sim.servers()[1].token.clone();
    let id = outbound_message_endpoints(&sim);
    messages_not_found(&sim, &id, (&token0, &token1));
    message_without_opens_not_found(&sim, &token0);
    inbound_details_and_not_found(&sim, &token1);
    other_per_id_endpoints_and_not_found(&sim, (&token0, &token1));
}

/// 701, as the per-message endpoints answer a message they do not find.
fn message_not_found() -> (u16, i64, String) {
    (422, 701, "This message was not found.".to_string())
}

/// The details, dump and opens of an opened outbound message of the first server; its ID.
fn outbound_message_endpoints(sim: &Simulator) -> String {
    let v = sget(sim, "/messages/outbound/opens?count=1&offset=0");
    let id = v["Opens"][0]["MessageID"].as_str().unwrap().to_string();
    let d = sget(sim, &format!("/messages/outbound/{id}/details"));
    assert_eq!(d["MessageID"], id.as_str());
    assert!(d["MessageEvents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["Type"] == "Opened"));
    assert!(d["MessageEvents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["Details"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string)));
    assert!(sget(sim, &format!("/messages/outbound/{id}/dump"))["Body"]
        .as_str()
        .unwrap()
        .contains("Subject:"));
    let opens = sget(
        sim,
        &format!("/messages/outbound/opens/{id}?count=10&offset=0"),
    );
    assert!(opens["TotalCount"].as_u64().unwrap() >= 1);
    id
}

/// The message `id` of the first server is not found with the second server's token, and
/// forged IDs are not found at all.
fn messages_not_found(sim: &Simulator, id: &str, (token0, token1): (&str, &str)) {
    let not_found = message_not_found();
    for path in [
        format!("/messages/outbound/{id}/details"),
        format!("/messages/outbound/{id}/dump"),
        format!("/messages/outbound/opens/{id}?count=10&offset=0"),
    ] {
        assert_eq!(
            error(&get(sim, &path, &[(SERVER, token1)])),
            not_found,
            "other server: {path}"
        );
    }
    for bad in [
        "00000000-0000-4000-8000-000000000000",
        "not-an-id",
        &id.replace('a', "b"),
    ] {
        if bad == id {
            continue;
        }
        assert_eq!(
            error(&get(
                sim,
                &format!("/messages/outbound/{bad}/details"),
                &[(SERVER, token0)]
            )),
            not_found
        );
        assert_eq!(
            error(&get(
                sim,
                &format!("/messages/inbound/{bad}/details"),
                &[(SERVER, token0)]
            )),
            not_found
        );
    }
}

/// A message without opens: 701 on its opens and clicks.
fn message_without_opens_not_found(sim: &Simulator, token0: &str) {
    let not_found = message_not_found();
    let msgs = sget(sim, "/messages/outbound?count=200&offset=0");
    let quiet = msgs["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["TrackOpens"] == false)
        .unwrap()["MessageID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        error(&get(
            sim,
            &format!("/messages/outbound/opens/{quiet}?count=10&offset=0"),
            &[(SERVER, token0)]
        )),
        not_found
    );
    assert_eq!(
        error(&get(
            sim,
            &format!("/messages/outbound/clicks/{quiet}?count=10&offset=0"),
            &[(SERVER, token0)]
        )),
        not_found
    );
}

/// Inbound details, and 701 for another server's inbound message.
fn inbound_details_and_not_found(sim: &Simulator, token1: &str) {
    let not_found = message_not_found();
    let inbound = sget(sim, "/messages/inbound?count=1&offset=0");
    let iid = inbound["InboundMessages"][0]["MessageID"].as_str().unwrap();
    assert!(inbound["InboundMessages"][0]["Date"]
        .as_str()
        .unwrap()
        .contains(", "));
    assert!(sget(sim, &format!("/messages/inbound/{iid}/details"))["Headers"].is_array());
    assert_eq!(
        error(&get(
            sim,
            &format!("/messages/inbound/{iid}/details"),
            &[(SERVER, token1)]
        )),
        not_found
    );
}

/// One bounce and its dump, a template by alias, and the not-found codes of bounces (1001),
/// templates (1101) and streams (1226).
fn other_per_id_endpoints_and_not_found(sim: &Simulator, (token0, token1): (&str, &str)) {
    let b = sget(sim, "/bounces?count=1&offset=0");
    let bid = b["Bounces"][0]["ID"].as_u64().unwrap();
    assert_eq!(sget(sim, &format!("/bounces/{bid}"))["ID"], bid);
    assert!(sget(sim, &format!("/bounces/{bid}/dump"))["Body"].is_string());
    assert_eq!(
        error(&get(sim, &format!("/bounces/{bid}"), &[(SERVER, token1)])).1,
        1001
    );
    assert_eq!(error(&get(sim, "/bounces/12", &[(SERVER, token0)])).1, 1001);
    assert_eq!(sget(sim, "/templates/welcome")["Alias"], "welcome");
    assert_eq!(
        error(&get(sim, "/templates/999", &[(SERVER, token0)])).1,
        1101
    );
    assert_eq!(
        error(&get(sim, "/message-streams/nope", &[(SERVER, token0)])).1,
        1226
    );
    assert_eq!(
        error(&get(
            sim,
            "/message-streams/nope/suppressions/dump",
            &[(SERVER, token0)]
        ))
        .1,
        1226
    );
}

#[test]
fn spike_day_total_exceeds_the_ceiling() {
    let sim = Simulator::start(SimConfig {
        now: Some(anchor()),
        ..SimConfig::default()
    })
    .unwrap();
    let token = sim.servers()[0].token.clone();
    let stats = sget(&sim, "/stats/outbound/sends?messagestream=outbound");
    let spike = stats["Days"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|d| d["Sent"].as_u64())
        .unwrap()
        .clone();
    let day = spike["Date"].as_str().unwrap();
    let v = sget(
        &sim,
        &format!("/messages/outbound?count=500&offset=9500&fromdate={day}&todate={day}"),
    );
    let total = v["TotalCount"].as_u64().unwrap();
    assert!(total > 10_000, "{total}");
    assert_eq!(
        total,
        spike["Sent"].as_u64().unwrap(),
        "stats agree with the search"
    );
    assert_eq!(v["Messages"].as_array().unwrap().len(), 500);
    let r = get(
        &sim,
        &format!("/messages/outbound?count=500&offset=9600&fromdate={day}&todate={day}"),
        &[(SERVER, &token)],
    );
    assert_eq!(r.status, 422);
}

#[test]
fn retention_cutoff() {
    let now = anchor();
    let sim = Simulator::start(SimConfig {
        now: Some(now),
        servers: 1,
        days: 40,
        retention_days: 20,
        messages_per_day: 40,
        spike_messages: 0,
        ..SimConfig::default()
    })
    .unwrap();
    let cutoff = now - chrono::Duration::days(20);
    for (path, key, field) in [
        ("/messages/outbound", "Messages", "ReceivedAt"),
        ("/messages/outbound/opens", "Opens", "ReceivedAt"),
        ("/bounces", "Bounces", "BouncedAt"),
    ] {
        let first = sget(&sim, &format!("{path}?count=1&offset=0"));
        let total = first["TotalCount"].as_u64().unwrap();
        let last = sget(&sim, &format!("{path}?count=1&offset={}", total - 1));
        let oldest = instant(last[key][0][field].as_str().unwrap());
        assert!(
            oldest >= cutoff && oldest < cutoff + chrono::Duration::days(2),
            "{path}: {oldest}"
        );
    }
    // Stats are kept forever.
    let days = sget(&sim, "/stats/outbound/sends");
    let first_day = days["Days"][0]["Date"].as_str().unwrap();
    assert!(
        first_day
            < (cutoff - chrono::Duration::days(10))
                .format("%Y-%m-%d")
                .to_string()
                .as_str()
    );
    let truth = sim
        .ground_truth(
            sim.servers()[0].id,
            "messages_outbound",
            now - chrono::Duration::days(60),
            now,
        )
        .unwrap();
    let http: u64 = ["outbound", "broadcast", "password-resets", "legacy-alerts"]
        .iter()
        .map(|s| {
            sget(
                &sim,
                &format!(
                    "/messages/outbound?count=1&offset=0&messagestream={s}&fromdate=2024-01-01"
                ),
            )["TotalCount"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(truth.len() as u64, http);
}

#[test]
fn tag_is_omitted_when_untagged() {
    let sim = small();
    for (path, key) in [
        ("/messages/outbound", "Messages"),
        ("/messages/outbound/opens", "Opens"),
        ("/bounces", "Bounces"),
    ] {
        let v = sget(&sim, &format!("{path}?count=300&offset=0"));
        let items = v[key].as_array().unwrap();
        assert!(
            items.iter().any(|m| m.get("Tag").is_none()),
            "{path}: some untagged"
        );
        assert!(
            items.iter().any(|m| m["Tag"].is_string()),
            "{path}: some tagged"
        );
        assert!(
            items
                .iter()
                .all(|m| !m.get("Tag").is_some_and(Value::is_null)),
            "{path}: never null"
        );
    }
    let v = sget(&sim, "/messages/outbound?count=100&offset=0&tag=receipt");
    assert!(v["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["Tag"] == "receipt"));
    assert!(v["TotalCount"].as_u64().unwrap() > 0);
}

#[test]
fn a_revoked_server_token_is_rejected_but_still_listed() {
    let sim = small();
    let server = sim.servers()[0].clone();
    sim.set_server_token_revoked(server.id, true);
    let r = get(&sim, "/server", &[(SERVER, &server.token)]);
    assert_eq!(
        error(&r),
        (
            401,
            10,
            "Request does not contain a valid Server token.".into()
        )
    );
    let other = sim.servers()[1].clone();
    let r = get(&sim, "/server", &[(SERVER, &other.token)]);
    assert_eq!(r.status, 200);
    let account = sim.account_token();
    let r = get(&sim, "/servers?count=10&offset=0", &[(ACCOUNT, &account)]);
    assert!(r.text.contains(&server.token), "still listed");
    sim.set_server_token_revoked(server.id, false);
    let r = get(&sim, "/server", &[(SERVER, &server.token)]);
    assert_eq!(r.status, 200);
}

/// Regression: a NUL planted in a subject next to a multi-byte character panicked the handler
/// and left the client waiting on an open connection. Every outbound message of the default
/// account must now be served.
#[test]
fn every_default_message_page_is_served() {
    let sim = Simulator::start(SimConfig {
        spike_messages: 0,
        ..SimConfig::default()
    })
    .unwrap();
    for server in sim.servers() {
        for stream in ["outbound", "broadcast", "password-resets"] {
            for day in 0..31 {
                let date = (sim.now() - chrono::Duration::days(day)).format("%Y-%m-%d");
                let path = format!(
                    "/messages/outbound?count=500&offset=0&messagestream={stream}&fromdate={date}&todate={date}"
                );
                let r = get(&sim, &path, &[(SERVER, &server.token)]);
                assert_eq!(r.status, 200, "{path}: {}", r.text);
            }
        }
    }
}
