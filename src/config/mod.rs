//! The tap's settings: one JSON Schema, validated with `jsonschema`, then turned into a typed
//! [`Config`] before any I/O. Nothing downstream re-validates.

use crate::error::Error;
use crate::log;
use crate::streams::{StreamDef, STREAMS};
use crate::timefmt::parse_config_instant;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

mod schema;

pub use schema::{
    schema, DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_MB, DEFAULT_RATE_LIMIT_WAIT_SECONDS,
    DEFAULT_RETENTION_DAYS, DEFAULT_START_DAYS,
};
use schema::{FOUND_TAGS, HEADER_VALUE};

/// `stats_tags` and `stats_tags_max`: the tags whose statistics are read besides every
/// message's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsTags {
    /// The tags the config names, in its order (`"*"` aside).
    pub listed: Vec<String>,
    /// With `"*"`: also the tags found on outbound messages, at most this many per server and
    /// message stream.
    pub found_max: Option<usize>,
}

impl StatsTags {
    /// Whether the statistics streams carry a `Tag` column (and key) in this run.
    pub fn on(&self) -> bool {
        !self.listed.is_empty() || self.found_max.is_some()
    }
}

/// The settings, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub server_token: Option<String>,
    pub account_token: Option<String>,
    pub server_ids: Option<Vec<u64>>,
    /// Where statistics start (`start_date`, or 45 days ago).
    pub start: DateTime<Utc>,
    /// Where messages, events and bounces start (`start_date`, or `retention_days` ago).
    pub message_start: DateTime<Utc>,
    /// `retention_days`.
    pub retention: Duration,
    pub end: Option<DateTime<Utc>>,
    /// `lookback_hours`: every incremental stream's lookback, when set.
    pub lookback: Option<Duration>,
    /// `stream_lookback_hours`: single streams' lookbacks.
    pub stream_lookback: BTreeMap<String, Duration>,
    /// `emit_activate_version_messages`.
    pub activate_version: bool,
    pub base_url: String,
    pub timeout: std::time::Duration,
    pub max_attempts: u32,
    pub retry_initial_delay: std::time::Duration,
    pub retry_max_delay: std::time::Duration,
    pub user_agent: String,
    pub log_level: Option<log::Level>,
    pub progress_interval: std::time::Duration,
    pub concurrency: usize,
    /// The largest answer accepted (bytes, after decompression).
    pub max_response_bytes: u64,
    /// How long 429 answers are retried, per request.
    pub rate_limit_wait: std::time::Duration,
    /// `stats_tags`, `stats_tags_max`.
    pub stats_tags: StatsTags,
}

impl Config {
    /// How far before its bookmark a run re-reads `def`: its own setting, else `lookback_hours`,
    /// else the stream's default.
    pub fn lookback(&self, def: &StreamDef) -> Duration {
        self.stream_lookback
            .get(def.name)
            .copied()
            .or(self.lookback)
            .unwrap_or_else(|| Duration::hours(i64::from(def.lookback_hours)))
    }
}

/// `stream_lookback_hours` names incremental streams only.
fn check_stream_lookbacks(value: &Value, problems: &mut Vec<String>) {
    let names = value
        .get("stream_lookback_hours")
        .and_then(Value::as_object);
    for name in names.into_iter().flat_map(|m| m.keys()) {
        match STREAMS.iter().find(|d| d.name == name) {
            Some(d) if d.replication_key.is_some() => {}
            Some(_) => problems.push(format!(
                "stream_lookback_hours.{name}: a full-table stream is read whole on every run; it has no lookback"
            )),
            None => problems.push(format!(
                "stream_lookback_hours.{name}: no such stream (see --discover for the names)"
            )),
        }
    }
}

/// Validates a config document against the schema, reporting every problem in one line.
pub fn parse(value: &Value, now: DateTime<Utc>) -> Result<Config, Error> {
    if !value.is_object() {
        return Err(Error::Input("config must be a JSON object".into()));
    }
    let schema = schema();
    let mut problems = schema_problems(value, &schema)?;
    warn_unknown_keys(value, &schema);
    let settings = Settings { doc: value, schema };
    let (start, end) = dates(&settings, now, &mut problems);
    let base_url = settings.text("base_url").unwrap_or_default();
    if let Err(why) = check_base_url(&base_url) {
        problems.push(format!("base_url: {why}"));
    }
    check_stream_lookbacks(value, &mut problems);
    let retry_initial = settings.seconds("retry_initial_delay_seconds");
    let retry_max = settings.seconds("retry_max_delay_seconds");
    if retry_max < retry_initial {
        problems
            .push("retry_max_delay_seconds: must not be below retry_initial_delay_seconds".into());
    }
    if !problems.is_empty() {
        let n = problems.len();
        return Err(Error::Input(format!(
            "config has {n} problem{}: {}",
            if n == 1 { "" } else { "s" },
            problems.join("; ")
        )));
    }
    let mut config = settings.config(start, end, base_url);
    config.message_start = match settings.text("start_date") {
        Some(_) => start,
        None => now - config.retention,
    };
    Ok(config)
}

/// Every problem the schema finds, one phrase each, never with the value (a token, maybe).
fn schema_problems(value: &Value, schema: &Value) -> Result<Vec<String>, Error> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| Error::Internal(format!("config schema: {e}")))?;
    Ok(validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let field = path.trim_start_matches('/').replace('/', ".");
            // `masked` keeps the offending value (possibly a token) out of the message.
            let mut why = e.masked().to_string();
            if why.contains(HEADER_VALUE) {
                why = "must be printable ASCII without line breaks (it is sent as an HTTP header)"
                    .into();
            }
            format!(
                "{}: {why}",
                if field.is_empty() { "config" } else { &field }
            )
        })
        .collect())
}

fn warn_unknown_keys(value: &Value, schema: &Value) {
    let props = &schema["properties"];
    for key in value.as_object().into_iter().flat_map(|m| m.keys()) {
        if props.get(key).is_none() {
            log::warn(&format!(
                "config key {key:?} is not a tap-postmark setting; ignored"
            ));
        }
    }
}

/// `start_date` (default: 45 days ago) and `end_date`, each readable, in order, not ahead.
fn dates(
    settings: &Settings,
    now: DateTime<Utc>,
    problems: &mut Vec<String>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let mut instant = |key: &str| {
        let text = settings.text(key)?;
        let parsed = parse_config_instant(&text);
        if parsed.is_none() {
            problems.push(format!(
                "{key}: {text:?} is neither YYYY-MM-DD nor an RFC 3339 date-time"
            ));
        }
        parsed
    };
    let start = match settings.text("start_date") {
        None => now - Duration::days(DEFAULT_START_DAYS),
        Some(_) => instant("start_date").unwrap_or(now),
    };
    let end = instant("end_date");
    if start > now {
        problems.push("start_date: is in the future".into());
    }
    if end.is_some_and(|end| end <= start) {
        problems.push("end_date: must be after start_date".into());
    }
    (start, end)
}

/// The config document, read value by value (already validated by the schema), a setting it
/// leaves out read as the schema's `default`: the one place defaults are written.
struct Settings<'a> {
    doc: &'a Value,
    schema: Value,
}

impl Settings<'_> {
    /// A setting's value, or its default.
    fn value(&self, k: &str) -> Option<&Value> {
        self.doc
            .get(k)
            .or_else(|| self.schema["properties"][k].get("default"))
    }

    fn text(&self, k: &str) -> Option<String> {
        self.value(k).and_then(Value::as_str).map(str::to_string)
    }

    /// An integer, also when written as a float (JSON Schema counts 48.0 as an integer).
    fn integer(&self, k: &str) -> i64 {
        self.value(k).and_then(integer).unwrap_or_default()
    }

    /// A number of seconds; a value too large for a duration (which the schema reports, and the
    /// checks after it still compare) reads as the longest one.
    fn seconds(&self, k: &str) -> std::time::Duration {
        let secs = self.value(k).and_then(Value::as_f64).unwrap_or_default();
        std::time::Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(std::time::Duration::MAX)
    }

    fn config(&self, start: DateTime<Utc>, end: Option<DateTime<Utc>>, base_url: String) -> Config {
        Config {
            server_token: self.text("postmark_server_token"),
            account_token: self.text("postmark_account_token"),
            // An empty list means no restriction (Meltano renders an unset array setting as []).
            server_ids: self
                .doc
                .get("server_ids")
                .and_then(Value::as_array)
                .filter(|ids| !ids.is_empty())
                .map(|ids| {
                    ids.iter()
                        .filter_map(|v| self::integer(v).and_then(|i| u64::try_from(i).ok()))
                        .collect()
                }),
            start,
            message_start: start,
            retention: Duration::days(self.integer("retention_days")),
            end,
            lookback: self
                .doc
                .get("lookback_hours")
                .and_then(self::integer)
                .map(Duration::hours),
            stream_lookback: self.stream_lookback(),
            activate_version: self
                .value("emit_activate_version_messages")
                .and_then(Value::as_bool)
                .unwrap_or_default(),
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout: self.seconds("request_timeout_seconds"),
            max_attempts: self.integer("max_attempts") as u32,
            retry_initial_delay: self.seconds("retry_initial_delay_seconds"),
            retry_max_delay: self.seconds("retry_max_delay_seconds"),
            user_agent: self
                .text("user_agent")
                .unwrap_or_else(|| format!("tap-postmark/{}", env!("CARGO_PKG_VERSION"))),
            log_level: self
                .doc
                .get("log_level")
                .and_then(Value::as_str)
                .and_then(log::Level::parse),
            concurrency: self.integer("max_concurrent_requests").clamp(1, 32) as usize,
            rate_limit_wait: self.seconds("max_rate_limit_wait_seconds"),
            max_response_bytes: (self.integer("max_response_mb").clamp(1, 1024) as u64) << 20,
            progress_interval: self.seconds("progress_interval_seconds"),
            stats_tags: self.stats_tags(),
        }
    }

    fn stats_tags(&self) -> StatsTags {
        let named: Vec<&str> = self
            .doc
            .get("stats_tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        StatsTags {
            listed: named
                .iter()
                .filter(|t| **t != FOUND_TAGS)
                .map(|t| t.to_string())
                .collect(),
            found_max: named
                .contains(&FOUND_TAGS)
                .then(|| self.integer("stats_tags_max").clamp(1, 1000) as usize),
        }
    }

    fn stream_lookback(&self) -> BTreeMap<String, Duration> {
        self.doc
            .get("stream_lookback_hours")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, hours)| {
                Some((name.clone(), Duration::hours(self::integer(hours)?)))
            })
            .collect()
    }
}

/// An integer, also when written as a float.
fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// Whether a text can be sent as an HTTP header value (see `HEADER_VALUE`).
pub fn is_header_value(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// `https://…` anywhere; `http://…` only for loopback hosts (the simulator, a local proxy).
fn check_base_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an http(s) URL"))?;
    let host_port = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(format!("plain http is refused for {host} (tokens would cross the network unencrypted); use https"))
            }
        }
        other => Err(format!("scheme {other:?} is not supported; use https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_config_instant("2026-11-22T12:00:00Z").unwrap()
    }

    #[test]
    fn defaults() {
        let c = parse(&json!({"postmark_server_token": "t"}), now()).unwrap();
        assert_eq!(c.start, now() - Duration::days(45));
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.lookback, None);
        assert!(c.end.is_none());
    }

    #[test]
    fn stats_tags_listed_found_and_refused() {
        let c = parse(&json!({"postmark_server_token": "t"}), now()).unwrap();
        assert!(!c.stats_tags.on());
        let c = parse(
            &json!({"postmark_server_token": "t", "stats_tags": []}),
            now(),
        )
        .unwrap();
        assert!(
            !c.stats_tags.on(),
            "an empty list, as Meltano renders an unset array"
        );
        let c = parse(
            &json!({"postmark_server_token": "t", "stats_tags": ["welcome", "*", "a b"]}),
            now(),
        )
        .unwrap();
        assert_eq!(c.stats_tags.listed, ["welcome", "a b"]);
        assert_eq!(c.stats_tags.found_max, Some(50));
        let c = parse(
            &json!({"postmark_server_token": "t", "stats_tags": ["*"], "stats_tags_max": 3}),
            now(),
        )
        .unwrap();
        assert!(c.stats_tags.on() && c.stats_tags.listed.is_empty());
        assert_eq!(c.stats_tags.found_max, Some(3));
        for bad in [json!(["x", "x"]), json!([""]), json!("welcome"), json!([7])] {
            let err = parse(
                &json!({"postmark_server_token": "t", "stats_tags": bad}),
                now(),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("stats_tags"), "{err}");
        }
    }

    fn def(name: &str) -> &'static StreamDef {
        STREAMS.iter().find(|d| d.name == name).unwrap()
    }

    /// Regression: a number of seconds too large for a duration was a panic, not an error.
    #[test]
    fn seconds_too_large_for_a_duration_are_an_error() {
        let err = parse(
            &json!({"postmark_server_token": "t", "retry_max_delay_seconds": 1.2e220}),
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("retry_max_delay_seconds"), "{err}");
    }

    #[test]
    fn lookback_per_stream_then_global_then_default() {
        let c = parse(&json!({"postmark_server_token": "t"}), now()).unwrap();
        assert_eq!(c.lookback(def("messages_opens")), Duration::hours(1));
        assert_eq!(c.lookback(def("bounces")), Duration::hours(48));
        assert_eq!(
            c.lookback(def("stats_outbound_overview")),
            Duration::hours(48)
        );
        // Every incremental stream re-reads by lookback but the per-record ones, which read a
        // record again when it changed.
        for d in STREAMS.iter().filter(|d| d.replication_key.is_some()) {
            let per_record = d.expands_to().is_some();
            assert_eq!(d.lookback_hours == 0, per_record, "{}", d.name);
        }
        let c = parse(
            &json!({"postmark_server_token": "t", "lookback_hours": 6,
                "stream_lookback_hours": {"bounces": 72, "messages_opens": 0}}),
            now(),
        )
        .unwrap();
        assert_eq!(c.lookback(def("bounces")), Duration::hours(72));
        assert_eq!(c.lookback(def("messages_opens")), Duration::zero());
        assert_eq!(c.lookback(def("messages_outbound")), Duration::hours(6));
    }

    #[test]
    fn stream_lookback_names_incremental_streams() {
        let err = parse(
            &json!({"postmark_server_token": "t",
                "stream_lookback_hours": {"bounce": 1, "templates": 2, "bounces": -1}}),
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("config has 3 problems"), "{err}");
        assert!(
            err.contains("stream_lookback_hours.bounce: no such stream"),
            "{err}"
        );
        assert!(
            err.contains("stream_lookback_hours.templates: a full-table stream"),
            "{err}"
        );
        assert!(err.contains("stream_lookback_hours.bounces:"), "{err}");
    }

    #[test]
    fn retention_sets_the_default_start_of_messages_not_of_statistics() {
        let c = parse(
            &json!({"postmark_server_token": "t", "retention_days": 120}),
            now(),
        )
        .unwrap();
        assert_eq!(c.message_start, now() - Duration::days(120));
        assert_eq!(c.start, now() - Duration::days(45));
        assert_eq!(c.retention, Duration::days(120));
        let c = parse(
            &json!({"postmark_server_token": "t", "retention_days": 7, "start_date": "2026-01-01"}),
            now(),
        )
        .unwrap();
        assert_eq!(c.message_start, c.start);
        let c = parse(&json!({"postmark_server_token": "t"}), now()).unwrap();
        assert_eq!(c.message_start, now() - Duration::days(45));
        assert!(parse(
            &json!({"postmark_server_token": "t", "retention_days": 0}),
            now()
        )
        .is_err());
    }

    #[test]
    fn empty_server_ids_mean_every_server() {
        let c = parse(
            &json!({"postmark_account_token": "t", "server_ids": []}),
            now(),
        )
        .unwrap();
        assert_eq!(c.server_ids, None);
        let c = parse(
            &json!({"postmark_account_token": "t", "server_ids": [7, 8.0]}),
            now(),
        )
        .unwrap();
        assert_eq!(c.server_ids, Some(vec![7, 8]));
    }

    #[test]
    fn yoast_style_start_date() {
        let c = parse(
            &json!({"postmark_server_token": "t", "start_date": "2026-10-01"}),
            now(),
        )
        .unwrap();
        assert_eq!(c.start.to_rfc3339(), "2026-10-01T00:00:00+00:00");
    }

    #[test]
    fn reports_every_problem_without_values() {
        let err = parse(
            &json!({"postmark_server_token": 5, "lookback_hours": "x", "start_date": "soon",
                    "base_url": "http://example.com"}),
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("config has 4 problems"), "{err}");
        assert!(
            err.contains("postmark_server_token") && err.contains("lookback_hours"),
            "{err}"
        );
        assert!(
            err.contains("start_date") && err.contains("base_url"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn header_values_must_be_printable_ascii() {
        for (key, bad) in [
            ("postmark_server_token", "sec\r\nX-Evil: 1"),
            ("postmark_account_token", "secret\u{7f}"),
            ("user_agent", "agent\nsecret"),
            ("postmark_server_token", "s\u{e9}cret"),
        ] {
            let err = parse(&json!({ key: bad }), now()).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
            assert!(err.contains("printable ASCII"), "{err}");
            assert!(!err.contains("sec") || key == "user_agent", "{err}");
            assert!(!err.contains('\n') && !err.contains('\r'), "{err}");
        }
        let c = parse(&json!({"user_agent": "tap (ops@example.com)"}), now()).unwrap();
        assert_eq!(c.user_agent, "tap (ops@example.com)");
    }

    #[test]
    fn base_urls() {
        assert!(check_base_url("https://api.postmarkapp.com").is_ok());
        assert!(check_base_url("http://127.0.0.1:8025").is_ok());
        assert!(check_base_url("http://localhost").is_ok());
        assert!(check_base_url("http://[::1]:80").is_ok());
        assert!(check_base_url("http://api.postmarkapp.com").is_err());
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("nope").is_err());
    }

    #[test]
    fn dates_in_order() {
        assert!(parse(&json!({"start_date": "2030-01-01"}), now()).is_err());
        assert!(parse(
            &json!({"start_date": "2026-10-02", "end_date": "2026-10-01"}),
            now()
        )
        .is_err());
    }
}
