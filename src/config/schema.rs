//! The config file's JSON Schema (also the `settings` of `--about`) and the defaults it states.

use serde_json::{json, Value};

pub const DEFAULT_BASE_URL: &str = "https://api.postmarkapp.com";
/// Postmark keeps messages 45 days unless the retention add-on says otherwise; statistics are
/// read from as far back by default.
pub const DEFAULT_START_DAYS: i64 = 45;
pub const DEFAULT_RETENTION_DAYS: i64 = 45;
/// A page of 500 records is a few MiB at most; a message's details with two 5 MB bodies and its
/// raw source (Postmark's largest message) stay under 30 MiB.
pub const DEFAULT_MAX_RESPONSE_MB: u64 = 32;
/// Postmark publishes no rate limit; a storm of 429s is waited out this long (per request).
pub const DEFAULT_RATE_LIMIT_WAIT_SECONDS: u64 = 300;
/// The most tags `stats_tags: ["*"]` reads per server and message stream, unless
/// `stats_tags_max` says otherwise: each costs about 14 requests a run.
pub const DEFAULT_STATS_TAGS_MAX: u64 = 50;
/// The entry of `stats_tags` that stands for the tags found on outbound messages.
pub const FOUND_TAGS: &str = "*";
/// Values sent as HTTP headers (tokens, `user_agent`): printable ASCII, so no line break can end
/// the header early.
pub(super) const HEADER_VALUE: &str = "^[ -~]*$";

/// The longest lookback accepted: a year.
const MAX_LOOKBACK_HOURS: i64 = 8760;

/// The JSON Schema of the config file (also the `settings` of `--about`).
pub fn schema() -> Value {
    let mut properties = what_to_read();
    if let (Some(all), Value::Object(more)) = (properties.as_object_mut(), how_to_read()) {
        all.extend(more);
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
    })
}

/// The settings of what to read: tokens, servers, range, lookbacks.
fn what_to_read() -> Value {
    json!({
        "postmark_server_token": {
            "type": "string", "minLength": 1, "pattern": HEADER_VALUE, "secret": true, "writeOnly": true,
            "description": "Server API token (X-Postmark-Server-Token). Syncs that one server. The key the Yoast/Mage tap uses."
        },
        "postmark_account_token": {
            "type": "string", "minLength": 1, "pattern": HEADER_VALUE, "secret": true, "writeOnly": true,
            "description": "Account API token (X-Postmark-Account-Token). Lists every server and syncs each with its own server token; also reads servers, domains and sender signatures."
        },
        "server_ids": {
            "type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": true,
            "description": "With the account token: sync only these servers (default, or an empty list: every server)."
        },
        "start_date": {
            "type": "string",
            "description": "Where the first sync starts: YYYY-MM-DD (midnight UTC) or an RFC 3339 date-time. Default: retention_days ago for messages, events and bounces; 45 days ago for statistics."
        },
        "retention_days": {
            "type": "integer", "minimum": 1, "maximum": 3650, "default": DEFAULT_RETENTION_DAYS,
            "description": "How long the Postmark account keeps messages and their events (45 days unless the retention add-on sets 7 to 365). The default start of message, event and bounce streams; a run that starts further back, from start_date or an old bookmark, warns once per stream that those days may already be gone."
        },
        "end_date": {
            "type": "string",
            "description": "Optional end (exclusive) of the synced range: YYYY-MM-DD or RFC 3339, in whole seconds (a fraction of a second is dropped: what falls in it comes with the next run). Default: now minus a 5-minute safety margin."
        },
        "lookback_hours": {
            "type": "integer", "minimum": 0, "maximum": MAX_LOOKBACK_HOURS,
            "description": "Each incremental run re-reads this many hours before its bookmark, on every incremental stream, instead of each stream's own default (what can still change after the fact: 1 hour for opens and clicks, 2 for outbound messages, 12 for inbound messages, 24 for message events, 48 for bounces and statistics)."
        },
        "stream_lookback_hours": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": MAX_LOOKBACK_HOURS},
            "description": "Lookback hours of single incremental streams, by stream name (for example {\"bounces\": 72}); wins over lookback_hours."
        },
        "stats_tags": {
            "type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 1000}, "uniqueItems": true,
            "description": "Statistics per tag as well: the stats_* streams also write each listed tag's rows, and Tag joins their key (\"\" on the rows of all messages). The entry \"*\" stands for every tag found on the outbound messages a run reads (messages_outbound must be selected), and on those of the last retention_days, up to stats_tags_max. Default, or an empty list: no Tag column, as before."
        },
        "stats_tags_max": {
            "type": "integer", "minimum": 1, "maximum": 1000, "default": DEFAULT_STATS_TAGS_MAX,
            "description": "With \"*\" in stats_tags: the most tags read per server and message stream (about 14 requests each a run); more found stops the run with an error naming them, never a silent cut."
        }
    })
}

/// The settings of how to read it: deletions, the API, retries, bounds, logs.
fn how_to_read() -> Value {
    json!({
        "emit_activate_version_messages": {
            "type": "boolean", "default": false,
            "description": "Full-table streams (templates, webhooks, inbound rules, suppressions, servers, domains, senders, ...) carry a table version on every RECORD, and an ACTIVATE_VERSION follows once the stream was read whole on every server, so that the target deletes (or marks deleted) the rows Postmark no longer holds. Not sent for a stream when any server failed, nor ever for incremental streams."
        },
        "base_url": {
            "type": "string", "default": DEFAULT_BASE_URL,
            "description": "Postmark API base URL. Plain http is accepted only for loopback hosts."
        },
        "request_timeout_seconds": {
            "type": "number", "exclusiveMinimum": 0, "maximum": 3600, "default": 60,
            "description": "Timeout for one HTTP request, response body included."
        },
        "max_attempts": {
            "type": "integer", "minimum": 1, "maximum": 50, "default": 8,
            "description": "Attempts per request on 5xx, timeouts, dropped connections and unreadable bodies before the run fails (429 answers are retried by time instead: max_rate_limit_wait_seconds)."
        },
        "retry_initial_delay_seconds": {
            "type": "number", "minimum": 0, "maximum": 600, "default": 1,
            "description": "First retry delay; doubles on each retry up to retry_max_delay_seconds, then a jitter of 50-100% is applied. A Retry-After header is followed, up to retry_max_delay_seconds."
        },
        "retry_max_delay_seconds": {
            "type": "number", "minimum": 0, "maximum": 3600, "default": 60,
            "description": "Longest delay between two attempts, jitter and Retry-After included."
        },
        "user_agent": {
            "type": "string", "minLength": 1, "pattern": HEADER_VALUE,
            "description": "User-Agent header (default: tap-postmark/<version>); printable ASCII."
        },
        "max_response_mb": {
            "type": "integer", "minimum": 1, "maximum": 1024, "default": DEFAULT_MAX_RESPONSE_MB,
            "description": "Largest answer accepted, in MiB after decompression; a larger one stops the run (or its server) with an error. The default holds a page of 500 records many times over and a message's details with the largest bodies Postmark accepts."
        },
        "max_concurrent_requests": {
            "type": "integer", "minimum": 1, "maximum": 32, "default": 4,
            "description": "Requests in flight at once, across the whole run: search pages, per-message reads, statistics, full-table lists and their items, on every server. A 429 answer halves it for a while. Output order and state are the same at any setting."
        },
        "max_rate_limit_wait_seconds": {
            "type": "integer", "minimum": 0, "maximum": 86400, "default": DEFAULT_RATE_LIMIT_WAIT_SECONDS,
            "description": "How long a request answered 429 (slow down) keeps being retried, with fewer requests in flight, before the run fails. 429 retries do not count against max_attempts."
        },
        "progress_interval_seconds": {
            "type": "integer", "minimum": 0, "maximum": 86400, "default": 30,
            "description": "How often a long sync logs its progress per stream (records, windows, requests, rate); 0 logs after every window."
        },
        "log_level": {
            "type": "string", "enum": ["debug", "info", "warning", "error", "critical"], "default": "info",
            "description": "stderr log level. Unset: the level of the logging config Meltano passes in SINGER_SDK_LOG_CONFIG (Meltano's own), else info. The TAP_POSTMARK_LOG_LEVEL environment variable overrides it."
        }
    })
}

#[cfg(test)]
mod tests {
    use super::schema;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// The README's settings table, `(key, default cell)` per row.
    fn readme_settings() -> Vec<(String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let section = readme
            .split("\n## Config\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("a Config section");
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_string(), cells[2].to_string())
            })
            .collect()
    }

    #[test]
    fn the_readme_settings_table_is_the_schema() {
        let schema = schema();
        let props = schema["properties"].as_object().expect("properties");
        let rows = readme_settings();
        let named: BTreeSet<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        let declared: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(named, declared, "README settings table against --about");
        for (key, cell) in &rows {
            let Some(default) = props[key].get("default") else {
                continue;
            };
            let shown = match default {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert!(
                cell.trim_matches('`').starts_with(&shown),
                "{key}: the README says {cell:?}, the schema's default is {shown}"
            );
        }
    }
}
