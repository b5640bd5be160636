//! Per-Eastern-day statistics counters: what is kept per (stream, day, tag), how a message's
//! facts feed them (its send, bounce, opens and clicks, each on its own day) and how a request's
//! days are summed from them. The `/stats/outbound…` endpoints render them
//! (`endpoints::statistics`).

use std::collections::BTreeMap;

use super::eastern::eastern_day;
use super::facts::{ClickFact, MsgFacts, OpenFact};
use super::names;

/// Email clients counted (the last one is "unknown").
pub const N_CLIENTS: usize = 7;
const N_BROWSERS: usize = 4;
const N_BOUNCES: usize = 10;

/// Counters of one (stream, Eastern day, tag).
#[derive(Clone, Debug, Default)]
pub struct DayStats {
    pub sent: u64,
    pub tracked: u64,
    pub with_open_tracking: u64,
    pub with_link_tracking: u64,
    pub tracked_links_sent: u64,
    pub opens: u64,
    pub unique_opens: u64,
    pub open_platforms: [u64; 4],
    pub clients: [u64; N_CLIENTS],
    pub clicks: u64,
    pub unique_clicks: u64,
    pub browsers: [u64; N_BROWSERS],
    pub click_platforms: [u64; 3],
    pub click_locations: [u64; 2],
    pub bounces: [u64; N_BOUNCES],
}

impl DayStats {
    /// Adds another day's counters.
    pub fn add(&mut self, o: &DayStats) {
        fn add_arr<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        self.sent += o.sent;
        self.tracked += o.tracked;
        self.with_open_tracking += o.with_open_tracking;
        self.with_link_tracking += o.with_link_tracking;
        self.tracked_links_sent += o.tracked_links_sent;
        self.opens += o.opens;
        self.unique_opens += o.unique_opens;
        add_arr(&mut self.open_platforms, &o.open_platforms);
        add_arr(&mut self.clients, &o.clients);
        self.clicks += o.clicks;
        self.unique_clicks += o.unique_clicks;
        add_arr(&mut self.browsers, &o.browsers);
        add_arr(&mut self.click_platforms, &o.click_platforms);
        add_arr(&mut self.click_locations, &o.click_locations);
        add_arr(&mut self.bounces, &o.bounces);
    }

    /// Takes away another day's counters (what has not arrived yet).
    pub fn sub(&mut self, o: &DayStats) {
        fn sub_arr<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.saturating_sub(*y);
            }
        }
        self.sent = self.sent.saturating_sub(o.sent);
        self.tracked = self.tracked.saturating_sub(o.tracked);
        self.with_open_tracking = self.with_open_tracking.saturating_sub(o.with_open_tracking);
        self.with_link_tracking = self.with_link_tracking.saturating_sub(o.with_link_tracking);
        self.tracked_links_sent = self.tracked_links_sent.saturating_sub(o.tracked_links_sent);
        self.opens = self.opens.saturating_sub(o.opens);
        self.unique_opens = self.unique_opens.saturating_sub(o.unique_opens);
        sub_arr(&mut self.open_platforms, &o.open_platforms);
        sub_arr(&mut self.clients, &o.clients);
        self.clicks = self.clicks.saturating_sub(o.clicks);
        self.unique_clicks = self.unique_clicks.saturating_sub(o.unique_clicks);
        sub_arr(&mut self.browsers, &o.browsers);
        sub_arr(&mut self.click_platforms, &o.click_platforms);
        sub_arr(&mut self.click_locations, &o.click_locations);
        sub_arr(&mut self.bounces, &o.bounces);
    }

    /// Spam complaints.
    pub fn spam(&self) -> u64 {
        self.bounces[names::SPAM_COMPLAINT]
    }

    /// Bounces counted as bounced (spam complaints and SMTP API errors apart).
    pub fn bounced(&self) -> u64 {
        self.bounces
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != names::SPAM_COMPLAINT && *i != names::SMTP_API_ERROR)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Statistics map of one server: (stream index, Eastern day, tag number) → counters.
pub type StatsMap = BTreeMap<(usize, i32, usize), DayStats>;

/// Feeds one message (its send, bounce, opens and clicks, each on its own Eastern day).
pub fn record(map: &mut StatsMap, stream: usize, f: &MsgFacts) {
    record_send(map, stream, f);
    record_bounce(map, stream, f);
    for o in &f.opens {
        record_open(map, stream, f, o);
    }
    for c in &f.clicks {
        record_click(map, stream, f, c);
    }
}

/// Feeds the parts of one message stamped after `t`: its send, bounce, opens and clicks.
pub fn record_after(map: &mut StatsMap, stream: usize, f: &MsgFacts, t: i64) {
    if f.at > t {
        record_send(map, stream, f);
    }
    if f.bounce.is_some_and(|b| b.at > t) {
        record_bounce(map, stream, f);
    }
    for o in f.opens.iter().filter(|o| o.at > t) {
        record_open(map, stream, f, o);
    }
    for c in f.clicks.iter().filter(|c| c.at > t) {
        record_click(map, stream, f, c);
    }
}

/// Feeds a message's send (on its send day).
pub fn record_send(map: &mut StatsMap, stream: usize, f: &MsgFacts) {
    let send = entry(map, stream, f.at, f.tag);
    send.sent += 1;
    if f.track_opens || f.track_links != 0 {
        send.tracked += 1;
    }
    if f.track_opens {
        send.with_open_tracking += 1;
    }
    if f.track_links != 0 {
        send.with_link_tracking += 1;
        send.tracked_links_sent += 2;
    }
}

/// Feeds a message's bounce, if any (on the bounce day).
pub fn record_bounce(map: &mut StatsMap, stream: usize, f: &MsgFacts) {
    if let Some(b) = f.bounce {
        entry(map, stream, b.at, f.tag).bounces[b.kind] += 1;
    }
}

/// Feeds one open of a message (on the open day).
pub fn record_open(map: &mut StatsMap, stream: usize, f: &MsgFacts, o: &OpenFact) {
    let d = entry(map, stream, o.at, f.tag);
    d.opens += 1;
    if o.first {
        d.unique_opens += 1;
        d.open_platforms[usize::from(o.platform)] += 1;
        d.clients[usize::from(o.client)] += 1;
    }
}

/// Feeds one click of a message (on the click day).
pub fn record_click(map: &mut StatsMap, stream: usize, f: &MsgFacts, c: &ClickFact) {
    let d = entry(map, stream, c.at, f.tag);
    d.clicks += 1;
    d.click_locations[usize::from(c.location)] += 1;
    if c.first {
        d.unique_clicks += 1;
        d.browsers[usize::from(c.browser)] += 1;
        d.click_platforms[usize::from(c.platform)] += 1;
    }
}

fn entry(map: &mut StatsMap, stream: usize, t: i64, tag: usize) -> &mut DayStats {
    map.entry((stream, eastern_day(t), tag)).or_default()
}

/// Sums the counters per day for the chosen streams, tag and inclusive day range, less what
/// `pending` holds (what has not arrived yet).
pub fn per_day(
    map: &StatsMap,
    pending: &StatsMap,
    streams: &[usize],
    tag: Option<usize>,
    first: Option<i32>,
    last: Option<i32>,
) -> BTreeMap<i32, DayStats> {
    let mut out: BTreeMap<i32, DayStats> = BTreeMap::new();
    for ((s, day, t), v) in map {
        if !streams.contains(s)
            || tag.is_some_and(|want| want != *t)
            || first.is_some_and(|f| *day < f)
            || last.is_some_and(|l| *day > l)
        {
            continue;
        }
        let d = out.entry(*day).or_default();
        d.add(v);
        if let Some(p) = pending.get(&(*s, *day, *t)) {
            d.sub(p);
        }
    }
    out
}
