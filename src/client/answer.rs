//! What an answer comes to: parsed, retried (and after how long), or failed with a message that
//! names what went wrong and never a token.

use crate::error::Error;
pub use crate::record::parsed::Parsed;
use serde_json::Value;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// Postmark answered with an error status and (usually) an ErrorCode body.
    Postmark {
        status: u16,
        code: i64,
        message: String,
    },
    /// Anything else, already worded for the user.
    Fatal(Error),
}

impl CallError {
    /// Turns the failure into the tap's error, naming the endpoint.
    pub fn into_error(self, path: &str) -> Error {
        match self {
            CallError::Postmark {
                status,
                code,
                message,
            } => Error::Api(format!(
                "Postmark answered HTTP {status} on {path} (ErrorCode {code}: {message})"
            )),
            CallError::Fatal(e) => e,
        }
    }
}

/// What one attempt came to.
pub(super) enum Attempt<T> {
    Done(T),
    Retry {
        why: String,
        after: Option<Duration>,
        /// A 429: retried within the time budget, not the attempt count.
        rate_limited: bool,
    },
    Fail(CallError),
}

/// The wait before retry `n` (from 1): `retry_after` if given, else `initial` doubled per
/// retry, both capped at `max`, then scaled by a jitter factor of 0.5 to 1 (`jitter` in 0..1),
/// so no wait exceeds `max`.
pub fn backoff(
    initial: Duration,
    max: Duration,
    n: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    if let Some(after) = retry_after {
        return after.min(max);
    }
    let exp = initial
        .saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(max);
    exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)).min(max)
}

/// What a parsed 2xx answer comes to: retried when it was not JSON (`size` says how much it
/// was) or carries a non-zero ErrorCode.
pub(super) fn parsed<T>(
    status: u16,
    parsed: Result<Parsed<T>, String>,
    size: impl Fn() -> String,
) -> Attempt<T> {
    match parsed {
        Err(reason) => Attempt::Retry {
            why: format!(
                "HTTP {status} with a body that is not JSON ({}: {reason})",
                size()
            ),
            after: None,
            rate_limited: false,
        },
        Ok(p) => match p.error_code {
            Some(code) if code != 0 => Attempt::Retry {
                why: format!("HTTP {status} carrying ErrorCode {code}: {}", p.message),
                after: None,
                rate_limited: false,
            },
            _ => Attempt::Done(p.value),
        },
    }
}

/// A non-2xx answer: retried (429, 5xx), a rejected token, or Postmark's error for the caller.
pub(super) fn failure<T>(
    status: u16,
    body: &[u8],
    token_label: &str,
    retry_after: Option<Duration>,
) -> Attempt<T> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let error_code = json
        .as_ref()
        .and_then(|j| j.get("ErrorCode"))
        .and_then(Value::as_i64);
    let message = json
        .as_ref()
        .and_then(|j| j.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let code_text = |sep: &str| {
        error_code
            .map(|c| format!("{sep}ErrorCode {c}: {message}"))
            .unwrap_or_default()
    };
    match status {
        429 | 500 | 502 | 503 | 504 => Attempt::Retry {
            why: format!(
                "HTTP {status}{}",
                error_code
                    .map(|_| format!(" ({})", code_text("")))
                    .unwrap_or_default()
            ),
            after: retry_after,
            rate_limited: status == 429,
        },
        401 | 403 => Attempt::Fail(CallError::Fatal(Error::Auth(format!(
            "Postmark rejected the {} (HTTP {status}{}); check it in the config",
            token_label,
            code_text(", ")
        )))),
        _ => Attempt::Fail(CallError::Postmark {
            status,
            code: error_code.unwrap_or(0),
            message: if message.is_empty() {
                String::from_utf8_lossy(body).chars().take(200).collect()
            } else {
                message
            },
        }),
    }
}

/// The error for a redirect: its status and the host it points to (never the whole URL, whose
/// query could carry anything).
pub(super) fn redirect_error(
    path: &str,
    status: u16,
    location: Option<&ureq::http::HeaderValue>,
) -> Error {
    let target = match location.map(|l| l.to_str().map(location_host)) {
        None => "no Location".to_string(),
        Some(Err(_)) => "an unreadable Location".to_string(),
        Some(Ok(None)) => "another path of the same host".to_string(),
        Some(Ok(Some(host))) => format!("host {host}"),
    };
    Error::Api(format!(
        "Postmark's API answered GET {path} with a redirect (HTTP {status}, to {target}); the tap follows no redirect, so no token was sent there: check base_url and any proxy in between"
    ))
}

/// The `host[:port]` of an absolute URL; `None` for a relative one.
fn location_host(location: &str) -> Option<String> {
    let rest = location
        .split_once("://")
        .map(|(_, r)| r)
        .or_else(|| location.strip_prefix("//"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Credentials in the authority (`user:pass@host`) stay out of the message.
    let host = authority.rsplit('@').next().unwrap_or("");
    Some(host.chars().filter(|c| !c.is_control()).take(200).collect())
}

/// An identifier from an answer, checked before it goes into a request path: unreserved URL
/// characters only, so no answer can steer a request elsewhere (`../`, `?`, a line break).
pub fn path_segment<'a>(id: &'a str, what: &str) -> Result<&'a str, Error> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    if id.is_empty() || id == "." || id == ".." || !id.bytes().all(safe) {
        let shown: String = id.chars().take(60).collect();
        return Err(Error::Api(format!(
            "Postmark returned {what} {shown:?}, which cannot be used in a request path"
        )));
    }
    Ok(id)
}

/// Parses a 2xx body as a `Value` (the parser of [`Client::get`]).
pub fn parse_value(body: Vec<u8>) -> Result<Parsed<Value>, String> {
    let value: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(with_error_fields(value))
}

/// A parsed answer with the error fields Postmark may put in it.
pub(super) fn with_error_fields(value: Value) -> Parsed<Value> {
    Parsed {
        error_code: value.get("ErrorCode").and_then(Value::as_i64),
        message: value
            .get("Message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        value,
    }
}

/// Words a transport error without the URL's query or any header.
pub(super) fn describe_transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => format!("connection error ({})", io.kind()),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::BodyExceedsLimit(n) => format!("body larger than {n} bytes"),
        ureq::Error::Protocol(p) => format!("protocol error ({p})"),
        other => format!("request failed ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_retry_waits_longer_than_the_maximum() {
        let (initial, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for n in 1..40 {
            for jitter in [0.0, 0.3, 0.999, 1.0, 7.0] {
                let d = backoff(initial, max, n, None, jitter);
                assert!(d <= max, "retry {n}, jitter {jitter}: {d:?}");
                assert!(d >= Duration::from_millis(500));
            }
        }
        assert_eq!(backoff(initial, max, 3, None, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(initial, max, 3, None, 0.0), Duration::from_secs(2));
        let after = Some(Duration::from_secs(120));
        assert_eq!(backoff(initial, max, 1, after, 0.5), max);
    }

    #[test]
    fn a_redirect_names_the_host_only() {
        assert_eq!(
            location_host("http://evil.example:8080/x?token=abc").as_deref(),
            Some("evil.example:8080")
        );
        assert_eq!(
            location_host("https://user:pw@h.example/").as_deref(),
            Some("h.example")
        );
        assert_eq!(location_host("//h.example/p").as_deref(), Some("h.example"));
        assert_eq!(location_host("/servers?x=1"), None);
        let e = redirect_error("/server", 302, None).to_string();
        assert!(path_segment("0f8f-aB_1.x~", "an ID").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a\nb", "é"] {
            assert!(path_segment(bad, "an ID").is_err(), "{bad:?}");
        }
        assert!(e.contains("HTTP 302") && e.contains("no Location"), "{e}");
    }
}
