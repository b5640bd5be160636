//! The table of streams: what each one reads, how, and with which keys.
//!
//! Streams are data: the sync engines in `sync/` read only these facts (paths, envelopes,
//! parameters, keys, the codes Postmark answers for a record that is gone). Adding a stream
//! means, all of which `tests` below hold for every row but the last three:
//!
//! 1. its row here (a builder: `search(..)`, `stats(..)` or `full(..)`);
//! 2. its JSON Schema, `catalog/<stream>.json`;
//! 3. its row in `docs/streams.md` and in the README's Streams table;
//! 4. a fixture: its entry under `streams` in `tests/fixtures/postmark/index.json`, with the
//!    answer files it names (and, for a new search endpoint, its filters in the replay server of
//!    the tests);
//! 5. the discover snapshot, reviewed (`cargo insta review`);
//! 6. for a new endpoint, the simulator's handler and ground truth (`postmark-sim`);
//! 7. where its records hold personal data, the `pii` mapping in `meltano/meltano.yml`.

/// Records per page of every offset-paged list and search (`count`; Postmark's maximum).
pub const PAGE_SIZE: u64 = 500;
/// Records a count/offset query can reach: `count + offset <= 10,000` (searches and lists).
pub const CEILING: u64 = 10_000;

/// Which token an endpoint needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Server,
    Account,
}

/// How a stream is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A date-windowed, offset-paged search (`fromdate`/`todate`, `count` ≤ 500,
    /// `count + offset` ≤ 10,000), read per partition (message stream).
    Search(Search),
    /// A statistics endpoint read per message stream and US-Eastern day.
    Stats(Stats),
    /// A list or object read whole on every run.
    FullTable(FullTable),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Search {
    /// Field holding the records' timestamp; `None` when records carry none (inbound), in which
    /// case the window is trusted and boundary duplicates are removed by key.
    pub time_field: Option<&'static str>,
    /// Which of a server's message streams it is read on (one partition, bookmark and
    /// `messagestream` parameter each).
    pub partitions: Partitions,
    /// ErrorCode Postmark answers when `count + offset` passes its ceiling.
    pub ceiling_error_code: i64,
    /// Instead of the found records, emit what each one's details expand to.
    pub expand: Option<Expand>,
}

/// The partitions a search is read in on a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partitions {
    /// Each outbound message stream (transactional and broadcast), as `messagestream`.
    Outbound,
    /// Every message stream, inbound ones too (bounces of inbound mail, `InboundError`).
    Every,
    /// One partition named after the server's inbound stream; no `messagestream` parameter
    /// (the inbound search reads the server's one inbound stream).
    Inbound,
}

/// A per-record follow-up request made by a search stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expand {
    /// `GET /messages/outbound/{MessageID}/details` → one record per `MessageEvents` entry.
    MessageEvents,
    /// `GET /messages/outbound/{MessageID}/details` → the message with its content, without
    /// `MessageEvents`.
    OutboundDetails,
    /// `GET /messages/inbound/{MessageID}/details` → the message with its content.
    InboundDetails,
    /// `GET /bounces/{ID}/dump`, for bounces with `DumpAvailable` → the raw bounce message.
    BounceDump,
}

impl Expand {
    /// The request's path, `{id}` standing for the found record's identity.
    pub fn path(self) -> &'static str {
        match self {
            Expand::MessageEvents | Expand::OutboundDetails => "/messages/outbound/{id}/details",
            Expand::InboundDetails => "/messages/inbound/{id}/details",
            Expand::BounceDump => "/bounces/{id}/dump",
        }
    }

    /// The found record's field that names what to read.
    pub fn id_field(self) -> &'static str {
        match self {
            Expand::BounceDump => "ID",
            _ => "MessageID",
        }
    }

    /// The found record's boolean field that must be true for it to be read, if any.
    pub fn only_if(self) -> Option<&'static str> {
        match self {
            Expand::BounceDump => Some("DumpAvailable"),
            _ => None,
        }
    }

    /// The ErrorCode Postmark answers (with HTTP 422) for a record that is gone: expired by
    /// retention between its search and its read. Such a record is counted, not failed on.
    pub fn gone_code(self) -> i64 {
        701
    }

    /// The name, in the state, of what the reads of this request keep between runs: streams
    /// expanding through the same request share one read per record, and one entry.
    pub fn group(self) -> &'static str {
        match self {
            Expand::MessageEvents | Expand::OutboundDetails => "outbound_details",
            Expand::InboundDetails => "inbound_details",
            Expand::BounceDump => "bounce_dumps",
        }
    }

    /// Whether the records it gives change with the message's activity (opens, clicks,
    /// bounces, unsubscribes), which the [`ACTIVITY`] searches show.
    pub fn follows_activity(self) -> bool {
        self == Expand::MessageEvents
    }

    /// Whether Postmark's outbound search can list the records still queued (`status=queued`),
    /// so a queued record is read again only once it has left the queue.
    pub fn lists_queued(self) -> bool {
        matches!(self, Expand::MessageEvents | Expand::OutboundDetails)
    }
}

/// A search whose records show that a message's events changed: each record names its message
/// (`MessageID`), whose details are read again for `message_events`. Read for that purpose
/// whether or not its own stream is selected, per outbound message stream, from where it was
/// read up to on the previous run.
#[derive(Clone, Copy, Debug)]
pub struct Activity {
    /// Its name in the state.
    pub name: &'static str,
    /// The stream whose search it reads (its path, envelope, keys and time field).
    pub stream: &'static str,
}

/// How far before where it starts each search of the per-record reads (the new records', the
/// activity ones) is read again, to find the records that reached it after that stretch was
/// read: the arrival lag `messages_opens`' and `messages_clicks`' lookback covers.
pub const LATE_ARRIVAL_HOURS: i64 = 1;

/// The activity searches: a new open, click, bounce or spam complaint.
pub static ACTIVITY: &[Activity] = &[
    Activity {
        name: "opens",
        stream: "messages_opens",
    },
    Activity {
        name: "clicks",
        stream: "messages_clicks",
    },
    Activity {
        name: "bounces",
        stream: "bounces",
    },
];

/// The activity read from a message stream's suppression dump (by `CreatedAt`): an address
/// suppressed for a reason other than a bounce or a spam complaint (which the bounces search
/// shows), an unsubscribe for one, whose messages in that stream are found by the outbound
/// search by recipient.
pub const SUPPRESSION_ACTIVITY: Activity = Activity {
    name: "suppressions",
    stream: "suppressions",
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stats {
    /// `/stats/outbound`: totals only, read one day at a time.
    Overview,
    /// `Days[]` rows with fixed keys, kept as columns (missing key = 0).
    Wide(&'static [&'static str]),
    /// `Days[]` rows with dynamic keys, pivoted to one row per (day, name) with `Count`.
    Long(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullTable {
    /// A count/offset paged list; `detail` (a path prefix) fetches each item whole by `id_field`.
    Paged {
        envelope: &'static str,
        count_param: &'static str,
        offset_param: &'static str,
        detail: Option<&'static str>,
        id_field: &'static str,
    },
    /// One response holding the whole list under `envelope`.
    List {
        envelope: &'static str,
        query: &'static [(&'static str, &'static str)],
    },
    /// One object.
    Object,
    /// One list per message stream of the server: the stream's `path` with `{id}` standing for
    /// the message stream, each item stamped with its `MessageStream`.
    PerMessageStream { envelope: &'static str },
    /// The server's message streams, archived ones included (`query`), as the sync lists them
    /// to find its partitions (no request of their own).
    MessageStreams {
        envelope: &'static str,
        query: &'static [(&'static str, &'static str)],
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    Incremental,
    FullTable,
}

impl Replication {
    pub fn as_str(self) -> &'static str {
        match self {
            Replication::Incremental => "INCREMENTAL",
            Replication::FullTable => "FULL_TABLE",
        }
    }
}

/// One stream's facts.
#[derive(Clone, Copy, Debug)]
pub struct StreamDef {
    pub name: &'static str,
    pub path: &'static str,
    /// Envelope key of a search page or of a stats endpoint's rows (`Days`).
    pub envelope: &'static str,
    pub token: TokenKind,
    pub kind: Kind,
    pub key_properties: &'static [&'static str],
    /// The fields of Postmark's record that tell it from every other record of the endpoint: the
    /// key, less what the tap adds (`ServerID`, a suppression's `MessageStream`, a statistics
    /// row's `Date`). `message_events` are identified by their message's `MessageID`.
    pub identity: &'static [&'static str],
    /// The bookmark field (empty for full-table streams).
    pub replication_key: Option<&'static str>,
    pub selected_by_default: bool,
    /// The JSON Schema, from `catalog/<name>.json`.
    pub schema: &'static str,
    /// Record fields never emitted, whatever the catalog says: secrets, and attachment content.
    pub secret_fields: &'static [&'static [&'static str]],
    /// How far before its bookmark an incremental run re-reads, by default (hours; 0 for
    /// full-table streams): what can still change or arrive after a record is first readable.
    /// The README argues each stream's figure. The per-record streams read a record again when
    /// it changed (`sync::reads`), so theirs is 0: set, it re-reads every record in it.
    pub lookback_hours: u32,
}

impl StreamDef {
    /// What a search stream expands its found records to, if it does.
    pub fn expands_to(&self) -> Option<Expand> {
        match self.kind {
            Kind::Search(spec) => spec.expand,
            _ => None,
        }
    }

    pub fn replication(&self) -> Replication {
        match self.kind {
            Kind::FullTable(_) => Replication::FullTable,
            _ => Replication::Incremental,
        }
    }
}

const STATS_KEYS: &[&str] = &["ServerID", "MessageStream", "Date"];

macro_rules! schema {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/catalog/",
            $name,
            ".json"
        ))
    };
}

/// A search stream read on every outbound message stream, bookmarked on `time_field`, keyed by
/// `ServerID` and `identity` (refine it with the methods below).
const fn search(
    name: &'static str,
    path: &'static str,
    envelope: &'static str,
    time_field: &'static str,
    schema: &'static str,
) -> StreamDef {
    StreamDef {
        name,
        path,
        envelope,
        token: TokenKind::Server,
        kind: Kind::Search(Search {
            time_field: Some(time_field),
            partitions: Partitions::Outbound,
            ceiling_error_code: 700,
            expand: None,
        }),
        key_properties: &[],
        identity: &[],
        replication_key: Some(time_field),
        selected_by_default: true,
        schema,
        secret_fields: &[],
        lookback_hours: 24,
    }
}

const fn stats(
    name: &'static str,
    path: &'static str,
    shape: Stats,
    keys: &'static [&'static str],
    schema: &'static str,
) -> StreamDef {
    StreamDef {
        name,
        path,
        envelope: "Days",
        token: TokenKind::Server,
        kind: Kind::Stats(shape),
        key_properties: keys,
        identity: &[],
        replication_key: Some("Date"),
        selected_by_default: true,
        schema,
        secret_fields: &[],
        // Postmark's figures of the last two days still grow as opens, clicks and bounces of
        // their messages arrive.
        lookback_hours: 48,
    }
}

/// A full-table stream keyed by `keys`, its records identified by `identity`.
const fn full(
    name: &'static str,
    path: &'static str,
    token: TokenKind,
    how: FullTable,
    schema: &'static str,
) -> StreamDef {
    StreamDef {
        name,
        path,
        envelope: "",
        token,
        kind: Kind::FullTable(how),
        key_properties: &[],
        identity: &[],
        replication_key: None,
        selected_by_default: true,
        schema,
        secret_fields: &[],
        lookback_hours: 0,
    }
}

impl StreamDef {
    /// The key properties, and the fields of Postmark's record among them.
    const fn keys(
        mut self,
        keys: &'static [&'static str],
        identity: &'static [&'static str],
    ) -> StreamDef {
        self.key_properties = keys;
        self.identity = identity;
        self
    }

    /// A search: which message streams it is read on.
    const fn partitions(mut self, partitions: Partitions) -> StreamDef {
        if let Kind::Search(mut spec) = self.kind {
            spec.partitions = partitions;
            self.kind = Kind::Search(spec);
        }
        self
    }

    /// A search: the ErrorCode Postmark answers past its paging ceiling.
    const fn ceiling_error_code(mut self, code: i64) -> StreamDef {
        if let Kind::Search(mut spec) = self.kind {
            spec.ceiling_error_code = code;
            self.kind = Kind::Search(spec);
        }
        self
    }

    /// A search whose records carry no timestamp: windows are trusted, and the bookmark is
    /// named `field`.
    const fn untimed(mut self, field: &'static str) -> StreamDef {
        if let Kind::Search(mut spec) = self.kind {
            spec.time_field = None;
            self.kind = Kind::Search(spec);
        }
        self.replication_key = Some(field);
        self
    }

    /// A search that emits what each found record's details expand to.
    const fn expand(mut self, expand: Expand) -> StreamDef {
        if let Kind::Search(mut spec) = self.kind {
            spec.expand = Some(expand);
            self.kind = Kind::Search(spec);
        }
        self
    }

    /// Read only when a catalog selects it.
    const fn opt_in(mut self) -> StreamDef {
        self.selected_by_default = false;
        self
    }

    /// How far before its bookmark an incremental run re-reads by default (hours).
    const fn lookback(mut self, hours: u32) -> StreamDef {
        self.lookback_hours = hours;
        self
    }

    /// Record fields never emitted.
    const fn secrets(mut self, fields: &'static [&'static [&'static str]]) -> StreamDef {
        self.secret_fields = fields;
        self
    }
}

/// The message streams of a server, which the sync lists to find its partitions.
pub const MESSAGE_STREAMS: StreamDef = full(
    "message_streams",
    "/message-streams",
    TokenKind::Server,
    FullTable::MessageStreams {
        envelope: "MessageStreams",
        query: &[("IncludeArchivedStreams", "true")],
    },
    schema!("message_streams"),
)
.keys(&["ServerID", "ID"], &["ID"]);

/// Suppressions, per message stream (its dump also serves as activity).
pub const SUPPRESSIONS: StreamDef = full(
    "suppressions",
    "/message-streams/{id}/suppressions/dump",
    TokenKind::Server,
    FullTable::PerMessageStream {
        envelope: "Suppressions",
    },
    schema!("suppressions"),
)
.keys(
    &["ServerID", "MessageStream", "EmailAddress"],
    &["EmailAddress"],
);

/// The server of a server token, which the sync looks up to name it.
pub const SERVER: StreamDef = full(
    "server",
    "/server",
    TokenKind::Server,
    FullTable::Object,
    schema!("server"),
)
.keys(&["ServerID", "ID"], &["ID"])
.secrets(&[&["ApiTokens"]]);

/// The servers of an account token, which the sync lists to read each with its own token.
pub const SERVERS: StreamDef = full(
    "servers",
    "/servers",
    TokenKind::Account,
    FullTable::Paged {
        envelope: "Servers",
        count_param: "count",
        offset_param: "offset",
        detail: None,
        id_field: "ID",
    },
    schema!("servers"),
)
.keys(&["ID"], &["ID"])
.secrets(&[&["ApiTokens"]]);

/// The stream whose records' `Tag`s are the tags `stats_tags: ["*"]` reads statistics for.
pub const TAGGED_MESSAGES: &str = "messages_outbound";

/// Every stream, in the order they are synced.
pub static STREAMS: &[StreamDef] = &[
    search(
        "messages_outbound",
        "/messages/outbound",
        "Messages",
        "ReceivedAt",
        schema!("messages_outbound"),
    )
    // A message's Status moves on (Queued to Sent) within minutes of its ReceivedAt.
    .lookback(2)
    .keys(&["ServerID", "MessageID"], &["MessageID"]),
    search(
        "messages_opens",
        "/messages/outbound/opens",
        "Opens",
        "ReceivedAt",
        schema!("messages_opens"),
    )
    // Events filed under the moment they happened: only their arrival can lag.
    .lookback(1)
    .keys(
        &["ServerID", "MessageID", "Recipient", "ReceivedAt"],
        &["MessageID", "Recipient", "ReceivedAt"],
    ),
    search(
        "messages_clicks",
        "/messages/outbound/clicks",
        "Clicks",
        "ReceivedAt",
        schema!("messages_clicks"),
    )
    .lookback(1)
    .keys(
        &[
            "ServerID",
            "MessageID",
            "Recipient",
            "ReceivedAt",
            "OriginalLink",
        ],
        &["MessageID", "Recipient", "ReceivedAt", "OriginalLink"],
    ),
    search(
        "messages_inbound",
        "/messages/inbound",
        "InboundMessages",
        "Date",
        schema!("messages_inbound"),
    )
    .untimed("Date")
    // Status moves on while Postmark retries the inbound webhook, for hours.
    .lookback(12)
    .partitions(Partitions::Inbound)
    .keys(&["ServerID", "MessageID"], &["MessageID"]),
    search(
        "bounces",
        "/bounces",
        "Bounces",
        "BouncedAt",
        schema!("bounces"),
    )
    .partitions(Partitions::Every)
    .ceiling_error_code(1000)
    // Inactive and CanActivate change after the fact: a reactivation, repeated soft bounces,
    // within two days as a rule.
    .lookback(48)
    .keys(&["ServerID", "ID"], &["ID"]),
    // One details request per message: opt in.
    search(
        "message_events",
        "/messages/outbound",
        "Messages",
        "ReceivedAt",
        schema!("message_events"),
    )
    .expand(Expand::MessageEvents)
    // Read again when its activity says so (see ACTIVITY), not by lookback.
    .lookback(0)
    .opt_in()
    .keys(
        &["ServerID", "MessageID", "Recipient", "Type", "ReceivedAt"],
        &["MessageID"],
    ),
    // Content for an archive, one request per message (or bounce with a dump): opt in.
    search(
        "messages_outbound_details",
        "/messages/outbound",
        "Messages",
        "ReceivedAt",
        schema!("messages_outbound_details"),
    )
    .expand(Expand::OutboundDetails)
    // Read once; again only while still queued.
    .lookback(0)
    .opt_in()
    // Attachments' content is never emitted, should an answer ever carry it.
    .secrets(&[&["Attachments", "Content"]])
    .keys(&["ServerID", "MessageID"], &["MessageID"]),
    search(
        "messages_inbound_details",
        "/messages/inbound",
        "InboundMessages",
        "Date",
        schema!("messages_inbound_details"),
    )
    .untimed("Date")
    // Read once; again only while its Status may still change.
    .lookback(0)
    .partitions(Partitions::Inbound)
    .expand(Expand::InboundDetails)
    .opt_in()
    // Attachments' content is never emitted: not the attachments' own, nor the raw source
    // holding them that a server set to keep it may add.
    .secrets(&[&["Attachments", "Content"], &["RawEmail"]])
    .keys(&["ServerID", "MessageID"], &["MessageID"]),
    search(
        "bounce_dumps",
        "/bounces",
        "Bounces",
        "BouncedAt",
        schema!("bounce_dumps"),
    )
    .partitions(Partitions::Every)
    .ceiling_error_code(1000)
    // A dump never changes: read once.
    .lookback(0)
    .expand(Expand::BounceDump)
    .opt_in()
    .keys(&["ServerID", "ID"], &["ID"]),
    full(
        "templates",
        "/templates",
        TokenKind::Server,
        FullTable::Paged {
            envelope: "Templates",
            count_param: "Count",
            offset_param: "Offset",
            detail: Some("/templates/"),
            id_field: "TemplateId",
        },
        schema!("templates"),
    )
    .keys(&["ServerID", "TemplateId"], &["TemplateId"]),
    MESSAGE_STREAMS,
    SUPPRESSIONS,
    full(
        "delivery_stats",
        "/deliverystats",
        TokenKind::Server,
        FullTable::Object,
        schema!("delivery_stats"),
    )
    .keys(&["ServerID"], &[]),
    SERVER,
    full(
        "webhooks",
        "/webhooks",
        TokenKind::Server,
        FullTable::List {
            envelope: "Webhooks",
            query: &[],
        },
        schema!("webhooks"),
    )
    .keys(&["ServerID", "ID"], &["ID"])
    .secrets(&[&["HttpAuth", "Password"]]),
    full(
        "inbound_rules",
        "/triggers/inboundrules",
        TokenKind::Server,
        FullTable::Paged {
            envelope: "InboundRules",
            count_param: "count",
            offset_param: "offset",
            detail: None,
            id_field: "ID",
        },
        schema!("inbound_rules"),
    )
    .keys(&["ServerID", "ID"], &["ID"]),
    SERVERS,
    full(
        "domains",
        "/domains",
        TokenKind::Account,
        FullTable::Paged {
            envelope: "Domains",
            count_param: "count",
            offset_param: "offset",
            detail: Some("/domains/"),
            id_field: "ID",
        },
        schema!("domains"),
    )
    .keys(&["ID"], &["ID"]),
    full(
        "sender_signatures",
        "/senders",
        TokenKind::Account,
        FullTable::Paged {
            envelope: "SenderSignatures",
            count_param: "count",
            offset_param: "offset",
            detail: Some("/senders/"),
            id_field: "ID",
        },
        schema!("sender_signatures"),
    )
    .keys(&["ID"], &["ID"]),
    stats(
        "stats_outbound_overview",
        "/stats/outbound",
        Stats::Overview,
        STATS_KEYS,
        schema!("stats_outbound_overview"),
    ),
    stats(
        "stats_outbound_sends",
        "/stats/outbound/sends",
        Stats::Wide(&["Sent"]),
        STATS_KEYS,
        schema!("stats_outbound_sends"),
    ),
    stats(
        "stats_outbound_bounces",
        "/stats/outbound/bounces",
        Stats::Long("Type"),
        &["ServerID", "MessageStream", "Date", "Type"],
        schema!("stats_outbound_bounces"),
    ),
    stats(
        "stats_outbound_platform",
        "/stats/outbound/opens/platforms",
        Stats::Wide(&["Desktop", "WebMail", "Mobile", "Unknown"]),
        STATS_KEYS,
        schema!("stats_outbound_platform"),
    ),
    stats(
        "stats_outbound_clients",
        "/stats/outbound/opens/emailclients",
        Stats::Long("Client"),
        &["ServerID", "MessageStream", "Date", "Client"],
        schema!("stats_outbound_clients"),
    ),
    stats(
        "stats_outbound_spam",
        "/stats/outbound/spam",
        Stats::Wide(&["SpamComplaint"]),
        STATS_KEYS,
        schema!("stats_outbound_spam"),
    ),
    stats(
        "stats_outbound_tracked",
        "/stats/outbound/tracked",
        Stats::Wide(&["Tracked"]),
        STATS_KEYS,
        schema!("stats_outbound_tracked"),
    ),
    stats(
        "stats_outbound_opens",
        "/stats/outbound/opens",
        Stats::Wide(&["Opens", "Unique"]),
        STATS_KEYS,
        schema!("stats_outbound_opens"),
    ),
    stats(
        "stats_outbound_clicks",
        "/stats/outbound/clicks",
        Stats::Wide(&["Clicks", "Unique"]),
        STATS_KEYS,
        schema!("stats_outbound_clicks"),
    ),
    stats(
        "stats_outbound_browser_families",
        "/stats/outbound/clicks/browserfamilies",
        Stats::Long("Family"),
        &["ServerID", "MessageStream", "Date", "Family"],
        schema!("stats_outbound_browser_families"),
    ),
    stats(
        "stats_outbound_click_platforms",
        "/stats/outbound/clicks/platforms",
        Stats::Wide(&["Desktop", "WebMail", "Mobile", "Unknown"]),
        STATS_KEYS,
        schema!("stats_outbound_click_platforms"),
    ),
    stats(
        "stats_outbound_click_location",
        "/stats/outbound/clicks/location",
        Stats::Wide(&["HTML", "Text"]),
        STATS_KEYS,
        schema!("stats_outbound_click_location"),
    ),
];

/// Looks a stream up by name.
pub fn find(name: &str) -> Option<&'static StreamDef> {
    STREAMS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row has the pieces the checklist above names: a schema, a docs line, a README
    /// row and a fixture.
    #[test]
    fn every_stream_has_its_pieces() {
        let root = env!("CARGO_MANIFEST_DIR");
        let read = |p: &str| std::fs::read_to_string(format!("{root}/{p}")).unwrap();
        let (docs, readme) = (read("docs/streams.md"), read("README.md"));
        let index: serde_json::Value =
            serde_json::from_str(&read("tests/fixtures/postmark/index.json")).unwrap();
        for s in STREAMS {
            let name = s.name;
            let row = format!("| `{name}` |");
            let catalog = format!("{root}/catalog/{name}.json");
            assert!(
                std::path::Path::new(&catalog).is_file(),
                "{name}: no {catalog}"
            );
            assert!(docs.contains(&row), "{name}: no row in docs/streams.md");
            assert!(
                readme.contains(&row),
                "{name}: no row in the README's Streams table"
            );
            assert!(
                index["streams"].get(name).is_some(),
                "{name}: no fixture in tests/fixtures/postmark/index.json"
            );
        }
    }

    #[test]
    fn every_catalog_file_is_a_stream() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/catalog");
        let files = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(files, STREAMS.len());
    }

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for s in STREAMS {
            assert!(seen.insert(s.name), "duplicate {}", s.name);
            assert!(
                s.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn identity_is_the_key_less_what_the_tap_adds() {
        for s in STREAMS {
            let added: &[&str] = match s.kind {
                Kind::Stats(_) => s.key_properties,
                Kind::FullTable(FullTable::PerMessageStream { .. }) => {
                    &["ServerID", "MessageStream"]
                }
                Kind::Search(Search {
                    expand: Some(expand),
                    ..
                }) => {
                    assert_eq!(s.identity, [expand.id_field()], "{}", s.name);
                    continue;
                }
                _ => &["ServerID"],
            };
            let rest: Vec<&str> = s
                .key_properties
                .iter()
                .copied()
                .filter(|k| !added.contains(k))
                .collect();
            assert_eq!(rest, s.identity, "{}", s.name);
        }
    }

    #[test]
    fn every_schema_declares_its_keys_and_bookmark() {
        for s in STREAMS {
            let schema: serde_json::Value = serde_json::from_str(s.schema).unwrap();
            let props = schema["properties"].as_object().unwrap();
            for k in s.key_properties.iter().chain(s.replication_key.iter()) {
                assert!(props.contains_key(*k), "{}: {} not in schema", s.name, k);
            }
        }
    }
}
