//! Where a partition's reading starts: each stream's bookmark on it, less its lookback.

use super::super::context::Ctx;
use super::fetch::Partition;
use crate::error::Error;
use crate::singer::catalog::Selected;
use crate::timefmt::{floor_second, parse_timestamp};
use chrono::{DateTime, Utc};
use std::io::Write;

/// A stream's bookmark on the partition, and where reading it starts: the bookmark minus
/// the stream's lookback, or the start of message streams.
pub fn from_bookmark<W: Write>(
    ctx: &Ctx<'_, W>,
    part: &Partition,
    sel: &Selected,
) -> Result<(Option<DateTime<Utc>>, DateTime<Utc>), Error> {
    let (name, server_id, id) = (sel.def.name, part.server.id, &part.id);
    let bookmark = match ctx.state.bookmark(name, server_id, id) {
        None => None,
        Some(b) => Some(parse_timestamp(b).ok_or_else(|| {
            Error::Input(format!(
                "state: bookmarks.{name}.{server_id}.{id} = {b:?} is not a timestamp"
            ))
        })?),
    };
    let start = floor_second(match bookmark {
        Some(b) => (b - ctx.config.lookback(sel.def)).max(ctx.config.message_start),
        None => ctx.config.message_start,
    });
    Ok((bookmark, start))
}
