//! Full-table streams: lists and objects read whole on every run.

use super::page::{self, Items, Records};
use super::servers::Server;
use super::{extracted_now, Ctx};
use crate::client::{Client, Token};
use crate::error::Error;
use crate::singer::catalog::Selected;
use crate::streams::{FullTable, Kind};
use serde_json::Value;
use std::io::Write;

const PAGE: u64 = 500;
const CEILING: u64 = 10_000;

/// Reads a full-table stream; `server` is `None` for account-level streams.
pub fn sync<W: Write>(
    ctx: &mut Ctx<'_, W>,
    sel: &Selected,
    server: Option<&Server>,
    token: &Token,
) -> Result<u64, Error> {
    let Kind::FullTable(how) = sel.def.kind else {
        return Err(Error::Internal(format!(
            "{} is not a full-table stream",
            sel.def.name
        )));
    };
    let server_id = server.map(|s| s.id);
    let path = sel.def.path;
    let identity = sel.def.identity;
    let mut written = 0;
    match how {
        FullTable::Object => {
            let record = object(ctx.client, token, path, path, identity)?;
            ctx.emit(sel, record, server_id, &extracted_now())?;
            written += 1;
        }
        FullTable::List { envelope, query } => {
            let q: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
            let answer = list(ctx.client, token, path, &q, envelope, identity)?;
            let extracted = extracted_now();
            for item in answer.items {
                ctx.emit(sel, item, server_id, &extracted)?;
                written += 1;
            }
        }
        FullTable::Paged {
            envelope,
            count_param,
            offset_param,
            detail,
            id_field,
        } => {
            let mut offset = 0;
            loop {
                let q = [
                    (count_param, PAGE.to_string()),
                    (offset_param, offset.to_string()),
                ];
                let answer = list(ctx.client, token, path, &q, envelope, identity)?;
                let total = answer.total.count(path)?;
                if total > CEILING {
                    return Err(Error::Ceiling(format!(
                        "{path} lists {total} items; Postmark's paging reaches only {CEILING}"
                    )));
                }
                require_progress(path, "items", answer.items.len(), offset, total)?;
                offset += answer.items.len() as u64;
                for item in answer.items {
                    let (record, extracted) = match detail {
                        None => (item, extracted_now()),
                        Some(prefix) => {
                            let id = match item.get(id_field) {
                                Some(Value::String(s)) => s.clone(),
                                Some(Value::Number(n)) => n.to_string(),
                                _ => {
                                    return Err(Error::Api(format!(
                                        "an item of {path} has an {id_field} that is neither a string nor a number"
                                    )))
                                }
                            };
                            let id = crate::client::path_segment(&id, id_field)?;
                            let detail_path = format!("{prefix}{id}");
                            let endpoint = format!("{prefix}{{id}}");
                            let record =
                                object(ctx.client, token, &detail_path, &endpoint, identity)?;
                            (record, extracted_now())
                        }
                    };
                    ctx.emit(sel, record, server_id, &extracted)?;
                    written += 1;
                }
                if offset >= total {
                    break;
                }
            }
        }
        FullTable::Suppressions => {
            let Some(server) = server else {
                return Err(Error::Internal("suppressions need a server".into()));
            };
            for ms in server.message_streams() {
                let p = format!("/message-streams/{}/suppressions/dump", ms.id);
                let answer = list(ctx.client, token, &p, &[], "Suppressions", identity)?;
                let extracted = extracted_now();
                for mut record in answer.items {
                    if let Some(map) = record.as_object_mut() {
                        map.insert("MessageStream".into(), Value::String(ms.id.clone()));
                    }
                    ctx.emit(sel, record, server_id, &extracted)?;
                    written += 1;
                }
            }
        }
    }
    Ok(written)
}

/// GETs a list answer: its items (each with its identity) and `TotalCount`. A list that is
/// absent is an error, unless `TotalCount` says there is nothing to list.
pub fn list(
    client: &Client,
    token: &Token,
    path: &str,
    query: &[(&str, String)],
    envelope: &str,
    identity: &[&str],
) -> Result<Items, Error> {
    let endpoint = if path.starts_with("/message-streams/") {
        "/message-streams/{id}/suppressions/dump"
    } else {
        path
    };
    let answer = client
        .get_with(token, path, query, endpoint, None, |body| {
            page::parse_items(&body, envelope, identity)
        })
        .map_err(|e| e.into_error(path))?
        .map_err(|e| Error::Api(format!("Postmark's {path} answer has {e}")))?;
    match answer.list {
        Records::List(_) => Ok(answer),
        Records::Missing if answer.total == page::Total::Count(0) => Ok(answer),
        _ => Err(Error::Api(format!(
            "Postmark's {path} answer has no {envelope} list"
        ))),
    }
}

/// GETs an object answer whose `identity` fields must be there once each.
pub fn object(
    client: &Client,
    token: &Token,
    path: &str,
    endpoint: &str,
    identity: &[&str],
) -> Result<Value, Error> {
    client
        .get_with(token, path, &[], endpoint, None, |body| {
            page::parse_object(&body, identity)
        })
        .map_err(|e| e.into_error(path))?
        .map_err(|e| Error::Api(format!("Postmark's {path} answer {e}")))
}

/// A page of an offset-paged list must hold items while `total` is not reached: stopping would
/// drop the rest, asking again would loop forever. `what` names the items in the error.
pub fn require_progress(
    path: &str,
    what: &str,
    got: usize,
    offset: u64,
    total: u64,
) -> Result<(), Error> {
    if got == 0 && offset < total {
        return Err(Error::Api(format!(
            "Postmark's {path} reported {total} {what} but returned none at offset {offset}"
        )));
    }
    Ok(())
}
