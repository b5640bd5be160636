//! The answer a content stream's endpoint gives for one key at the clock's now
//! (`Simulator::expected_answer`): the outbound details, the inbound details or the bounce dump,
//! rendered by the endpoint's own handler, so it equals the HTTP answer; and the outbound
//! details' `Status` alone (`Simulator::outbound_status`).

use serde_json::Value;

use crate::endpoints::details::{bounce_dump, inbound_details, outbound_details, outbound_status};
use crate::endpoints::env::Env;
use crate::endpoints::query::{ApiError, Query};
use crate::generate::model::Model;

/// The answer the endpoint behind tap stream `stream` gives for `key` on server `server_id` at
/// clock `now`: `/messages/outbound/{key}/details`, `/messages/inbound/{key}/details` or
/// `/bounces/{key}/dump`, rendered by the same handler; `None` when it answers not-found, or for
/// an unknown server or stream.
pub fn expected_answer(
    m: &Model,
    now: i64,
    server_id: u64,
    stream: &str,
    key: &str,
) -> Option<Value> {
    let handler = match stream {
        "messages_outbound_details" => outbound_details,
        "messages_inbound_details" => inbound_details,
        "bounce_dumps" => bounce_dump,
        _ => return None,
    };
    answer(m, now, server_id, key, handler)
}

/// The `Status` of `/messages/outbound/{id}/details` on server `server_id` at clock `now`, by
/// the handler's own lookup, without rendering the answer; `None` when it answers not-found.
pub fn status(m: &Model, now: i64, server_id: u64, id: &str) -> Option<&'static str> {
    answer(m, now, server_id, id, outbound_status)
}

/// What `handler` answers for `key` on server `server_id` at clock `now`; `None` for an error
/// or an unknown server.
fn answer<T>(
    m: &Model,
    now: i64,
    server_id: u64,
    key: &str,
    handler: impl Fn(&Env) -> Result<T, ApiError>,
) -> Option<T> {
    let s = m.servers.iter().position(|x| x.id == server_id)?;
    let q = Query::default();
    let env = Env {
        m,
        s,
        q: &q,
        now,
        id: key,
    };
    handler(&env).ok()
}
