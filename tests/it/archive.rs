//! The archive streams: `messages_outbound_details`, `messages_inbound_details` and
//! `bounce_dumps` read one request per found record, and `message_events` with
//! `messages_outbound_details` share one `/details` request per message.

use crate::common;
use crate::common::*;
use chrono::Duration;
use postmark_sim::Simulator;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn two_servers() -> Simulator {
    sim(account(2, 2, 40))
}

/// A valid sync of `streams` against a fresh simulator (its request log holds that sync's).
fn synced(streams: &[&str]) -> (Simulator, Run) {
    let sim = two_servers();
    let scratch = Scratch::new();
    let config = config_for(&sim, true, sim.now() - Duration::days(3));
    sim.clear_request_log();
    let run = scratch.tap(&config).selecting(streams).sync();
    (sim, run)
}

/// Every record of `stream`, by its key, as JSON text.
fn by_key(run: &Run, stream: &str, keys: &[&str]) -> BTreeMap<String, Value> {
    run.records(stream)
        .map(|r| {
            let key: Vec<String> = keys.iter().map(|k| r[*k].to_string()).collect();
            (key.join("|"), r.clone())
        })
        .collect()
}

fn details_requests(sim: &Simulator) -> Vec<String> {
    sim.request_log()
        .into_iter()
        .filter(|e| e.path.starts_with("/messages/outbound/") && e.path.ends_with("/details"))
        .map(|e| e.path)
        .collect()
}

#[test]
fn message_events_and_outbound_details_share_each_details_request() {
    let sim = two_servers();
    let scratch = Scratch::new();
    let config = config_for(&sim, true, sim.now() - Duration::days(3));
    let mut runs = Vec::new();
    for streams in [
        &["message_events"][..],
        &["messages_outbound_details"],
        &["message_events", "messages_outbound_details"],
    ] {
        sim.clear_request_log();
        let run = scratch.tap(&config).selecting(streams).sync();
        let paths = details_requests(&sim);
        let distinct: BTreeSet<&String> = paths.iter().collect();
        assert_eq!(
            paths.len(),
            distinct.len(),
            "{streams:?}: a message read twice"
        );
        runs.push((run, distinct.len()));
    }
    let (alone_events, n_events) = &runs[0];
    let (alone_details, n_details) = &runs[1];
    let (both, n_both) = &runs[2];
    assert!(*n_both > 0);
    assert_eq!(n_events, n_details);
    assert_eq!(n_both, n_details, "both streams: one request per message");
    let event_keys = ["ServerID", "MessageID", "Recipient", "Type", "ReceivedAt"];
    let detail_keys = ["ServerID", "MessageID"];
    // The same records as each stream read alone (extraction times aside).
    assert_eq!(
        by_key(both, "message_events", &event_keys),
        by_key(alone_events, "message_events", &event_keys)
    );
    let details = by_key(both, "messages_outbound_details", &detail_keys);
    assert_eq!(
        details,
        by_key(alone_details, "messages_outbound_details", &detail_keys)
    );
    assert_eq!(details.len(), *n_both);
    assert!(details.values().all(|r| r.get("MessageEvents").is_none()));
    // Both streams are bookmarked, and each has its summary.
    let state = both.last_state().unwrap();
    for stream in ["message_events", "messages_outbound_details"] {
        assert!(
            state["bookmarks"][stream].is_object(),
            "{stream} not bookmarked"
        );
        assert!(
            both.stderr.contains(&format!(
                "summary: {stream}: {} records",
                both.records(stream).count()
            )),
            "{stream}: no summary"
        );
    }
}

#[test]
fn bounce_dumps_read_only_bounces_with_a_dump() {
    let (sim, run) = synced(&["bounces", "bounce_dumps"]);
    let with_dump: BTreeSet<String> = run
        .records("bounces")
        .filter(|b| b["DumpAvailable"] == true)
        .map(|b| format!("{}|{}", b["ServerID"], b["ID"]))
        .collect();
    let dumps: BTreeSet<String> = run
        .records("bounce_dumps")
        .map(|d| format!("{}|{}", d["ServerID"], d["ID"]))
        .collect();
    assert!(!with_dump.is_empty());
    assert_eq!(dumps, with_dump);
    let requests = sim
        .request_log()
        .iter()
        .filter(|e| e.path.starts_with("/bounces/") && e.path.ends_with("/dump"))
        .count();
    assert_eq!(requests, with_dump.len());
    for d in run.records("bounce_dumps") {
        assert!(
            d["BouncedAt"].is_string() && d["MessageStream"].is_string(),
            "{d}"
        );
    }
}

#[test]
fn inbound_details_follow_the_inbound_search() {
    let (_sim, run) = synced(&["messages_inbound", "messages_inbound_details"]);
    let keys = ["ServerID", "MessageID"];
    let found: BTreeSet<String> = by_key(&run, "messages_inbound", &keys)
        .into_keys()
        .collect();
    let details: BTreeSet<String> = by_key(&run, "messages_inbound_details", &keys)
        .into_keys()
        .collect();
    assert!(!found.is_empty());
    assert_eq!(details, found);
}

/// Attachment content never reaches stdout, should Postmark ever send it: not an attachment's
/// `Content`, nor an inbound message's raw source (`RawEmail`), which holds the attachments.
#[test]
fn attachment_content_is_never_emitted() {
    use crate::common::hostile::{Hostile, Reply};
    use serde_json::json;
    const CONTENT: &str = "QVRUQUNITUVOVC1DT05URU5U";
    let sim = two_servers();
    let hostile = Hostile::start(Some(sim.base_url()), |r, up| {
        if !r.path.ends_with("/details") {
            return Reply::Forward;
        }
        let mut answer = up.json(r);
        let attachment = json!({"Name": "invoice.pdf", "ContentType": "application/pdf",
            "ContentID": "", "ContentLength": 18, "Content": CONTENT});
        answer["Attachments"] = json!([attachment]);
        if r.path.starts_with("/messages/inbound/") {
            answer["RawEmail"] = json!(format!("MIME-Version: 1.0\r\n\r\n{CONTENT}\r\n"));
        }
        Reply::Json(200, answer)
    });
    let scratch = Scratch::new();
    let mut config = config_for(&sim, true, sim.now() - Duration::days(3));
    config["base_url"] = serde_json::json!(hostile.base_url());
    let streams = ["messages_outbound_details", "messages_inbound_details"];
    let run = scratch.tap(&config).selecting(&streams).sync();
    assert!(!run.stdout.contains(CONTENT) && !run.stderr.contains(CONTENT));
    for stream in streams {
        let records: Vec<&Value> = run.records(stream).collect();
        assert!(!records.is_empty(), "{stream}: no records");
        for r in records {
            assert_eq!(r["Attachments"][0]["Name"], "invoice.pdf", "{stream}: {r}");
            assert_eq!(r["Attachments"][0]["ContentLength"], 18, "{stream}: {r}");
            assert!(r.get("RawEmail").is_none(), "{stream}: {r}");
        }
    }
    // Removed on purpose, not dropped as undeclared with advice to declare them.
    for needle in ["RawEmail", ".Content", "undeclared"] {
        assert!(!run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
}

/// Account mode, every stream the tap reads only when selected: each equals the simulator's
/// ground truth on every server.
#[test]
fn every_per_record_stream_is_complete_in_account_mode() {
    let sim = two_servers();
    let scratch = Scratch::new();
    let start = sim.now() - Duration::days(3);
    let streams = common::table::names(|d| !d.selected_by_default);
    assert!(streams.len() >= 4, "{streams:?}");
    let run = scratch
        .tap(&config_for(&sim, true, start))
        .selecting(&streams)
        .sync();
    for stream in &streams {
        let n = assert_complete(&run, &sim, stream, start, synced_until(&run, &sim, stream));
        assert!(n > 0, "{stream}: no records in ground truth");
        let servers: BTreeSet<u64> = run
            .records(stream)
            .map(|r| r["ServerID"].as_u64().unwrap())
            .collect();
        assert_eq!(servers.len(), sim.servers().len(), "{stream}: servers");
    }
}

/// The content the per-record streams emit is the simulator's answer, field for field: bodies,
/// raw sources, headers, attachment descriptions (timestamps aside, which the tap writes in UTC).
#[test]
fn content_equals_what_the_simulator_answers() {
    let (sim, run) = synced(&[
        "messages_outbound_details",
        "messages_inbound_details",
        "bounce_dumps",
    ]);
    let fields: [(&str, &str, &[&str]); 3] = [
        (
            "messages_outbound_details",
            "MessageID",
            &[
                "TextBody",
                "HtmlBody",
                "Body",
                "Attachments",
                "Subject",
                "To",
            ],
        ),
        (
            "messages_inbound_details",
            "MessageID",
            &[
                "TextBody",
                "HtmlBody",
                "StrippedTextReply",
                "Headers",
                "Attachments",
                "BlockedReason",
            ],
        ),
        ("bounce_dumps", "ID", &["Body"]),
    ];
    for (stream, key, names) in fields {
        let mut checked = 0;
        let mut bytes = 0;
        for r in run.records(stream) {
            let id = r[key].to_string().trim_matches('"').to_string();
            let server = r["ServerID"].as_u64().unwrap();
            let answer = sim
                .expected_answer(server, stream, &id)
                .unwrap_or_else(|| panic!("{stream} {id}: the simulator has no answer"));
            for name in names {
                assert_eq!(r[*name], answer[*name], "{stream} {id} {name}");
            }
            bytes += r["Body"].as_str().map_or(0, str::len);
            checked += 1;
        }
        assert!(checked > 0, "{stream}: no records");
        eprintln!("{stream}: {checked} records, {bytes} bytes of Body, equal to the answers");
    }
}

/// A body of `len` bytes that differs from message to message and needs escaping in JSON.
fn big_body(id: &str, len: usize) -> String {
    let unit = format!("<p class=\"m\">{id}</p>\n");
    unit.repeat(len / unit.len() + 1)[..len].to_string()
}

/// Bodies of several MiB, on every message, arrive whole, and memory holds at most the
/// pipeline's window of them (twice the requests in flight, about 29 MiB here), never all of
/// them (over 100 MiB). Such answers are parsed as they are read, one at a time, so their text
/// is never held beside their parsed value.
#[test]
fn bodies_of_several_mib_arrive_whole_within_bounded_memory() {
    if !own_process("archive::bodies_of_several_mib_arrive_whole_within_bounded_memory") {
        return;
    }
    use crate::common::hostile::{Hostile, Reply};
    const LEN: usize = 3 << 20;
    let sim = sim(account(1, 2, 20));
    let hostile = Hostile::start(Some(sim.base_url()), |r, up| {
        if !(r.path.starts_with("/messages/outbound/") && r.path.ends_with("/details")) {
            return Reply::Forward;
        }
        let mut answer = up.json(r);
        let id = answer["MessageID"].as_str().unwrap_or_default().to_string();
        answer["HtmlBody"] = Value::String(big_body(&id, LEN));
        Reply::Json(200, answer)
    });
    let scratch = Scratch::new();
    let mut config = config_for(&sim, true, sim.now() - Duration::days(3));
    config["base_url"] = serde_json::json!(hostile.base_url());
    config["max_concurrent_requests"] = serde_json::json!(4);
    let (run, rss) = scratch
        .tap(&config)
        .selecting(&["messages_outbound_details"])
        .run_measured(std::time::Duration::from_secs(120));
    run.assert_ok();
    let mut records = 0;
    for r in run.records("messages_outbound_details") {
        let id = r["MessageID"].as_str().unwrap();
        assert!(r["HtmlBody"].as_str() == Some(&big_body(id, LEN)), "{id}");
        records += 1;
    }
    assert!(records >= 30, "{records} records");
    eprintln!("peak RSS {rss:.1} MiB for {records} bodies of {LEN} bytes");
    assert!(rss < 50.0, "peak RSS {rss:.1} MiB");
}
