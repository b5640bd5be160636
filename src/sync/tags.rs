//! The tags `stats_tags: ["*"]` reads statistics for: whether a run gathers them, and which
//! tags a server's message stream gets once its outbound messages were read (those found now,
//! and those the state kept from the last `retention_days`), at most `stats_tags_max`.

use super::context::Ctx;
use super::search::fetch::Partition;
use crate::config::{Config, StatsTags};
use crate::error::Error;
use crate::record::Selected;
use crate::streams::{Kind, TAGGED_MESSAGES};
use crate::timefmt::eastern_date;
use std::collections::BTreeMap;
use std::io::Write;

/// `stats_tags` as this run reads it: `"*"` only when a statistics stream is selected (there is
/// nothing to gather for otherwise), and then only with `messages_outbound`, the stream its
/// tags are found on.
pub fn for_run(config: &Config, selection: &[Selected]) -> Result<StatsTags, Error> {
    let mut tags = config.stats_tags.clone();
    let stats = selection
        .iter()
        .any(|s| matches!(s.def.kind, Kind::Stats(_)));
    if !stats {
        tags.found_max = None;
    }
    let gathers = selection.iter().any(|s| s.def.name == TAGGED_MESSAGES);
    if tags.found_max.is_some() && !gathers {
        return Err(Error::Input(format!(
            "stats_tags: \"*\" reads the tags found on {TAGGED_MESSAGES}, which the catalog does not select; select it, or name the tags in stats_tags"
        )));
    }
    Ok(tags)
}

/// The tags whose statistics are read on server `server`'s message stream once `part` (its
/// `messages_outbound` search) is done: those it gathered and those found within
/// `retention_days` before, less the listed ones. The state keeps each with the Eastern day it
/// was last found. More than `stats_tags_max` is an error naming the first of them.
pub fn found<W: Write>(
    ctx: &mut Ctx<'_, W>,
    tags: &StatsTags,
    server: u64,
    part: &Partition,
) -> Result<Vec<String>, Error> {
    let Some(max) = tags.found_max else {
        return Ok(Vec::new());
    };
    let known = last_found(ctx, server, part);
    let read: Vec<String> = known
        .keys()
        .filter(|t| !tags.listed.contains(t))
        .cloned()
        .collect();
    if read.len() > max {
        let named: Vec<String> = read.iter().take(5).map(|t| format!("{t:?}")).collect();
        return Err(Error::Input(format!(
            "stats_tags: {} tags found on the outbound messages of server {server} stream {} ({}, ...), more than stats_tags_max ({max}); raise stats_tags_max, or name the tags wanted in stats_tags instead of \"*\"",
            read.len(),
            part.id,
            named.join(", ")
        )));
    }
    ctx.state.set_found_tags(server, &part.id, &known);
    Ok(read)
}

/// Each tag with the Eastern day it was last found: today for those `part` gathered, the
/// state's day for those found within `retention_days` (older ones no longer name a message
/// Postmark holds).
fn last_found<W: Write>(
    ctx: &Ctx<'_, W>,
    server: u64,
    part: &Partition,
) -> BTreeMap<String, String> {
    let day = |t| eastern_date(t).format("%Y-%m-%d").to_string();
    let oldest = day(ctx.now - ctx.config.retention);
    let mut known = ctx.state.found_tags(server, &part.id);
    known.retain(|_, last| *last >= oldest);
    let gathered = part
        .tags
        .as_ref()
        .and_then(|t| t.lock().ok().map(|t| t.clone()));
    let today = day(ctx.now);
    for tag in gathered.unwrap_or_default() {
        known.insert(tag, today.clone());
    }
    known
}
