//! Statistics streams: one row per US-Eastern day and message stream.
//!
//! Postmark files statistics under Eastern calendar days and keeps them forever. Each run reads
//! from the bookmarked day minus the lookback (recent days still change: late opens, bounces)
//! through today, per message stream (`messagestream=<ID>`; inbound streams have no outbound
//! statistics). The overview has no per-day rows, so it is read one day at a time; the other
//! endpoints are read in ranges of [`CHUNK_DAYS`] days. Every range of a message stream is asked
//! for at once, and the answers are written in order. Dynamic-key endpoints are pivoted to one
//! row per (day, name) so they load into fixed SQL columns.
//!
//! With `stats_tags`, each statistics stream is also read per tag (`tag=<tag>`), and every row
//! carries `Tag`: the tag, or `""` on the rows of all messages. Each tag keeps its own bookmark
//! (partition `<message stream>/<tag>`, and `<message stream>/` for all messages), so a tag
//! added later is read from the start.

use super::context::{extracted_now, Ctx};
use super::engine::{Engine, Outcome};
use super::servers::{MessageStream, Server};
use crate::client::{Client, Counters};
use crate::error::Error;
use crate::record::line::RecordWriter;
use crate::record::Selected;
use crate::record::Stamps;
use crate::streams::Stats;
use crate::timefmt::eastern_date;
use chrono::{Days, NaiveDate};
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::Arc;

/// Days per request on endpoints with `Days[]` rows.
const CHUNK_DAYS: u64 = 31;
/// Overview days between two STATE messages.
const OVERVIEW_CHECKPOINT_DAYS: u64 = 7;

/// What the requests of one statistics stream on one message stream share.
pub struct StatsSpec<'a> {
    pub sel: &'a Selected,
    pub shape: Stats,
    pub server: Arc<Server>,
    pub stream: MessageStream,
    pub tag: StatsTag,
    pub tally: Counters,
}

/// Which messages a statistics task counts, and the `Tag` its rows carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsTag {
    /// All of them, without a `Tag` column (`stats_tags` unset).
    Untagged,
    /// All of them, `Tag` `""` (`stats_tags` set).
    All,
    /// Those of one tag.
    One(String),
}

impl StatsTag {
    /// The state partition of the task's bookmark on message stream `ms`.
    fn partition(&self, ms: &str) -> String {
        match self {
            StatsTag::Untagged => ms.to_string(),
            StatsTag::All => format!("{ms}/"),
            StatsTag::One(tag) => format!("{ms}/{tag}"),
        }
    }

    /// The `Tag` the task's rows carry, if any.
    fn column(&self) -> Option<&str> {
        match self {
            StatsTag::Untagged => None,
            StatsTag::All => Some(""),
            StatsTag::One(tag) => Some(tag),
        }
    }
}

impl StatsSpec<'_> {
    fn partition(&self) -> String {
        self.tag.partition(&self.stream.id)
    }
}

/// One range of days.
#[derive(Clone)]
pub struct StatsRequest<'a> {
    pub spec: Arc<StatsSpec<'a>>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The RECORD lines of a range's rows.
pub struct StatsAnswer {
    buf: Vec<u8>,
    records: u64,
}

/// The write side of one statistics stream on one message stream.
pub struct StatsTask<'a> {
    spec: Arc<StatsSpec<'a>>,
    first: NaiveDate,
    last: NaiveDate,
    /// Ranges asked for, and handled.
    ranges: u64,
    handled: u64,
    written: u64,
}

impl<'a> StatsTask<'a> {
    /// Plans the ranges from the bookmark and asks for all of them.
    pub fn start<W: Write>(
        ctx: &mut Ctx<'_, W>,
        spec: Arc<StatsSpec<'a>>,
    ) -> Result<(StatsTask<'a>, Vec<StatsRequest<'a>>), Error> {
        let lookback = ctx.config.lookback(spec.sel.def);
        let lookback_days = (lookback.num_hours().max(0) as u64).div_ceil(24);
        let first_day = eastern_date(ctx.config.start);
        let last = eastern_date(match ctx.config.end {
            Some(end) => (end - chrono::Duration::seconds(1)).min(ctx.now),
            None => ctx.now,
        });
        let (name, server, ms) = (spec.sel.def.name, spec.server.id, &spec.partition());
        let first = match ctx.state.bookmark(name, server, ms) {
            None => first_day,
            Some(b) => {
                let day = NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| {
                    Error::Input(format!(
                        "state: bookmarks.{name}.{server}.{ms} = {b:?} is not a YYYY-MM-DD day"
                    ))
                })?;
                (day - Days::new(lookback_days)).max(first_day)
            }
        };
        let span = if spec.shape == Stats::Overview {
            1
        } else {
            CHUNK_DAYS
        };
        let mut requests = Vec::new();
        let mut day = first;
        while day <= last {
            let to = (day + Days::new(span - 1)).min(last);
            requests.push(StatsRequest {
                spec: Arc::clone(&spec),
                from: day,
                to,
            });
            day = to + Days::new(1);
        }
        let task = StatsTask {
            spec,
            first,
            last,
            ranges: requests.len() as u64,
            handled: 0,
            written: 0,
        };
        Ok((task, requests))
    }

    /// Writes a range's rows, moves the bookmark to its last day and, now and then, writes a
    /// STATE.
    fn write_range<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        req: &StatsRequest,
        fetched: StatsAnswer,
    ) -> Result<(), Error> {
        let spec = &self.spec;
        let (name, server, ms) = (spec.sel.def.name, spec.server.id, &spec.partition());
        ctx.write(name, &fetched.buf)?;
        self.written += fetched.records;
        self.handled += 1;
        let until = req.to.format("%Y-%m-%d").to_string();
        if ctx
            .state
            .bookmark(name, server, ms)
            .is_none_or(|b| b < until.as_str())
        {
            ctx.state.set_bookmark(name, server, ms, until);
        }
        let days_done = (req.to - self.first).num_days() as u64 + 1;
        if spec.shape != Stats::Overview
            || days_done % OVERVIEW_CHECKPOINT_DAYS == 0
            || req.to == self.last
        {
            ctx.checkpoint()?;
        }
        Ok(())
    }
}

/// A range with its rows' RECORD lines, as a worker fetched them.
pub struct StatsDone<'a> {
    pub ask: StatsRequest<'a>,
    pub answer: StatsAnswer,
}

impl<'a> Engine<'a> for StatsTask<'a> {
    type Ask = StatsRequest<'a>;
    type Done = StatsDone<'a>;

    fn fetch(client: &Client, ask: &StatsRequest<'a>) -> Result<StatsDone<'a>, Error> {
        let answer = fetch(client, ask)?;
        Ok(StatsDone {
            ask: ask.clone(),
            answer,
        })
    }

    fn server<'r>(ask: &'r StatsRequest<'a>) -> Option<&'r Server> {
        Some(&ask.spec.server)
    }

    fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        done: StatsDone<'a>,
        _asked: &mut Vec<StatsRequest<'a>>,
    ) -> Result<(), Error> {
        self.write_range(ctx, &done.ask, done.answer)
    }

    fn done(&self) -> bool {
        self.handled == self.ranges
    }

    fn outcome(&self) -> Outcome {
        Outcome::single(self.written)
    }

    fn counters(&self) -> &Counters {
        &self.spec.tally
    }
}

/// Reads one range and writes its rows' RECORD lines.
pub fn fetch(client: &Client, req: &StatsRequest) -> Result<StatsAnswer, Error> {
    let spec = &*req.spec;
    let mut query = vec![
        ("fromdate", req.from.format("%Y-%m-%d").to_string()),
        ("todate", req.to.format("%Y-%m-%d").to_string()),
        ("messagestream", spec.stream.id.clone()),
    ];
    if let StatsTag::One(tag) = &spec.tag {
        query.push(("tag", tag.clone()));
    }
    let path = spec.sel.def.path;
    let answer = client
        .get_with(
            &spec.server.token,
            path,
            &query,
            path,
            Some(&spec.tally),
            crate::client::parse_value,
        )
        .map_err(|e| e.into_error(path))?;
    let stamps = Stamps::new(Some(spec.server.id), Some(&spec.stream.id));
    let writer = RecordWriter::new(spec.sel, stamps, &extracted_now())?;
    let mut buf = Vec::new();
    let mut records = 0;
    for mut row in rows(&answer, spec.shape, req.from, path)? {
        if let Some(tag) = spec.tag.column() {
            row.insert("Tag".into(), Value::String(tag.to_string()));
        }
        records += u64::from(writer.value(Value::Object(row), &mut buf)?);
    }
    Ok(StatsAnswer { buf, records })
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
                // Every count of the day, the ones Postmark adds beyond `keys` too; a listed
                // key Postmark left out (it omits zeros) is 0.
                let mut row = entry.clone();
                row.insert("Date".into(), Value::String(date));
                for k in keys {
                    row.entry(*k).or_insert(Value::from(0));
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
    fn wide_rows_keep_the_counts_postmark_adds() {
        let answer = json!({"Days": [{"Date": "2017-01-30", "Desktop": 1, "Tablet": 2}]});
        let rows = rows(&answer, Stats::Wide(&["Desktop", "Mobile"]), day(), "/p").unwrap();
        assert_eq!(
            Value::Object(rows[0].clone()),
            json!({"Date": "2017-01-30", "Desktop": 1, "Mobile": 0, "Tablet": 2})
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
