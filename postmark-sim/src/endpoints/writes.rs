//! The write API, as Postmark answers it: `DELETE` of a template, a webhook, an inbound rule, a
//! domain or a sender signature (200 `{"ErrorCode":0,"Message":"… removed."}`, or 422 with the
//! not-found ErrorCode the GETs use); the suppressions delete is `lift`'s, and `serve::routes`
//! sends each write to its function. A deletion lasts for the simulator's lifetime: it goes
//! into `Model::deleted`, which every list, detail and the ground truth honour.

use serde_json::{json, Value};

use super::query::{ApiError, ApiResult};
use super::resources;
use crate::generate::model::Model;

/// `DELETE /webhooks/{id}`: 1352 when unknown.
pub fn delete_webhook(m: &mut Model, s: usize, id: &str) -> ApiResult {
    let i = resources::find_webhook(m, s, id)?;
    let id = m.servers[s].webhooks[i].id;
    m.deleted.webhooks.insert(id);
    Ok(removed(format!("Webhook {id} removed.")))
}

/// `DELETE /triggers/inboundrules/{triggerid}`: 812 when unknown.
pub fn delete_inbound_rule(m: &mut Model, s: usize, id: &str) -> ApiResult {
    let i = resources::find_inbound_rule(m, s, id)?;
    let (id, rule) = m.servers[s].inbound_rules[i].clone();
    m.deleted.inbound_rules.insert(id);
    Ok(removed(format!("Rule {rule} removed.")))
}

/// `DELETE /domains/{domainid}`: 510 when unknown.
pub fn delete_domain(m: &mut Model, id: &str) -> ApiResult {
    let d = &m.domains[resources::find_domain(m, id)?];
    let (id, message) = (d.id, format!("Domain {} removed.", d.name));
    m.deleted.domains.insert(id);
    Ok(removed(message))
}

/// `DELETE /senders/{signatureid}`: 501 when unknown.
pub fn delete_sender(m: &mut Model, id: &str) -> ApiResult {
    let s = &m.senders[resources::find_sender(m, id)?];
    let (id, message) = (s.id, format!("Signature {} removed.", s.email));
    m.deleted.senders.insert(id);
    Ok(removed(message))
}

/// The success envelope of a deletion.
fn removed(message: String) -> Value {
    json!({"ErrorCode": 0, "Message": message})
}

/// `DELETE /templates/{templateIdOrAlias}`: 1101 when unknown (or deleted already), 1130 for a
/// layout that templates still use.
pub fn delete_template(m: &mut Model, s: usize, id_or_alias: &str) -> ApiResult {
    let i = resources::find_template(m, s, id_or_alias)?;
    let templates = &m.servers[s].templates;
    let t = &templates[i];
    let used = t.layout
        && t.alias.as_deref().is_some_and(|alias| {
            templates.iter().any(|o| {
                !m.deleted.templates.contains(&o.id)
                    && o.layout_template
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case(alias))
            })
        });
    if used {
        return Err(ApiError::unprocessable(
            1130,
            "The layout template cannot be deleted because dependent templates use it.",
        ));
    }
    let id = t.id;
    m.deleted.templates.insert(id);
    Ok(removed(format!("Template {id} removed.")))
}
