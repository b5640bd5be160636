//! Replays a folder of recorded-style Postmark answers (`tests/fixtures/<set>/`) over HTTP, as
//! the folder's `index.json` rules say: tokens checked, searches filtered to the asked Eastern
//! window and message stream and paged, statistics cut to the asked days, per-item reads of
//! unknown IDs answered 422/701.

use super::hostile::{response, Hostile, Reply, Request};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A fixture set: its index and its answers.
pub struct Fixtures {
    pub index: Value,
    answers: Vec<Answer>,
    /// Where a record with a null time is filed (the odd set's `serve_at`), by its key.
    serve_at: HashMap<String, DateTime<Utc>>,
}

struct Answer {
    path: String,
    query: Vec<(String, String)>,
    account: bool,
    body: Value,
}

/// The folder of a fixture set.
pub fn folder(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(set)
}

impl Fixtures {
    pub fn load(set: &str) -> Fixtures {
        let dir = folder(set);
        let index: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap())
                .unwrap();
        let mut answers = Vec::new();
        for (sub, account) in [("server", false), ("account", true)] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for entry in entries {
                let file: Value =
                    serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap())
                        .unwrap();
                let (path, query) = split(file["path"].as_str().unwrap());
                answers.push(Answer {
                    path: path.to_ascii_lowercase(),
                    query,
                    account,
                    body: file["body"].clone(),
                });
            }
        }
        let mut serve_at = HashMap::new();
        for stream in index["streams"]
            .as_object()
            .into_iter()
            .flat_map(|s| s.values())
        {
            for r in stream["records"].as_array().into_iter().flatten() {
                if let Some(at) = r["serve_at"].as_str() {
                    let key = r
                        .get("MessageID")
                        .or(r.get("ID"))
                        .unwrap()
                        .as_str()
                        .unwrap();
                    serve_at.insert(key.to_string(), at.parse().unwrap());
                }
            }
        }
        Fixtures {
            index,
            answers,
            serve_at,
        }
    }

    /// Serves the set on loopback.
    pub fn serve(self) -> Hostile {
        Hostile::start(None, move |r, _| self.answer(r))
    }

    fn answer(&self, r: &Request) -> Reply {
        let query = decode_query(&r.query);
        let path = r.path.to_ascii_lowercase();
        let server = r.header("X-Postmark-Server-Token") == self.index["server_token"].as_str();
        let account = r.header("X-Postmark-Account-Token") == self.index["account_token"].as_str();
        let found = self
            .answers
            .iter()
            .filter(|a| a.path == path && if a.account { account } else { server })
            .filter(|a| {
                a.query
                    .iter()
                    .all(|(k, v)| param(&query, k) == Some(v.as_str()))
            })
            .max_by_key(|a| a.query.len());
        let Some(found) = found else {
            if !server && !account {
                return Reply::Json(
                    401,
                    json!({"ErrorCode": 10, "Message": "Request does not contain a valid Server token."}),
                );
            }
            return Reply::Json(
                422,
                json!({"ErrorCode": 701, "Message": "This message was not found."}),
            );
        };
        let body = match search_envelope(&path) {
            Some((envelope, time)) => self.search(&found.body, envelope, time, &path, &query),
            None if path.starts_with("/stats/outbound/") => days(&found.body, &query),
            None => paged(&found.body, &query),
        };
        Reply::Raw(response(
            200,
            "application/json",
            body.to_string().as_bytes(),
        ))
    }

    /// A search answer: the records in the asked window and message stream, paged.
    fn search(
        &self,
        body: &Value,
        envelope: &str,
        time: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Value {
        let from = wall_bound(param(query, "fromdate"), false);
        let to = wall_bound(param(query, "todate"), true);
        let stream = param(query, "messagestream").unwrap_or("outbound");
        let kept: Vec<&Value> = body[envelope]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                path == "/messages/inbound"
                    || r["MessageStream"].as_str().unwrap_or("outbound") == stream
            })
            .filter(|r| {
                let at = self.wall_time(r, time);
                from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t)
            })
            .collect();
        let total = kept.len();
        let page = window(&kept, query);
        json!({"TotalCount": total, envelope: page})
    }

    /// A record's time as naive Eastern wall time.
    fn wall_time(&self, r: &Value, field: &str) -> NaiveDateTime {
        let text = r[field].as_str();
        let instant = match text {
            None => {
                // Bounces carry their message's MessageID too: their own ID names them.
                let key = r.get("ID").or(r.get("MessageID")).unwrap();
                let key = key
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| key.to_string());
                *self
                    .serve_at
                    .get(&key)
                    .unwrap_or_else(|| panic!("the index files no time for {key}"))
            }
            Some(t) => match DateTime::parse_from_rfc3339(t)
                .or_else(|_| DateTime::parse_from_rfc2822(t))
            {
                Ok(t) => t.with_timezone(&Utc),
                // No offset: Eastern wall time already.
                Err(_) => return NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").unwrap(),
            },
        };
        instant.with_timezone(&New_York).naive_local()
    }
}

fn search_envelope(path: &str) -> Option<(&'static str, &'static str)> {
    Some(match path {
        "/messages/outbound" => ("Messages", "ReceivedAt"),
        "/messages/outbound/opens" => ("Opens", "ReceivedAt"),
        "/messages/outbound/clicks" => ("Clicks", "ReceivedAt"),
        "/bounces" => ("Bounces", "BouncedAt"),
        "/messages/inbound" => ("InboundMessages", "Date"),
        _ => return None,
    })
}

/// A statistics answer cut to the asked days, its totals the sums of the days kept.
fn days(body: &Value, query: &[(String, String)]) -> Value {
    let Some(rows) = body["Days"].as_array() else {
        return body.clone();
    };
    let from = param(query, "fromdate").unwrap_or("0000-00-00");
    let to = param(query, "todate").unwrap_or("9999-99-99");
    let kept: Vec<&Value> = rows
        .iter()
        .filter(|d| {
            let day = &d["Date"].as_str().unwrap()[..10];
            day >= from && day <= to
        })
        .collect();
    let mut out = Map::new();
    out.insert("Days".into(), json!(kept));
    for day in &kept {
        for (k, v) in day.as_object().unwrap() {
            if k != "Date" {
                let sum = out.get(k).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap();
                out.insert(k.clone(), json!(sum));
            }
        }
    }
    Value::Object(out)
}

/// A list answer paged by `count`/`offset` (any spelling), its `TotalCount` kept.
fn paged(body: &Value, query: &[(String, String)]) -> Value {
    let Some(obj) = body.as_object() else {
        return body.clone();
    };
    let mut out = obj.clone();
    for (k, v) in obj {
        if let (Some(list), true) = (v.as_array(), param(query, "offset").is_some()) {
            let items: Vec<&Value> = list.iter().collect();
            out.insert(k.clone(), json!(window(&items, query)));
        }
    }
    Value::Object(out)
}

fn window<'v>(items: &[&'v Value], query: &[(String, String)]) -> Vec<&'v Value> {
    let offset: usize = param(query, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let count: usize = param(query, "count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(500);
    items.iter().skip(offset).take(count).copied().collect()
}

/// `fromdate`/`todate` as naive Eastern wall time; a date-only `todate` is the whole day.
fn wall_bound(text: Option<&str>, end: bool) -> Option<NaiveDateTime> {
    let text = text?;
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Some(t);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let time = if end {
        NaiveTime::from_hms_milli_opt(23, 59, 59, 999)?
    } else {
        NaiveTime::MIN
    };
    Some(day.and_time(time))
}

fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn split(path: &str) -> (String, Vec<(String, String)>) {
    match path.split_once('?') {
        Some((p, q)) => (p.to_string(), decode_query(q)),
        None => (path.to_string(), Vec::new()),
    }
}

fn decode_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding (and `+` as a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An instant of the index (`2024-03-14T14:22:31.417864Z`).
pub fn instant(text: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&DateTime::parse_from_rfc3339(text).unwrap().naive_utc())
}
