//! The standalone `postmark-sim` binary prints its URL and credentials, then serves.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::{agent, SERVER};

#[test]
fn binary_prints_credentials_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postmark-sim"))
        .args([
            "--port",
            "0",
            "--servers",
            "2",
            "--days",
            "3",
            "--messages-per-day",
            "20",
            "--spike-messages",
            "0",
            "--secret-marker",
            "MARK",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn postmark-sim");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = || lines.next().expect("a line").expect("utf-8");
    let url = next()
        .strip_prefix("base_url ")
        .expect("base_url line")
        .to_string();
    let account = next()
        .strip_prefix("account_token ")
        .expect("account line")
        .to_string();
    let server1 = next();
    let server2 = next();
    let generated = next();
    assert!(account.contains("MARK"));
    assert!(
        server1.starts_with("server 10001 ") && server2.starts_with("server 10002 "),
        "{server1} / {server2}"
    );
    assert!(generated.starts_with("generated messages="), "{generated}");
    let token = server1.rsplit(' ').next().expect("token").to_string();
    let mut r = agent()
        .get(format!("{url}/server"))
        .header(SERVER, &token)
        .call()
        .expect("request");
    let v: serde_json::Value =
        serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json");
    assert_eq!(v["ID"], 10001);
    // The simulator controls and the write API answer the binary's clients too.
    let post = |path: &str| {
        agent()
            .post(format!("{url}{path}"))
            .send("")
            .expect("request")
            .status()
            .as_u16()
    };
    let server_status = || {
        let r = agent().get(format!("{url}/server")).header(SERVER, &token);
        r.call().expect("request").status().as_u16()
    };
    assert_eq!(post("/_sim/servers/10001/revoke"), 200);
    assert_eq!(server_status(), 401);
    assert_eq!(post("/_sim/servers/10001/restore"), 200);
    assert_eq!(server_status(), 200);
    let deleted = agent()
        .delete(format!("{url}/templates/welcome"))
        .header(SERVER, &token)
        .call()
        .expect("request");
    assert_eq!(deleted.status().as_u16(), 200);
    child.kill().expect("kill");
    child.wait().expect("wait");
}
