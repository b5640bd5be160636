//! Message content: body sizes follow the documented distribution and the knobs, the same seed
//! gives the same bytes, the outbound raw source is the dump and carries the bodies, headers and
//! content-less attachment parts, inbound details and bounce dumps look as Postmark's do, and
//! `expected_answer` is the HTTP answer.

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use postmark_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::common::{get, get_json, sget, SERVER};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

fn small() -> SimConfig {
    SimConfig {
        now: Some(now()),
        ..SimConfig::small()
    }
}

/// Keys (first column) of `stream`'s ground truth on `server` over everything retained.
fn keys(sim: &Simulator, server: u64, stream: &str) -> Vec<String> {
    let t = sim.now();
    sim.ground_truth(
        server,
        stream,
        t - Duration::days(400),
        t + Duration::days(1),
    )
    .unwrap()
    .into_iter()
    .map(|k| k[0].clone())
    .collect()
}

/// About `n` of `keys`, evenly spread.
fn sample(keys: &[String], n: usize) -> Vec<String> {
    let step = (keys.len() / n.max(1)).max(1);
    keys.iter().step_by(step).cloned().collect()
}

/// Size of a details answer's main body: the HTML one, else the text one.
fn main_body(v: &Value) -> usize {
    v["HtmlBody"]
        .as_str()
        .or(v["TextBody"].as_str())
        .map_or(0, str::len)
}

fn decode_qp(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'=' {
            out.push(b[i]);
            i += 1;
        } else if b[i + 1] == b'\r' {
            i += 3;
        } else {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        }
    }
    String::from_utf8(out).unwrap()
}

fn decode_b64(text: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | A.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// A header's value (continuation lines joined), from a header block.
fn header(head: &str, name: &str) -> Option<String> {
    let unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ");
    unfolded.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(": ")?;
        k.eq_ignore_ascii_case(name).then(|| v.to_string())
    })
}

/// Every header of a block with that name.
fn headers_named(head: &str, name: &str) -> Vec<String> {
    let unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ");
    unfolded
        .split("\r\n")
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_string())
        .collect()
}

/// RFC 2047 `=?UTF-8?B?…?=` words decoded (plain text unchanged).
fn decode_words(v: &str) -> String {
    if !v.starts_with("=?UTF-8?B?") {
        return v.to_string();
    }
    let bytes: Vec<u8> = v
        .split(' ')
        .flat_map(|w| decode_b64(w.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=")))
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// The leaf parts of a MIME entity: (headers, decoded content).
fn leaves(head: &str, body: &str) -> Vec<(String, String)> {
    let ct = header(head, "Content-Type").unwrap();
    if let Some(rest) = ct.strip_prefix("multipart/") {
        let b = rest
            .split("boundary=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        let mut chunks: Vec<&str> = body.split(&format!("--{b}")).collect();
        assert!(
            chunks.pop().unwrap().starts_with("--\r\n"),
            "closing delimiter"
        );
        return chunks[1..]
            .iter()
            .flat_map(|c| {
                let c = c
                    .strip_prefix("\r\n")
                    .unwrap()
                    .strip_suffix("\r\n")
                    .unwrap();
                let (h, content) = c.split_once("\r\n\r\n").unwrap();
                leaves(&format!("{h}\r\n"), content)
            })
            .collect();
    }
    let content =
        if header(head, "Content-Transfer-Encoding").as_deref() == Some("quoted-printable") {
            assert!(body.split("\r\n").all(|l| l.len() <= 76 && l.is_ascii()));
            decode_qp(body)
        } else {
            body.to_string()
        };
    vec![(head.to_string(), content)]
}

#[test]
fn body_sizes_follow_the_distribution() {
    let sim = Simulator::start(SimConfig {
        now: Some(now()),
        ..SimConfig::default()
    })
    .unwrap();
    let (mut sizes, mut n) = (Vec::new(), 0);
    for server in sim.servers() {
        let all = keys(&sim, server.id, "messages_outbound_details");
        n += all.len();
        for id in sample(&all, 1500) {
            let v = sim
                .expected_answer(server.id, "messages_outbound_details", &id)
                .unwrap();
            sizes.push(main_body(&v));
        }
    }
    let kib = |x: usize| x as f64 / 1024.0;
    let count = |lo: f64, hi: f64| {
        sizes
            .iter()
            .filter(|&&s| kib(s) >= lo && kib(s) < hi)
            .count()
    };
    let total = sizes.len() as f64;
    let (small, medium, large) = (count(0.0, 20.0), count(20.0, 200.0), count(200.0, 1100.0));
    let huge = count(500.0, 1100.0);
    let avg = sizes.iter().sum::<usize>() as f64 / total;
    println!(
        "{} of {n} messages: <20 KiB {small}, 20–200 KiB {medium}, ≥200 KiB {large} (≥500 KiB {huge}), average {:.1} KiB, largest {:.0} KiB",
        sizes.len(),
        kib(avg as usize),
        kib(*sizes.iter().max().unwrap())
    );
    assert!(sizes.len() > 4000);
    assert!((0.86..0.94).contains(&(small as f64 / total)), "{small}");
    assert!((0.06..0.13).contains(&(medium as f64 / total)), "{medium}");
    assert!(large >= 5 && huge >= 1, "{large} {huge}");
    assert!(sizes.iter().all(|&s| s <= 1024 * 1024 + 16 * 1024));
    assert!((8.0..25.0).contains(&kib(avg as usize)), "average {avg}");
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (a, b) = (
        Simulator::start(small()).unwrap(),
        Simulator::start(small()).unwrap(),
    );
    let server = a.servers()[0].id;
    let token = |s: &Simulator| s.servers()[0].token.clone();
    let mut paths = Vec::new();
    for id in sample(&keys(&a, server, "messages_outbound_details"), 40) {
        paths.push(format!("/messages/outbound/{id}/details"));
        paths.push(format!("/messages/outbound/{id}/dump"));
    }
    for id in sample(&keys(&a, server, "messages_inbound_details"), 20) {
        paths.push(format!("/messages/inbound/{id}/details"));
    }
    for id in keys(&a, server, "bounces") {
        paths.push(format!("/bounces/{id}/dump"));
        paths.push(format!("/bounces/{id}"));
    }
    assert!(paths.len() > 120);
    for p in &paths {
        let (x, y) = (
            get(&a, p, &[(SERVER, &token(&a))]),
            get(&b, p, &[(SERVER, &token(&b))]),
        );
        assert_eq!(x.status, 200, "{p}");
        assert_eq!(x.text, y.text, "{p}");
    }
    let other = Simulator::start(SimConfig { seed: 7, ..small() }).unwrap();
    let id = &keys(&other, server, "messages_outbound_details")[0];
    let v = sget(&other, &format!("/messages/outbound/{id}/details"));
    assert!(v["Body"].as_str().unwrap().len() > 1000);
}

/// Checks one outbound details answer against its dump and its own fields.
fn check_outbound(sim: &Simulator, v: &Value) {
    let id = v["MessageID"].as_str().unwrap();
    let raw = v["Body"].as_str().unwrap();
    let dump = sget(sim, &format!("/messages/outbound/{id}/dump"));
    assert_eq!(dump["Body"].as_str(), Some(raw), "details Body is the dump");
    assert!(
        !raw.replace("\r\n", "").contains(['\r', '\n']),
        "lines end in CRLF"
    );
    assert!(v.get("Headers").is_none());
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let head = format!("{head}\r\n");
    assert_eq!(header(&head, "From").as_deref(), v["From"].as_str());
    assert_eq!(
        header(&head, "Message-Id"),
        Some(format!("<{id}@mtasv.net>"))
    );
    assert_eq!(header(&head, "X-PM-Message-Id").as_deref(), Some(id));
    assert_eq!(header(&head, "X-PM-Tag").as_deref(), v["Tag"].as_str());
    assert_eq!(header(&head, "MIME-Version").as_deref(), Some("1.0"));
    assert_eq!(
        decode_words(&header(&head, "Subject").unwrap()),
        v["Subject"].as_str().unwrap()
    );
    assert_eq!(headers_named(&head, "DKIM-Signature").len(), 2);
    assert!(header(&head, "Received").unwrap().contains("mtasv.net"));
    let date = DateTime::parse_from_rfc2822(&header(&head, "Date").unwrap()).unwrap();
    let received = DateTime::parse_from_rfc3339(v["ReceivedAt"].as_str().unwrap()).unwrap();
    assert_eq!(date.timestamp(), received.timestamp());
    assert_eq!(date.offset(), received.offset(), "Eastern");
    for (k, val) in v["Metadata"].as_object().unwrap() {
        let h = header(&head, &format!("X-PM-Metadata-{k}")).unwrap();
        assert_eq!(decode_words(&h), val.as_str().unwrap());
    }
    let broadcast = ["broadcast", "welcome-series"].contains(&v["MessageStream"].as_str().unwrap());
    assert_eq!(header(&head, "List-Unsubscribe").is_some(), broadcast);
    let to = header(&head, "To").unwrap();
    for a in v["To"].as_array().unwrap() {
        assert!(to.contains(a["Email"].as_str().unwrap()));
    }
    check_parts(v, &leaves(&head, body));
}

/// The text and HTML parts are the bodies, encoded; attachment parts hold nothing.
fn check_parts(v: &Value, parts: &[(String, String)]) {
    let id = v["MessageID"].as_str().unwrap();
    let text = |html: bool| {
        let t = if html { "text/html" } else { "text/plain" };
        let found: Vec<&String> = parts
            .iter()
            .filter(|(h, _)| header(h, "Content-Type").unwrap().starts_with(t))
            .filter(|(h, _)| header(h, "Content-Disposition").is_none())
            .map(|(_, c)| c)
            .collect();
        assert!(found.len() <= 1);
        found.first().map(|s| s.to_string())
    };
    assert_eq!(
        text(true).as_deref(),
        v["HtmlBody"].as_str(),
        "{id} HTML part"
    );
    assert_eq!(
        text(false).as_deref(),
        v["TextBody"].as_str(),
        "{id} text part"
    );
    let attachments: Vec<&(String, String)> = parts
        .iter()
        .filter(|(h, _)| {
            header(h, "Content-Disposition").is_some_and(|d| d.starts_with("attachment;"))
        })
        .collect();
    assert_eq!(
        attachments.len(),
        v["Attachments"].as_array().unwrap().len()
    );
    for ((h, content), name) in attachments.iter().zip(v["Attachments"].as_array().unwrap()) {
        assert!(content.is_empty(), "no attachment bytes: {content}");
        let name = name.as_str().unwrap();
        let d = header(h, "Content-Disposition").unwrap();
        assert!(
            !name.is_ascii() || d.contains(&format!("filename=\"{name}\"")),
            "{d}"
        );
    }
}

#[test]
fn outbound_body_is_the_dump_and_carries_bodies_and_headers() {
    let sim = Simulator::start(small()).unwrap();
    let server = sim.servers()[0].id;
    let (mut with_attachments, mut text_null, mut html_null, mut encoded) = (0, 0, 0, 0);
    for id in sample(&keys(&sim, server, "messages_outbound_details"), 250) {
        let v = sget(&sim, &format!("/messages/outbound/{id}/details"));
        check_outbound(&sim, &v);
        with_attachments += usize::from(!v["Attachments"].as_array().unwrap().is_empty());
        text_null += usize::from(v["TextBody"].is_null());
        html_null += usize::from(v["HtmlBody"].is_null());
        encoded += usize::from(v["Body"].as_str().unwrap().contains("Subject: =?UTF-8?B?"));
        let html = v["HtmlBody"].as_str().unwrap_or("<html>&amp;");
        assert!(html.contains("<html") && html.contains("&"), "{html}");
        assert!(!v["TextBody"].as_str().unwrap_or("").contains("</"));
    }
    println!("attachments {with_attachments}, no text {text_null}, no HTML {html_null}, encoded subjects {encoded}");
    assert!(with_attachments > 5 && text_null > 30 && encoded > 10);
}

#[test]
fn inbound_details_add_content_to_the_search_record() {
    let sim = Simulator::start(SimConfig {
        now: Some(now()),
        ..SimConfig::default()
    })
    .unwrap();
    let token = sim.servers()[0].token.clone();
    let search = get_json(&sim, "/messages/inbound?count=500&offset=0", SERVER, &token);
    let (mut blocked, mut stripped, mut replies) = (0, 0, 0);
    for rec in search["InboundMessages"]
        .as_array()
        .unwrap()
        .iter()
        .take(300)
    {
        let id = rec["MessageID"].as_str().unwrap();
        let v = get_json(
            &sim,
            &format!("/messages/inbound/{id}/details"),
            SERVER,
            &token,
        );
        for (k, val) in rec.as_object().unwrap() {
            assert_eq!(&v[k], val, "{id} {k}: the search record's");
        }
        for a in v["Attachments"].as_array().unwrap() {
            let mut keys: Vec<&String> = a.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(keys, ["ContentID", "ContentLength", "ContentType", "Name"]);
        }
        let text = v["TextBody"].as_str().unwrap();
        assert!(text.len() > 200);
        if let Some(s) = v["StrippedTextReply"].as_str() {
            assert!(text.starts_with(s) && text.contains("wrote:\r\n\r\n> "));
            stripped += 1;
        }
        let blocked_now = v["Status"] == "Blocked";
        assert_eq!(v["BlockedReason"].is_string(), blocked_now);
        blocked += usize::from(blocked_now);
        let names: Vec<&str> = v["Headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["Name"].as_str().unwrap())
            .collect();
        for n in [
            "Return-Path",
            "Received",
            "X-Spam-Status",
            "X-Spam-Score",
            "Message-ID",
            "MIME-Version",
            "DKIM-Signature",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let reply = v["Subject"].as_str().unwrap().starts_with("Re:");
        assert_eq!(names.contains(&"In-Reply-To"), reply);
        replies += usize::from(reply);
    }
    println!("blocked {blocked}, stripped {stripped}, replies {replies}");
    assert!(blocked > 3 && stripped > 50 && replies > 30);
}

#[test]
fn bounce_dumps_are_reports_about_the_bounced_address() {
    let sim = Simulator::start(small()).unwrap();
    let (mut with, mut without, mut reports) = (0, 0, 0);
    for server in sim.servers() {
        let bounces = get_json(&sim, "/bounces?count=500&offset=0", SERVER, &server.token);
        for b in bounces["Bounces"].as_array().unwrap() {
            let id = &b["ID"];
            let dump = get_json(&sim, &format!("/bounces/{id}/dump"), SERVER, &server.token);
            let body = dump["Body"].as_str().unwrap();
            if b["DumpAvailable"] == false {
                assert_eq!(body, "");
                without += 1;
                continue;
            }
            with += 1;
            assert!((1000..16_000).contains(&body.len()), "{}", body.len());
            assert!(body.contains(b["Email"].as_str().unwrap()));
            assert!(body.contains(&format!("<{}@mtasv.net>", b["MessageID"].as_str().unwrap())));
            let (head, _) = body.split_once("\r\n\r\n").unwrap();
            let ct = header(&format!("{head}\r\n"), "Content-Type").unwrap();
            match b["Type"].as_str().unwrap() {
                "SpamComplaint" => assert!(
                    ct.contains("report-type=feedback-report")
                        && body.contains("Feedback-Type: abuse")
                ),
                "AutoResponder" => assert!(body.contains("Auto-Submitted: auto-replied")),
                _ => {
                    reports += 1;
                    assert!(ct.contains("report-type=delivery-status"), "{ct}");
                    let status = header(body, "Status").unwrap();
                    assert!(status.split('.').count() == 3, "{status}");
                    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
                    let details = words(b["Details"].as_str().unwrap());
                    let diag = words(&header(body, "Diagnostic-Code").unwrap());
                    assert!(
                        diag.contains(details.trim_start_matches("smtp;")),
                        "{diag} / {details}"
                    );
                    assert!(header(body, "Final-Recipient")
                        .unwrap()
                        .contains(b["Email"].as_str().unwrap()));
                }
            }
        }
    }
    println!("with dump {with} (reports {reports}), without {without}");
    assert!(with > 20 && without > 2 && reports > 10);
}

#[test]
fn expected_answer_is_the_http_answer() {
    let sim = Simulator::start(SimConfig {
        retention_days: 5,
        ..small()
    })
    .unwrap();
    for server in sim.servers() {
        for (stream, path) in [
            ("messages_outbound_details", "/messages/outbound/{}/details"),
            ("messages_inbound_details", "/messages/inbound/{}/details"),
            ("bounce_dumps", "/bounces/{}/dump"),
            ("bounces", "/bounces/{}/dump"),
        ] {
            let all = keys(&sim, server.id, stream);
            let truth_stream = if stream == "bounces" {
                "bounce_dumps"
            } else {
                stream
            };
            for key in sample(&all, 30) {
                let http = get_json(&sim, &path.replace("{}", &key), SERVER, &server.token);
                assert_eq!(
                    sim.expected_answer(server.id, truth_stream, &key),
                    Some(http),
                    "{stream} {key}"
                );
            }
        }
    }
}

#[test]
fn expected_answer_is_none_where_the_endpoint_answers_not_found() {
    let sim = Simulator::start(SimConfig {
        retention_days: 5,
        ..small()
    })
    .unwrap();
    let (a, b) = (sim.servers()[0].id, sim.servers()[1].id);
    let outbound = keys(&sim, a, "messages_outbound_details");
    let inbound = keys(&sim, a, "messages_inbound_details");
    let bounce = keys(&sim, a, "bounce_dumps");
    assert_eq!(
        sim.expected_answer(b, "messages_outbound_details", &outbound[0]),
        None,
        "another server's"
    );
    assert_eq!(
        sim.expected_answer(b, "messages_inbound_details", &inbound[0]),
        None
    );
    assert_eq!(sim.expected_answer(b, "bounce_dumps", &bounce[0]), None);
    assert_eq!(
        sim.expected_answer(a, "messages_inbound_details", &outbound[0]),
        None,
        "wrong kind"
    );
    for unknown in [
        "6c9e2f0a-3b41-4c7e-9a0d-2f1e5b7c8d90",
        "nope",
        "",
        "4209999999",
    ] {
        for stream in [
            "messages_outbound_details",
            "messages_inbound_details",
            "bounce_dumps",
        ] {
            assert_eq!(
                sim.expected_answer(a, stream, unknown),
                None,
                "{stream} {unknown}"
            );
        }
    }
    assert_eq!(
        sim.expected_answer(a, "messages_outbound", &outbound[0]),
        None,
        "not a content stream"
    );
    assert_eq!(
        sim.expected_answer(99, "messages_outbound_details", &outbound[0]),
        None,
        "unknown server"
    );
    let id = &outbound[0];
    assert!(sim
        .expected_answer(a, "messages_outbound_details", id)
        .is_some());
    sim.advance(Duration::days(6));
    assert_eq!(
        sim.expected_answer(a, "messages_outbound_details", id),
        None,
        "expired"
    );
    let r = get(
        &sim,
        &format!("/messages/outbound/{id}/details"),
        &[(SERVER, &sim.servers()[0].token)],
    );
    assert_eq!(r.status, 422);
}

#[test]
fn body_knobs_scale_and_force_large_bodies() {
    let sizes = |cfg: SimConfig| -> Vec<usize> {
        let sim = Simulator::start(cfg).unwrap();
        let server = sim.servers()[0].id;
        sample(&keys(&sim, server, "messages_outbound_details"), 300)
            .iter()
            .map(|id| {
                main_body(
                    &sim.expected_answer(server, "messages_outbound_details", id)
                        .unwrap(),
                )
            })
            .collect()
    };
    let avg = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    let base = sizes(small());
    let tiny = sizes(SimConfig {
        body_size_scale: 0.0,
        ..small()
    });
    let double = sizes(SimConfig {
        body_size_scale: 2.0,
        ..small()
    });
    assert!(tiny.iter().all(|&s| s < 4096), "{:?}", tiny.iter().max());
    let ratio = avg(&double) / avg(&base);
    assert!((1.6..2.4).contains(&ratio), "{ratio}");
    let some = sizes(SimConfig {
        large_body_rate: 0.1,
        ..small()
    });
    let large = some.iter().filter(|&&s| s >= 960 * 1024).count();
    assert!((15..50).contains(&large), "{large} of {}", some.len());
    assert!(some.iter().all(|&s| s <= 1024 * 1024 + 16 * 1024));

    let sim = Simulator::start(SimConfig {
        large_body_rate: 1.0,
        ..small()
    })
    .unwrap();
    let plain = Simulator::start(small()).unwrap();
    let search = "/messages/outbound?count=100&offset=0";
    assert_eq!(
        sget(&sim, search),
        sget(&plain, search),
        "searches do not change"
    );
    let server = sim.servers()[0].id;
    let id = &keys(&sim, server, "messages_outbound_details")[5];
    let started = Instant::now();
    let v = sim
        .expected_answer(server, "messages_outbound_details", id)
        .unwrap();
    let took = started.elapsed();
    let http = sget(&sim, &format!("/messages/outbound/{id}/details"));
    assert_eq!(http, v);
    check_outbound(&sim, &v);
    println!(
        "one details answer with a {} KiB body rendered in {took:?}",
        main_body(&v) / 1024
    );
    assert!(main_body(&v) >= 960 * 1024);
    let inbound = &keys(&sim, server, "messages_inbound_details")[0];
    let v = sim
        .expected_answer(server, "messages_inbound_details", inbound)
        .unwrap();
    assert!(main_body(&v) >= 960 * 1024);
}
