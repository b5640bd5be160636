//! Outbound message records: the search record, the details record (with bodies and
//! `MessageEvents`), the raw dump, and the search filters (tag, status, recipient, subject,
//! sender, metadata).

use std::collections::BTreeMap;

use serde::Serialize;

use super::eastern::format_postmark;
use super::events;
use super::facts::{self, Ctx, MsgFacts, TRACK_LINKS};
use super::ids::{self, MessageKey, KIND_OUTBOUND};
use super::names;
use super::stream_type::StreamType;

/// An address in `To`/`Cc`/`Bcc`.
#[derive(Serialize)]
pub struct Addr {
    #[serde(rename = "Email")]
    pub email: String,
    #[serde(rename = "Name")]
    pub name: Option<String>,
}

/// The search record of §3.1.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Outbound {
    #[serde(rename = "MessageID")]
    pub message_id: String,
    pub message_stream: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<&'static str>,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    pub bcc: Vec<Addr>,
    pub recipients: Vec<String>,
    pub received_at: String,
    pub from: String,
    pub subject: String,
    pub attachments: Vec<&'static str>,
    pub status: &'static str,
    pub track_opens: bool,
    pub track_links: &'static str,
    pub metadata: BTreeMap<String, String>,
    pub sandboxed: bool,
}

/// The details record of §3.2.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Details {
    #[serde(flatten)]
    pub message: Outbound,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub body: String,
    pub message_events: Vec<events::MessageEvent>,
}

/// Cosmetic fields (not needed to build the indexes).
pub struct Cosmetic {
    pub subject: String,
    pub from_name: &'static str,
    pub from_email: String,
    pub metadata: BTreeMap<String, String>,
    pub attachments: Vec<&'static str>,
}

/// Derives the cosmetic fields of a message.
pub fn cosmetic(ctx: &Ctx, stream_id: &str, from_domain: &str, f: &MsgFacts) -> Cosmetic {
    let mut r = ids::rng(
        ctx.seed,
        &[2, ctx.server as u64, ctx.stream as u64, f.index as u64],
    );
    let (list, from_name, local) = match (ctx.kind, stream_id) {
        (StreamType::Broadcasts, _) => (names::SUBJECTS_BROADCAST, "Acme News", "news"),
        (_, "password-resets") => (names::SUBJECTS_RESET, "Acme Security", "security"),
        _ => (names::SUBJECTS_TRANSACTIONAL, "Acme Support", "support"),
    };
    let first = names::FIRST_NAMES[r.usize(0..names::FIRST_NAMES.len())];
    let mut subject = list[r.usize(0..list.len())]
        .replace("{n}", &r.u32(100..99_999).to_string())
        .replace("{name}", first);
    if r.u32(0..300) == 0 {
        let mut at = subject.len() / 2;
        while !subject.is_char_boundary(at) {
            at -= 1;
        }
        subject.insert(at, '\u{0}');
    }
    let mut metadata = BTreeMap::new();
    if r.u32(0..10) >= 4 {
        metadata.insert("customer-id".to_string(), r.u32(1000..99_999).to_string());
        if r.bool() {
            metadata.insert(
                "plan".to_string(),
                ["free", "pro", "équipe"][r.usize(0..3)].to_string(),
            );
        }
    }
    let attachments = if r.u32(0..10) == 0 {
        let n = 1 + r.usize(0..2);
        (0..n)
            .map(|_| names::ATTACHMENTS[r.usize(0..names::ATTACHMENTS.len())])
            .collect()
    } else {
        Vec::new()
    };
    Cosmetic {
        subject,
        from_name,
        from_email: format!("{local}@{from_domain}"),
        metadata,
        attachments,
    }
}

/// Context needed to render records of one stream.
pub struct StreamView<'a> {
    pub ctx: Ctx,
    pub stream_id: &'a str,
    pub from_domain: &'a str,
    pub sandboxed: bool,
}

/// The message ID of message `index` in the view's stream.
pub fn message_id(ctx: &Ctx, index: usize) -> String {
    ids::encode_message_id(
        ctx.seed,
        MessageKey {
            kind: KIND_OUTBOUND,
            server: ctx.server,
            stream: ctx.stream,
            index,
        },
    )
}

fn addrs(ctx: &Ctx, list: &[u32]) -> Vec<Addr> {
    list.iter()
        .map(|&a| Addr {
            email: facts::email(ctx.seed, ctx.server, a),
            name: facts::display_name(ctx.seed, ctx.server, a),
        })
        .collect()
}

/// Renders the search record.
pub fn render(v: &StreamView, f: &MsgFacts) -> Outbound {
    let c = cosmetic(&v.ctx, v.stream_id, v.from_domain, f);
    let (to, rest) = f.recipients.split_at(f.n_to);
    let (cc, bcc) = rest.split_at(f.n_cc);
    Outbound {
        message_id: message_id(&v.ctx, f.index),
        message_stream: v.stream_id.to_string(),
        tag: (f.tag > 0).then(|| names::TAGS[f.tag - 1]),
        to: addrs(&v.ctx, to),
        cc: addrs(&v.ctx, cc),
        bcc: addrs(&v.ctx, bcc),
        recipients: f
            .recipients
            .iter()
            .map(|&a| facts::email(v.ctx.seed, v.ctx.server, a))
            .collect(),
        received_at: format_postmark(f.at),
        from: format!("\"{}\" <{}>", c.from_name, c.from_email),
        subject: c.subject,
        attachments: c.attachments,
        status: if f.queued { "Queued" } else { "Sent" },
        track_opens: f.track_opens,
        track_links: TRACK_LINKS[usize::from(f.track_links)],
        metadata: c.metadata,
        sandboxed: v.sandboxed,
    }
}

/// Renders the details record; `bounce_id` is the message's bounce, if any.
pub fn render_details(v: &StreamView, f: &MsgFacts, bounce_id: Option<u64>) -> Details {
    let message = render(v, f);
    let body = dump(&message);
    let html = format!(
        "<html><body><p>{}</p><a href=\"{}\">Open</a></body></html>",
        message.subject,
        names::LINKS[0]
    );
    let text = (f.index % 4 != 0).then(|| format!("{}\n\n{}", message.subject, names::LINKS[0]));
    Details {
        text_body: text,
        html_body: Some(html),
        body,
        message_events: events::message_events(&v.ctx, f, bounce_id),
        message,
    }
}

/// The raw MIME source of a message (the dump endpoint's `Body`).
pub fn dump(m: &Outbound) -> String {
    let to: Vec<&str> = m.to.iter().map(|a| a.email.as_str()).collect();
    format!(
        "Received: by mta.acme.example with HTTP; {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{}@mtasv.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{}</p>\r\n",
        m.received_at,
        m.from,
        to.join(", "),
        m.subject,
        m.message_id,
        m.subject
    )
}

/// Optional filters of `/messages/outbound`.
#[derive(Default)]
pub struct Filter {
    pub recipient: Option<String>,
    pub fromemail: Option<String>,
    pub tag: Option<String>,
    pub status: Option<String>,
    pub subject: Option<String>,
    pub metadata: Vec<(String, String)>,
}

impl Filter {
    /// True when no filter is set (the fast, index-only path applies).
    pub fn is_empty(&self) -> bool {
        self.recipient.is_none()
            && self.fromemail.is_none()
            && self.tag.is_none()
            && self.status.is_none()
            && self.subject.is_none()
            && self.metadata.is_empty()
    }

    /// Whether a message matches every filter.
    pub fn matches(&self, v: &StreamView, f: &MsgFacts) -> bool {
        if let Some(tag) = &self.tag {
            if f.tag == 0 || !names::TAGS[f.tag - 1].eq_ignore_ascii_case(tag) {
                return false;
            }
        }
        if let Some(status) = &self.status {
            let s = if f.queued { "queued" } else { "sent" };
            if !status.eq_ignore_ascii_case(s) {
                return false;
            }
        }
        if let Some(rcpt) = &self.recipient {
            if !f
                .recipients
                .iter()
                .any(|&a| facts::email(v.ctx.seed, v.ctx.server, a).eq_ignore_ascii_case(rcpt))
            {
                return false;
            }
        }
        if self.fromemail.is_none() && self.subject.is_none() && self.metadata.is_empty() {
            return true;
        }
        let c = cosmetic(&v.ctx, v.stream_id, v.from_domain, f);
        if let Some(fe) = &self.fromemail {
            if !c.from_email.eq_ignore_ascii_case(fe) {
                return false;
            }
        }
        if let Some(sub) = &self.subject {
            if !c.subject.to_lowercase().contains(&sub.to_lowercase()) {
                return false;
            }
        }
        self.metadata
            .iter()
            .all(|(k, val)| c.metadata.get(k).is_some_and(|x| x == val))
    }
}
