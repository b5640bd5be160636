//! Statistics streams: one row per US-Eastern day and message stream.
//!
//! Postmark files statistics under Eastern calendar days and keeps them forever. Each run reads
//! from the bookmarked day minus the lookback (recent days still change: late opens, bounces)
//! through today, per message stream (`messagestream=<ID>`; inbound streams have no outbound
//! statistics). The overview has no per-day rows, so it is read one day at a time; the other
//! endpoints are read in ranges of [`CHUNK_DAYS`] days. Dynamic-key endpoints are pivoted to one
//! row per (day, name) so they load into fixed SQL columns.

use super::servers::Server;
use super::{extracted_now, Ctx};
use crate::error::Error;
use crate::singer::catalog::Selected;
use crate::streams::Stats;
use crate::timefmt::eastern_date;
use chrono::{Days, NaiveDate};
use serde_json::{Map, Value};
use std::io::Write;

/// Days per request on endpoints with `Days[]` rows.
const CHUNK_DAYS: u64 = 31;
/// Overview days between two STATE messages.
const OVERVIEW_CHECKPOINT_DAYS: u64 = 7;

pub fn sync<W: Write>(
    ctx: &mut Ctx<'_, W>,
    sel: &Selected,
    server: &Server,
    shape: Stats,
) -> Result<u64, Error> {
    let mut written = 0;
    let lookback_days = (ctx.config.lookback.num_hours().max(0) as u64).div_ceil(24);
    let first_day = eastern_date(ctx.config.start);
    let last_day = eastern_date(match ctx.config.end {
        Some(end) => (end - chrono::Duration::seconds(1)).min(ctx.now),
        None => ctx.now,
    });
    for ms in server.message_streams().iter().filter(|m| !m.is_inbound()) {
        let name = sel.def.name;
        let start = match ctx.state.bookmark(name, server.id, &ms.id) {
            None => first_day,
            Some(b) => {
                let day = NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| {
                    Error::Input(format!(
                        "state: bookmarks.{name}.{}.{} = {b:?} is not a YYYY-MM-DD day",
                        server.id, ms.id
                    ))
                })?;
                (day - Days::new(lookback_days)).max(first_day)
            }
        };
        let mut day = start;
        while day <= last_day {
            let span = if shape == Stats::Overview {
                1
            } else {
                CHUNK_DAYS
            };
            let until = (day + Days::new(span - 1)).min(last_day);
            let query = [
                ("fromdate", day.format("%Y-%m-%d").to_string()),
                ("todate", until.format("%Y-%m-%d").to_string()),
                ("messagestream", ms.id.clone()),
            ];
            let path = sel.def.path;
            let answer = ctx
                .client
                .get(&server.token, path, &query, path)
                .map_err(|e| e.into_error(path))?;
            let extracted = extracted_now();
            for row in rows(&answer, shape, day, path)? {
                let mut record = row;
                record.insert("MessageStream".into(), Value::String(ms.id.clone()));
                ctx.emit(sel, Value::Object(record), Some(server.id), &extracted)?;
                written += 1;
            }
            let bookmark_moves = ctx
                .state
                .bookmark(name, server.id, &ms.id)
                .is_none_or(|b| b < until.format("%Y-%m-%d").to_string().as_str());
            if bookmark_moves {
                ctx.state.set_bookmark(
                    name,
                    server.id,
                    &ms.id,
                    until.format("%Y-%m-%d").to_string(),
                );
            }
            let days_done = (until - start).num_days() as u64 + 1;
            if shape != Stats::Overview
                || days_done % OVERVIEW_CHECKPOINT_DAYS == 0
                || until == last_day
            {
                ctx.checkpoint()?;
            }
            day = until + Days::new(1);
        }
    }
    Ok(written)
}

/// The rows one answer yields (without `ServerID`/`MessageStream`).
fn rows(
    answer: &Value,
    shape: Stats,
    day: NaiveDate,
    path: &str,
) -> Result<Vec<Map<String, Value>>, Error> {
    let obj = answer
        .as_object()
        .ok_or_else(|| Error::Api(format!("Postmark's {path} answer is not an object")))?;
    if shape == Stats::Overview {
        let mut row = obj.clone();
        row.insert(
            "Date".into(),
            Value::String(day.format("%Y-%m-%d").to_string()),
        );
        return Ok(vec![row]);
    }
    let days = match obj.get("Days") {
        Some(Value::Array(d)) => d,
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(_) => {
            return Err(Error::Api(format!(
                "Postmark's {path} answer has a Days that is not a list"
            )))
        }
    };
    let mut out = Vec::new();
    for entry in days {
        let entry = entry.as_object().ok_or_else(|| {
            Error::Api(format!(
                "Postmark's {path} answer has a Days entry that is not an object"
            ))
        })?;
        let date = entry
            .get("Date")
            .and_then(Value::as_str)
            .and_then(|d| d.get(..10))
            .filter(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
            .ok_or_else(|| {
                Error::Api(format!(
                    "Postmark's {path} answer has a Days entry without a YYYY-MM-DD Date"
                ))
            })?
            .to_string();
        match shape {
            Stats::Wide(keys) => {
                let mut row = Map::new();
                row.insert("Date".into(), Value::String(date));
                for k in keys {
                    row.insert(
                        (*k).into(),
                        entry.get(*k).cloned().unwrap_or(Value::from(0)),
                    );
                }
                out.push(row);
            }
            Stats::Long(name_field) => {
                for (k, v) in entry.iter().filter(|(k, _)| k.as_str() != "Date") {
                    let mut row = Map::new();
                    row.insert("Date".into(), Value::String(date.clone()));
                    row.insert(name_field.into(), Value::String(k.clone()));
                    row.insert("Count".into(), v.clone());
                    out.push(row);
                }
            }
            Stats::Overview => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2017, 1, 30).unwrap()
    }

    #[test]
    fn wide_rows_fill_omitted_keys_with_zero() {
        let answer = json!({"Days": [{"Date": "2017-01-30", "Desktop": 1}], "Desktop": 1});
        let rows = rows(&answer, Stats::Wide(&["Desktop", "Mobile"]), day(), "/p").unwrap();
        assert_eq!(
            Value::Object(rows[0].clone()),
            json!({"Date": "2017-01-30", "Desktop": 1, "Mobile": 0})
        );
    }

    #[test]
    fn long_rows_pivot_dynamic_keys() {
        let answer = json!({"Days": [{"Date": "2017-01-30", "Gmail": 2, "Apple Mail": 1}]});
        let rows = rows(&answer, Stats::Long("Client"), day(), "/p").unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows
            .iter()
            .any(|r| r["Client"] == "Apple Mail" && r["Count"] == 1));
    }

    #[test]
    fn empty_and_overview() {
        assert!(rows(&json!({"Days": []}), Stats::Long("Type"), day(), "/p")
            .unwrap()
            .is_empty());
        let r = rows(&json!({"Sent": 0}), Stats::Overview, day(), "/p").unwrap();
        assert_eq!(r[0]["Date"], "2017-01-30");
        assert!(rows(
            &json!({"Days": [{"Sent": 1}]}),
            Stats::Wide(&["Sent"]),
            day(),
            "/p"
        )
        .is_err());
    }
}
