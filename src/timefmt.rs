//! Time as Postmark speaks it and as Singer wants it.
//!
//! Postmark filters (`fromdate`/`todate`) are naive US-Eastern wall time, inclusive at both ends;
//! its timestamps are Eastern local time with a numeric offset and up to seven fractional digits.
//! Singer wants RFC 3339 in UTC. Everything here is a pure function so it can be property-tested
//! across every daylight-saving change.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset,
    SecondsFormat, TimeZone, Utc,
};
use chrono_tz::America::New_York;
use chrono_tz::Tz;

/// Postmark's clock: America/New_York, with daylight saving.
pub const EASTERN: Tz = New_York;

/// Formats an instant the way every record and state value is written: UTC, six fractional
/// digits (truncated), `Z`.
pub fn format_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a Postmark timestamp: RFC 3339 with any number of fractional digits (nanoseconds
/// kept, the rest dropped) and a numeric offset or `Z`. Also accepts a space instead of `T` and
/// an offset without a colon, which some endpoints have been seen to produce, and no offset at
/// all, which is Eastern wall time (the clock Postmark's filters use): in the autumn's repeated
/// hour the earlier instant is taken, and a wall time skipped in spring is read an hour later.
/// Years 1–9999 only: RFC 3339 cannot write others, and Eastern conversion needs headroom.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = at_most_nine_digits(s.trim());
    let parsed = DateTime::parse_from_rfc3339(&s)
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f%z",
                "%Y-%m-%d %H:%M:%S%.f%z",
                "%Y-%m-%d %H:%M:%S%.f%:z",
            ]
            .iter()
            .find_map(|fmt| DateTime::parse_from_str(&s, fmt).ok())
        })
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| eastern_naive(&s))?;
    in_range(parsed)
}

/// A wall time without offset, read as US-Eastern.
fn eastern_naive(s: &str) -> Option<DateTime<Utc>> {
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())?;
    match EASTERN.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => EASTERN
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// The text with its fractional seconds cut to nine digits (chrono reads no more).
fn at_most_nine_digits(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(dot) = s.find('.') else {
        return s.into();
    };
    let digits = s[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
    if digits <= 9 {
        return s.into();
    }
    format!("{}{}", &s[..dot + 10], &s[dot + 1 + digits..]).into()
}

/// Keeps instants whose year (in UTC and in Eastern time) is 1–9999.
fn in_range(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let lo = t.checked_sub_signed(Duration::hours(6))?;
    let hi = t.checked_add_signed(Duration::hours(6))?;
    let ok = |y: i32| (1..=9999).contains(&y);
    (ok(lo.year()) && ok(hi.year())).then_some(t)
}

/// Parses a user-supplied instant: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_config_instant(s: &str) -> Option<DateTime<Utc>> {
    let t = match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) => d.and_hms_opt(0, 0, 0)?.and_utc(),
        Err(_) => DateTime::parse_from_rfc3339(s.trim())
            .ok()?
            .with_timezone(&Utc),
    };
    in_range(t)
}

/// The Eastern wall time of an instant, as Postmark's filters read it.
pub fn eastern_wall(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&EASTERN).naive_local()
}

/// The Eastern calendar day of an instant (the day Postmark's statistics file it under).
pub fn eastern_date(t: DateTime<Utc>) -> NaiveDate {
    eastern_wall(t).date()
}

/// Formats a naive wall time for a `fromdate`/`todate` parameter: `YYYY-MM-DDTHH:MM:SS`, no
/// offset (Postmark reportedly matches nothing when an offset is given).
pub fn format_filter(n: NaiveDateTime) -> String {
    n.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The UTC offset of Eastern time at an instant.
fn offset_at(t: DateTime<Utc>) -> FixedOffset {
    EASTERN.offset_from_utc_datetime(&t.naive_utc()).fix()
}

/// The naive Eastern wall-time range `[from, to]` (inclusive, whole seconds) that contains the
/// wall time of every instant in `[start, end)`.
///
/// Wall time runs monotonically except at the autumn change, when it jumps back an hour; a window
/// that contains such a change must widen its naive range to cover the repeated hour on both
/// sides. The caller filters the records back to `[start, end)` by their exact timestamps.
/// `start` and `end` must be whole seconds with `start < end`.
pub fn wall_range(start: DateTime<Utc>, end: DateTime<Utc>) -> (NaiveDateTime, NaiveDateTime) {
    let mut from = eastern_wall(start);
    let mut to = eastern_wall(end);
    for change in offset_changes(start, end) {
        let before = offset_at(change - Duration::seconds(1));
        let after = offset_at(change);
        if after.local_minus_utc() < before.local_minus_utc() {
            // Fall back: wall time just before the change is `change + before`, and right after
            // it is `change + after` (an hour earlier).
            let peak = change.naive_utc() + Duration::seconds(i64::from(before.local_minus_utc()));
            let dip = change.naive_utc() + Duration::seconds(i64::from(after.local_minus_utc()));
            from = from.min(dip);
            to = to.max(peak);
        }
    }
    (from, to)
}

/// Instants in `(start, end]` at which the Eastern UTC offset changes (at most a few per year).
fn offset_changes(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut changes = Vec::new();
    // Offsets change on the hour; step a day at a time and bisect, in whole seconds, where the
    // offset differs.
    let mut lo = start;
    while lo < end {
        let hi = (lo + Duration::days(1)).min(end);
        if offset_at(lo) != offset_at(hi) {
            let (mut a, mut b) = (lo, hi);
            while b - a > Duration::seconds(1) {
                let mid = a + Duration::seconds((b - a).num_seconds() / 2);
                if offset_at(mid) == offset_at(a) {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            changes.push(b);
        }
        lo = hi;
    }
    changes
}

/// Truncates an instant to whole seconds (window bounds are whole seconds).
pub fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn parses_seven_fraction_digits_and_offsets() {
        assert_eq!(
            format_utc(utc("2017-02-25T13:59:44.0453616-05:00")),
            "2017-02-25T18:59:44.045361Z"
        );
        assert_eq!(
            format_utc(utc("2016-09-19T16:34:09.1336752-04:00")),
            "2016-09-19T20:34:09.133675Z"
        );
        assert_eq!(
            format_utc(utc("2022-11-01T12:48:26-04:00")),
            "2022-11-01T16:48:26.000000Z"
        );
        assert_eq!(
            format_utc(utc("2024-07-22T15:39:49.3723691Z")),
            "2024-07-22T15:39:49.372369Z"
        );
        assert!(parse_timestamp("not a date").is_none());
        assert!(parse_timestamp("").is_none());
        assert_eq!(
            format_utc(utc("2019-03-10T03:15:07.123456789123-04:00")),
            "2019-03-10T07:15:07.123456Z"
        );
    }

    #[test]
    fn a_time_without_offset_is_eastern_wall_time() {
        // Winter, summer, a space instead of T, seven digits.
        assert_eq!(
            format_utc(utc("2024-01-15T10:00:00")),
            "2024-01-15T15:00:00.000000Z"
        );
        assert_eq!(
            format_utc(utc("2024-07-22 11:39:49.3723691")),
            "2024-07-22T15:39:49.372369Z"
        );
        // 2024-11-03 01:30 happens twice: the first (EDT) is taken.
        assert_eq!(
            format_utc(utc("2024-11-03T01:30:00")),
            "2024-11-03T05:30:00.000000Z"
        );
        // 2024-03-10 02:30 does not exist: read as 03:30 EDT.
        assert_eq!(
            format_utc(utc("2024-03-10T02:30:00")),
            "2024-03-10T07:30:00.000000Z"
        );
    }

    #[test]
    fn config_instants() {
        assert_eq!(
            format_utc(parse_config_instant("2024-01-02").unwrap()),
            "2024-01-02T00:00:00.000000Z"
        );
        assert_eq!(
            format_utc(parse_config_instant("2024-01-02T03:04:05+01:00").unwrap()),
            "2024-01-02T02:04:05.000000Z"
        );
        assert!(parse_config_instant("2024-13-01").is_none());
    }

    #[test]
    fn eastern_wall_time_follows_daylight_saving() {
        assert_eq!(
            format_filter(eastern_wall(utc("2024-01-15T15:00:00Z"))),
            "2024-01-15T10:00:00"
        );
        assert_eq!(
            format_filter(eastern_wall(utc("2024-07-15T15:00:00Z"))),
            "2024-07-15T11:00:00"
        );
    }

    #[test]
    fn plain_window_maps_directly() {
        let (from, to) = wall_range(utc("2024-07-15T15:00:00Z"), utc("2024-07-15T16:00:00Z"));
        assert_eq!(format_filter(from), "2024-07-15T11:00:00");
        assert_eq!(format_filter(to), "2024-07-15T12:00:00");
    }

    #[test]
    fn fall_back_window_covers_the_repeated_hour() {
        // 2024-11-03: 02:00 EDT (06:00Z) becomes 01:00 EST.
        let (from, to) = wall_range(utc("2024-11-03T05:30:00Z"), utc("2024-11-03T06:30:00Z"));
        assert_eq!(format_filter(from), "2024-11-03T01:00:00");
        assert_eq!(format_filter(to), "2024-11-03T02:00:00");
    }

    #[test]
    fn spring_forward_window_is_monotonic() {
        // 2024-03-10: 02:00 EST (07:00Z) becomes 03:00 EDT.
        let (from, to) = wall_range(utc("2024-03-10T06:30:00Z"), utc("2024-03-10T07:30:00Z"));
        assert_eq!(format_filter(from), "2024-03-10T01:30:00");
        assert_eq!(format_filter(to), "2024-03-10T03:30:00");
    }
}
