//! The answer a content stream's endpoint gives for one key at the clock's now
//! (`Simulator::expected_answer`): the outbound details, the inbound details or the bounce dump,
//! rendered by the endpoint's own handler, so it equals the HTTP answer.

use serde_json::Value;

use crate::endpoints::details::{bounce_dump, inbound_details, outbound_details};
use crate::endpoints::env::Env;
use crate::endpoints::query::Query;
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
    let s = m.servers.iter().position(|x| x.id == server_id)?;
    let q = Query::default();
    let env = Env {
        m,
        s,
        q: &q,
        now,
        id: key,
    };
    let answer = match stream {
        "messages_outbound_details" => outbound_details(&env),
        "messages_inbound_details" => inbound_details(&env),
        "bounce_dumps" => bounce_dump(&env),
        _ => return None,
    };
    answer.ok()
}
