//! The write API through real HTTP: every DELETE's success and not-found answers, the token
//! each needs, 405 with `Allow`, deleted items gone from lists, details, `TotalCount`s and the
//! ground truth (others untouched), the request log, and the request-body limits.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;

use chrono::Duration;
use postmark_sim::Simulator;
use serde_json::{json, Value};

use crate::common::{anchor, get, get_json, send, small_at_anchor as sim, Resp, ACCOUNT, SERVER};

/// The ground-truth keys of `stream` for `server`, one column.
fn truth(sim: &Simulator, server: u64, stream: &str) -> BTreeSet<String> {
    sim.ground_truth(server, stream, anchor() - Duration::days(60), anchor())
        .unwrap()
        .into_iter()
        .map(|k| k[0].clone())
        .collect()
}

/// Status and JSON body.
fn answer(r: &Resp) -> (u16, Value) {
    (r.status, r.json())
}

fn error(code: i64, message: &str) -> Value {
    json!({"ErrorCode": code, "Message": message})
}

fn ids(list: &Value, key: &str, id: &str) -> Vec<u64> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[id].as_u64().unwrap())
        .collect()
}

/// `DELETE path` answers 200 with `message`; from then on a GET and a second DELETE of it
/// answer 422 `not_found`.
fn removed_then_gone(
    sim: &Simulator,
    h: &[(&str, &str)],
    path: &str,
    message: String,
    not_found: &Value,
) {
    assert_eq!(
        answer(&send(sim, "DELETE", path, h, "")),
        (200, json!({"ErrorCode": 0, "Message": message})),
        "{path}"
    );
    assert_eq!(
        answer(&get(sim, path, h)),
        (422, not_found.clone()),
        "{path}"
    );
    assert_eq!(
        answer(&send(sim, "DELETE", path, h, "")),
        (422, not_found.clone()),
        "{path}"
    );
}

/// The ground truth of an ID-keyed stream as numbers.
fn truth_ids(sim: &Simulator, server: u64, stream: &str) -> Vec<u64> {
    truth(sim, server, stream)
        .iter()
        .map(|x| x.parse().unwrap())
        .collect()
}

#[test]
fn templates_delete_by_id_or_alias_and_vanish() {
    let sim = sim();
    let (s0, s1) = (sim.servers()[0].clone(), sim.servers()[1].clone());
    let h = [(SERVER, s0.token.as_str())];
    let other = get_json(&sim, "/templates?count=500&offset=0", SERVER, &s1.token);
    let before = get_json(&sim, "/templates?count=500&offset=0", SERVER, &s0.token);
    let reset = get_json(&sim, "/templates/password-reset", SERVER, &s0.token)["TemplateId"]
        .as_u64()
        .unwrap();
    let r = send(&sim, "DELETE", &format!("/templates/{reset}"), &h, "");
    let removed = json!({"ErrorCode": 0, "Message": format!("Template {reset} removed.")});
    assert_eq!(answer(&r), (200, removed));
    let gone = error(
        1101,
        "The 'TemplateId' associated with this request is not valid or was not found.",
    );
    for path in [
        format!("/templates/{reset}"),
        "/templates/password-reset".into(),
    ] {
        assert_eq!(answer(&get(&sim, &path, &h)), (422, gone.clone()), "{path}");
        assert_eq!(
            answer(&send(&sim, "DELETE", &path, &h, "")),
            (422, gone.clone())
        );
    }
    let after = get_json(&sim, "/templates?count=500&offset=0", SERVER, &s0.token);
    let mut expected = before["Templates"].as_array().unwrap().clone();
    expected.retain(|t| t["TemplateId"] != reset);
    assert_eq!(after["Templates"], Value::Array(expected));
    assert_eq!(
        after["TotalCount"],
        before["TotalCount"].as_u64().unwrap() - 1
    );
    assert!(!truth(&sim, s0.id, "templates").contains(&reset.to_string()));
    assert_eq!(truth(&sim, s0.id, "templates").len(), after["TotalCount"]);
    // By alias; the message names the ID. A layout still in use cannot go.
    let welcome = get_json(&sim, "/templates/welcome", SERVER, &s0.token)["TemplateId"].clone();
    let layout_in_use = error(
        1130,
        "The layout template cannot be deleted because dependent templates use it.",
    );
    let r = send(&sim, "DELETE", "/templates/basic-layout", &h, "");
    assert_eq!(answer(&r), (422, layout_in_use));
    let r = send(&sim, "DELETE", "/templates/WELCOME", &h, "");
    let message = format!("Template {welcome} removed.");
    assert_eq!(
        answer(&r),
        (200, json!({"ErrorCode": 0, "Message": message}))
    );
    assert_eq!(
        send(&sim, "DELETE", "/templates/receipt", &h, "").status,
        200
    );
    assert_eq!(
        send(&sim, "DELETE", "/templates/basic-layout", &h, "").status,
        200
    );
    let left = get_json(&sim, "/templates?count=500&offset=0", SERVER, &s0.token);
    assert_eq!(
        left["TotalCount"],
        before["TotalCount"].as_u64().unwrap() - 4
    );
    // The other server's templates, and an unknown ID.
    assert_eq!(
        get_json(&sim, "/templates?count=500&offset=0", SERVER, &s1.token),
        other
    );
    let r = send(&sim, "DELETE", "/templates/1", &h, "");
    assert_eq!(answer(&r), (422, gone));
}

#[test]
fn webhooks_and_inbound_rules_delete() {
    let sim = sim();
    let s0 = sim.servers()[0].clone();
    let h = [(SERVER, s0.token.as_str())];
    let hooks = ids(
        &get_json(&sim, "/webhooks", SERVER, &s0.token),
        "Webhooks",
        "ID",
    );
    let id = hooks[0];
    let not_found = error(1352, "The webhook for the provided 'ID' was not found.");
    let path = format!("/webhooks/{id}");
    removed_then_gone(
        &sim,
        &h,
        &path,
        format!("Webhook {id} removed."),
        &not_found,
    );
    assert_eq!(
        answer(&get(&sim, "/webhooks/1", &h)),
        (422, not_found.clone())
    );
    assert_eq!(
        answer(&send(&sim, "DELETE", "/webhooks/1", &h, "")),
        (422, not_found)
    );
    let left = ids(
        &get_json(&sim, "/webhooks", SERVER, &s0.token),
        "Webhooks",
        "ID",
    );
    assert_eq!(left, hooks[1..].to_vec());
    assert_eq!(truth_ids(&sim, s0.id, "webhooks"), left);

    let rules = get_json(
        &sim,
        "/triggers/inboundrules?count=500&offset=0",
        SERVER,
        &s0.token,
    );
    let (rule_id, rule) = (
        &rules["InboundRules"][0]["ID"],
        &rules["InboundRules"][0]["Rule"],
    );
    let path = format!("/triggers/inboundrules/{rule_id}");
    let removed =
        json!({"ErrorCode": 0, "Message": format!("Rule {} removed.", rule.as_str().unwrap())});
    assert_eq!(answer(&send(&sim, "DELETE", &path, &h, "")), (200, removed));
    let not_found = error(812, "This inbound rule was not found.");
    assert_eq!(
        answer(&send(&sim, "DELETE", &path, &h, "")),
        (422, not_found)
    );
    let after = get_json(
        &sim,
        "/triggers/inboundrules?count=500&offset=0",
        SERVER,
        &s0.token,
    );
    assert_eq!(
        after["TotalCount"],
        rules["TotalCount"].as_u64().unwrap() - 1
    );
    assert_eq!(
        after["InboundRules"].as_array().unwrap()[..],
        rules["InboundRules"].as_array().unwrap()[1..]
    );
    assert!(!truth(&sim, s0.id, "inbound_rules").contains(&rule_id.to_string()));
    let r = get(&sim, &path, &h);
    assert_eq!(
        (r.status, r.allow.as_deref(), r.text.as_str()),
        (405, Some("DELETE"), "")
    );
}

#[test]
fn domains_and_sender_signatures_delete_with_the_account_token() {
    let sim = sim();
    let account = sim.account_token();
    let h = [(ACCOUNT, account.as_str())];
    let domains = get_json(&sim, "/domains?count=500&offset=0", ACCOUNT, &account);
    let d = &domains["Domains"][1];
    let path = format!("/domains/{}", d["ID"]);
    let message = format!("Domain {} removed.", d["Name"].as_str().unwrap());
    let not_found = error(510, "Domain not found.");
    removed_then_gone(&sim, &h, &path, message, &not_found);
    assert_eq!(
        answer(&send(&sim, "DELETE", "/domains/7", &h, "")),
        (422, not_found)
    );
    let after = get_json(&sim, "/domains?count=500&offset=0", ACCOUNT, &account);
    assert_eq!(after["TotalCount"], 2);
    let mut kept = ids(&domains, "Domains", "ID");
    kept.remove(1);
    assert_eq!(ids(&after, "Domains", "ID"), kept);
    assert_eq!(truth_ids(&sim, 0, "domains"), kept);

    let senders = get_json(&sim, "/senders?count=500&offset=0", ACCOUNT, &account);
    let s = &senders["SenderSignatures"][0];
    let path = format!("/senders/{}", s["ID"]);
    let message = format!("Signature {} removed.", s["EmailAddress"].as_str().unwrap());
    let not_found = error(501, "Sender signature not found.");
    removed_then_gone(&sim, &h, &path, message, &not_found);
    let after = get_json(&sim, "/senders?count=500&offset=0", ACCOUNT, &account);
    assert_eq!(
        after["TotalCount"],
        senders["TotalCount"].as_u64().unwrap() - 1
    );
    assert_eq!(
        after["SenderSignatures"].as_array().unwrap()[..],
        senders["SenderSignatures"].as_array().unwrap()[1..]
    );
    assert!(!truth(&sim, 0, "sender_signatures").contains(&s["ID"].to_string()));
}

#[test]
fn writes_need_the_token_of_their_kind() {
    let sim = sim();
    let (server, account) = (sim.servers()[0].token.clone(), sim.account_token());
    let server_401 = error(10, "Request does not contain a valid Server token.");
    let account_401 = error(10, "Request does not contain a valid Account token.");
    let cases = [
        (
            "DELETE",
            "/templates/welcome",
            vec![(ACCOUNT, account.as_str())],
            &server_401,
        ),
        ("DELETE", "/webhooks/1", vec![], &server_401),
        (
            "DELETE",
            "/triggers/inboundrules/1",
            vec![(SERVER, "wrong")],
            &server_401,
        ),
        (
            "POST",
            "/message-streams/outbound/suppressions/delete",
            vec![(ACCOUNT, account.as_str())],
            &server_401,
        ),
        (
            "DELETE",
            "/domains/64054",
            vec![(SERVER, server.as_str())],
            &account_401,
        ),
        ("DELETE", "/senders/128462", vec![], &account_401),
    ];
    for (method, path, headers, expected) in cases {
        let r = send(&sim, method, path, &headers, r#"{"Suppressions":[]}"#);
        assert_eq!(answer(&r), (401, expected.clone()), "{method} {path}");
    }
    assert_eq!(
        get_json(&sim, "/templates/welcome", SERVER, &server)["Name"],
        "Welcome"
    );
    assert_eq!(
        get_json(&sim, "/domains?count=9&offset=0", ACCOUNT, &account)["TotalCount"],
        3
    );
}

#[test]
fn methods_a_path_does_not_take_answer_405_with_allow_before_auth() {
    let sim = sim();
    for (method, path, allow) in [
        ("PUT", "/templates/1", "GET, DELETE"),
        ("POST", "/templates/1", "GET, DELETE"),
        ("DELETE", "/templates", "GET"),
        ("PATCH", "/webhooks/1", "GET, DELETE"),
        ("POST", "/domains/1", "GET, DELETE"),
        ("DELETE", "/messages/outbound", "GET"),
        (
            "GET",
            "/message-streams/outbound/suppressions/delete",
            "POST",
        ),
        (
            "DELETE",
            "/message-streams/outbound/suppressions/dump",
            "GET",
        ),
        ("HEAD", "/senders/1", "GET, DELETE"),
        ("delete", "/templates/1", "GET, DELETE"),
    ] {
        let r = send(&sim, method, path, &[], "");
        assert_eq!(
            (r.status, r.allow.as_deref()),
            (405, Some(allow)),
            "{method} {path}"
        );
        assert_eq!(
            (r.text.as_str(), r.content_type.as_str()),
            ("", ""),
            "{method} {path}"
        );
    }
    assert_eq!(send(&sim, "DELETE", "/no/such/path", &[], "").status, 404);
}

#[test]
fn the_request_log_records_writes() {
    let sim = sim();
    let s0 = sim.servers()[0].clone();
    sim.clear_request_log();
    for (method, body) in [("DELETE", ""), ("DELETE", ""), ("PUT", "{}")] {
        send(
            &sim,
            method,
            "/templates/welcome",
            &[(SERVER, &s0.token)],
            body,
        );
    }
    let log: Vec<(String, String, u16, Option<u64>)> = sim
        .request_log()
        .into_iter()
        .map(|e| (e.method, e.path, e.status, e.server_id))
        .collect();
    let entry = |m: &str, status| {
        (
            m.to_string(),
            "/templates/welcome".to_string(),
            status,
            Some(s0.id),
        )
    };
    assert_eq!(
        log,
        vec![
            entry("DELETE", 200),
            entry("DELETE", 422),
            entry("PUT", 405)
        ]
    );
}

/// Sends raw bytes and reads the whole answer (the server closes after refusing a body).
fn raw(sim: &Simulator, request: &[u8]) -> String {
    let mut s = TcpStream::connect(sim.base_url().trim_start_matches("http://")).unwrap();
    s.write_all(request).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn request_bodies_are_read_up_to_one_mebibyte() {
    let sim = sim();
    let token = sim.servers()[0].token.clone();
    let path = "/message-streams/outbound/suppressions/delete";
    let h = [(SERVER, token.as_str())];
    // A body of exactly 1 MiB is read (padded with spaces); one byte more is refused.
    let mut body = r#"{"Suppressions":[{"EmailAddress":"nobody@example.org"}]}"#.to_string();
    body.push_str(&" ".repeat(1024 * 1024 - body.len()));
    let r = send(&sim, "POST", path, &h, &body);
    assert_eq!(r.status, 200, "{}", r.text);
    body.push(' ');
    let r = send(&sim, "POST", path, &h, &body);
    assert_eq!((r.status, r.text.as_str()), (413, ""));
    let head = |extra: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nX-Postmark-Server-Token: {token}\r\n{extra}\r\n"
        )
    };
    let status = |text: String| text.lines().next().unwrap_or_default().to_string();
    let big = raw(&sim, head("Content-Length: 5000000\r\n").as_bytes());
    assert_eq!(status(big), "HTTP/1.1 413 Payload Too Large");
    let chunked = raw(&sim, head("Transfer-Encoding: chunked\r\n").as_bytes());
    assert_eq!(status(chunked), "HTTP/1.1 411 Length Required");
    let bad = raw(&sim, head("Content-Length: 12x\r\n").as_bytes());
    assert_eq!(status(bad), "HTTP/1.1 400 Bad Request");
    let twice = raw(
        &sim,
        head("Content-Length: 2\r\nContent-Length: 3\r\n").as_bytes(),
    );
    assert_eq!(status(twice), "HTTP/1.1 400 Bad Request");
    // The server still answers.
    assert_eq!(get(&sim, "/server", &h).status, 200);
}
