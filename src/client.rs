//! The one HTTP client: auth headers, retries with backoff, error classification, metrics.
//!
//! Retried (with exponential backoff, jitter and `Retry-After`): 429, 500, 502, 503, 504,
//! timeouts, refused or dropped connections, and 200 answers whose body is not JSON or carries a
//! non-zero ErrorCode. Not retried: 401/403 (a rejected token) and other 4xx, which carry
//! Postmark's ErrorCode and Message to the caller. Tokens go into headers only and never into a
//! log line or an error.

use crate::config::Config;
use crate::error::Error;
use crate::log;
use crate::signals;
use crate::singer::metrics;
use crate::streams::TokenKind;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
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
}

pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    rng: Mutex<fastrand::Rng>,
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
    },
    Fail(CallError),
}

impl Client {
    pub fn new(config: &Config) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(config.user_agent.as_str())
            .build()
            .into();
        Client {
            agent,
            base_url: config.base_url.clone(),
            max_attempts: config.max_attempts.max(1),
            initial_delay: config.retry_initial_delay,
            max_delay: config.retry_max_delay,
            rng: Mutex::new(fastrand::Rng::new()),
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

    /// [`Client::get`] with the caller's parser for 2xx bodies (`None`: not JSON, retried);
    /// requests and retries are also counted in `tally`.
    pub fn get_with<T>(
        &self,
        token: &Token,
        path: &str,
        query: &[(&str, String)],
        endpoint: &str,
        tally: Option<&Counters>,
        parse: impl Fn(Vec<u8>) -> Option<Parsed<T>>,
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
        loop {
            signals::check().map_err(CallError::Fatal)?;
            let started = Instant::now();
            for c in counters {
                c.requests.fetch_add(1, Ordering::Relaxed);
            }
            let outcome = self.attempt(token, &url, query, &parse);
            let (status, ok) = match &outcome {
                (s, Attempt::Done(_)) => (*s, true),
                (s, _) => (*s, false),
            };
            metrics::http_request(endpoint, status, started.elapsed().as_secs_f64(), ok);
            match outcome.1 {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { why, after } => {
                    if attempt >= self.max_attempts {
                        return Err(CallError::Fatal(Error::Api(format!(
                            "GET {path} failed {attempt} times, last: {why}; giving up (max_attempts = {})",
                            self.max_attempts
                        ))));
                    }
                    let delay = after.unwrap_or_else(|| self.backoff(attempt));
                    log::warn(&format!(
                        "GET {path}: {why}; retry {attempt}/{} in {:.1}s",
                        self.max_attempts - 1,
                        delay.as_secs_f64()
                    ));
                    for c in counters {
                        c.retries.fetch_add(1, Ordering::Relaxed);
                    }
                    signals::sleep(delay).map_err(CallError::Fatal)?;
                    attempt += 1;
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_delay
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(self.max_delay);
        let jitter = self.rng.lock().map(|mut r| r.f64()).unwrap_or(0.5);
        exp.mul_f64(0.5 + jitter)
    }

    fn attempt<T>(
        &self,
        token: &Token,
        url: &str,
        query: &[(&str, String)],
        parse: &impl Fn(Vec<u8>) -> Option<Parsed<T>>,
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
                return (
                    None,
                    Attempt::Retry {
                        why: describe_transport(&e),
                        after: None,
                    },
                )
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(600)));
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec();
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                return (
                    Some(status),
                    Attempt::Retry {
                        why: format!("HTTP {status} body unreadable ({})", describe_transport(&e)),
                        after: retry_after,
                    },
                )
            }
        };
        if (200..=299).contains(&status) {
            let len = body.len();
            let outcome = match parse(body) {
                None => Attempt::Retry {
                    why: format!("HTTP {status} with a body that is not JSON ({len} bytes)"),
                    after: None,
                },
                Some(p) => match p.error_code {
                    Some(code) if code != 0 => Attempt::Retry {
                        why: format!("HTTP {status} carrying ErrorCode {code}: {}", p.message),
                        after: None,
                    },
                    _ => Attempt::Done(p.value),
                },
            };
            return (Some(status), outcome);
        }
        let json: Option<Value> = serde_json::from_slice(&body).ok();
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
        let outcome = match status {
            429 | 500 | 502 | 503 | 504 => Attempt::Retry {
                why: format!(
                    "HTTP {status}{}",
                    error_code
                        .map(|c| format!(" (ErrorCode {c}: {message})"))
                        .unwrap_or_default()
                ),
                after: retry_after,
            },
            401 | 403 => Attempt::Fail(CallError::Fatal(Error::Auth(format!(
                "Postmark rejected the {} (HTTP {status}{}); check it in the config",
                token.label,
                error_code
                    .map(|c| format!(", ErrorCode {c}: {message}"))
                    .unwrap_or_default()
            )))),
            _ => Attempt::Fail(CallError::Postmark {
                status,
                code: error_code.unwrap_or(0),
                message: if message.is_empty() {
                    String::from_utf8_lossy(&body).chars().take(200).collect()
                } else {
                    message
                },
            }),
        };
        (Some(status), outcome)
    }
}

/// Parses a 2xx body as a `Value` (the parser of [`Client::get`]).
pub fn parse_value(body: Vec<u8>) -> Option<Parsed<Value>> {
    let value: Value = serde_json::from_slice(&body).ok()?;
    Some(Parsed {
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
