//! Configuration resources: servers (account and server views), domains, sender signatures,
//! templates, webhooks and inbound rules, without the ones deleted through the API (the
//! lookups here are shared with the deletions, so both find the same items).

use serde_json::{json, Value};

use super::env::{unknown_stream, Env};
use super::query::{paging, ApiError, ApiResult, Paging};
use crate::generate::model::{Domain, Model, Sender, Server, Template, Webhook};

const SERVERS: Paging = Paging {
    code: 600,
    ceiling: false,
};
const ACCOUNT_LISTS: Paging = Paging {
    code: 700,
    ceiling: false,
};
const TEMPLATES: Paging = Paging {
    code: 1100,
    ceiling: false,
};
const RULES: Paging = Paging {
    code: 800,
    ceiling: false,
};

/// The server object (§3.19).
pub fn server_json(s: &Server) -> Value {
    json!({
        "ID": s.id,
        "Name": s.name,
        "ApiTokens": [s.token],
        "Color": s.color,
        "SmtpApiActivated": true,
        "RawEmailEnabled": s.id % 2 == 0,
        "DeliveryType": if s.sandbox { "Sandbox" } else { "Live" },
        "ServerLink": format!("https://account.postmarkapp.com/servers/{}/streams", s.id),
        "InboundAddress": format!("{}@inbound.postmarkapp.com", s.inbound_hash),
        "InboundHookUrl": "",
        "BounceHookUrl": if s.id % 2 == 1 { format!("https://hooks.acme.example/bounce/{}", s.id) } else { String::new() },
        "OpenHookUrl": "",
        "DeliveryHookUrl": "",
        "ClickHookUrl": "",
        "PostFirstOpenOnly": false,
        "InboundDomain": "",
        "InboundHash": s.inbound_hash,
        "InboundSpamThreshold": 5,
        "TrackOpens": s.track_opens,
        "TrackLinks": s.track_links,
        "IncludeBounceContentInHook": true,
        "EnableSmtpApiErrorHooks": false,
    })
}

fn page<T>(items: &[T], count: usize, offset: usize, f: impl Fn(&T) -> Value) -> Vec<Value> {
    items.iter().skip(offset).take(count).map(f).collect()
}

/// `GET /servers`.
pub fn servers(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, SERVERS)?;
    let name = env.q.text("name").map(|n| n.to_lowercase());
    let list: Vec<&Server> = env
        .m
        .servers
        .iter()
        .filter(|s| {
            name.as_ref()
                .is_none_or(|n| s.name.to_lowercase().contains(n))
        })
        .collect();
    Ok(json!({"TotalCount": list.len(), "Servers": page(&list, count, offset, |s| server_json(s))}))
}

/// `GET /servers/{id}`.
pub fn server_by_id(env: &Env) -> ApiResult {
    let id: Option<u64> = env.id.parse().ok();
    env.m
        .servers
        .iter()
        .find(|s| Some(s.id) == id)
        .map(server_json)
        .ok_or_else(|| ApiError::unprocessable(600, "Server not found."))
}

fn domain_list_item(d: &Domain) -> Value {
    json!({"ID": d.id, "Name": d.name, "SPFVerified": d.spf, "DKIMVerified": d.dkim, "WeakDKIM": false, "ReturnPathDomainVerified": d.return_path})
}

fn dns_fields(
    name: &str,
    id: u64,
    dkim: bool,
    return_path: bool,
) -> serde_json::Map<String, Value> {
    let key = format!("k=rsa;p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC{id}AB");
    let v = json!({
        "SPFHost": name,
        "SPFTextValue": "v=spf1 a mx include:spf.mtasv.net ~all",
        "DKIMHost": if dkim { format!("20240101pm._domainkey.{name}") } else { String::new() },
        "DKIMTextValue": if dkim { key.clone() } else { String::new() },
        "DKIMPendingHost": if dkim { String::new() } else { format!("20240301pm._domainkey.{name}") },
        "DKIMPendingTextValue": if dkim { String::new() } else { key },
        "DKIMRevokedHost": "",
        "DKIMRevokedTextValue": "",
        "SafeToRemoveRevokedKeyFromDNS": false,
        "DKIMUpdateStatus": if dkim { "Verified" } else { "Pending" },
        "ReturnPathDomain": if return_path { format!("pm-bounces.{name}") } else { String::new() },
        "ReturnPathDomainCNAMEValue": "pm.mtasv.net",
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The account's domains not deleted.
fn live_domains(m: &Model) -> Vec<&Domain> {
    let gone = &m.deleted.domains;
    m.domains.iter().filter(|d| !gone.contains(&d.id)).collect()
}

/// Index of domain `id` (not deleted); else 422/510.
pub fn find_domain(m: &Model, id: &str) -> Result<usize, ApiError> {
    m.domains
        .iter()
        .position(|d| id.parse() == Ok(d.id) && !m.deleted.domains.contains(&d.id))
        .ok_or_else(|| ApiError::unprocessable(510, "Domain not found."))
}

/// `GET /domains`.
pub fn domains(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, ACCOUNT_LISTS)?;
    let list = live_domains(env.m);
    Ok(
        json!({"TotalCount": list.len(), "Domains": page(&list, count, offset, |d| domain_list_item(d))}),
    )
}

/// `GET /domains/{id}`.
pub fn domain(env: &Env) -> ApiResult {
    let d = &env.m.domains[find_domain(env.m, env.id)?];
    let mut m = match domain_list_item(d) {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    m.extend(dns_fields(&d.name, d.id, d.dkim, d.return_path));
    Ok(Value::Object(m))
}

fn sender_list_item(s: &Sender) -> Value {
    json!({"ID": s.id, "Domain": s.domain, "EmailAddress": s.email, "ReplyToEmailAddress": s.reply_to, "Name": s.name, "Confirmed": s.confirmed})
}

/// Index of sender signature `id` (not deleted); else 422/501.
pub fn find_sender(m: &Model, id: &str) -> Result<usize, ApiError> {
    m.senders
        .iter()
        .position(|s| id.parse() == Ok(s.id) && !m.deleted.senders.contains(&s.id))
        .ok_or_else(|| ApiError::unprocessable(501, "Sender signature not found."))
}

/// `GET /senders`.
pub fn senders(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, ACCOUNT_LISTS)?;
    let gone = &env.m.deleted.senders;
    let list: Vec<&Sender> = env
        .m
        .senders
        .iter()
        .filter(|s| !gone.contains(&s.id))
        .collect();
    Ok(
        json!({"TotalCount": list.len(), "SenderSignatures": page(&list, count, offset, |s| sender_list_item(s))}),
    )
}

/// `GET /senders/{id}`.
pub fn sender(env: &Env) -> ApiResult {
    let s = &env.m.senders[find_sender(env.m, env.id)?];
    let mut m = match sender_list_item(s) {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let dkim = env
        .m
        .domains
        .iter()
        .find(|d| d.name == s.domain)
        .is_none_or(|d| d.dkim);
    m.extend(dns_fields(&s.domain, s.id, dkim, s.confirmed));
    m.insert("ConfirmationPersonalNote".into(), json!(s.note));
    Ok(Value::Object(m))
}

fn template_item(t: &Template) -> Value {
    json!({
        "Active": t.active, "TemplateId": t.id, "Name": t.name, "Alias": t.alias,
        "TemplateType": if t.layout { "Layout" } else { "Standard" }, "LayoutTemplate": t.layout_template,
    })
}

/// `GET /templates` (`Count`/`Offset`, `TemplateType`, `LayoutTemplate`).
pub fn templates(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, TEMPLATES)?;
    let kind = env
        .q
        .text("templatetype")
        .unwrap_or_else(|| "All".into())
        .to_ascii_lowercase();
    if !["all", "standard", "layout"].contains(&kind.as_str()) {
        return Err(ApiError::unprocessable(
            1100,
            "The 'TemplateType' value is not valid.",
        ));
    }
    let layout = env.q.text("layouttemplate");
    let gone = &env.m.deleted.templates;
    let list: Vec<&Template> = env
        .server()
        .templates
        .iter()
        .filter(|t| !gone.contains(&t.id))
        .filter(|t| kind == "all" || (kind == "layout") == t.layout)
        .filter(|t| {
            layout.as_ref().is_none_or(|l| {
                t.layout_template
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(l))
            })
        })
        .collect();
    Ok(
        json!({"TotalCount": list.len(), "Templates": page(&list, count, offset, |t| template_item(t))}),
    )
}

/// Index of server `s`'s template `id_or_alias` (its ID, or its alias in any case), unless
/// deleted; else 422/1101.
pub fn find_template(m: &Model, s: usize, id_or_alias: &str) -> Result<usize, ApiError> {
    m.servers[s]
        .templates
        .iter()
        .position(|t| {
            (id_or_alias.parse() == Ok(t.id)
                || t.alias
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(id_or_alias)))
                && !m.deleted.templates.contains(&t.id)
        })
        .ok_or_else(|| {
            ApiError::unprocessable(
                1101,
                "The 'TemplateId' associated with this request is not valid or was not found.",
            )
        })
}

/// `GET /templates/{idOrAlias}`.
pub fn template(env: &Env) -> ApiResult {
    let server = env.server();
    let t = &server.templates[find_template(env.m, env.s, env.id)?];
    Ok(json!({
        "TemplateId": t.id, "Name": t.name, "Subject": t.subject, "HtmlBody": t.html, "TextBody": t.text,
        "AssociatedServerId": server.id, "Active": t.active, "Alias": t.alias,
        "TemplateType": if t.layout { "Layout" } else { "Standard" }, "LayoutTemplate": t.layout_template,
    }))
}

fn webhook_json(w: &Webhook) -> Value {
    let t = w.triggers;
    json!({
        "ID": w.id,
        "Url": w.url,
        "MessageStream": w.stream,
        "HttpAuth": w.auth.as_ref().map(|(u, p)| json!({"Username": u, "Password": p})),
        "HttpHeaders": w.headers.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect::<Vec<_>>(),
        "Triggers": {
            "Open": {"Enabled": t[0], "PostFirstOpenOnly": t[1]},
            "Click": {"Enabled": t[2]},
            "Delivery": {"Enabled": t[3]},
            "Bounce": {"Enabled": t[4], "IncludeContent": t[5]},
            "SpamComplaint": {"Enabled": t[6], "IncludeContent": t[7]},
            "SubscriptionChange": {"Enabled": t[8]},
        },
    })
}

/// `GET /webhooks` (optional `MessageStream`; unknown → 422/1235).
pub fn webhooks(env: &Env) -> ApiResult {
    let server = env.server();
    let stream = env.q.text("messagestream");
    if let Some(s) = &stream {
        server.stream_index(s).ok_or_else(unknown_stream)?;
    }
    let gone = &env.m.deleted.webhooks;
    let items: Vec<Value> = server
        .webhooks
        .iter()
        .filter(|w| !gone.contains(&w.id))
        .filter(|w| {
            stream
                .as_ref()
                .is_none_or(|s| s.eq_ignore_ascii_case(&w.stream))
        })
        .map(webhook_json)
        .collect();
    Ok(json!({"Webhooks": items}))
}

/// Index of server `s`'s webhook `id` (not deleted); else 422/1352.
pub fn find_webhook(m: &Model, s: usize, id: &str) -> Result<usize, ApiError> {
    m.servers[s]
        .webhooks
        .iter()
        .position(|w| id.parse() == Ok(w.id) && !m.deleted.webhooks.contains(&w.id))
        .ok_or_else(|| {
            ApiError::unprocessable(1352, "The webhook for the provided 'ID' was not found.")
        })
}

/// `GET /webhooks/{id}`.
pub fn webhook(env: &Env) -> ApiResult {
    Ok(webhook_json(
        &env.server().webhooks[find_webhook(env.m, env.s, env.id)?],
    ))
}

/// Index of server `s`'s inbound rule `id` (not deleted); else 422/812.
pub fn find_inbound_rule(m: &Model, s: usize, id: &str) -> Result<usize, ApiError> {
    m.servers[s]
        .inbound_rules
        .iter()
        .position(|(r, _)| id.parse() == Ok(*r) && !m.deleted.inbound_rules.contains(r))
        .ok_or_else(|| ApiError::unprocessable(812, "This inbound rule was not found."))
}

/// `GET /triggers/inboundrules`.
pub fn inbound_rules(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, RULES)?;
    let gone = &env.m.deleted.inbound_rules;
    let rules: Vec<&(u64, String)> = env
        .server()
        .inbound_rules
        .iter()
        .filter(|(id, _)| !gone.contains(id))
        .collect();
    Ok(
        json!({"TotalCount": rules.len(), "InboundRules": page(&rules, count, offset, |(id, r)| json!({"ID": id, "Rule": r}))}),
    )
}
