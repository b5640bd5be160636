//! Routing: path matching (case-insensitive, trailing slash tolerated), the methods each route
//! takes (405 with `Allow` before auth), token checks (server vs account), which routes are
//! searches and paged lists, and the dispatch of GETs to their handlers and of writes to theirs.

use serde_json::json;

use crate::endpoints::bounces;
use crate::endpoints::details;
use crate::endpoints::env::Env;
use crate::endpoints::lift;
use crate::endpoints::message_search;
use crate::endpoints::message_streams;
use crate::endpoints::query::{percent_decode, ApiError, ApiResult};
use crate::endpoints::resources;
use crate::endpoints::statistics;
use crate::endpoints::writes;
use crate::generate::model::Model;

/// Which token a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Server,
    Account,
}

/// Every served endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Outbound,
    OutboundDetails,
    OutboundDump,
    Opens,
    OpensFor,
    Clicks,
    ClicksFor,
    Inbound,
    InboundDetails,
    Bounces,
    Bounce,
    BounceDump,
    DeliveryStats,
    Templates,
    Template,
    Streams,
    Stream,
    Suppressions,
    Servers,
    ServerById,
    CurrentServer,
    Domains,
    Domain,
    Senders,
    Sender,
    Webhooks,
    Webhook,
    InboundRules,
    /// `/triggers/inboundrules/{id}` (DELETE only).
    InboundRule,
    /// `/message-streams/{id}/suppressions/delete` (POST only).
    SuppressionsDelete,
    /// `/stats/outbound` (empty) or one of `statistics::ENDPOINTS`.
    Stats(&'static str),
}

impl Route {
    fn auth(self) -> Auth {
        match self {
            Route::Servers
            | Route::ServerById
            | Route::Domains
            | Route::Domain
            | Route::Senders
            | Route::Sender => Auth::Account,
            _ => Auth::Server,
        }
    }

    /// The methods the route takes, as its `Allow` header lists them.
    pub fn allow(self) -> &'static str {
        match self {
            Route::Template | Route::Webhook | Route::Domain | Route::Sender => "GET, DELETE",
            Route::InboundRule => "DELETE",
            Route::SuppressionsDelete => "POST",
            _ => "GET",
        }
    }

    /// Whether the route takes `method` (methods are case-sensitive).
    pub fn takes(self, method: &str) -> bool {
        self.allow().split(", ").any(|m| m == method)
    }

    /// Searches get live arrivals before they are answered.
    pub fn is_search(self) -> bool {
        matches!(
            self,
            Route::Outbound | Route::Opens | Route::Clicks | Route::Inbound | Route::Bounces
        )
    }

    /// The list envelope of the count/offset-paged full-table lists (the ones the short- and
    /// empty-page faults apply to); `None` for every other route, searches included.
    pub fn paged_list_envelope(self) -> Option<&'static str> {
        match self {
            Route::Servers => Some("Servers"),
            Route::Domains => Some("Domains"),
            Route::Senders => Some("SenderSignatures"),
            Route::Templates => Some("Templates"),
            Route::InboundRules => Some("InboundRules"),
            _ => None,
        }
    }
}

/// Matches a path; returns the route and the path's ID segment (decoded, original case).
pub fn resolve(path: &str) -> Option<(Route, String)> {
    let raw: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();
    let low: Vec<String> = raw.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = low.iter().map(String::as_str).collect();
    let id = |i: usize| raw.get(i).cloned().unwrap_or_default();
    let r = match l.as_slice() {
        ["messages", "outbound"] => (Route::Outbound, String::new()),
        ["messages", "outbound", "opens"] => (Route::Opens, String::new()),
        ["messages", "outbound", "clicks"] => (Route::Clicks, String::new()),
        ["messages", "outbound", "opens", _] => (Route::OpensFor, id(3)),
        ["messages", "outbound", "clicks", _] => (Route::ClicksFor, id(3)),
        ["messages", "outbound", _, "details"] => (Route::OutboundDetails, id(2)),
        ["messages", "outbound", _, "dump"] => (Route::OutboundDump, id(2)),
        ["messages", "inbound"] => (Route::Inbound, String::new()),
        ["messages", "inbound", _, "details"] => (Route::InboundDetails, id(2)),
        ["bounces"] => (Route::Bounces, String::new()),
        ["bounces", _] => (Route::Bounce, id(1)),
        ["bounces", _, "dump"] => (Route::BounceDump, id(1)),
        ["deliverystats"] => (Route::DeliveryStats, String::new()),
        ["templates"] => (Route::Templates, String::new()),
        ["templates", _] => (Route::Template, id(1)),
        ["message-streams"] => (Route::Streams, String::new()),
        ["message-streams", _] => (Route::Stream, id(1)),
        ["message-streams", _, "suppressions", "dump"] => (Route::Suppressions, id(1)),
        ["servers"] => (Route::Servers, String::new()),
        ["servers", _] => (Route::ServerById, id(1)),
        ["server"] => (Route::CurrentServer, String::new()),
        ["domains"] => (Route::Domains, String::new()),
        ["domains", _] => (Route::Domain, id(1)),
        ["senders"] => (Route::Senders, String::new()),
        ["senders", _] => (Route::Sender, id(1)),
        ["webhooks"] => (Route::Webhooks, String::new()),
        ["webhooks", _] => (Route::Webhook, id(1)),
        ["triggers", "inboundrules"] => (Route::InboundRules, String::new()),
        ["triggers", "inboundrules", _] => (Route::InboundRule, id(2)),
        ["message-streams", _, "suppressions", "delete"] => (Route::SuppressionsDelete, id(1)),
        ["stats", "outbound"] => (Route::Stats(""), String::new()),
        ["stats", "outbound", rest @ ..] => {
            let joined = rest.join("/");
            let ep = statistics::ENDPOINTS.iter().find(|e| **e == joined)?;
            (Route::Stats(ep), String::new())
        }
        _ => return None,
    };
    Some(r)
}

/// A routed answer before faults: status, body (`None` = empty body) and, on a 405, the
/// `Allow` header.
pub struct Answer {
    pub status: u16,
    pub body: Option<Vec<u8>>,
    pub allow: Option<&'static str>,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Answer {
        Answer {
            status,
            body: Some(body.to_string().into_bytes()),
            allow: None,
        }
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Which credentials the headers carry: (server index, account token valid).
pub fn identify(m: &Model, headers: &[(String, String)]) -> (Option<usize>, bool) {
    let server = header(headers, "X-Postmark-Server-Token").and_then(|t| {
        m.servers
            .iter()
            .position(|s| !s.revoked && s.token.eq_ignore_ascii_case(t))
    });
    let account = header(headers, "X-Postmark-Account-Token")
        .is_some_and(|t| m.account_token.eq_ignore_ascii_case(t));
    (server, account)
}

/// Matches the path, checks the method and the credentials: the route, its ID segment and the
/// index of the authenticated server (0 for account routes), or the answer refusing the request
/// (404, then 405, then 403 or 401).
pub fn admit(
    m: &Model,
    method: &str,
    path: &str,
    headers: &[(String, String)],
) -> Result<(Route, String, usize), Answer> {
    let Some((route, id)) = resolve(path) else {
        return Err(not_found());
    };
    if !route.takes(method) {
        return Err(not_allowed(route.allow()));
    }
    let (server, account) = identify(m, headers);
    let s = match (route.auth(), server, account) {
        (Auth::Server, Some(s), _) if m.servers[s].forbidden => {
            return Err(Answer::json(
                403,
                &json!({"ErrorCode": 403, "Message": "This token cannot access this endpoint."}),
            ))
        }
        (Auth::Server, Some(s), _) => s,
        (Auth::Account, _, true) => 0,
        (Auth::Server, None, _) => return Err(unauthorized("Server")),
        (Auth::Account, _, false) => return Err(unauthorized("Account")),
    };
    Ok((route, id, s))
}

/// Answers an admitted request with its handler (no faults here).
pub fn dispatch(route: Route, env: &Env) -> Answer {
    let result = match route {
        Route::Outbound => message_search::outbound(env).map(String::into_bytes),
        _ => handle(route, env).map(|v| v.to_string().into_bytes()),
    };
    match result {
        Ok(body) => Answer {
            status: 200,
            body: Some(body),
            allow: None,
        },
        Err(e) => Answer::json(e.status, &e.body()),
    }
}

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
pub fn apply_write(route: Route, m: &mut Model, w: &Write) -> ApiResult {
    match route {
        Route::Template => writes::delete_template(m, w.s, w.id),
        Route::Webhook => writes::delete_webhook(m, w.s, w.id),
        Route::InboundRule => writes::delete_inbound_rule(m, w.s, w.id),
        Route::Domain => writes::delete_domain(m, w.id),
        Route::Sender => writes::delete_sender(m, w.id),
        Route::SuppressionsDelete => lift::delete(m, w.s, w.id, w.body, w.now),
        // `admit` lets no other method than GET through to the other routes.
        _ => Err(ApiError {
            status: 405,
            code: 0,
            message: String::new(),
        }),
    }
}

/// 404 for a path the simulator does not serve.
pub fn not_found() -> Answer {
    Answer::json(
        404,
        &json!({"ErrorCode": 404, "Message": "The requested resource does not exist."}),
    )
}

/// 405 with an empty body and the methods the path takes.
pub fn not_allowed(allow: &'static str) -> Answer {
    Answer {
        status: 405,
        body: None,
        allow: Some(allow),
    }
}

fn unauthorized(kind: &str) -> Answer {
    Answer::json(
        401,
        &json!({"ErrorCode": 10, "Message": format!("Request does not contain a valid {kind} token.")}),
    )
}

fn handle(route: Route, env: &Env) -> ApiResult {
    match route {
        Route::Outbound => message_search::outbound(env).and_then(|s| {
            serde_json::from_str(&s).map_err(|e| ApiError {
                status: 500,
                code: 1,
                message: e.to_string(),
            })
        }),
        Route::Opens => message_search::opens(env),
        Route::Clicks => message_search::clicks(env),
        Route::Inbound => message_search::inbound(env),
        Route::Bounces => bounces::bounces(env),
        Route::OutboundDetails => details::outbound_details(env),
        Route::OutboundDump => details::outbound_dump(env),
        Route::OpensFor => details::hits_for(env, false),
        Route::ClicksFor => details::hits_for(env, true),
        Route::InboundDetails => details::inbound_details(env),
        Route::Bounce => details::bounce(env),
        Route::BounceDump => details::bounce_dump(env),
        Route::DeliveryStats => bounces::delivery_stats(env),
        Route::Streams => message_streams::list(env),
        Route::Stream => message_streams::one(env),
        Route::Suppressions => message_streams::suppressions(env),
        Route::Stats(ep) => statistics::stats(env, ep),
        Route::Templates => resources::templates(env),
        Route::Template => resources::template(env),
        Route::Servers => resources::servers(env),
        Route::ServerById => resources::server_by_id(env),
        Route::CurrentServer => Ok(resources::server_json(env.server())),
        Route::Domains => resources::domains(env),
        Route::Domain => resources::domain(env),
        Route::Senders => resources::senders(env),
        Route::Sender => resources::sender(env),
        Route::Webhooks => resources::webhooks(env),
        Route::Webhook => resources::webhook(env),
        Route::InboundRules => resources::inbound_rules(env),
        // Write-only routes: `admit` lets no GET through to them.
        Route::InboundRule | Route::SuppressionsDelete => Err(ApiError {
            status: 405,
            code: 0,
            message: String::new(),
        }),
    }
}
