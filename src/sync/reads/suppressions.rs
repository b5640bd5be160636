//! The suppression dump as activity, on a worker thread: the addresses a message stream
//! suppressed in a range of time (by `CreatedAt`) for a reason no bounce shows (an unsubscribe
//! for one), whose messages are then found by the outbound search by recipient.

use super::spec::ReadsSpec;
use crate::client::path_segment;
use crate::client::Client;
use crate::error::Error;
use crate::streams::SUPPRESSIONS;
use crate::timefmt::{eastern_date, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;

/// Reasons whose suppression comes with a bounce (`HardBounce`, `SpamComplaint`): the bounces
/// search shows their message already.
const SHOWN_BY_BOUNCES: &[&str] = &["HardBounce", "SpamComplaint"];

/// The dump of the partition's suppressions created in `[from, to)`.
#[derive(Clone)]
pub struct DumpRequest<'a> {
    pub spec: Arc<ReadsSpec<'a>>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// An address suppressed in the range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppressed {
    pub email: String,
    pub created: DateTime<Utc>,
}

/// The dump's path, from the suppressions stream's row.
const ENDPOINT: &str = SUPPRESSIONS.path;

/// Reads the dump of the days the range covers (Postmark filters it by Eastern date) and keeps
/// the addresses suppressed within the range for a reason no bounce shows.
pub fn fetch(client: &Client, req: &DumpRequest) -> Result<Vec<Suppressed>, Error> {
    let spec = &*req.spec;
    let id = path_segment(&spec.id, "a message stream ID")?;
    let path = ENDPOINT.replace("{id}", id);
    let query = [
        ("fromdate", eastern_date(req.from).to_string()),
        ("todate", eastern_date(req.to).to_string()),
    ];
    let answer = client
        .get_with(
            &spec.server.token,
            &path,
            &query,
            ENDPOINT,
            Some(&spec.tally),
            crate::client::parse_value,
        )
        .map_err(|e| e.into_error(ENDPOINT))?;
    let list = match answer.get("Suppressions") {
        Some(Value::Array(list)) => list.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => {
            return Err(Error::Api(format!(
                "Postmark's {path} answer has a Suppressions that is not a list"
            )))
        }
    };
    Ok(list.iter().filter_map(|s| suppressed(s, req)).collect())
}

/// A suppression of the range that no bounce shows, if it is one.
fn suppressed(s: &Value, req: &DumpRequest) -> Option<Suppressed> {
    let reason = s.get("SuppressionReason").and_then(Value::as_str);
    if reason.is_some_and(|r| SHOWN_BY_BOUNCES.iter().any(|b| b.eq_ignore_ascii_case(r))) {
        return None;
    }
    let email = s.get("EmailAddress").and_then(Value::as_str)?.trim();
    let created = s
        .get("CreatedAt")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)?;
    let within = req.from <= created && created < req.to;
    (within && !email.is_empty()).then(|| Suppressed {
        email: email.to_string(),
        created,
    })
}
