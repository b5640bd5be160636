//! `POST /message-streams/{stream}/suppressions/delete` through real HTTP: each address's
//! answer (`Deleted`, `Failed`), the dump and the ground truth without the lifted addresses,
//! other streams and servers untouched, the hard bounces behind a lifted `HardBounce`
//! suppression reactivated, and the refusals (1409, 1410, 1226).

use chrono::Duration;
use postmark_sim::Simulator;
use serde_json::{json, Value};

use crate::common::{anchor, get, get_json, send, small_at_anchor as sim, SERVER};

const PATH: &str = "/message-streams/outbound/suppressions/delete";

fn body(addresses: &[&str]) -> String {
    let list: Vec<Value> = addresses
        .iter()
        .map(|a| json!({"EmailAddress": a}))
        .collect();
    json!({"Suppressions": list}).to_string()
}

/// The addresses of a stream's suppression dump with `reason`.
fn dump(sim: &Simulator, token: &str, stream: &str, reason: &str) -> Vec<String> {
    let path = format!("/message-streams/{stream}/suppressions/dump?SuppressionReason={reason}");
    get_json(sim, &path, SERVER, token)["Suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["EmailAddress"].as_str().unwrap().to_string())
        .collect()
}

/// `(Inactive, CanActivate)` of the outbound hard bounces to `email`.
fn hard_bounce_flags(sim: &Simulator, token: &str, email: &str) -> Vec<(bool, bool)> {
    let path = format!("/bounces?count=500&offset=0&type=HardBounce&emailFilter={email}");
    get_json(sim, &path, SERVER, token)["Bounces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["Email"] == email)
        .map(|b| {
            (
                b["Inactive"].as_bool().unwrap(),
                b["CanActivate"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn lifting_answers_per_address_and_the_dump_and_truth_follow() {
    let sim = sim();
    let (s0, s1) = (sim.servers()[0].clone(), sim.servers()[1].clone());
    let t = s0.token.as_str();
    let hard = dump(&sim, t, "outbound", "HardBounce");
    let spam = dump(&sim, t, "outbound", "SpamComplaint");
    let manual = dump(&sim, t, "outbound", "ManualSuppression");
    assert!(!hard.is_empty() && !spam.is_empty() && !manual.is_empty());
    let (bounced, complained, blocked) = (&hard[0], &spam[0], &manual[0]);
    assert!(hard_bounce_flags(&sim, t, bounced).contains(&(true, true)));
    let whole = |token: &str, stream: &str| {
        let path = format!("/message-streams/{stream}/suppressions/dump");
        get_json(&sim, &path, SERVER, token)
    };
    let (broadcast, other_server) = (whole(t, "broadcast"), whole(&s1.token, "outbound"));
    let outbound = whole(t, "outbound")["Suppressions"]
        .as_array()
        .unwrap()
        .len();
    let shouted = bounced.to_uppercase();
    let addresses = [
        shouted.as_str(),
        blocked,
        complained,
        "not-an-address",
        "nobody@example.org",
    ];
    let r = send(&sim, "POST", PATH, &[(SERVER, t)], &body(&addresses));
    assert_eq!(r.status, 200, "{}", r.text);
    let authority = "You do not have the required authority to change this suppression.";
    let expected = json!({"Suppressions": [
        deleted(&shouted),
        deleted(blocked),
        failed(complained, authority),
        failed("not-an-address", "An invalid email address was provided."),
        deleted("nobody@example.org"),
    ]});
    assert_eq!(r.json(), expected);
    // The dump and the truth lose the two lifted addresses; the complaint stays.
    let now = whole(t, "outbound")["Suppressions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(now.len(), outbound - 2);
    let listed = |a: &str| now.iter().any(|x| x["EmailAddress"] == a);
    assert!(!listed(bounced) && !listed(blocked) && listed(complained));
    truth_follows(&sim, s0.id, [bounced, blocked], complained, now.len());
    // Other streams and servers keep theirs; the hard bounces are active again.
    assert_eq!(whole(t, "broadcast"), broadcast);
    assert_eq!(whole(&s1.token, "outbound"), other_server);
    let flags = hard_bounce_flags(&sim, t, bounced);
    assert!(
        !flags.is_empty() && flags.iter().all(|f| *f == (false, false)),
        "{flags:?}"
    );
    // Lifting again answers Deleted and changes nothing.
    let r = send(&sim, "POST", PATH, &[(SERVER, t)], &body(&[bounced]));
    assert_eq!(r.json(), json!({"Suppressions": [deleted(bounced)]}));
    assert_eq!(
        whole(t, "outbound")["Suppressions"]
            .as_array()
            .unwrap()
            .len(),
        outbound - 2
    );
}

/// A `Deleted` item of the suppressions delete's answer.
fn deleted(a: &str) -> Value {
    json!({"EmailAddress": a, "Status": "Deleted", "Message": null})
}

/// A `Failed` item of the suppressions delete's answer.
fn failed(a: &str, m: &str) -> Value {
    json!({"EmailAddress": a, "Status": "Failed", "Message": m})
}

/// The ground truth of server `server_id`'s suppressions leaves out the `lifted` addresses of
/// its `outbound` stream, keeps `kept`, and lists as many of that stream's as its dump (`listed`).
fn truth_follows(sim: &Simulator, server_id: u64, lifted: [&str; 2], kept: &str, listed: usize) {
    let truth = sim
        .ground_truth(
            server_id,
            "suppressions",
            anchor() - Duration::days(9),
            anchor(),
        )
        .unwrap();
    let key = |a: &str| vec!["outbound".to_string(), a.to_string()];
    assert!(!truth.contains(&key(lifted[0])) && !truth.contains(&key(lifted[1])));
    assert!(truth.contains(&key(kept)));
    assert_eq!(truth.iter().filter(|k| k[0] == "outbound").count(), listed);
}

#[test]
fn malformed_requests_are_refused_whole() {
    let sim = sim();
    let t = sim.servers()[0].token.clone();
    let h = [(SERVER, t.as_str())];
    let before = get(&sim, "/message-streams/outbound/suppressions/dump", &h).text;
    let first = dump(&sim, &t, "outbound", "ManualSuppression")[0].clone();
    let proper = json!({"ErrorCode": 1409, "Message": "A proper request body must be provided."});
    for bad in [
        "",
        "{",
        "[]",
        r#"{"Suppressions":"x"}"#,
        r#"{"Suppressions":[{"Email":"a@b.c"}]}"#,
        r#"{"Suppressions":[{"EmailAddress":5}]}"#,
        r#"{"Suppressions":["a@b.c"]}"#,
    ] {
        let r = send(&sim, "POST", PATH, &h, bad);
        assert_eq!((r.status, r.json()), (422, proper.clone()), "{bad:?}");
    }
    let many: Vec<String> = (0..50).map(|i| format!("user{i}@example.org")).collect();
    let mut many: Vec<&str> = many.iter().map(String::as_str).collect();
    many.push(&first);
    let r = send(&sim, "POST", PATH, &h, &body(&many));
    let too_many =
        "You cannot provide more than the maximum number of suppressions for this request.";
    assert_eq!(
        (r.status, r.json()),
        (422, json!({"ErrorCode": 1410, "Message": too_many}))
    );
    assert_eq!(
        get(&sim, "/message-streams/outbound/suppressions/dump", &h).text,
        before
    );
    many.remove(0);
    let r = send(&sim, "POST", PATH, &h, &body(&many));
    assert_eq!(r.json()["Suppressions"].as_array().unwrap().len(), 50);
    // Member names in any case; an unknown stream answers as the GETs do.
    let r = send(
        &sim,
        "POST",
        PATH,
        &h,
        r#"{"suppressions":[{"emailaddress":"a@b.c"}]}"#,
    );
    assert_eq!(r.json()["Suppressions"][0]["Status"], "Deleted");
    let unknown = get(&sim, "/message-streams/nope/suppressions/dump", &h);
    assert_eq!(
        (unknown.status, &unknown.json()["ErrorCode"]),
        (422, &json!(1226))
    );
    let path = "/message-streams/nope/suppressions/delete";
    let r = send(&sim, "POST", path, &h, &body(&["a@b.c"]));
    assert_eq!((r.status, r.text), (422, unknown.text));
}
