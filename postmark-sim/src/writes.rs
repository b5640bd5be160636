//! The write API, as Postmark answers it: `DELETE` of a template, a webhook, an inbound rule, a
//! domain or a sender signature (200 `{"ErrorCode":0,"Message":"… removed."}`, or 422 with the
//! not-found ErrorCode the GETs use), and the suppressions delete (in `lift`). A deletion lasts
//! for the simulator's lifetime: it goes into `Model::deleted`, which every list, detail and the
//! ground truth honour.

use serde_json::{json, Value};

use super::lift;
use super::model::Model;
use super::query::{ApiError, ApiResult};
use super::resources;
use super::routes::Route;

/// What an admitted write request carries besides its route.
pub struct Write<'a> {
    /// Index of the authenticated server (0 for account routes).
    pub s: usize,
    /// The path's ID segment.
    pub id: &'a str,
    pub body: &'a [u8],
    /// The simulator clock (ticks).
    pub now: i64,
}

/// Applies an admitted write request (a route's non-GET method) to the model.
pub fn apply(route: Route, m: &mut Model, w: &Write) -> ApiResult {
    match route {
        Route::Template => delete_template(m, w.s, w.id),
        Route::Webhook => {
            let i = resources::find_webhook(m, w.s, w.id)?;
            let id = m.servers[w.s].webhooks[i].id;
            m.deleted.webhooks.insert(id);
            Ok(removed(format!("Webhook {id} removed.")))
        }
        Route::InboundRule => {
            let i = resources::find_inbound_rule(m, w.s, w.id)?;
            let (id, rule) = m.servers[w.s].inbound_rules[i].clone();
            m.deleted.inbound_rules.insert(id);
            Ok(removed(format!("Rule {rule} removed.")))
        }
        Route::Domain => {
            let d = &m.domains[resources::find_domain(m, w.id)?];
            let (id, message) = (d.id, format!("Domain {} removed.", d.name));
            m.deleted.domains.insert(id);
            Ok(removed(message))
        }
        Route::Sender => {
            let s = &m.senders[resources::find_sender(m, w.id)?];
            let (id, message) = (s.id, format!("Signature {} removed.", s.email));
            m.deleted.senders.insert(id);
            Ok(removed(message))
        }
        Route::SuppressionsDelete => lift::delete(m, w.s, w.id, w.body, w.now),
        // `routes::admit` lets no other method than GET through to the other routes.
        _ => Err(ApiError {
            status: 405,
            code: 0,
            message: String::new(),
        }),
    }
}

/// The success envelope of a deletion.
fn removed(message: String) -> Value {
    json!({"ErrorCode": 0, "Message": message})
}

/// `DELETE /templates/{templateIdOrAlias}`: 1101 when unknown (or deleted already), 1130 for a
/// layout that templates still use.
fn delete_template(m: &mut Model, s: usize, id_or_alias: &str) -> ApiResult {
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
