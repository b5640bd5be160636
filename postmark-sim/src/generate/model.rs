//! The account model's types: servers, message streams, templates, webhooks, inbound rules,
//! domains and sender signatures, plus the containers the traffic generator fills (message
//! timestamps, opens, clicks, bounces, suppressions, inbound receive times, per-day statistics).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use super::day_counters::DayStats;
use super::stream_type::StreamType;

/// First bounce ID (bounce IDs are sequential over the account, in `BouncedAt` order).
pub const BOUNCE_BASE: u64 = 4_210_000_000;

/// An open or a click in a stream's time index: the record is re-derived from its message.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub at: i64,
    pub msg: u32,
    /// Position among the message's opens (or clicks).
    pub n: u16,
}

/// A bounce; its ID is `BOUNCE_BASE + position in Model::bounces`.
#[derive(Clone, Copy, Debug)]
pub struct Bounce {
    pub at: i64,
    pub server: u16,
    pub stream: u8,
    pub kind: u8,
    pub msg: u32,
    /// Recipient slot in the message.
    pub slot: u8,
}

/// The statistics of the generated records stamped after `at`: the clock of the last statistics
/// request, moved along with the clock by the records in between (see `endpoints::pending_stats`).
#[derive(Debug, Default)]
pub struct FutureStats {
    pub at: i64,
    pub stats: BTreeMap<(usize, i32, usize), DayStats>,
}

/// A suppression list entry.
#[derive(Clone, Debug)]
pub struct Suppression {
    pub email: String,
    pub reason: &'static str,
    pub origin: &'static str,
    pub at: i64,
    /// Gone from this instant on (its hard bounce was reactivated, or it was lifted through the
    /// API).
    pub until: Option<i64>,
}

impl Suppression {
    /// Whether it is on the list at `now`: created by then and not gone yet.
    pub fn active(&self, now: i64) -> bool {
        self.at <= now && self.until.is_none_or(|u| u > now)
    }
}

/// One message stream with its indexes.
pub struct Stream {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: StreamType,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub archived_at: Option<i64>,
    pub unsubscribe: &'static str,
    /// Volume relative to the server's outbound stream.
    pub volume: f64,
    /// Sorted send times of the stream's outbound messages; the index is the message number.
    pub messages: Vec<i64>,
    /// How many of `messages` were generated at start (the rest are live arrivals).
    pub generated: usize,
    pub opens: Vec<Hit>,
    pub clicks: Vec<Hit>,
    /// Positions in `Model::bounces`, in time order.
    pub bounces: Vec<u32>,
    pub bounce_by_msg: HashMap<u32, u32>,
    pub suppressions: Vec<Suppression>,
}

/// A template.
pub struct Template {
    pub id: u64,
    pub name: String,
    pub alias: Option<String>,
    pub layout: bool,
    pub layout_template: Option<String>,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub active: bool,
}

/// A webhook.
pub struct Webhook {
    pub id: u64,
    pub url: String,
    pub stream: String,
    pub auth: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// Open, PostFirstOpenOnly, Click, Delivery, Bounce, Bounce content, Spam, Spam content, Subscription.
    pub triggers: [bool; 9],
}

/// A server with everything that belongs to it.
pub struct Server {
    pub id: u64,
    pub name: String,
    pub color: &'static str,
    pub token: String,
    /// A revoked token is rejected with 401 although `/servers` still lists it.
    pub revoked: bool,
    /// A token scoped away from this server's data: its requests are answered 403.
    pub forbidden: bool,
    pub inbound_hash: String,
    pub sandbox: bool,
    pub track_opens: bool,
    pub track_links: &'static str,
    pub from_domain: String,
    pub volume: f64,
    pub streams: Vec<Stream>,
    pub templates: Vec<Template>,
    pub webhooks: Vec<Webhook>,
    pub inbound_rules: Vec<(u64, String)>,
    /// Hidden receive times of inbound messages, sorted.
    pub inbound: Vec<i64>,
    /// Statistics keyed by (stream index, Eastern day, tag number), of everything generated
    /// (what lies after the clock included).
    pub stats: BTreeMap<(usize, i32, usize), DayStats>,
    /// The part of `stats` stamped after the clock of the last statistics request.
    pub future: Mutex<FutureStats>,
    /// Size of the recipient address pool.
    pub pool: u32,
}

impl Server {
    /// Stream index by ID (case-insensitive).
    pub fn stream_index(&self, id: &str) -> Option<usize> {
        self.streams
            .iter()
            .position(|s| s.id.eq_ignore_ascii_case(id))
    }
}

/// A sending domain.
pub struct Domain {
    pub id: u64,
    pub name: String,
    pub spf: bool,
    pub dkim: bool,
    pub return_path: bool,
}

/// A sender signature.
pub struct Sender {
    pub id: u64,
    pub domain: String,
    pub email: String,
    pub name: String,
    pub reply_to: String,
    pub confirmed: bool,
    pub note: Option<String>,
}

/// Configuration items deleted through the write API, by their IDs (unique over the account):
/// every list, detail and the ground truth leave them out from then on.
#[derive(Debug, Default)]
pub struct Deleted {
    pub templates: HashSet<u64>,
    pub webhooks: HashSet<u64>,
    pub inbound_rules: HashSet<u64>,
    pub domains: HashSet<u64>,
    pub senders: HashSet<u64>,
}

/// The whole account.
pub struct Model {
    pub seed: u64,
    /// Where the clock starts (`SimConfig::now`).
    pub anchor: i64,
    /// The end of the generated traffic: the anchor plus `SimConfig::ahead_hours`. Nothing
    /// generated is stamped after it.
    pub horizon: i64,
    /// Whether records change after the fact (`SimConfig::late_changes`).
    pub late: bool,
    /// Fraction of records that arrive tens of minutes late (`SimConfig::late_arrival_rate`).
    pub late_arrival_rate: f64,
    /// The longest arrival delay (`late::max_arrival`): records stamped longer ago than this
    /// before the clock have all arrived, so only that tail is checked record by record.
    pub max_arrival: i64,
    pub retention: i64,
    pub account_token: String,
    pub servers: Vec<Server>,
    pub domains: Vec<Domain>,
    pub senders: Vec<Sender>,
    pub bounces: Vec<Bounce>,
    /// Send time of the newest live arrival (live times strictly increase).
    pub last_live: i64,
    /// Bounces (positions in `bounces`) reactivated through the API, with the instant.
    pub reactivated: HashMap<u32, i64>,
    /// Items deleted through the API (lifted suppressions end through `Suppression::until`).
    pub deleted: Deleted,
    /// Body sizes (`SimConfig::body_size_scale`, `large_body_rate`).
    pub body: BodyKnobs,
}

/// The body-size knobs of `SimConfig`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BodyKnobs {
    /// Multiplies every drawn size (large bodies excepted).
    pub scale: f64,
    /// Fraction of messages whose body is drawn in `LARGE_MIN..=LARGE_MAX` instead.
    pub large_rate: f64,
}

impl Default for BodyKnobs {
    fn default() -> BodyKnobs {
        BodyKnobs {
            scale: 1.0,
            large_rate: 0.0,
        }
    }
}
