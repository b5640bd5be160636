//! The tap's state: one bookmark per stream, server and partition (message stream), and what
//! the per-record reads keep between runs.
//!
//! Shape: `{"version": 1, "bookmarks": {"<stream>": {"<server id>": {"<partition>": "<value>"}}},
//! "reads": {"<group>": {"<server id>": {"<partition>": {…}}}}, "stats_tags": {"<server id>":
//! {"<message stream>": {"<tag>": "<day>"}}}}` where a bookmark is an RFC 3339 UTC instant
//! (search streams: the end of the last complete window) or a `YYYY-MM-DD` Eastern day
//! (statistics: the last day read; with `stats_tags`, under the partition `<message stream>/`
//! for all messages and `<message stream>/<tag>` for a tag), a `reads` entry is a [`Kept`], and
//! `stats_tags` holds, with `stats_tags: ["*"]`, the Eastern day each tag was last found on an
//! outbound message. Every STATE message
//! carries the whole state, bookmarks of unselected streams included, because Meltano stores each
//! one as the complete state.

use crate::error::Error;
use crate::timefmt::parse_timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the per-record reads of one server and partition keep between runs (the README's
/// "What the state keeps").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kept {
    /// Where each activity search was read up to (RFC 3339 UTC), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub activity: BTreeMap<String, String>,
    /// Records whose last read said they may still change, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// Records that may still change, past what `pending` holds: every record found in
    /// `[from, to]` is read again when due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<Overflow>,
    /// What each search of these reads (`new`, and the activity ones by name) held in the hour
    /// before where it stopped, `"<instant> <count> <sum>"`: the next run reads that hour again
    /// and compares, to find the records that reached the search late.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub late: BTreeMap<String, String>,
}

/// A record that may still change: `[id, found at, unsettled since, last read, queued]`, the
/// instants in RFC 3339 UTC (`found at`: its bookmark field, `ReceivedAt` for a message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending(pub String, pub String, pub String, pub String, pub bool);

/// The records found in `[from, to]` (by their bookmark field) that may still change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overflow {
    pub from: String,
    pub to: String,
    /// Unsettled since, and last read (as a pending record's).
    pub since: String,
    pub read: String,
}

impl Kept {
    /// Every instant it holds, for the check of a state read from a file.
    fn instants(&self) -> impl Iterator<Item = &str> {
        let pending = self.pending.iter().flat_map(|p| [&p.1, &p.2, &p.3]);
        let overflow = self
            .overflow
            .iter()
            .flat_map(|o| [&o.from, &o.to, &o.since, &o.read]);
        let late = self
            .late
            .values()
            .map(|v| v.split(' ').next().unwrap_or(""));
        let named = self.activity.values().chain(pending).chain(overflow);
        named.map(String::as_str).chain(late)
    }

    /// A `late` entry that is not `"<instant> <count> <sum>"`, if any.
    fn odd_late(&self) -> Option<&String> {
        self.late.values().find(|v| {
            let parts: Vec<&str> = v.split(' ').collect();
            !matches!(parts.as_slice(), [_, count, sum]
                if count.parse::<u64>().is_ok() && u64::from_str_radix(sum, 16).is_ok())
        })
    }
}

pub const STATE_VERSION: u64 = 1;

#[derive(Clone, Debug, Default)]
pub struct State {
    /// Always an object.
    root: Value,
}

impl State {
    /// An empty state (first run).
    pub fn empty() -> State {
        let mut root = Map::new();
        root.insert("version".into(), Value::from(STATE_VERSION));
        root.insert("bookmarks".into(), Value::Object(Map::new()));
        State {
            root: Value::Object(root),
        }
    }

    /// Reads a state file's JSON, refusing shapes this tap did not write.
    pub fn parse(text: &str) -> Result<State, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::Input(format!("state is not valid JSON ({e})")))?;
        State::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<State, Error> {
        let Value::Object(mut root) = value else {
            return Err(Error::Input("state must be a JSON object".into()));
        };
        if root.is_empty() {
            return Ok(State::empty());
        }
        match root.get("version") {
            None => {}
            Some(v) if v.as_u64() == Some(STATE_VERSION) => {}
            Some(v) => {
                return Err(Error::Input(format!(
                    "state has version {v}, this tap reads version {STATE_VERSION}; remove the state file to start from start_date"
                )))
            }
        }
        let bookmarks = root
            .entry("bookmarks")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(bookmarks) = bookmarks.as_object() else {
            return Err(Error::Input(
                "state: \"bookmarks\" must be an object".into(),
            ));
        };
        for (stream, servers) in bookmarks {
            let Some(servers) = servers.as_object() else {
                return Err(Error::Input(format!(
                    "state: bookmarks.{stream} must be an object"
                )));
            };
            for (server, partitions) in servers {
                let partitions_ok = partitions
                    .as_object()
                    .is_some_and(|p| p.values().all(Value::is_string));
                // Canonical decimal only: "010001" would never be found by its ID.
                let canonical = server
                    .parse::<u64>()
                    .is_ok_and(|n| n.to_string() == *server);
                if !canonical || !partitions_ok {
                    return Err(Error::Input(format!(
                        "state: bookmarks.{stream} is not in this tap's format (expected {{\"<server id>\": {{\"<message stream>\": \"<bookmark>\"}}}}); it may come from another Postmark tap: remove it to start from start_date"
                    )));
                }
            }
        }
        check_reads(root.get("reads"))?;
        check_found_tags(root.get("stats_tags"))?;
        drop_foreign_keys(&mut root);
        root.insert("version".into(), Value::from(STATE_VERSION));
        Ok(State {
            root: Value::Object(root),
        })
    }

    pub fn bookmark(&self, stream: &str, server: u64, partition: &str) -> Option<&str> {
        self.root
            .get("bookmarks")?
            .get(stream)?
            .get(server.to_string())?
            .get(partition)?
            .as_str()
    }

    pub fn set_bookmark(&mut self, stream: &str, server: u64, partition: &str, value: String) {
        if let Some(p) = self.object_at(&["bookmarks", stream, &server.to_string()]) {
            p.insert(partition.to_string(), Value::String(value));
        }
    }

    /// The object at `path` from the root, made where missing or not an object.
    fn object_at(&mut self, path: &[&str]) -> Option<&mut Map<String, Value>> {
        let mut node = &mut self.root;
        for key in path {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            node = node
                .as_object_mut()?
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        node.as_object_mut()
    }

    /// Whether the per-record reads of `group` on this server and partition kept anything
    /// (they always keep an entry once they have run).
    pub fn has_kept(&self, group: &str, server: u64, partition: &str) -> bool {
        self.kept_value(group, server, partition).is_some()
    }

    /// What the per-record reads of `group` on this server and partition kept (checked when
    /// the state was read).
    pub fn kept(&self, group: &str, server: u64, partition: &str) -> Kept {
        self.kept_value(group, server, partition)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    fn kept_value(&self, group: &str, server: u64, partition: &str) -> Option<&Value> {
        self.root
            .get("reads")?
            .get(group)?
            .get(server.to_string())?
            .get(partition)
    }

    pub fn set_kept(&mut self, group: &str, server: u64, partition: &str, kept: &Kept) {
        let value = serde_json::to_value(kept);
        if let (Some(map), Ok(value)) = (
            self.object_at(&["reads", group, &server.to_string()]),
            value,
        ) {
            map.insert(partition.to_string(), value);
        }
    }

    /// The tags last found on the outbound messages of a server and message stream, with the
    /// Eastern day of each (checked when the state was read).
    pub fn found_tags(&self, server: u64, stream: &str) -> BTreeMap<String, String> {
        self.root
            .get("stats_tags")
            .and_then(|t| t.get(server.to_string()))
            .and_then(|t| t.get(stream))
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .unwrap_or_default()
    }

    pub fn set_found_tags(&mut self, server: u64, stream: &str, tags: &BTreeMap<String, String>) {
        let value = serde_json::to_value(tags);
        if let (Some(map), Ok(value)) =
            (self.object_at(&["stats_tags", &server.to_string()]), value)
        {
            map.insert(stream.to_string(), value);
        }
    }

    pub fn to_value(&self) -> Value {
        self.root.clone()
    }

    /// The state as written in a STATE message (no copy).
    pub fn as_value(&self) -> &Value {
        &self.root
    }
}

/// Checks the `reads` of a state read from a file: `{"<group>": {"<server id>": {"<partition>":
/// <Kept>}}}` with readable instants.
fn check_reads(reads: Option<&Value>) -> Result<(), Error> {
    let Some(reads) = reads else { return Ok(()) };
    let wrong = |path: &str, why: &str| {
        Error::Input(format!(
            "state: reads{path} {why}; it was not written by this tap: remove \"reads\" from the state (the next run then reads the last 24 hours of per-record streams again)"
        ))
    };
    let object = |v: &Value, path: &str| {
        v.as_object()
            .ok_or_else(|| wrong(path, "is not an object"))
            .cloned()
    };
    for (group, servers) in object(reads, "")? {
        for (server, partitions) in object(&servers, &format!(".{group}"))? {
            if server.parse::<u64>().map(|n| n.to_string()) != Ok(server.clone()) {
                return Err(wrong(&format!(".{group}.{server}"), "is not a server ID"));
            }
            for (partition, entry) in object(&partitions, &format!(".{group}.{server}"))? {
                let path = format!(".{group}.{server}.{partition}");
                let kept: Kept = serde_json::from_value(entry)
                    .map_err(|e| wrong(&path, &format!("is not in this tap's format ({e})")))?;
                let bad = kept
                    .instants()
                    .find(|t| parse_timestamp(t).is_none())
                    .map(str::to_string)
                    .or_else(|| kept.odd_late().cloned());
                if let Some(bad) = bad {
                    return Err(wrong(
                        &path,
                        &format!("holds {bad:?}, not what this tap writes"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks the `stats_tags` of a state read from a file: `{"<server id>": {"<message stream>":
/// {"<tag>": "YYYY-MM-DD"}}}`.
fn check_found_tags(tags: Option<&Value>) -> Result<(), Error> {
    let Some(tags) = tags else { return Ok(()) };
    type Found = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;
    let fits = serde_json::from_value::<Found>(tags.clone()).is_ok_and(|servers| {
        let canonical = |s: &String| s.parse::<u64>().is_ok_and(|n| n.to_string() == *s);
        let day = |d: &String| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok();
        servers.keys().all(canonical)
            && servers
                .values()
                .flat_map(BTreeMap::values)
                .flat_map(BTreeMap::values)
                .all(day)
    });
    if fits {
        return Ok(());
    }
    Err(Error::Input(
        "state: stats_tags is not in this tap's format (expected {\"<server id>\": {\"<message stream>\": {\"<tag>\": \"YYYY-MM-DD\"}}}); remove it, and the next run finds the tags again".into(),
    ))
}

/// Keeps only the tap's own top-level keys: every STATE repeats the whole state, so anything else
/// in the input would be copied into each one.
fn drop_foreign_keys(root: &mut Map<String, Value>) {
    let foreign: Vec<String> = root
        .keys()
        .filter(|k| !matches!(k.as_str(), "version" | "bookmarks" | "reads" | "stats_tags"))
        .cloned()
        .collect();
    if foreign.is_empty() {
        return;
    }
    for k in &foreign {
        root.remove(k);
    }
    let mut named: Vec<String> = foreign
        .iter()
        .take(10)
        .map(|k| format!("{:?}", k.chars().take(40).collect::<String>()))
        .collect();
    if foreign.len() > named.len() {
        named.push(format!("and {} more", foreign.len() - named.len()));
    }
    crate::log::warn(&format!(
        "state: dropped top-level key(s) that are not this tap's ({}); only \"version\", \"bookmarks\", \"reads\" and \"stats_tags\" are kept",
        named.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_bookmarks_and_keeps_foreign_streams() {
        let mut s = State::from_value(json!({
            "version": 1,
            "bookmarks": {"other_stream": {"7": {"x": "2024-01-01T00:00:00.000000Z"}}}
        }))
        .unwrap();
        s.set_bookmark(
            "messages_outbound",
            10001,
            "outbound",
            "2024-02-01T00:00:00.000000Z".into(),
        );
        assert_eq!(
            s.bookmark("messages_outbound", 10001, "outbound"),
            Some("2024-02-01T00:00:00.000000Z")
        );
        assert_eq!(
            s.bookmark("other_stream", 7, "x"),
            Some("2024-01-01T00:00:00.000000Z")
        );
        let again = State::from_value(s.to_value()).unwrap();
        assert_eq!(again.to_value(), s.to_value());
    }

    #[test]
    fn drops_foreign_top_level_keys() {
        let s = State::from_value(json!({
            "bookmarks": {}, "currently_syncing": "x", "blob": "y".repeat(1000)
        }))
        .unwrap();
        assert_eq!(s.to_value(), json!({"version": 1, "bookmarks": {}}));
    }

    proptest::proptest! {
        /// What the per-record reads keep comes back as it was, through a STATE's text, for any
        /// IDs and instants.
        #[test]
        fn kept_reads_round_trip(
            ids in proptest::collection::vec("\\PC{0,40}", 0..20),
            secs in proptest::collection::vec(0i64..4_000_000_000, 4),
            queued in proptest::bool::ANY,
            server in 1u64..u64::MAX,
        ) {
            let t = |i: usize| {
                let at = chrono::DateTime::from_timestamp(secs[i], 123_456_000).unwrap();
                crate::timefmt::format_utc(at)
            };
            let mut kept = Kept::default();
            kept.activity.insert("opens".into(), t(0));
            kept.late.insert("new".into(), format!("{} 7 00ff00ff00ff00ff", t(1)));
            for id in &ids {
                kept.pending.push(Pending(id.clone(), t(1), t(2), t(3), queued));
            }
            let mut state = State::empty();
            state.set_kept("outbound_details", server, "outbound", &kept);
            let text = serde_json::to_string(&state.to_value()).unwrap();
            let again = State::parse(&text).unwrap();
            proptest::prop_assert!(again.has_kept("outbound_details", server, "outbound"));
            proptest::prop_assert_eq!(again.kept("outbound_details", server, "outbound"), kept);
        }
    }

    #[test]
    fn refuses_foreign_shapes() {
        assert!(State::parse("[]").is_err());
        assert!(State::parse("{").is_err());
        assert!(State::from_value(
            json!({"bookmarks": {"messages_opens": {"start_date": "2024-01-01"}}})
        )
        .is_err());
        assert!(State::from_value(json!({"version": 0, "bookmarks": {}})).is_err());
        assert!(State::from_value(json!({"bookmarks": []})).is_err());
        assert!(State::from_value(json!({})).is_ok());
    }

    #[test]
    fn found_tags_round_trip_and_refuse_other_shapes() {
        let mut s = State::from_value(json!({"bookmarks": {}})).unwrap();
        let tags: BTreeMap<String, String> = [("welcome".into(), "2026-11-30".into())].into();
        s.set_found_tags(10001, "outbound", &tags);
        let read = State::from_value(s.to_value()).unwrap();
        assert_eq!(read.found_tags(10001, "outbound"), tags);
        assert!(read.found_tags(10001, "broadcast").is_empty());
        for bad in [
            json!([]),
            json!({"x": {}}),
            json!({"10001": []}),
            json!({"10001": {"outbound": {"welcome": 7}}}),
            json!({"10001": {"outbound": {"welcome": "yesterday"}}}),
        ] {
            let err = State::from_value(json!({"bookmarks": {}, "stats_tags": bad}))
                .unwrap_err()
                .to_string();
            assert!(err.contains("stats_tags"), "{err}");
        }
    }
}
