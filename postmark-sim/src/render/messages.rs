//! Outbound message records: the search record, the shape of the details record (its content
//! comes from `content::outbound`), and the search filters (tag, status, recipient, subject,
//! sender, metadata).

use std::collections::BTreeMap;

use serde::Serialize;

use super::events;
use super::view::{cosmetic, message_id, StreamView};
use crate::generate::eastern::format_postmark;
use crate::generate::facts::{self, Ctx, MsgFacts, TRACK_LINKS};
use crate::generate::names;

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

fn addrs(ctx: &Ctx, list: &[u32]) -> Vec<Addr> {
    list.iter()
        .map(|&a| Addr {
            email: facts::email(ctx.seed, ctx.server, a),
            name: facts::display_name(ctx.seed, ctx.server, a),
        })
        .collect()
}

/// The message's `Status` at `now`: `Queued` until it leaves the queue, then `Sent`.
pub fn status(f: &MsgFacts, now: i64) -> &'static str {
    if now < f.sent_at {
        "Queued"
    } else {
        "Sent"
    }
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
        status: status(f, v.now),
        track_opens: f.track_opens,
        track_links: TRACK_LINKS[usize::from(f.track_links)],
        metadata: c.metadata,
        sandboxed: v.sandboxed,
    }
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
            if !status.eq_ignore_ascii_case(self::status(f, v.now)) {
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
