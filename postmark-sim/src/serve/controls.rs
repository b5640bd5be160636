//! Simulator controls over HTTP, for tests that drive the binary: not Postmark's API. They live
//! under `/_sim/` (a path Postmark never uses), answer loopback clients only, need no Postmark
//! token and are never faulted. `POST /_sim/servers/{id}/revoke` and `…/restore` revoke or
//! restore a server's token (`Simulator::set_server_token_revoked`); `GET
//! /_sim/servers/{id}/outcomes` tells what became of its outbound messages, per message stream
//! and US-Eastern day (`truth::outcomes`).

use std::net::{IpAddr, SocketAddr};

use serde_json::json;

use super::routes::{not_allowed, Answer};
use crate::endpoints::query::percent_decode;
use crate::generate::model::Model;
use crate::truth::outcomes;

/// First path segment of every control.
const PREFIX: &str = "_sim";

/// Whether `path` (without the query) is a simulator control.
pub fn is_control(path: &str) -> bool {
    path.split('/')
        .find(|s| !s.is_empty())
        .is_some_and(|s| s.eq_ignore_ascii_case(PREFIX))
}

/// Whether `peer` is this machine (IPv4-mapped IPv6 loopback included).
fn loopback(peer: Option<SocketAddr>) -> bool {
    match peer.map(|p| p.ip()) {
        Some(IpAddr::V4(v4)) => v4.is_loopback(),
        Some(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        None => false,
    }
}

fn refused(status: u16, error: String) -> Answer {
    Answer::json(status, &json!({"ok": false, "error": error}))
}

/// Answers a control request: 200 `{"ok":true}` (or the outcomes); 404 for an unknown control
/// or server, 405 for another method than the control's, 403 for a client not on loopback.
pub fn answer(
    m: &mut Model,
    now: i64,
    method: &str,
    path: &str,
    peer: Option<SocketAddr>,
) -> Answer {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false).to_ascii_lowercase())
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (id, action, allowed) = match parts.as_slice() {
        [PREFIX, "servers", id, "revoke"] => (*id, Some(true), "POST"),
        [PREFIX, "servers", id, "restore"] => (*id, Some(false), "POST"),
        [PREFIX, "servers", id, "outcomes"] => (*id, None, "GET"),
        _ => return refused(404, format!("no simulator control at {path}")),
    };
    if method != allowed {
        return not_allowed(allowed);
    }
    if !loopback(peer) {
        return refused(
            403,
            "simulator controls answer loopback clients only".into(),
        );
    }
    let Some(n) = id
        .parse::<u64>()
        .ok()
        .filter(|n| m.servers.iter().any(|s| s.id == *n))
    else {
        return refused(404, format!("no server {id}"));
    };
    match action {
        Some(revoked) => {
            for server in m.servers.iter_mut().filter(|s| s.id == n) {
                server.revoked = revoked;
            }
            Answer::json(200, &json!({"ok": true}))
        }
        None => match outcomes::outcomes(m, now, n) {
            Some(rows) => Answer::json(200, &rows),
            None => refused(404, format!("no server {id}")),
        },
    }
}

#[cfg(test)]
mod tests {
    //! Which clients count as loopback.

    use super::loopback;

    #[test]
    fn only_this_machine_is_loopback() {
        let is = |a: &str| loopback(Some(a.parse().unwrap()));
        assert!(is("127.0.0.1:1") && is("127.0.0.2:1") && is("[::1]:1"));
        assert!(is("[::ffff:127.0.0.1]:1"));
        assert!(!is("10.0.0.1:1") && !is("[::ffff:10.0.0.1]:1") && !is("[2001:db8::1]:1"));
        assert!(!loopback(None));
    }
}
