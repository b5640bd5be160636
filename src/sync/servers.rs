//! Which servers a run reads, each with its own token and message streams.
//!
//! With an account token, `/servers` lists them all (optionally narrowed by `server_ids`) and
//! each is read with its own server token from `ApiTokens`; each server's message streams
//! (archived ones too) are listed as the first request of its turn in the pipeline. With only a
//! server token, `/server` names the one server while its message streams are listed. Searches
//! and statistics are read per message stream.

use super::pager::{self, ListRequest, Pager};
use crate::client::{path_segment, Client, Counters, Token};
use crate::config::{is_header_value, Config};
use crate::error::Error;
use crate::streams::{FullTable, Kind, StreamDef, TokenKind, MESSAGE_STREAMS, SERVER, SERVERS};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct MessageStream {
    pub id: String,
    /// `Transactional`, `Broadcasts` or `Inbound`.
    pub kind: String,
}

impl MessageStream {
    pub fn is_inbound(&self) -> bool {
        self.kind.eq_ignore_ascii_case("Inbound")
    }
}

/// A server's message streams as listed: what the sync reads them as, and the items of the
/// answer (the `message_streams` stream's records).
#[derive(Clone, Debug, Default)]
pub struct Listed {
    pub streams: Vec<MessageStream>,
    pub items: Vec<Value>,
}

#[derive(Clone, Debug)]
pub struct Server {
    pub id: u64,
    pub name: String,
    pub token: Token,
    /// `None` until listed; in server-token mode they are listed while the server is looked up.
    listed: Option<Listed>,
    /// Set when the server failed: its remaining requests are skipped.
    failed: Arc<AtomicBool>,
}

impl Server {
    fn new(id: u64, name: String, token: Token, listed: Option<Listed>) -> Server {
        Server {
            id,
            name,
            token,
            listed,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Lists the server's message streams, unless they already are.
    pub fn list_message_streams(&mut self, client: &Client) -> Result<(), Error> {
        if self.listed.is_none() {
            self.listed = Some(message_streams(client, &self.token, None)?);
        }
        Ok(())
    }

    pub fn is_listed(&self) -> bool {
        self.listed.is_some()
    }

    /// The server with its message streams (its failure flag shared).
    pub fn with_listed(&self, listed: Listed) -> Server {
        Server {
            listed: Some(listed),
            ..self.clone()
        }
    }

    /// The server's message streams (none until listed).
    pub fn message_streams(&self) -> &[MessageStream] {
        self.listed.as_ref().map_or(&[], |l| l.streams.as_slice())
    }

    /// The items of the server's `/message-streams` answer (none until listed).
    pub fn listed_items(&self) -> &[Value] {
        self.listed.as_ref().map_or(&[], |l| l.items.as_slice())
    }

    pub fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// Lists the servers to sync.
pub fn resolve(config: &Config, client: &Client) -> Result<Vec<Server>, Error> {
    if let Some(account) = &config.account_token {
        let token = Token {
            kind: TokenKind::Account,
            value: account.clone(),
            label: "account token".into(),
        };
        return from_account(config, client, &token);
    }
    let Some(server_token) = &config.server_token else {
        return Err(Error::Input(
            "config needs postmark_server_token or postmark_account_token to sync".into(),
        ));
    };
    let token = Token {
        kind: TokenKind::Server,
        value: server_token.clone(),
        label: "server token (postmark_server_token)".into(),
    };
    // The message streams are listed while `/server` answers: one round trip less before the
    // first search. If that listing fails, it is done again (and fails) in the server's turn.
    let (server, listed) = std::thread::scope(|scope| {
        let listed = scope.spawn(|| message_streams(client, &token, None).ok());
        let path = SERVER.path;
        let server = pager::object(client, &token, path, path, SERVER.identity, None);
        (server, listed.join().ok().flatten())
    });
    let server = server.map_err(|e| {
        hint(
            e,
            "if it is an account token, put it in postmark_account_token",
        )
    })?;
    let id = server_id(&server, SERVER.path)?;
    let token = Token {
        label: format!("server token of server {id} (postmark_server_token)"),
        ..token
    };
    Ok(vec![Server::new(id, server_name(&server), token, listed)])
}

/// Adds a hint to a rejected-token error (the two token kinds are easily swapped).
fn hint(e: Error, text: &str) -> Error {
    match e {
        Error::Auth(m) => Error::Auth(format!("{m} ({text})")),
        other => other,
    }
}

fn server_id(v: &Value, path: &str) -> Result<u64, Error> {
    v.get("ID")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Api(format!("Postmark's {path} answer has no numeric ID")))
}

fn server_name(v: &Value) -> String {
    v.get("Name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn from_account(config: &Config, client: &Client, token: &Token) -> Result<Vec<Server>, Error> {
    let (envelope, count, offset) = paged(&SERVERS)?;
    let mut listed = Vec::new();
    let mut pager = Pager::new();
    loop {
        let query = pager.query(count, offset);
        let req = ListRequest {
            path: SERVERS.path,
            endpoint: SERVERS.path,
            query: &query,
            envelope,
            identity: SERVERS.identity,
        };
        let page = pager::list(client, token, &req, None).map_err(|e| {
            hint(
                e,
                "if it is a server token, put it in postmark_server_token",
            )
        })?;
        let more = pager.advance(SERVERS.path, page.items.len(), &page.total)?;
        listed.extend(page.items);
        if more.is_none() {
            break;
        }
    }
    let mut servers = Vec::new();
    for item in &listed {
        let id = server_id(item, SERVERS.path)?;
        if config.server_ids.as_ref().is_some_and(|w| !w.contains(&id)) {
            continue;
        }
        let value = item
            .get("ApiTokens")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Api(format!("server {id} has no API token in /servers")))?;
        if !is_header_value(value) {
            return Err(Error::Api(format!(
                "the API token of server {id} in /servers is not printable ASCII, so it cannot be sent as a header"
            )));
        }
        let token = Token {
            kind: TokenKind::Server,
            value: value.to_string(),
            label: format!("server token of server {id}"),
        };
        servers.push(Server::new(id, server_name(item), token, None));
    }
    if let Some(wanted) = &config.server_ids {
        let missing: Vec<String> = wanted
            .iter()
            .filter(|id| !servers.iter().any(|s| s.id == **id))
            .map(u64::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(Error::Input(format!(
                "server_ids lists server(s) {} that the account does not have",
                missing.join(", ")
            )));
        }
    }
    Ok(servers)
}

/// Lists a server's message streams, archived ones included (their messages stay searchable).
pub fn message_streams(
    client: &Client,
    token: &Token,
    tally: Option<&Counters>,
) -> Result<Listed, Error> {
    let Kind::FullTable(FullTable::MessageStreams { envelope, query }) = MESSAGE_STREAMS.kind
    else {
        return Err(Error::Internal(
            "message_streams is not the listing of message streams".into(),
        ));
    };
    let query: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let req = ListRequest {
        path: MESSAGE_STREAMS.path,
        endpoint: MESSAGE_STREAMS.path,
        query: &query,
        envelope,
        identity: MESSAGE_STREAMS.identity,
    };
    let page = pager::list(client, token, &req, tally)?;
    let streams = page
        .items
        .iter()
        .map(|s| {
            let id = s.get("ID").and_then(Value::as_str).ok_or_else(|| {
                Error::Api(format!(
                    "Postmark's {} answer has an ID that is not a string",
                    MESSAGE_STREAMS.path
                ))
            })?;
            Ok(MessageStream {
                id: path_segment(id, "a message stream ID")?.to_string(),
                kind: s
                    .get("MessageStreamType")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Listed {
        streams,
        items: page.items,
    })
}

/// A paged list's envelope and count and offset parameters, from its row.
fn paged(def: &StreamDef) -> Result<(&'static str, &'static str, &'static str), Error> {
    match def.kind {
        Kind::FullTable(FullTable::Paged {
            envelope,
            count_param,
            offset_param,
            ..
        }) => Ok((envelope, count_param, offset_param)),
        _ => Err(Error::Internal(format!("{} is not a paged list", def.name))),
    }
}
