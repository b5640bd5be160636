//! Where a stream's reading of a partition starts: its bookmark on it, less its lookback.

use super::super::context::Ctx;
use crate::error::Error;
use crate::record::Selected;
use crate::timefmt::{floor_second, parse_timestamp};
use chrono::{DateTime, Utc};
use std::io::Write;

/// A stream's bookmark on a server's partition, and where reading it starts: the bookmark minus
/// the stream's lookback, or the start of message streams.
pub fn from_bookmark<W: Write>(
    ctx: &Ctx<'_, W>,
    (server_id, partition): (u64, &str),
    sel: &Selected,
) -> Result<(Option<DateTime<Utc>>, DateTime<Utc>), Error> {
    let name = sel.def.name;
    let bookmark = match ctx.state.bookmark(name, server_id, partition) {
        None => None,
        Some(b) => Some(parse_timestamp(b).ok_or_else(|| {
            Error::Input(format!(
                "state: bookmarks.{name}.{server_id}.{partition} = {b:?} is not a timestamp"
            ))
        })?),
    };
    let start = floor_second(match bookmark {
        Some(b) => (b - ctx.config.lookback(sel.def)).max(ctx.config.message_start),
        None => ctx.config.message_start,
    });
    Ok((bookmark, start))
}
