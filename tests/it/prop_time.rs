//! Property tests of Eastern time and window planning.
//!
//! Postmark's filters are naive US-Eastern wall time, so every window the tap reads goes through
//! `timefmt`. The daylight-saving changes of 2000–2040 are computed here twice, independently of
//! the tap: from the US rules (2000–2006: first Sunday in April / last Sunday in October;
//! 2007 on: second Sunday in March / first Sunday in November, both at 02:00 local) and by scanning
//! chrono-tz hour by hour. The expected wall time of an instant is then its UTC time plus the
//! offset the rules give (-4 h in daylight time, -5 h otherwise).
//!
//! The window planner is driven the way the search engine drives it, over synthetic record
//! densities that include bursts of more than 10,000 records within a few seconds.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::common::props::seeded;
use crate::common::time::is_utc_text;
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::America::New_York;
use proptest::prelude::*;
use tap_postmark::sync::windows::{Planner, Unsplittable, Window, CEILING};
use tap_postmark::timefmt::{eastern_wall, format_filter, format_utc, parse_timestamp, wall_range};

// ---------------------------------------------------------------------------------------------
// Daylight-saving changes, computed without the tap.
// ---------------------------------------------------------------------------------------------

const EDT: i64 = -4 * 3600;
const EST: i64 = -5 * 3600;

/// One offset change of America/New_York: the first instant of the new offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Change {
    at: DateTime<Utc>,
    /// `true` in spring (EST → EDT), `false` in autumn (EDT → EST, the wall clock repeats an hour).
    to_dst: bool,
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, 0, 0))
        .expect("valid date")
        .and_utc()
}

/// The `n`th (1-based) Sunday of a month.
fn nth_sunday(year: i32, month: u32, n: u32) -> NaiveDate {
    let mut day = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    while day.weekday() != Weekday::Sun {
        day = day.succ_opt().expect("in range");
    }
    day + Duration::weeks(i64::from(n) - 1)
}

/// The last Sunday of a month.
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let mut day = NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .expect("valid month");
    while day.weekday() != Weekday::Sun {
        day = day.pred_opt().expect("in range");
    }
    day
}

/// The changes of 2000–2040 from the US rules. Spring: 02:00 EST = 07:00 UTC; autumn: 02:00 EDT
/// = 06:00 UTC.
fn rule_changes() -> Vec<Change> {
    let mut out = Vec::new();
    for year in 2000..=2040 {
        let (spring, autumn) = if year <= 2006 {
            (nth_sunday(year, 4, 1), last_sunday(year, 10))
        } else {
            (nth_sunday(year, 3, 2), nth_sunday(year, 11, 1))
        };
        let at = |d: NaiveDate, h: u32| d.and_hms_opt(h, 0, 0).expect("valid").and_utc();
        out.push(Change {
            at: at(spring, 7),
            to_dst: true,
        });
        out.push(Change {
            at: at(autumn, 6),
            to_dst: false,
        });
    }
    out
}

fn tz_offset(t: DateTime<Utc>) -> i64 {
    i64::from(
        New_York
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// The changes of 2000–2040 found by scanning chrono-tz's America/New_York hour by hour.
fn scanned_changes() -> Vec<Change> {
    let mut out = Vec::new();
    let mut t = utc(2000, 1, 1, 0);
    let stop = utc(2041, 1, 1, 0);
    let mut prev = tz_offset(t);
    while t < stop {
        t += Duration::hours(1);
        let now = tz_offset(t);
        if now != prev {
            // Changes happen on the hour: the second before still has the old offset.
            assert_eq!(
                tz_offset(t - Duration::seconds(1)),
                prev,
                "change inside {t}"
            );
            out.push(Change {
                at: t,
                to_dst: now > prev,
            });
            prev = now;
        }
    }
    out
}

/// Every change of 2000–2040, ascending (from the rules; `rules_agree_with_chrono_tz` checks
/// them against chrono-tz).
fn changes() -> &'static [Change] {
    static CHANGES: OnceLock<Vec<Change>> = OnceLock::new();
    CHANGES.get_or_init(rule_changes)
}

/// First and last instants the independent model below is valid for.
fn model_start() -> DateTime<Utc> {
    utc(2000, 1, 1, 0)
}
fn model_end() -> DateTime<Utc> {
    utc(2041, 3, 1, 0)
}

/// The Eastern UTC offset at `t`, in seconds, from the rule table alone.
fn rule_offset(t: DateTime<Utc>) -> i64 {
    assert!(
        t >= model_start() && t < model_end(),
        "{t} outside the model"
    );
    let cs = changes();
    let idx = cs.partition_point(|c| c.at <= t);
    match idx {
        0 => EST,
        i if cs[i - 1].to_dst => EDT,
        _ => EST,
    }
}

/// The Eastern wall time of `t` from the rule table alone.
fn rule_wall(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc() + Duration::seconds(rule_offset(t))
}

fn offset_text(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let a = seconds.abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

/// An Eastern rendering of `t` as Postmark writes it: wall time, `digits` fractional digits
/// (truncated), numeric offset.
fn render(t: DateTime<Utc>, offset: i64, digits: u32, sep: char, colon: bool) -> String {
    let local = t.naive_utc() + Duration::seconds(offset);
    let mut s = local.format("%Y-%m-%d").to_string();
    s.push(sep);
    s.push_str(&local.format("%H:%M:%S").to_string());
    if digits > 0 {
        let frac = local.nanosecond() / 10u32.pow(9 - digits);
        s.push_str(&format!(".{frac:0width$}", width = digits as usize));
    }
    let off = offset_text(offset);
    if colon {
        s.push_str(&off);
    } else {
        s.push_str(&off.replace(':', ""));
    }
    s
}

/// `t` truncated to `digits` fractional digits.
fn truncate(t: DateTime<Utc>, digits: u32) -> DateTime<Utc> {
    let unit = 10u32.pow(9 - digits.min(9));
    let nanos = t.nanosecond() / unit * unit;
    DateTime::from_timestamp(t.timestamp(), nanos).expect("in range")
}

/// `format_utc`'s documented output, built field by field: six digits, truncated.
fn expected_utc_text(t: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 1000
    )
}

/// What the tap sends for a naive bound: `format_filter` keeps whole seconds.
fn as_sent(n: NaiveDateTime) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(&format_filter(n), "%Y-%m-%dT%H:%M:%S")
        .expect("format_filter output parses")
}

// ---------------------------------------------------------------------------------------------
// 1. Every daylight-saving change.
// ---------------------------------------------------------------------------------------------

#[test]
fn rules_agree_with_chrono_tz() {
    let rules = rule_changes();
    let scanned = scanned_changes();
    assert_eq!(rules.len(), 82, "two changes a year, 2000–2040");
    assert_eq!(rules, scanned);
    // Spot checks against published dates.
    assert!(rules.contains(&Change {
        at: utc(2006, 4, 2, 7),
        to_dst: true
    }));
    assert!(rules.contains(&Change {
        at: utc(2006, 10, 29, 6),
        to_dst: false
    }));
    assert!(rules.contains(&Change {
        at: utc(2007, 3, 11, 7),
        to_dst: true
    }));
    assert!(rules.contains(&Change {
        at: utc(2024, 11, 3, 6),
        to_dst: false
    }));
}

/// Every second from two hours before to two hours after every change of 2000–2040.
#[test]
fn eastern_wall_around_every_change_every_second() {
    for c in changes() {
        for s in -7200..=7200 {
            let t = c.at + Duration::seconds(s);
            assert_eq!(eastern_wall(t), rule_wall(t), "at {t}");
        }
    }
}

proptest! {
    #![proptest_config(seeded(20_000, 0x5eed_0001))]

    /// Random instants within two hours of a change: the wall time is UTC plus the rule offset,
    /// and the Eastern rendering (0–7 digits, the offset in force) parses back to the instant.
    #[test]
    fn eastern_wall_and_round_trip_near_changes(
        idx in 0..82usize,
        secs in -7200i64..=7200,
        nanos in 0u32..1_000_000_000,
        digits in 0u32..=7,
    ) {
        let c = changes()[idx];
        let t = c.at + Duration::seconds(secs) + Duration::nanoseconds(i64::from(nanos));
        let expected_wall = rule_wall(t);
        prop_assert_eq!(eastern_wall(t), expected_wall);
        let offset = rule_offset(t);
        prop_assert_eq!(offset, if secs < 0 { if c.to_dst { EST } else { EDT } }
                                else if c.to_dst { EDT } else { EST });

        let text = render(t, offset, digits, 'T', true);
        let parsed = parse_timestamp(&text);
        prop_assert_eq!(parsed, Some(truncate(t, digits)), "{}", text);
        let back = format_utc(parsed.unwrap());
        prop_assert_eq!(&back, &expected_utc_text(truncate(t, digits)));
        // And the UTC text parses back to itself.
        prop_assert_eq!(parse_timestamp(&back).map(format_utc), Some(back.clone()));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. wall_range.
// ---------------------------------------------------------------------------------------------

/// Whole-second windows, biased to start near a change (and often to straddle it).
fn window_strategy() -> impl Strategy<Value = (DateTime<Utc>, DateTime<Utc>)> {
    let len = prop_oneof![
        3 => 1i64..=7200,
        3 => 1i64..=2 * 86_400,
        2 => 1i64..=40 * 86_400,
    ];
    let near_change =
        (0..82usize, -3 * 86_400i64..=3 * 86_400, len.clone()).prop_map(|(i, before, len)| {
            let start = changes()[i].at + Duration::seconds(before);
            (start, start + Duration::seconds(len))
        });
    // Starts shortly before a change and ends shortly after it.
    let straddle = (0..82usize, 0i64..=7200, 1i64..=7200).prop_map(|(i, before, after)| {
        let at = changes()[i].at;
        (
            at - Duration::seconds(before),
            at + Duration::seconds(after),
        )
    });
    let anywhere = (
        model_start().timestamp()..utc(2040, 12, 31, 0).timestamp(),
        len,
    )
        .prop_map(|(s, len)| {
            let start = DateTime::from_timestamp(s, 0).expect("in range");
            (start, start + Duration::seconds(len))
        });
    prop_oneof![4 => near_change, 4 => straddle, 2 => anywhere]
}

/// The instants to check in `[start, end)`: start, the last second, every change inside and the
/// second before it, and random samples (with random nanoseconds).
fn probes(start: DateTime<Utc>, end: DateTime<Utc>, samples: &[(u64, u32)]) -> Vec<DateTime<Utc>> {
    let len = (end - start).num_seconds();
    let mut out = vec![start, end - Duration::seconds(1)];
    out.push(end - Duration::nanoseconds(1));
    for c in changes() {
        for t in [
            c.at - Duration::seconds(1),
            c.at,
            c.at - Duration::nanoseconds(1),
        ] {
            if t >= start && t < end {
                out.push(t);
            }
        }
    }
    for (frac, nanos) in samples {
        let off = (*frac % len as u64) as i64;
        out.push(start + Duration::seconds(off) + Duration::nanoseconds(i64::from(*nanos)));
    }
    out
}

fn has_fall_back(start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    changes()
        .iter()
        .any(|c| !c.to_dst && c.at >= start && c.at <= end)
}

proptest! {
    #![proptest_config(seeded(12_000, 0x5eed_0002))]

    /// The naive range the tap sends for a window holds the wall time of every instant of the
    /// window, and is exactly the wall times of its ends when no autumn change is near.
    #[test]
    fn wall_range_covers_every_instant_of_the_window(
        (start, end) in window_strategy(),
        samples in prop::collection::vec((any::<u64>(), 0u32..1_000_000_000), 16),
    ) {
        let (from, to) = wall_range(start, end);
        let (sent_from, sent_to) = (as_sent(from), as_sent(to));
        prop_assert!(sent_from <= sent_to);
        for t in probes(start, end, &samples) {
            let w = eastern_wall(t);
            prop_assert_eq!(w, rule_wall(t), "wall of {}", t);
            prop_assert!(sent_from <= w && w <= sent_to + Duration::nanoseconds(999_999_999),
                "{} (wall {}) outside [{}, {}] for window [{}, {})", t, w, sent_from, sent_to, start, end);
            // Whole seconds are what Postmark compares: the second of every instant is inside.
            prop_assert!(as_sent(w) >= sent_from && as_sent(w) <= sent_to);
        }
        let len = end - start;
        if has_fall_back(start, end) {
            // Widened by at most the repeated hour.
            prop_assert!(sent_to - sent_from <= len + Duration::hours(1) + Duration::seconds(1),
                "[{}, {}] too wide for [{}, {})", sent_from, sent_to, start, end);
        } else {
            prop_assert_eq!(from, eastern_wall(start));
            prop_assert_eq!(to, eastern_wall(end));
        }
    }
}

proptest! {
    #![proptest_config(seeded(2_000, 0x5eed_0003))]

    /// `wall_range` documents whole-second bounds holding the wall time of every instant of the
    /// window. Near an autumn change the change instant is located by bisection with
    /// fractional midpoints, and the bounds inherit the fraction.
    #[test]
    fn wall_range_bounds_are_whole_seconds_holding_every_instant(
        (start, end) in window_strategy(),
        samples in prop::collection::vec((any::<u64>(), 0u32..1_000_000_000), 16),
    ) {
        let (from, to) = wall_range(start, end);
        prop_assert_eq!(from.nanosecond(), 0, "from {} for [{}, {})", from, start, end);
        prop_assert_eq!(to.nanosecond(), 0, "to {} for [{}, {})", to, start, end);
        for t in probes(start, end, &samples) {
            let w = eastern_wall(t);
            prop_assert!(from <= w && w <= to,
                "{} (wall {}) outside [{}, {}] for window [{}, {})", t, w, from, to, start, end);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. parse_timestamp and format_utc.
// ---------------------------------------------------------------------------------------------

fn instant_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    (
        utc(1971, 1, 1, 0).timestamp()..utc(2199, 1, 1, 0).timestamp(),
        0u32..1_000_000_000,
    )
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).expect("in range"))
}

fn offset_strategy() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        2 => Just(None), // `Z`
        3 => Just(Some(EST)),
        3 => Just(Some(EDT)),
        2 => (-23i64..=23, 0i64..60).prop_map(|(h, m)| Some(h * 3600 + h.signum() * m * 60)),
        1 => (0i64..60).prop_map(|m| Some(m * 60)),
    ]
}

proptest! {
    #![proptest_config(seeded(12_000, 0x5eed_0004))]

    /// Postmark's forms (0–7 digits, and more: chrono keeps nine), any offset or `Z`, `T` or a
    /// space, offsets with or without a colon: the exact instant, truncated to the digits given;
    /// `format_utc` gives six digits, truncated.
    #[test]
    fn parse_timestamp_gives_the_exact_instant(
        t in instant_strategy(),
        offset in offset_strategy(),
        digits in prop_oneof![8 => 0u32..=7, 2 => 8u32..=9],
        space in prop::bool::weighted(0.2),
        colon in prop::bool::weighted(0.8),
        lower in prop::bool::weighted(0.1),
    ) {
        let text = match offset {
            Some(o) => render(t, o, digits, if space { ' ' } else { 'T' }, colon),
            None => {
                let mut s = render(t, 0, digits, 'T', true);
                s.truncate(s.len() - "+00:00".len());
                s.push(if lower { 'z' } else { 'Z' });
                s
            }
        };
        let expected = truncate(t, digits);
        let parsed = parse_timestamp(&text);
        prop_assert_eq!(parsed, Some(expected), "{}", text);
        let out = format_utc(parsed.unwrap());
        prop_assert!(is_utc_text(&out), "{}", out);
        prop_assert_eq!(&out, &expected_utc_text(expected));
        // Surrounding whitespace is ignored.
        prop_assert_eq!(parse_timestamp(&format!("  {text}\n")), Some(expected));
    }

    /// More than nine fractional digits are truncated, not rounded.
    #[test]
    fn long_fractions_truncate(t in instant_strategy(), extra in "[0-9]{1,6}") {
        let text = format!("{}{}Z", t.format("%Y-%m-%dT%H:%M:%S%.9f"), extra);
        prop_assert_eq!(parse_timestamp(&text), Some(t), "{}", text);
        prop_assert_eq!(format_utc(t), expected_utc_text(t));
    }

    /// `format_utc` of any instant of years 1–9999: the documented shape, truncated digits.
    #[test]
    fn format_utc_shape(
        s in utc(1, 1, 1, 0).timestamp()..=utc(9999, 12, 31, 23).timestamp(),
        n in 0u32..1_000_000_000,
    ) {
        let t = DateTime::from_timestamp(s, n).expect("in range");
        let out = format_utc(t);
        prop_assert!(is_utc_text(&out), "{}", out);
        prop_assert_eq!(&out, &expected_utc_text(t));
        prop_assert_eq!(parse_timestamp(&out), Some(truncate(t, 6)));
    }
}

/// Strings near Postmark's timestamps: a valid rendering with a few characters replaced,
/// inserted or removed.
fn mutated_timestamp() -> impl Strategy<Value = String> {
    let alphabet = prop::sample::select(vec![
        '0', '1', '2', '5', '9', '-', '+', ':', '.', 'T', 'Z', ' ', 'x', '\u{e9}', '\0',
    ]);
    (
        instant_strategy(),
        offset_strategy(),
        0u32..=9,
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, alphabet), 1..4),
    )
        .prop_map(|(t, offset, digits, edits)| {
            let mut chars: Vec<char> = render(t, offset.unwrap_or(0), digits, 'T', true)
                .chars()
                .collect();
            for (at, op, c) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 if i < chars.len() => chars[i] = c,
                    1 => chars.insert(i, c),
                    _ if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        })
}

proptest! {
    #![proptest_config(seeded(20_000, 0x5eed_0005))]

    /// Arbitrary strings never panic; what parses within years 1–9999 formats to the documented
    /// shape and parses back to itself.
    #[test]
    fn arbitrary_strings_never_panic(
        s in prop_oneof![
            3 => any::<String>(),
            3 => "[-+0-9:.TZtz ]{0,40}",
            4 => mutated_timestamp(),
        ]
    ) {
        if let Some(t) = parse_timestamp(&s) {
            let out = format_utc(t);
            if (1..=9999).contains(&t.year()) {
                prop_assert!(is_utc_text(&out), "{:?} -> {}", s, out);
                prop_assert_eq!(parse_timestamp(&out), Some(truncate(t, 6)));
            }
        }
        let _ = tap_postmark::timefmt::parse_config_instant(&s);
    }
}

/// Signed and out-of-range years, as chrono's `%Y` reads them.
fn extreme_timestamp() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            2 => -262_144i32..=-1,
            1 => Just(0),
            2 => 10_000i32..=262_143,
            5 => Just(-262_143),
        ],
        prop_oneof![Just(1u32), 1u32..=12],
        prop_oneof![Just(1u32), 1u32..=28],
        0u32..24,
        prop_oneof![Just("+0000"), Just("+01:00"), Just("-0500"), Just("+1400")],
    )
        .prop_map(|(y, mo, d, h, off)| {
            let year = if (0..=9999).contains(&y) {
                format!("{y:04}")
            } else {
                format!("{y:+}")
            };
            format!("{year}-{mo:02}-{d:02}T{h:02}:00:00{off}")
        })
}

proptest! {
    #![proptest_config(seeded(2_000, 0x5eed_0006))]

    /// An instant `parse_timestamp` accepts has an Eastern wall time. chrono's `%Y` reads signed
    /// years down to chrono's limit, and within five hours of it the Eastern wall time is out of
    /// chrono's range.
    #[test]
    fn parsed_instants_have_an_eastern_wall_time(s in extreme_timestamp()) {
        if let Some(t) = parse_timestamp(&s) {
            let wall = std::panic::catch_unwind(|| eastern_wall(t));
            prop_assert!(wall.is_ok(), "eastern_wall panicked for {:?}", s);
        }
    }

    /// What `parse_timestamp` accepts, `format_utc` writes as RFC 3339 (`YYYY-…`).
    #[test]
    fn parsed_instants_format_as_rfc3339(s in extreme_timestamp()) {
        if let Some(t) = parse_timestamp(&s) {
            let out = format_utc(t);
            prop_assert!(is_utc_text(&out), "{:?} -> {}", s, out);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Window planning.
// ---------------------------------------------------------------------------------------------

/// A synthetic record density over a range: `per` records every `period` seconds (counted from
/// the range start) plus bursts, stored per second.
#[derive(Clone, Debug)]
struct Density {
    origin: i64,
    period: i64,
    per: u64,
    seconds: BTreeMap<i64, u64>,
}

impl Density {
    fn records_in(&self, w: Window) -> u64 {
        let (a, b) = (w.start.timestamp(), w.end.timestamp());
        assert!(a >= self.origin && a < b);
        let (ra, rb) = (a - self.origin, b - self.origin);
        let ceil = |x: i64| (x + self.period - 1) / self.period;
        let base = self.per * (ceil(rb) - ceil(ra)) as u64;
        base + self.seconds.range(a..b).map(|(_, n)| n).sum::<u64>()
    }
}

/// A range of up to 60 days and a density with bursts: each burst puts 1,000–10,000 records in
/// each of 1–6 consecutive seconds (so more than 10,000 within a few seconds), never more than
/// 10,000 in one second.
fn planned_range() -> impl Strategy<Value = (DateTime<Utc>, DateTime<Utc>, Density)> {
    let len = prop_oneof![
        1 => 1i64..=60,
        2 => 1i64..=86_400,
        3 => 1i64..=60 * 86_400,
    ];
    (
        model_start().timestamp()..utc(2040, 1, 1, 0).timestamp(),
        len,
        prop_oneof![2 => 1i64..=5, 1 => 1i64..=3600],
        prop_oneof![1 => Just(0u64), 3 => 1u64..=4],
        prop::collection::vec((any::<u64>(), 1i64..=6, 1_000u64..=10_000), 0..6),
    )
        .prop_map(|(s, len, period, per, bursts)| {
            let mut seconds = BTreeMap::new();
            for (at, width, n) in bursts {
                let first = s + (at % len as u64) as i64;
                for sec in first..(first + width).min(s + len) {
                    let slot = seconds.entry(sec).or_insert(0u64);
                    *slot = (*slot + n).min(CEILING - per);
                }
            }
            let start = DateTime::from_timestamp(s, 0).expect("in range");
            let density = Density {
                origin: s,
                period,
                per,
                seconds,
            };
            (start, start + Duration::seconds(len), density)
        })
}

/// Drives a planner as the search engine does. Returns the windows read whole, or the
/// `Unsplittable` error and the windows read before it.
fn drive(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    density: &Density,
) -> Result<(Vec<Window>, Option<Unsplittable>), String> {
    let mut planner = Planner::new(start, end);
    let mut done: Vec<Window> = Vec::new();
    let mut last_too_big: Option<Window> = None;
    // Each step either moves the cursor by at least a second or halves the window: a bound far
    // above what any correct planner needs.
    let limit = 200_000;
    for _ in 0..limit {
        let Some(w) = planner.next_window() else {
            return Ok((done, None));
        };
        let cursor = done.last().map_or(start, |d| d.end);
        if w.start != cursor || w.end <= w.start || w.end > end {
            return Err(format!(
                "window {w:?} with cursor {cursor}, range end {end}"
            ));
        }
        if w.start.nanosecond() != 0 || w.end.nanosecond() != 0 {
            return Err(format!("window {w:?} not whole seconds"));
        }
        if let Some(big) = last_too_big {
            if w.start != big.start || w.len() >= big.len() {
                return Err(format!("retry {w:?} does not shrink {big:?}"));
            }
        }
        let n = density.records_in(w);
        if n > CEILING {
            match planner.too_big(w, n) {
                Ok(()) => last_too_big = Some(w),
                Err(e) => return Ok((done, Some(e))),
            }
        } else {
            planner.done(w, n);
            done.push(w);
            last_too_big = None;
        }
    }
    Err(format!("no end after {limit} windows"))
}

fn check_tiling(
    done: &[Window],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    density: &Density,
) -> Result<(), TestCaseError> {
    let mut cursor = start;
    for w in done {
        prop_assert_eq!(w.start, cursor, "gap or overlap at {:?}", w);
        prop_assert!(w.start < w.end, "empty window {:?}", w);
        prop_assert!(
            density.records_in(*w) <= CEILING,
            "{:?} over the ceiling",
            w
        );
        cursor = w.end;
    }
    prop_assert_eq!(cursor, end, "windows stop at {} instead of {}", cursor, end);
    Ok(())
}

proptest! {
    #![proptest_config(seeded(3_000, 0x5eed_0007))]

    /// The windows read whole tile the range exactly, each within the ceiling, and the loop ends.
    #[test]
    fn planner_tiles_the_range((start, end, density) in planned_range()) {
        let (done, err) = drive(start, end, &density).map_err(TestCaseError::fail)?;
        prop_assert!(err.is_none(), "{:?}", err);
        check_tiling(&done, start, end, &density)?;
    }

    /// A second holding more than 10,000 records ends in `Unsplittable` naming that one second,
    /// after windows that tile the range up to it.
    #[test]
    fn planner_reports_an_overfull_second(
        (start, end, mut density) in planned_range(),
        at in any::<u64>(),
        overfull in CEILING + 1..=60_000,
    ) {
        let len = (end - start).num_seconds();
        let sec = start.timestamp() + (at % len as u64) as i64;
        density.seconds.insert(sec, overfull);
        let first_bad = *density
            .seconds
            .iter()
            .find(|(_, n)| **n > CEILING)
            .expect("just inserted")
            .0;
        let (done, err) = drive(start, end, &density).map_err(TestCaseError::fail)?;
        let err = err.expect("an overfull second must be reported");
        let bad = DateTime::from_timestamp(first_bad, 0).expect("in range");
        prop_assert_eq!(err.window.start, bad);
        prop_assert_eq!(err.window.len(), Duration::seconds(1));
        prop_assert_eq!(err.total, density.records_in(err.window));
        check_tiling(&done, start, bad, &density)?;
    }
}

/// The smallest case, by hand: 10,001 records in one second.
#[test]
fn one_overfull_second_is_unsplittable() {
    let start = utc(2024, 11, 3, 5);
    let density = Density {
        origin: start.timestamp(),
        period: 1,
        per: 0,
        seconds: BTreeMap::from([(start.timestamp() + 3600, CEILING + 1)]),
    };
    let (done, err) =
        drive(start, start + Duration::hours(2), &density).expect("planner terminates");
    let err = err.expect("unsplittable");
    assert_eq!(err.window.start, start + Duration::hours(1));
    assert_eq!(err.window.len(), Duration::seconds(1));
    assert_eq!(err.total, CEILING + 1);
    assert_eq!(done.last().map(|w| w.end), Some(start + Duration::hours(1)));
}
