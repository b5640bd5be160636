//! Timestamps as the tap writes them: its UTC text form, and reading one back.

use chrono::{DateTime, Utc};

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, checked character by character.
pub fn is_utc_text(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            26 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// An RFC 3339 timestamp (a bookmark, a record's time) as a UTC instant.
pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}
