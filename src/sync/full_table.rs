//! Full-table streams: lists and objects read whole on every run.

use super::servers::Server;
use super::{extracted_now, Ctx};
use crate::client::Token;
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
    let get = |ctx: &Ctx<'_, W>, p: &str, q: &[(&str, String)], endpoint: &str| {
        ctx.client
            .get(token, p, q, endpoint)
            .map_err(|e| e.into_error(p))
    };
    let mut written = 0;
    match how {
        FullTable::Object => {
            let record = get(ctx, path, &[], path)?;
            ctx.emit(sel, record, server_id, &extracted_now())?;
            written += 1;
        }
        FullTable::List { envelope, query } => {
            let q: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
            let answer = get(ctx, path, &q, path)?;
            let extracted = extracted_now();
            for item in list(&answer, envelope, path)? {
                ctx.emit(sel, item.clone(), server_id, &extracted)?;
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
                let answer = get(ctx, path, &q, path)?;
                let total = answer
                    .get("TotalCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if total > CEILING {
                    return Err(Error::Ceiling(format!(
                        "{path} lists {total} items; Postmark's paging reaches only {CEILING}"
                    )));
                }
                let items = list(&answer, envelope, path)?.clone();
                require_progress(path, "items", items.len(), offset, total)?;
                offset += items.len() as u64;
                for item in items {
                    let (record, extracted) = match detail {
                        None => (item, extracted_now()),
                        Some(prefix) => {
                            let id = match item.get(id_field) {
                                Some(Value::String(s)) => s.clone(),
                                Some(Value::Number(n)) => n.to_string(),
                                _ => {
                                    return Err(Error::Api(format!(
                                        "an item of {path} has no {id_field}"
                                    )))
                                }
                            };
                            let detail_path = format!("{prefix}{id}");
                            let endpoint = format!("{prefix}{{id}}");
                            (get(ctx, &detail_path, &[], &endpoint)?, extracted_now())
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
                let answer = get(ctx, &p, &[], "/message-streams/{id}/suppressions/dump")?;
                let extracted = extracted_now();
                for item in list(&answer, "Suppressions", &p)? {
                    let mut record = item.clone();
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

fn list<'v>(answer: &'v Value, envelope: &str, path: &str) -> Result<&'v Vec<Value>, Error> {
    answer
        .get(envelope)
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Api(format!("Postmark's {path} answer has no {envelope} list")))
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
