//! The one HTTP client: auth headers, retries with backoff, error classification, metrics.
//!
//! Retried (with exponential backoff, jitter and `Retry-After`, no delay longer than
//! `retry_max_delay_seconds`): 500, 502, 503, 504, timeouts, refused or dropped connections, and
//! 200 answers whose body is not JSON or carries a non-zero ErrorCode, up to `max_attempts`.
//! A 429 means "slow down": it halves the requests in flight (raised again one by one after
//! successes, see [`Throttle`]) and is retried for up to `max_rate_limit_wait_seconds`, whatever
//! the attempt count. Not retried: 401/403 (a rejected token) and other 4xx, which carry
//! Postmark's ErrorCode and Message to the caller; any redirect (3xx: Postmark's API does not
//! redirect, and following one would carry a token to another host); and an answer larger than
//! `max_response_mb`. Tokens go into headers only and never into a log line or an error.

use crate::config::Config;
use crate::error::Error;
use crate::log;
use crate::signals;
use crate::singer::metrics;
use crate::streams::TokenKind;
use serde_json::Value;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// A credential and what to call it in messages ("the server token of server 10001").
#[derive(Clone, Debug)]
pub struct Token {
    pub kind: TokenKind,
    pub value: String,
    pub label: String,
}

impl Token {
    fn header(&self) -> &'static str {
        match self.kind {
            TokenKind::Server => "X-Postmark-Server-Token",
            TokenKind::Account => "X-Postmark-Account-Token",
        }
    }
}

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

/// Request and retry counters, for the closing summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// Time spent in requests, summed over all of them (µs): divided by the wall time, the
    /// average number of requests in flight.
    pub busy_micros: AtomicU64,
}

impl Counters {
    /// Requests and retries so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
        )
    }
}

/// How many requests may be in flight: `max_concurrent_requests` at most, halved on each 429
/// and raised by one after as many successes in a row as are allowed.
pub struct Throttle {
    max: usize,
    state: Mutex<ThrottleState>,
    changed: Condvar,
}

#[derive(Debug)]
struct ThrottleState {
    allowed: usize,
    in_flight: usize,
    successes: usize,
}

impl Throttle {
    pub fn new(max: usize) -> Throttle {
        let max = max.max(1);
        Throttle {
            max,
            state: Mutex::new(ThrottleState {
                allowed: max,
                in_flight: 0,
                successes: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ThrottleState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a place among the requests in flight.
    fn acquire(&self) {
        let mut s = self.lock();
        while s.in_flight >= s.allowed {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.in_flight += 1;
    }

    /// Gives the place back, telling whether the answer was a 429.
    fn release(&self, rate_limited: bool) {
        let mut s = self.lock();
        s.in_flight -= 1;
        if rate_limited {
            if s.allowed > 1 {
                s.allowed = (s.allowed / 2).max(1);
                log::info(&format!(
                    "Postmark asked to slow down (429): {} request(s) in flight from now on",
                    s.allowed
                ));
            }
            s.successes = 0;
        } else {
            s.successes += 1;
            if s.successes >= s.allowed && s.allowed < self.max {
                s.allowed += 1;
                s.successes = 0;
            }
        }
        drop(s);
        self.changed.notify_all();
    }

    /// Requests allowed in flight now.
    pub fn allowed(&self) -> usize {
        self.lock().allowed
    }
}

pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    /// The largest answer accepted, after decompression.
    max_body: u64,
    /// How long 429 answers are retried for, per request.
    rate_limit_wait: Duration,
    rng: Mutex<fastrand::Rng>,
    pub throttle: Throttle,
    pub counters: Counters,
}

/// A 2xx body, parsed, with the error fields Postmark may put in it.
pub struct Parsed<T> {
    pub value: T,
    pub error_code: Option<i64>,
    pub message: String,
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    Retry {
        why: String,
        after: Option<Duration>,
        /// A 429: retried within the time budget, not the attempt count.
        rate_limited: bool,
    },
    Fail(CallError),
}

/// Answers up to this size are read side by side; a larger one is read only while no other
/// large one is (see [`Client::read_body`]).
const LARGE_BODY: u64 = 4 << 20;
/// Held while a large answer is read.
static LARGE_BODIES: Mutex<()> = Mutex::new(());

impl Client {
    pub fn new(config: &Config) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            // Redirects are answers like any other: one to another host would take the token
            // with it (only `Authorization` is stripped by the client), so none is followed.
            .max_redirects(0)
            .user_agent(config.user_agent.as_str())
            .build()
            .into();
        Client {
            agent,
            base_url: config.base_url.clone(),
            max_attempts: config.max_attempts.max(1),
            initial_delay: config.retry_initial_delay,
            max_delay: config.retry_max_delay,
            max_body: config.max_response_bytes,
            rate_limit_wait: config.rate_limit_wait,
            rng: Mutex::new(fastrand::Rng::new()),
            throttle: Throttle::new(config.concurrency),
            counters: Counters::default(),
        }
    }

    /// GETs `path` with `query` and returns the JSON body, retrying what can be retried.
    /// `endpoint` names the call in metrics (a path template, no IDs).
    pub fn get(
        &self,
        token: &Token,
        path: &str,
        query: &[(&str, String)],
        endpoint: &str,
    ) -> Result<Value, CallError> {
        self.get_with(token, path, query, endpoint, None, parse_value)
    }

    /// [`Client::get`] with the caller's parser for 2xx bodies (`Err(why)`: not JSON, retried);
    /// requests and retries are also counted in `tally`.
    pub fn get_with<T>(
        &self,
        token: &Token,
        path: &str,
        query: &[(&str, String)],
        endpoint: &str,
        tally: Option<&Counters>,
        parse: impl Fn(Vec<u8>) -> Result<Parsed<T>, String>,
    ) -> Result<T, CallError> {
        let counters: &[&Counters] = match tally {
            Some(t) => &[&self.counters, t],
            None => &[&self.counters],
        };
        let url = format!("{}{}", self.base_url, path);
        if log::enabled(log::Level::Debug) {
            let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            log::debug(&format!("GET {path}?{}", q.join("&")));
        }
        let mut attempt = 1;
        let mut rate_limited_since: Option<Instant> = None;
        let mut rate_limits = 0;
        loop {
            signals::check().map_err(CallError::Fatal)?;
            for c in counters {
                c.requests.fetch_add(1, Ordering::Relaxed);
            }
            self.throttle.acquire();
            let started = Instant::now();
            let (status, outcome) = self.attempt(token, &url, path, query, &parse);
            let elapsed = started.elapsed();
            let limited = matches!(
                outcome,
                Attempt::Retry {
                    rate_limited: true,
                    ..
                }
            );
            self.throttle.release(limited);
            self.counters
                .busy_micros
                .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
            let ok = matches!(outcome, Attempt::Done(_));
            metrics::http_request(endpoint, status, elapsed.as_secs_f64(), ok);
            let (why, after) = match outcome {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { why, after, .. } => (why, after),
            };
            let (delay, budget) = if limited {
                let since = *rate_limited_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.rate_limit_wait {
                    return Err(CallError::Fatal(Error::Api(format!(
                        "GET {path}: Postmark kept answering 429 (slow down) for {:.0} s; giving up (max_rate_limit_wait_seconds = {})",
                        since.elapsed().as_secs_f64(),
                        self.rate_limit_wait.as_secs()
                    ))));
                }
                rate_limits += 1;
                (
                    self.delay(rate_limits, after),
                    "while rate limited".to_string(),
                )
            } else {
                if attempt >= self.max_attempts {
                    return Err(CallError::Fatal(Error::Api(format!(
                        "GET {path} failed {attempt} times, last: {why}; giving up (max_attempts = {})",
                        self.max_attempts
                    ))));
                }
                let budget = format!("{attempt}/{}", self.max_attempts - 1);
                attempt += 1;
                (self.delay(attempt - 1, after), budget)
            };
            log::warn(&format!(
                "GET {path}: {why}; retry {budget} in {:.1}s",
                delay.as_secs_f64()
            ));
            for c in counters {
                c.retries.fetch_add(1, Ordering::Relaxed);
            }
            signals::sleep(delay).map_err(CallError::Fatal)?;
        }
    }

    /// The wait before retry number `n` (from 1): `Retry-After` when Postmark gave one, else
    /// exponential backoff with jitter; never longer than `retry_max_delay_seconds`.
    fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let jitter = self.rng.lock().map(|mut r| r.f64()).unwrap_or(0.5);
        backoff(self.initial_delay, self.max_delay, n, retry_after, jitter)
    }

    /// One request: the answer's status and what it came to.
    fn attempt<T>(
        &self,
        token: &Token,
        url: &str,
        path: &str,
        query: &[(&str, String)],
        parse: &impl Fn(Vec<u8>) -> Result<Parsed<T>, String>,
    ) -> (Option<u16>, Attempt<T>) {
        let mut request = self
            .agent
            .get(url)
            .header("Accept", "application/json")
            .header(token.header(), token.value.as_str());
        for (k, v) in query {
            request = request.query(*k, v);
        }
        let mut response = match request.call() {
            Ok(r) => r,
            Err(e) => {
                let why = describe_transport(&e);
                let rate_limited = false;
                return (
                    None,
                    Attempt::Retry {
                        why,
                        after: None,
                        rate_limited,
                    },
                );
            }
        };
        let status = response.status().as_u16();
        if (300..=399).contains(&status) {
            let error = redirect_error(path, status, response.headers().get("location"));
            return (Some(status), Attempt::Fail(CallError::Fatal(error)));
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3600)));
        let body = match self.read_body(path, status, response.body_mut()) {
            Ok(b) => b,
            Err(Attempt::Retry { why, .. }) => {
                let (after, rate_limited) = (retry_after, status == 429);
                return (
                    Some(status),
                    Attempt::Retry {
                        why,
                        after,
                        rate_limited,
                    },
                );
            }
            Err(other) => return (Some(status), other),
        };
        let outcome = if (200..=299).contains(&status) {
            success(status, body, parse)
        } else {
            failure(status, &body, token, retry_after)
        };
        (Some(status), outcome)
    }

    /// Reads an answer's body, refusing one larger than `max_response_mb` (announced or read,
    /// after decompression). At most one answer larger than [`LARGE_BODY`] is read at a time,
    /// so memory stays within about `max_response_mb` plus 4 MiB per request in flight, even when
    /// every answer is a decompression bomb.
    fn read_body<T>(
        &self,
        path: &str,
        status: u16,
        body: &mut ureq::Body,
    ) -> Result<Vec<u8>, Attempt<T>> {
        let too_large = |size: String| {
            Attempt::Fail(CallError::Fatal(Error::Api(format!(
                "Postmark's answer to GET {path} (HTTP {status}) is {size}, more than the {} MiB that max_response_mb allows; if such answers are expected, raise max_response_mb",
                self.max_body >> 20
            ))))
        };
        let announced = body.content_length();
        if let Some(announced) = announced.filter(|n| *n > self.max_body) {
            return Err(too_large(format!("announced as {announced} bytes")));
        }
        let unreadable = |e: std::io::Error| match ureq::Error::from(e) {
            ureq::Error::BodyExceedsLimit(_) => too_large("larger than that".into()),
            e => Attempt::Retry {
                why: format!("HTTP {status} body unreadable ({})", describe_transport(&e)),
                after: None,
                rate_limited: false,
            },
        };
        let mut reader = body.with_config().limit(self.max_body).reader();
        // Sized once when the length is known: no copies while it grows.
        let mut buf = Vec::with_capacity(announced.unwrap_or(0).min(LARGE_BODY) as usize);
        (&mut reader)
            .take(LARGE_BODY)
            .read_to_end(&mut buf)
            .map_err(unreadable)?;
        if buf.len() as u64 == LARGE_BODY {
            let _one_at_a_time = LARGE_BODIES.lock().unwrap_or_else(|p| p.into_inner());
            reader.read_to_end(&mut buf).map_err(unreadable)?;
        }
        Ok(buf)
    }
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

/// A 2xx answer: parsed, or retried when it is not JSON or carries a non-zero ErrorCode.
fn success<T>(
    status: u16,
    body: Vec<u8>,
    parse: &impl Fn(Vec<u8>) -> Result<Parsed<T>, String>,
) -> Attempt<T> {
    let len = body.len();
    match parse(body) {
        Err(reason) => Attempt::Retry {
            why: format!("HTTP {status} with a body that is not JSON ({len} bytes: {reason})"),
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
fn failure<T>(
    status: u16,
    body: &[u8],
    token: &Token,
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
            token.label,
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
fn redirect_error(path: &str, status: u16, location: Option<&ureq::http::HeaderValue>) -> Error {
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
    Ok(Parsed {
        error_code: value.get("ErrorCode").and_then(Value::as_i64),
        message: value
            .get("Message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        value,
    })
}

/// Words a transport error without the URL's query or any header.
fn describe_transport(e: &ureq::Error) -> String {
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
    fn the_throttle_halves_on_429_and_climbs_back() {
        let t = Throttle::new(8);
        let cycle = |limited| {
            t.acquire();
            t.release(limited);
        };
        cycle(true);
        assert_eq!(t.allowed(), 4);
        for _ in 0..3 {
            cycle(true);
        }
        assert_eq!(t.allowed(), 1);
        cycle(false);
        assert_eq!(t.allowed(), 2);
        for _ in 0..2 + 3 + 4 + 5 + 6 + 7 {
            cycle(false);
        }
        assert_eq!(t.allowed(), 8);
        for _ in 0..100 {
            cycle(false);
        }
        assert_eq!(t.allowed(), 8);
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
