//! Hostile and broken answers, served on loopback by a small server in front of the simulator:
//! no token ever reaches another host, memory stays bounded whatever an answer holds, nothing is
//! lost quietly, no answer makes the tap panic or print a line a JSON reader cannot take, and
//! each failure is one clear line.

use crate::common::hostile::{
    endless_spaces, response, Bystander, Hostile, Reply, Request, Upstream,
};
use crate::common::*;
use postmark_sim::{SimConfig, Simulator};
use serde_json::{json, Value};
use std::time::Duration;

const API: i32 = 1;
const PARTIAL: i32 = 4;

/// `servers` servers whose every token and webhook password holds "canary".
fn canaries(servers: u32) -> Simulator {
    sim(SimConfig {
        secret_marker: Some("canary".into()),
        ..account(servers, 2, 40)
    })
}

/// Syncs `streams` through `hostile` (server token of the simulator's first server, or the
/// account token), within a minute.
fn sync_through(sim: &Simulator, hostile: &Hostile, account: bool, streams: &[&str]) -> Run {
    let scratch = Scratch::new();
    through(&scratch, sim, hostile, account, streams).run_within(MINUTE)
}

/// [`sync_through`], also giving the tap's peak memory (MiB): the test runs in a process of its
/// own (`own_process`).
fn sync_through_measured(
    sim: &Simulator,
    hostile: &Hostile,
    account: bool,
    streams: &[&str],
) -> (Run, f64) {
    let scratch = Scratch::new();
    through(&scratch, sim, hostile, account, streams).run_measured(MINUTE)
}

const MINUTE: Duration = Duration::from_secs(60);

fn through<'a>(
    scratch: &'a Scratch,
    sim: &Simulator,
    hostile: &Hostile,
    account: bool,
    streams: &[&str],
) -> Tap<'a> {
    let mut config = config_for(sim, account, sim.now() - chrono::Duration::days(3));
    config["base_url"] = json!(hostile.base_url());
    config["max_attempts"] = json!(2);
    scratch.tap(&config).selecting(streams)
}

/// The run failed with `code` and one CRITICAL line holding every needle; no panic, no token.
fn assert_fails(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(run.code, code, "exit code; stderr:\n{}", run.stderr);
    let critical = the_critical_line(&run.stderr);
    for needle in needles {
        assert!(critical.contains(needle), "{critical:?} lacks {needle:?}");
    }
    assert!(!run.stderr.contains("panicked at"), "{}", run.stderr);
    assert!(!run.stderr.contains("canary") && !run.stdout.contains("canary"));
}

/// The tap's peak resident memory (MiB) stayed within bounds.
fn assert_bounded_memory(rss: f64) {
    eprintln!("peak RSS {rss:.1} MiB");
    assert!(rss < 100.0, "peak RSS {rss:.0} MiB");
}

fn is_search(r: &Request) -> bool {
    r.path == "/messages/outbound"
}

/// Which requests a rule answers.
type Pick = fn(&Request) -> bool;

/// A message's details: an answer parsed as it is read, not read whole first.
fn is_details(r: &Request) -> bool {
    r.path.starts_with("/messages/outbound/") && r.path.ends_with("/details")
}

/// The answers an oversized body is tried on: which requests, the stream that makes them, and
/// what the error names. A search page is read whole and then parsed; a message's details are
/// parsed as they are read.
const OVERSIZED: [(Pick, &str, &str); 2] = [
    (is_search, "messages_outbound", "/messages/outbound"),
    (is_details, "messages_outbound_details", "/details"),
];

/// A hostile server answering the requests `pick` keeps with `answer`, and passing every other
/// request to the simulator.
fn answering(
    sim: &Simulator,
    pick: Pick,
    answer: impl Fn(&Request, &Upstream) -> Reply + Send + Sync + 'static,
) -> Hostile {
    Hostile::start(Some(sim.base_url()), move |r, up| {
        if pick(r) {
            answer(r, up)
        } else {
            Reply::Forward
        }
    })
}

/// [`answering`] every outbound search.
fn answering_searches(
    sim: &Simulator,
    answer: impl Fn(&Request, &Upstream) -> Reply + Send + Sync + 'static,
) -> Hostile {
    answering(sim, is_search, answer)
}

#[test]
fn redirects_are_never_followed_with_a_token() {
    let sim = canaries(1);
    let elsewhere = Bystander::start();
    let port = elsewhere.port;
    for status in [301, 302, 307, 308] {
        let hostile = Hostile::start(Some(sim.base_url()), move |r, _| {
            if r.path == "/server" || is_search(r) {
                let to = format!("http://127.0.0.1:{port}{}", r.path);
                Reply::Raw(
                    format!("HTTP/1.1 {status} Moved\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .into_bytes(),
                )
            } else {
                Reply::Forward
            }
        });
        let run = sync_through(&sim, &hostile, false, &["messages_outbound"]);
        let host = format!("host 127.0.0.1:{port}");
        assert_fails(&run, API, &["redirect", &format!("HTTP {status}"), &host]);
    }
    assert_eq!(elsewhere.hits(), 0, "a request reached the other host");
}

#[test]
fn a_redirect_of_one_server_fails_that_server_only() {
    let sim = canaries(2);
    let elsewhere = Bystander::start();
    let port = elsewhere.port;
    let first = sim.servers()[0].token.clone();
    let hostile = Hostile::start(Some(sim.base_url()), move |r, _| {
        if is_search(r) && r.header("X-Postmark-Server-Token") == Some(first.as_str()) {
            let head = format!("HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/x?y\r\nContent-Length: 0\r\n\r\n");
            Reply::Raw(head.into_bytes())
        } else {
            Reply::Forward
        }
    });
    let run = sync_through(&sim, &hostile, true, &["messages_outbound"]);
    let first_id = sim.servers()[0].id.to_string();
    assert_fails(
        &run,
        PARTIAL,
        &["1 of 2 servers failed", &first_id, "redirect"],
    );
    let second = sim.servers()[1].id;
    assert!(run
        .records("messages_outbound")
        .any(|r| r["ServerID"] == second));
    assert_eq!(elsewhere.hits(), 0, "a request reached the other host");
}

/// A gzip body of `len` spaces: JSON whitespace, so a parser reading as it goes reads on.
fn gzip_spaces(len: usize) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b' '; 1 << 20];
    for _ in 0..len >> 20 {
        gz.write_all(&block).unwrap();
    }
    gz.finish().unwrap()
}

#[test]
fn a_gzip_bomb_is_refused_within_bounded_memory() {
    if !own_process("hostile::a_gzip_bomb_is_refused_within_bounded_memory") {
        return;
    }
    let sim = canaries(1);
    let bomb = std::sync::Arc::new(gzip_spaces(1 << 30));
    assert!(bomb.len() < 4 << 20);
    // Every answer of the kind tried (all in flight at once) is a bomb; for searches, outbound
    // and opens both.
    let searches = |r: &Request| r.path.starts_with("/messages/outbound") && !is_details(r);
    let tried: [(Pick, &[&str], &str); 2] = [
        (
            searches,
            &["messages_outbound", "messages_opens"],
            "/messages/outbound",
        ),
        (is_details, &["messages_outbound_details"], "/details"),
    ];
    for (pick, streams, path) in tried {
        let bomb = std::sync::Arc::clone(&bomb);
        let hostile = answering(&sim, pick, move |_, _| {
            let mut head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                bomb.len()
            )
            .into_bytes();
            head.extend_from_slice(&bomb);
            Reply::Raw(head)
        });
        let (run, rss) = sync_through_measured(&sim, &hostile, false, streams);
        assert_fails(&run, API, &[path, "larger than", "max_response_mb"]);
        assert_bounded_memory(rss);
    }
}

#[test]
fn an_answer_announced_too_large_is_refused_before_it_is_read() {
    if !own_process("hostile::an_answer_announced_too_large_is_refused_before_it_is_read") {
        return;
    }
    let sim = canaries(1);
    for (pick, stream, path) in OVERSIZED {
        let hostile = answering(&sim, pick, |_, _| {
            let headers = "Content-Length: 2147483648\r\n";
            endless_spaces(headers, 1 << 31, Duration::from_secs(20))
        });
        let started = std::time::Instant::now();
        let (run, rss) = sync_through_measured(&sim, &hostile, false, &[stream]);
        assert_fails(
            &run,
            API,
            &[path, "announced as 2147483648 bytes", "max_response_mb"],
        );
        assert!(started.elapsed() < Duration::from_secs(15));
        assert_bounded_memory(rss);
    }
}

#[test]
fn an_endless_chunked_answer_stops_at_the_bound() {
    if !own_process("hostile::an_endless_chunked_answer_stops_at_the_bound") {
        return;
    }
    let sim = canaries(1);
    for (pick, stream, path) in OVERSIZED {
        let hostile = answering(&sim, pick, |_, _| {
            let headers = "Transfer-Encoding: chunked\r\n";
            endless_spaces(headers, 4 << 30, Duration::from_secs(30))
        });
        let (run, rss) = sync_through_measured(&sim, &hostile, false, &[stream]);
        assert_fails(&run, API, &[path, "larger than", "max_response_mb"]);
        assert_bounded_memory(rss);
    }
}

/// The simulator's search answer with `edit` applied to every record.
fn edited_search(
    r: &Request,
    up: &Upstream,
    edit: fn(&mut serde_json::Map<String, Value>),
) -> Reply {
    let mut answer = up.json(r);
    for m in answer["Messages"].as_array_mut().into_iter().flatten() {
        edit(m.as_object_mut().unwrap());
    }
    Reply::Json(200, answer)
}

#[test]
fn records_without_their_key_stop_the_run_instead_of_merging() {
    let sim = canaries(1);
    for (edit, problem) in [
        (
            (|m: &mut serde_json::Map<String, Value>| {
                m.remove("MessageID");
            }) as fn(&mut serde_json::Map<String, Value>),
            "has no MessageID",
        ),
        (
            |m| {
                m.insert("MessageID".into(), Value::Null);
            },
            "has a null MessageID",
        ),
    ] {
        let hostile = answering_searches(&sim, move |r, up| edited_search(r, up, edit));
        let run = sync_through(&sim, &hostile, false, &["messages_outbound"]);
        assert_fails(&run, API, &["messages_outbound record", problem, "window"]);
        assert_eq!(run.records("messages_outbound").count(), 0);
    }
}

#[test]
fn a_key_written_twice_in_a_record_is_refused() {
    let sim = canaries(1);
    let hostile = answering_searches(&sim, |r, up| {
        let text = String::from_utf8(up.fetch(r).1).unwrap();
        Reply::Text(text.replace("\"MessageID\":", "\"MessageID\":\"dup\",\"MessageID\":"))
    });
    let run = sync_through(&sim, &hostile, false, &["messages_outbound"]);
    assert_fails(&run, API, &["has MessageID more than once"]);
}

#[test]
fn pages_that_repeat_records_are_read_again_then_fail_loudly() {
    let sim = canaries(1);
    // Every page of every window: the same 500 messages, of 1,500 announced.
    let hostile = answering_searches(&sim, |_, _| {
        let messages: Vec<Value> = (0..500)
            .map(|i| json!({"MessageID": format!("m{i}"), "ReceivedAt": "2020-01-01T00:00:00-05:00"}))
            .collect();
        Reply::Json(200, json!({"TotalCount": 1500, "Messages": messages}))
    });
    let run = sync_through(&sim, &hostile, false, &["messages_outbound"]);
    assert_fails(&run, API, &["kept changing"]);
    assert!(run
        .stderr
        .contains("1500 records announced, 1500 received, 500 distinct"));
}

#[test]
fn a_record_nested_too_deep_is_refused_and_never_copied_to_stdout() {
    let sim = canaries(1);
    let hostile = answering_searches(&sim, |r, up| {
        let answer = up.json(r);
        let Some(first) = answer["Messages"].get(0) else {
            return Reply::Json(200, answer);
        };
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let record = first
            .to_string()
            .replacen('{', &format!("{{\"Deep\":{deep},"), 1);
        Reply::Text(format!(r#"{{"TotalCount":1,"Messages":[{record}]}}"#))
    });
    let run = sync_through(&sim, &hostile, false, &["messages_outbound"]);
    assert_fails(&run, API, &["not JSON", "nested 128 levels deep or more"]);
    assert!(!run.stdout.contains("[[[["));
}

#[test]
fn errors_say_what_was_wrong() {
    let sim = canaries(1);
    type Rule = fn(&Request, &Upstream) -> Reply;
    let cases: Vec<(Rule, &str)> = vec![
        (
            |r, up| {
                if is_search(r) {
                    let mut a = up.json(r);
                    a["TotalCount"] = json!(-5);
                    Reply::Json(200, a)
                } else {
                    Reply::Forward
                }
            },
            "has a TotalCount of -5, which is not a count",
        ),
        (
            |r, _| {
                if is_search(r) {
                    Reply::Raw(response(200, "text/html", b"<html>busy</html>"))
                } else {
                    Reply::Forward
                }
            },
            "not JSON (17 bytes: expected value at line 1 column 1)",
        ),
        (
            |r, up| {
                if r.path == "/server" {
                    let text = String::from_utf8(up.fetch(r).1).unwrap();
                    Reply::Text(text.replacen("{", "{\"ID\": 1,", 1))
                } else {
                    Reply::Forward
                }
            },
            "Postmark's /server answer has ID more than once",
        ),
        (
            |r, up| {
                if r.path == "/templates" {
                    let mut a = up.json(r);
                    a["TotalCount"] = json!(1e20);
                    Reply::Json(200, a)
                } else {
                    Reply::Forward
                }
            },
            "/templates answer has a TotalCount of 1e+20",
        ),
    ];
    for (rule, needle) in cases {
        let hostile = Hostile::start(Some(sim.base_url()), rule);
        let run = sync_through(&sim, &hostile, false, &["messages_outbound", "templates"]);
        assert_fails(&run, API, &[needle]);
    }
}

#[test]
fn a_server_token_that_is_no_header_value_is_refused() {
    let sim = canaries(1);
    let hostile = Hostile::start(Some(sim.base_url()), |r, up| {
        if r.path == "/servers" {
            let mut a = up.json(r);
            a["Servers"][0]["ApiTokens"] = json!(["canary\r\nX-Other: 1"]);
            Reply::Json(200, a)
        } else {
            Reply::Forward
        }
    });
    let run = sync_through(&sim, &hostile, true, &["messages_outbound"]);
    assert_fails(&run, API, &["API token of server", "not printable ASCII"]);
}
