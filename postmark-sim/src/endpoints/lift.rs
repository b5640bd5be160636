//! `POST /message-streams/{stream_id}/suppressions/delete`, as Postmark answers it: up to 50
//! addresses, each answered `Deleted` (its suppression lifted, or none there) or `Failed` (an
//! invalid address, or a `SpamComplaint` suppression the customer may not lift). Lifting a
//! `HardBounce` suppression reactivates the hard bounces of that address on that stream.

use serde_json::{json, Value};

use super::message_streams::stream_not_found;
use super::query::{ApiError, ApiResult};
use crate::generate::facts;
use crate::generate::model::Model;
use crate::generate::names::{BOUNCE_TYPES, HARD_BOUNCE, SPAM_COMPLAINT};
use crate::generate::traffic;
use crate::generate::visible;

/// Most addresses one request may carry.
pub const MAX_ADDRESSES: usize = 50;

const NO_AUTHORITY: &str = "You do not have the required authority to change this suppression.";
const INVALID_ADDRESS: &str = "An invalid email address was provided.";

/// Lifts the suppressions of stream `stream_id` of server `s` that `body` names, at `now`.
pub fn delete(m: &mut Model, s: usize, stream_id: &str, body: &[u8], now: i64) -> ApiResult {
    let addresses = parse(body)?;
    let k = m.servers[s]
        .stream_index(stream_id)
        .ok_or_else(stream_not_found)?;
    let items: Vec<Value> = addresses
        .iter()
        .map(|a| {
            let (status, message) = lift_one(m, s, k, a, now);
            json!({"EmailAddress": a, "Status": status, "Message": message})
        })
        .collect();
    Ok(json!({"Suppressions": items}))
}

/// The addresses of `{"Suppressions":[{"EmailAddress":…},…]}` (member names in any case):
/// 1409 for anything else, 1410 for more than [`MAX_ADDRESSES`].
fn parse(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::unprocessable(1409, "A proper request body must be provided.");
    let v: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let list = member(&v, "Suppressions")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    if list.len() > MAX_ADDRESSES {
        return Err(ApiError::unprocessable(
            1410,
            "You cannot provide more than the maximum number of suppressions for this request.",
        ));
    }
    list.iter()
        .map(|item| {
            member(item, "EmailAddress")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(bad)
        })
        .collect()
}

/// An object's member by case-insensitive name.
fn member<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Whether `a` looks like an email address: one `@` between a non-empty local part and a
/// dotted domain, no spaces or control characters.
fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !a.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Lifts one address's suppression on stream `k`: the item's `Status` and `Message`.
fn lift_one(
    m: &mut Model,
    s: usize,
    k: usize,
    address: &str,
    now: i64,
) -> (&'static str, Option<&'static str>) {
    if !valid_address(address) {
        return ("Failed", Some(INVALID_ADDRESS));
    }
    let list = &mut m.servers[s].streams[k].suppressions;
    let mut on_list = list
        .iter_mut()
        .filter(|x| x.active(now) && x.email.eq_ignore_ascii_case(address))
        .peekable();
    if on_list.peek().is_none() {
        return ("Deleted", None);
    }
    let mut on_list: Vec<_> = on_list.collect();
    if on_list
        .iter()
        .any(|x| x.reason == BOUNCE_TYPES[SPAM_COMPLAINT].key)
    {
        return ("Failed", Some(NO_AUTHORITY));
    }
    let mut hard = false;
    for x in &mut on_list {
        hard |= x.reason == BOUNCE_TYPES[HARD_BOUNCE].key;
        x.until = Some(now);
    }
    if hard {
        reactivate(m, s, k, address, now);
    }
    ("Deleted", None)
}

/// Reactivates (from `now` on) the hard bounces to `address` on stream `k` that are inactive.
fn reactivate(m: &mut Model, s: usize, k: usize, address: &str, now: i64) {
    let ctx = traffic::ctx_of(m, s, k);
    let st = &m.servers[s].streams[k];
    let mut found = Vec::new();
    for &pos in &st.bounces {
        let b = &m.bounces[pos as usize];
        if usize::from(b.kind) != HARD_BOUNCE || b.at > now {
            continue;
        }
        if !visible::bounce_flags(m, pos, now).0 {
            continue;
        }
        let i = b.msg as usize;
        let f = facts::message(&ctx, i, st.messages[i], false);
        let to = f.recipients.get(usize::from(b.slot));
        if to.is_some_and(|&a| facts::email(m.seed, s, a).eq_ignore_ascii_case(address)) {
            found.push(pos);
        }
    }
    for pos in found {
        m.reactivated.insert(pos, now);
    }
}
