//! Configuration resources: servers (account and server views), domains, sender signatures,
//! templates, webhooks and inbound rules.

use serde_json::{json, Value};

use super::env::{unknown_stream, Env};
use super::model::{Domain, Sender, Server, Template, Webhook};
use super::query::{paging, ApiError, ApiResult, Paging};

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

/// `GET /domains`.
pub fn domains(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, ACCOUNT_LISTS)?;
    Ok(
        json!({"TotalCount": env.m.domains.len(), "Domains": page(&env.m.domains, count, offset, domain_list_item)}),
    )
}

/// `GET /domains/{id}`.
pub fn domain(env: &Env) -> ApiResult {
    let d = env
        .m
        .domains
        .iter()
        .find(|d| env.id.parse() == Ok(d.id))
        .ok_or_else(|| ApiError::unprocessable(510, "Domain not found."))?;
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

/// `GET /senders`.
pub fn senders(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, ACCOUNT_LISTS)?;
    Ok(
        json!({"TotalCount": env.m.senders.len(), "SenderSignatures": page(&env.m.senders, count, offset, sender_list_item)}),
    )
}

/// `GET /senders/{id}`.
pub fn sender(env: &Env) -> ApiResult {
    let s = env
        .m
        .senders
        .iter()
        .find(|s| env.id.parse() == Ok(s.id))
        .ok_or_else(|| ApiError::unprocessable(501, "Sender signature not found."))?;
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
    let list: Vec<&Template> = env
        .server()
        .templates
        .iter()
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

/// `GET /templates/{idOrAlias}`.
pub fn template(env: &Env) -> ApiResult {
    let server = env.server();
    let t = server
        .templates
        .iter()
        .find(|t| {
            env.id.parse() == Ok(t.id)
                || t.alias
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(env.id))
        })
        .ok_or_else(|| {
            ApiError::unprocessable(
                1101,
                "The 'TemplateId' associated with this request is not valid or was not found.",
            )
        })?;
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
    let items: Vec<Value> = server
        .webhooks
        .iter()
        .filter(|w| {
            stream
                .as_ref()
                .is_none_or(|s| s.eq_ignore_ascii_case(&w.stream))
        })
        .map(webhook_json)
        .collect();
    Ok(json!({"Webhooks": items}))
}

/// `GET /webhooks/{id}`.
pub fn webhook(env: &Env) -> ApiResult {
    env.server()
        .webhooks
        .iter()
        .find(|w| env.id.parse() == Ok(w.id))
        .map(webhook_json)
        .ok_or_else(|| ApiError::unprocessable(1400, "Webhook not found."))
}

/// `GET /triggers/inboundrules`.
pub fn inbound_rules(env: &Env) -> ApiResult {
    let (count, offset) = paging(env.q, RULES)?;
    let rules = &env.server().inbound_rules;
    Ok(
        json!({"TotalCount": rules.len(), "InboundRules": page(rules, count, offset, |(id, r)| json!({"ID": id, "Rule": r}))}),
    )
}
