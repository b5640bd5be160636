//! The tap's stream table (`tap_postmark::streams::STREAMS`) as the tests ask it: which streams
//! there are, of which kind, read by default or not.

use tap_postmark::streams::{Kind, StreamDef, TokenKind, STREAMS};

/// Names of the streams `pick` keeps, in the table's order.
pub fn names(pick: impl Fn(&StreamDef) -> bool) -> Vec<&'static str> {
    STREAMS.iter().filter(|d| pick(d)).map(|d| d.name).collect()
}

/// Every stream.
pub fn all() -> Vec<&'static str> {
    names(|_| true)
}

/// The streams of one kind ([`is_search`], [`is_stats`], [`is_full_table`]) that a sync reads
/// when no catalog selects streams.
pub fn default_streams(kind: fn(&StreamDef) -> bool) -> Vec<&'static str> {
    names(|d| d.selected_by_default && kind(d))
}

/// A date-windowed search.
pub fn is_search(d: &StreamDef) -> bool {
    matches!(d.kind, Kind::Search(_))
}

/// A statistics endpoint read day by day.
pub fn is_stats(d: &StreamDef) -> bool {
    matches!(d.kind, Kind::Stats(_))
}

/// A list or object read whole on every run.
pub fn is_full_table(d: &StreamDef) -> bool {
    matches!(d.kind, Kind::FullTable(_))
}

/// Read with the account token (records carry no `ServerID`).
pub fn is_account(d: &StreamDef) -> bool {
    d.token == TokenKind::Account
}
