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
use crate::metrics;
use crate::signals;
use crate::streams::TokenKind;

mod answer;
mod body;
mod throttle;

pub use answer::{backoff, parse_value, path_segment, CallError, Parsed};
use answer::{describe_transport, redirect_error, Attempt};
use body::{Bodies, Head};
pub use body::{BodyReader, Held, Large, Parse, StreamedValue};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
pub use throttle::Throttle;

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

/// Request and retry counters, for the closing summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// Time spent in requests, summed over all of them (µs): divided by the wall time, the
    /// average number of requests in flight.
    pub busy_micros: AtomicU64,
}

/// Requests and retries at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u64,
    pub retries: u64,
}

impl Counters {
    /// Requests and retries so far.
    pub fn snapshot(&self) -> Tally {
        Tally {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    /// Reads answers no larger than `max_response_mb`.
    bodies: Bodies,
    /// How long 429 answers are retried for, per request.
    rate_limit_wait: Duration,
    rng: Mutex<fastrand::Rng>,
    pub throttle: Throttle,
    pub counters: Counters,
}

/// Where a request's retries stand.
#[derive(Default)]
struct Retries {
    /// Failed attempts other than 429s.
    failures: u32,
    /// When the first 429 came, and how many came.
    rate_limited_since: Option<Instant>,
    rate_limits: u32,
}

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
            bodies: Bodies {
                max_body: config.max_response_bytes,
            },
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
        parse: impl Parse<T>,
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
        let mut retries = Retries::default();
        loop {
            signals::check().map_err(CallError::Fatal)?;
            for c in counters {
                c.requests.fetch_add(1, Ordering::Relaxed);
            }
            let (why, after, limited) =
                match self.timed_attempt(token, &url, path, query, endpoint, &parse) {
                    Attempt::Done(v) => return Ok(v),
                    Attempt::Fail(e) => return Err(e),
                    Attempt::Retry {
                        why,
                        after,
                        rate_limited,
                    } => (why, after, rate_limited),
                };
            let (delay, budget) = self.next_try(path, &mut retries, limited, &why, after)?;
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

    /// One attempt, within the throttle, timed and reported as a metric.
    fn timed_attempt<T>(
        &self,
        token: &Token,
        url: &str,
        path: &str,
        query: &[(&str, String)],
        endpoint: &str,
        parse: &impl Parse<T>,
    ) -> Attempt<T> {
        self.throttle.acquire();
        let started = Instant::now();
        let (status, outcome) = self.attempt(token, url, path, query, parse);
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
        outcome
    }

    /// The wait before the next attempt and how the budget stands ("2/7", "while rate
    /// limited"), or the error once the budget is spent: `max_attempts` for most failures,
    /// `max_rate_limit_wait_seconds` for 429s.
    fn next_try(
        &self,
        path: &str,
        r: &mut Retries,
        rate_limited: bool,
        why: &str,
        after: Option<Duration>,
    ) -> Result<(Duration, String), CallError> {
        if rate_limited {
            let since = *r.rate_limited_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.rate_limit_wait {
                return Err(CallError::Fatal(Error::Api(format!(
                    "GET {path}: Postmark kept answering 429 (slow down) for {:.0} s; giving up (max_rate_limit_wait_seconds = {})",
                    since.elapsed().as_secs_f64(),
                    self.rate_limit_wait.as_secs()
                ))));
            }
            r.rate_limits += 1;
            let delay = self.delay(r.rate_limits, after);
            return Ok((delay, "while rate limited".to_string()));
        }
        r.failures += 1;
        if r.failures >= self.max_attempts {
            return Err(CallError::Fatal(Error::Api(format!(
                "GET {path} failed {} times, last: {why}; giving up (max_attempts = {})",
                r.failures, self.max_attempts
            ))));
        }
        let budget = format!("{}/{}", r.failures, self.max_attempts - 1);
        Ok((self.delay(r.failures, after), budget))
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
        parse: &impl Parse<T>,
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
                let (after, rate_limited) = (None, false);
                return (
                    None,
                    Attempt::Retry {
                        why,
                        after,
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
        let head = Head {
            path,
            status,
            retry_after,
            token_label: &token.label,
        };
        let outcome = self.bodies.answer(&head, response.body_mut(), parse);
        (Some(status), outcome)
    }
}
