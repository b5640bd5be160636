//! Where Postmark's answers drift from a stream's schema: values converted to the schema's type
//! (losslessly), values that could not be and were written as null, keys the schema does not
//! declare, and search records whose timestamp is missing. Counted per stream for the summary,
//! and each kind warned about once per stream, so no record is ever written invalid and no
//! drift goes unseen.

use crate::log;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// One drift of one record.
pub enum Event<'a> {
    /// A value of another type than the schema's, converted without loss (a number into a
    /// string property, say).
    Converted {
        path: &'a str,
        from: &'static str,
        to: &'static str,
    },
    /// A value that fits none of the schema's types and cannot be converted without loss: it is
    /// written as null.
    Nulled { path: &'a str, original: &'a Value },
    /// A key the schema does not declare: it is not written (add it to the catalog's schema to
    /// keep it).
    Undeclared { path: &'a str },
    /// A search record whose timestamp is missing or unreadable: it is written in the window
    /// whose answer held it.
    Untimed { field: &'a str, key: &'a str },
    /// A record whose key would be null: it cannot be loaded, so it is counted, not written.
    Keyless { field: &'a str, key: &'a str },
}

/// The drift of one stream, shared by the threads that shape its records.
#[derive(Debug, Default)]
pub struct Drift {
    counts: [AtomicU64; KINDS],
    warned: [AtomicBool; KINDS],
}

const KINDS: usize = 5;

/// What a stream's drift came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriftCounts {
    pub converted: u64,
    pub nulled: u64,
    pub undeclared: u64,
    pub untimed: u64,
    pub keyless: u64,
}

impl Drift {
    /// Counts `event` of `stream`, and warns the first time a kind of drift happens.
    pub fn note(&self, stream: &str, event: Event) {
        let kind = match event {
            Event::Converted { .. } => 0,
            Event::Nulled { .. } => 1,
            Event::Undeclared { .. } => 2,
            Event::Untimed { .. } => 3,
            Event::Keyless { .. } => 4,
        };
        self.counts[kind].fetch_add(1, Ordering::Relaxed);
        if self.warned[kind].swap(true, Ordering::Relaxed) {
            return;
        }
        let what = match event {
            Event::Converted { path, from, to } => format!(
                "Postmark sent {path} as {from} where the schema has {to}; converted without loss"
            ),
            Event::Nulled { path, original } => format!(
                "Postmark sent {path} as {}, which fits no type the schema allows and cannot be converted without loss; written as null",
                shown(original)
            ),
            Event::Undeclared { path } => format!(
                "Postmark sent {path}, which the schema does not declare; not written (add it to the catalog's schema to keep it)"
            ),
            Event::Untimed { field, key } => format!(
                "Postmark sent a record ({key}) without a readable {field}; written in the window whose answer held it"
            ),
            Event::Keyless { field, key } => format!(
                "Postmark sent a record ({key}) without {field}, part of its key; it cannot be loaded and is not written"
            ),
        };
        log::warn_for(
            stream,
            &format!("{stream}: {what} (later ones are counted in the summary)"),
        );
    }

    pub fn counts(&self) -> DriftCounts {
        let n = |i: usize| self.counts[i].load(Ordering::Relaxed);
        DriftCounts {
            converted: n(0),
            nulled: n(1),
            undeclared: n(2),
            untimed: n(3),
            keyless: n(4),
        }
    }
}

impl DriftCounts {
    /// The summary's words for what is not zero (", 3 values converted to the schema's type").
    pub fn describe(&self) -> String {
        let parts = [
            (self.converted, "values converted to the schema's type"),
            (
                self.nulled,
                "values written as null (no lossless conversion)",
            ),
            (self.undeclared, "undeclared keys not written"),
            (self.untimed, "records without a readable timestamp"),
            (self.keyless, "records without their key, not written"),
        ];
        parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!(", {n} {what}"))
            .collect()
    }
}

/// A value as the warning shows it: its JSON, cut to 100 characters.
fn shown(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
