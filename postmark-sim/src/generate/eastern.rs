//! US-Eastern time: the simulator's clock unit, Postmark's timestamp formats and the naive
//! Eastern wall-time filters (`fromdate`/`todate`).
//!
//! Instants are kept as `i64` ticks of 100 ns since the Unix epoch (UTC), so the 7-digit
//! fractions Postmark prints are real. Everything Postmark filters or prints is US-Eastern wall
//! time (America/New_York, with daylight saving), which is not monotonic: at fall-back the hour
//! 01:00–02:00 happens twice. Filters therefore become a union of UTC intervals.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::America::New_York;

/// Ticks (100 ns) per second.
pub const TICKS_PER_SEC: i64 = 10_000_000;
/// Ticks per minute.
pub const TICKS_PER_MIN: i64 = 60 * TICKS_PER_SEC;
/// Ticks per hour.
pub const TICKS_PER_HOUR: i64 = 3600 * TICKS_PER_SEC;
/// Ticks per day.
pub const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

/// Converts a UTC instant to ticks.
pub fn to_ticks(t: DateTime<Utc>) -> i64 {
    t.timestamp() * TICKS_PER_SEC + i64::from(t.timestamp_subsec_nanos() / 100)
}

/// A duration in ticks (saturating).
pub fn duration_ticks(d: chrono::Duration) -> i64 {
    d.num_microseconds().map_or(
        if d < chrono::Duration::zero() {
            i64::MIN
        } else {
            i64::MAX
        },
        |us| us.saturating_mul(10),
    )
}

/// Converts ticks to a UTC instant (saturating at chrono's range).
pub fn from_ticks(ticks: i64) -> DateTime<Utc> {
    let secs = ticks.div_euclid(TICKS_PER_SEC);
    let nanos = (ticks.rem_euclid(TICKS_PER_SEC) * 100) as u32;
    DateTime::from_timestamp(secs, nanos).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Eastern offset from UTC in seconds (-18000 or -14400) at the instant `ticks`.
pub fn offset_secs(ticks: i64) -> i64 {
    let naive = from_ticks(ticks).naive_utc();
    i64::from(
        New_York
            .offset_from_utc_datetime(&naive)
            .fix()
            .local_minus_utc(),
    )
}

/// Naive Eastern wall time of `ticks`, itself in ticks.
pub fn wall(ticks: i64) -> i64 {
    ticks + offset_secs(ticks) * TICKS_PER_SEC
}

/// The Eastern calendar day (days since 1970-01-01) of the instant `ticks`.
pub fn eastern_day(ticks: i64) -> i32 {
    wall(ticks).div_euclid(TICKS_PER_DAY) as i32
}

/// `YYYY-MM-DD` of a day number.
pub fn day_string(day: i32) -> String {
    let date = NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or(NaiveDate::MIN);
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// The UTC instant at which Eastern day `day` starts (local midnight).
pub fn day_start(day: i32) -> i64 {
    let wall_midnight = i64::from(day) * TICKS_PER_DAY;
    // Midnight is never inside a DST gap in New York, so the first instant whose wall time
    // reaches midnight is midnight itself.
    let guess = wall_midnight + 5 * TICKS_PER_HOUR;
    if wall(guess) == wall_midnight {
        guess
    } else {
        wall_midnight + 4 * TICKS_PER_HOUR
    }
}

fn write_wall(out: &mut String, wall_ticks: i64, fraction_digits: usize) {
    use std::fmt::Write;
    let secs = wall_ticks.div_euclid(TICKS_PER_SEC);
    let frac = wall_ticks.rem_euclid(TICKS_PER_SEC);
    let naive = DateTime::from_timestamp(secs, 0)
        .map(|d| d.naive_utc())
        .unwrap_or(NaiveDateTime::MIN);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{}",
        naive.year(),
        naive.month(),
        naive.day(),
        naive.time().format("%H:%M:%S")
    );
    if fraction_digits == 7 {
        let _ = write!(out, ".{frac:07}");
    }
}

fn write_offset(out: &mut String, offset: i64) {
    use std::fmt::Write;
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.abs();
    let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60);
}

/// Postmark's event timestamp: Eastern local time, 7 fractional digits, numeric offset,
/// e.g. `2017-02-25T13:59:44.0453616-05:00`.
pub fn format_postmark(ticks: i64) -> String {
    let offset = offset_secs(ticks);
    let mut out = String::with_capacity(33);
    write_wall(&mut out, ticks + offset * TICKS_PER_SEC, 7);
    write_offset(&mut out, offset);
    out
}

/// Postmark's stream/suppression timestamp: no fraction, e.g. `2022-11-01T12:48:26-04:00`.
pub fn format_postmark_seconds(ticks: i64) -> String {
    let offset = offset_secs(ticks);
    let mut out = String::with_capacity(25);
    write_wall(&mut out, ticks + offset * TICKS_PER_SEC, 0);
    write_offset(&mut out, offset);
    out
}

/// The tap's normalised form: UTC, RFC 3339, exactly 6 fractional digits (truncated), `Z`.
pub fn format_normalised(ticks: i64) -> String {
    let truncated = ticks - ticks.rem_euclid(10);
    from_ticks(truncated).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One parsed `fromdate`/`todate` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterValue {
    /// `YYYY-MM-DD`: the Eastern day (days since epoch).
    Date(i32),
    /// `YYYY-MM-DDTHH:MM:SS[.fffffff]`: naive Eastern wall time in ticks.
    DateTime(i64),
    /// A value carrying `Z` or a numeric offset: Postmark silently matches nothing.
    WithOffset,
}

/// Parses a date filter value; `None` when it is not a date at all.
pub fn parse_filter(raw: &str) -> Option<FilterValue> {
    let s = raw.trim();
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    let day = date.num_days_from_ce() - 719_163;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(FilterValue::Date(day));
    }
    if is_offset(rest) {
        return Some(FilterValue::WithOffset);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let hms = rest.get(..8)?;
    let time = chrono::NaiveTime::parse_from_str(hms, "%H:%M:%S").ok()?;
    let mut tail = &rest[8..];
    let mut frac_ticks = 0i64;
    if let Some(f) = tail.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, b) in f.bytes().take(digits).enumerate() {
            if i < 7 {
                frac_ticks = frac_ticks * 10 + i64::from(b - b'0');
            }
        }
        for _ in digits..7 {
            frac_ticks *= 10;
        }
        tail = &f[digits..];
    }
    if !tail.is_empty() {
        return if is_offset(tail) {
            Some(FilterValue::WithOffset)
        } else {
            None
        };
    }
    let secs =
        i64::from(day) * 86_400 + i64::from(chrono::Timelike::num_seconds_from_midnight(&time));
    Some(FilterValue::DateTime(secs * TICKS_PER_SEC + frac_ticks))
}

fn is_offset(s: &str) -> bool {
    if s == "Z" || s == "z" {
        return true;
    }
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    matches!(b.first(), Some(b'+') | Some(b'-'))
        && ((b.len() == 6 && b[3] == b':' && digits(&b[1..3]) && digits(&b[4..6]))
            || (b.len() == 5 && digits(&b[1..5]))
            || (b.len() == 3 && digits(&b[1..3])))
}

/// A set of UTC instants as sorted, disjoint half-open tick intervals.
pub type Intervals = Vec<(i64, i64)>;

/// Splits `[a, b)` into pieces of constant Eastern offset (at most one transition per hour).
fn constant_pieces(a: i64, b: i64) -> Vec<(i64, i64, i64)> {
    let off_a = offset_secs(a);
    let off_b = offset_secs(b - 1);
    if off_a == off_b {
        return vec![(a, b, off_a)];
    }
    let (mut lo, mut hi) = (a, b - 1); // offset(lo) == off_a, offset(hi) != off_a
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_secs(mid) == off_a {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    vec![(a, hi, off_a), (hi, b, off_b)]
}

/// Instants whose Eastern wall time is `>= lo` (wall ticks).
fn wall_at_least(lo: i64) -> Intervals {
    let (a, b) = (lo + 4 * TICKS_PER_HOUR, lo + 5 * TICKS_PER_HOUR);
    let mut out = Vec::new();
    for (pa, pb, off) in constant_pieces(a, b) {
        let start = pa.max(lo - off * TICKS_PER_SEC);
        if start < pb {
            out.push((start, pb));
        }
    }
    out.push((b, i64::MAX));
    merge(out)
}

/// Instants whose Eastern wall time is `< hi` (wall ticks).
fn wall_below(hi: i64) -> Intervals {
    let (a, b) = (hi + 4 * TICKS_PER_HOUR, hi + 5 * TICKS_PER_HOUR);
    let mut out = vec![(i64::MIN, a)];
    for (pa, pb, off) in constant_pieces(a, b) {
        let end = pb.min(hi - off * TICKS_PER_SEC);
        if pa < end {
            out.push((pa, end));
        }
    }
    merge(out)
}

/// Merges overlapping or touching intervals (input in any order).
pub fn merge(mut v: Intervals) -> Intervals {
    v.sort_unstable();
    let mut out: Intervals = Vec::with_capacity(v.len());
    for (a, b) in v {
        if a >= b {
            continue;
        }
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Intersection of two interval sets.
pub fn intersect(x: &[(i64, i64)], y: &[(i64, i64)]) -> Intervals {
    let mut out = Vec::new();
    for &(a, b) in x {
        for &(c, d) in y {
            let (s, e) = (a.max(c), b.min(d));
            if s < e {
                out.push((s, e));
            }
        }
    }
    merge(out)
}

/// The UTC instants matched by naive Eastern bounds `[from, to]` (both inclusive, as Postmark
/// does; a date-only `to` covers its whole day). A bound carrying an offset matches nothing.
pub fn filter_intervals(from: Option<FilterValue>, to: Option<FilterValue>) -> Intervals {
    let mut set: Intervals = vec![(i64::MIN, i64::MAX)];
    match from {
        Some(FilterValue::WithOffset) => return Vec::new(),
        Some(FilterValue::Date(d)) => {
            set = intersect(&set, &wall_at_least(i64::from(d) * TICKS_PER_DAY))
        }
        Some(FilterValue::DateTime(w)) => set = intersect(&set, &wall_at_least(w)),
        None => {}
    }
    match to {
        Some(FilterValue::WithOffset) => return Vec::new(),
        Some(FilterValue::Date(d)) => {
            set = intersect(&set, &wall_below((i64::from(d) + 1) * TICKS_PER_DAY))
        }
        Some(FilterValue::DateTime(w)) => set = intersect(&set, &wall_below(w + 1)),
        None => {}
    }
    set
}

/// Eastern day range `[first, last]` of a stats filter (date part only); `None` = unbounded.
pub fn filter_days(v: Option<FilterValue>) -> Option<i32> {
    match v {
        Some(FilterValue::Date(d)) => Some(d),
        Some(FilterValue::DateTime(w)) => Some(w.div_euclid(TICKS_PER_DAY) as i32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        to_ticks(
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .unwrap(),
        )
    }

    #[test]
    fn formats_with_dst_offsets() {
        assert_eq!(
            format_postmark(t("2024-01-15T18:59:44.0453616Z")),
            "2024-01-15T13:59:44.0453616-05:00"
        );
        assert_eq!(
            format_postmark_seconds(t("2024-07-01T16:48:26Z")),
            "2024-07-01T12:48:26-04:00"
        );
        assert_eq!(
            format_normalised(t("2024-03-14T14:22:31.4178649Z")),
            "2024-03-14T14:22:31.417864Z"
        );
    }

    #[test]
    fn parses_filters() {
        assert_eq!(parse_filter("2024-03-10"), Some(FilterValue::Date(19792)));
        assert_eq!(
            parse_filter("2024-03-10T10:00:00Z"),
            Some(FilterValue::WithOffset)
        );
        assert_eq!(
            parse_filter("2024-03-10T10:00:00-05:00"),
            Some(FilterValue::WithOffset)
        );
        assert_eq!(
            parse_filter("2024-03-10T10:00:00.5"),
            Some(FilterValue::DateTime(
                19792 * TICKS_PER_DAY + 10 * TICKS_PER_HOUR + 5_000_000
            ))
        );
        assert_eq!(parse_filter("yesterday"), None);
        assert_eq!(parse_filter("2024-13-10"), None);
        assert_eq!(parse_filter("2024-03-10T25:00:00"), None);
    }

    #[test]
    fn fall_back_hour_matches_twice() {
        // 2024-11-03 01:00–01:59:59 happens at 05:00Z–06:00Z (EDT) and 06:00Z–07:00Z (EST).
        let from = parse_filter("2024-11-03T01:00:00");
        let to = parse_filter("2024-11-03T01:59:59");
        let iv = filter_intervals(from, to);
        assert_eq!(
            iv,
            vec![
                (t("2024-11-03T05:00:00Z"), t("2024-11-03T05:59:59Z") + 1),
                (t("2024-11-03T06:00:00Z"), t("2024-11-03T06:59:59Z") + 1)
            ]
        );
        let iv = filter_intervals(
            parse_filter("2024-11-03T01:30:00"),
            parse_filter("2024-11-03T01:40:00"),
        );
        assert_eq!(iv.len(), 2);
    }

    #[test]
    fn day_starts() {
        let d = match parse_filter("2024-03-10") {
            Some(FilterValue::Date(d)) => d,
            _ => unreachable!(),
        };
        assert_eq!(day_start(d), t("2024-03-10T05:00:00Z"));
        assert_eq!(day_start(d + 1), t("2024-03-11T04:00:00Z"));
        assert_eq!(day_string(d), "2024-03-10");
        assert_eq!(eastern_day(t("2024-03-11T03:59:59Z")), d);
    }
}
