//! Which servers a run reads, each with its own token and message streams.
//!
//! With an account token, `/servers` lists them all (optionally narrowed by `server_ids`) and
//! each is read with its own server token from `ApiTokens`. With only a server token, `/server`
//! names the one server (and its message streams are listed at the same time). Otherwise each
//! server's message streams (archived ones too) are listed when the server's turn comes, because
//! searches and statistics are read per message stream.

use super::full_table;
use crate::client::{Client, Token};
use crate::config::Config;
use crate::error::Error;
use crate::streams::TokenKind;
use serde_json::Value;

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

#[derive(Clone, Debug)]
pub struct Server {
    pub id: u64,
    pub name: String,
    pub token: Token,
    /// `None` until listed ([`Server::list_message_streams`]); in server-token mode they are
    /// listed while the server is looked up.
    streams: Option<Vec<MessageStream>>,
}

impl Server {
    /// Lists the server's message streams, unless they already are.
    pub fn list_message_streams(&mut self, client: &Client) -> Result<(), Error> {
        if self.streams.is_none() {
            self.streams = Some(message_streams(client, &self.token)?);
        }
        Ok(())
    }

    /// The server's message streams (none until listed).
    pub fn message_streams(&self) -> &[MessageStream] {
        self.streams.as_deref().unwrap_or(&[])
    }
}

/// Lists the servers to sync.
pub fn resolve(config: &Config, client: &Client) -> Result<Vec<Server>, Error> {
    let servers = if let Some(account) = &config.account_token {
        let token = Token {
            kind: TokenKind::Account,
            value: account.clone(),
            label: "account token".into(),
        };
        from_account(config, client, &token)?
    } else if let Some(server_token) = &config.server_token {
        let token = Token {
            kind: TokenKind::Server,
            value: server_token.clone(),
            label: "server token (postmark_server_token)".into(),
        };
        // The message streams are listed while `/server` answers: one round trip less before the
        // first search. If that listing fails, it is done again (and fails) in the server's turn.
        let (server, streams) = std::thread::scope(|scope| {
            let streams = scope.spawn(|| message_streams(client, &token).ok());
            let server = full_table::object(client, &token, "/server", "/server", &["ID"]);
            (server, streams.join().ok().flatten())
        });
        let server = server.map_err(|e| {
            hint(
                e,
                "if it is an account token, put it in postmark_account_token",
            )
        })?;
        let id = server_id(&server, "/server")?;
        vec![Server {
            id,
            name: server_name(&server),
            token: Token {
                label: format!("server token of server {id} (postmark_server_token)"),
                ..token
            },
            streams,
        }]
    } else {
        return Err(Error::Input(
            "config needs postmark_server_token or postmark_account_token to sync".into(),
        ));
    };
    Ok(servers)
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
    let mut listed = Vec::new();
    let mut offset = 0u64;
    loop {
        let query = [("count", "500".into()), ("offset", offset.to_string())];
        let page = full_table::list(client, token, "/servers", &query, "Servers", &["ID"])
            .map_err(|e| {
                hint(
                    e,
                    "if it is a server token, put it in postmark_server_token",
                )
            })?;
        let total = page.total.count("/servers")?;
        full_table::require_progress("/servers", "servers", page.items.len(), offset, total)?;
        offset += page.items.len() as u64;
        listed.extend(page.items);
        if offset >= total {
            break;
        }
        if offset + 500 > 10_000 {
            return Err(Error::Api(format!(
                "the account has {total} servers; Postmark's paging stops at 10,000: use server_ids to split the account"
            )));
        }
    }
    let mut servers = Vec::new();
    for item in &listed {
        let id = server_id(item, "/servers")?;
        if let Some(wanted) = &config.server_ids {
            if !wanted.contains(&id) {
                continue;
            }
        }
        let value = item
            .get("ApiTokens")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Api(format!("server {id} has no API token in /servers")))?;
        if !crate::config::is_header_value(value) {
            return Err(Error::Api(format!(
                "the API token of server {id} in /servers is not printable ASCII, so it cannot be sent as a header"
            )));
        }
        servers.push(Server {
            id,
            name: server_name(item),
            token: Token {
                kind: TokenKind::Server,
                value: value.to_string(),
                label: format!("server token of server {id}"),
            },
            streams: None,
        });
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
pub fn message_streams(client: &Client, token: &Token) -> Result<Vec<MessageStream>, Error> {
    let query = [("IncludeArchivedStreams", "true".to_string())];
    let path = "/message-streams";
    let page = full_table::list(client, token, path, &query, "MessageStreams", &["ID"])?;
    page.items
        .iter()
        .map(|s| {
            let id = s.get("ID").and_then(Value::as_str).ok_or_else(|| {
                Error::Api(
                    "Postmark's /message-streams answer has an ID that is not a string".into(),
                )
            })?;
            Ok(MessageStream {
                id: crate::client::path_segment(id, "a message stream ID")?.to_string(),
                kind: s
                    .get("MessageStreamType")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
        })
        .collect()
}
