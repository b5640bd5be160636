//! Inbound messages: derivation from (seed, server, number, hidden receive time), the search
//! record (`content::inbound_details` adds the details' content) and the search filters. The
//! record carries only the sender's RFC 2822 `Date` header (sender's offset, a little clock
//! skew); the receive time stays hidden.

use chrono::{FixedOffset, TimeZone};
use serde_json::{json, Map, Value};

use crate::generate::eastern::{TICKS_PER_MIN, TICKS_PER_SEC};
use crate::generate::ids::{self, MessageKey, KIND_INBOUND};
use crate::generate::names;

/// Index of the inbound stream in every server's stream list.
pub const INBOUND_STREAM: usize = 1;

/// What one inbound message is made of.
pub struct InboundFacts {
    pub index: usize,
    pub sender: usize,
    pub subject: String,
    pub status: &'static str,
    pub mailbox_hash: String,
    pub tag: Option<&'static str>,
    pub date_header: String,
    pub cc: bool,
    pub attachment: bool,
}

/// Derives inbound message `index` of server `server`, received at `at`.
pub fn derive(seed: u64, server: usize, index: usize, at: i64) -> InboundFacts {
    let mut r = ids::rng(seed, &[3, server as u64, index as u64]);
    let sender = r.usize(0..names::INBOUND_SENDERS.len());
    let subject = match r.u32(0..4) {
        0 => format!("Re: order {}", r.u32(10..9999)),
        1 => "Question about my invoice".to_string(),
        2 => format!("Fwd: réunion du {}", r.u32(1..28)),
        _ => "Out of office ✈".to_string(),
    };
    let status = match r.u32(0..100) {
        0..=89 => "Processed",
        90..=95 => "Blocked",
        96..=97 => "Failed",
        _ => "Queued",
    };
    let mailbox_hash = if r.bool() {
        format!("ticket-{}", r.u32(1..500))
    } else {
        String::new()
    };
    let tag = (r.u32(0..5) == 0).then_some("support");
    let skew = r.i64(5 * TICKS_PER_SEC..10 * TICKS_PER_MIN);
    let offset_min = names::SENDER_OFFSETS[r.usize(0..names::SENDER_OFFSETS.len())];
    let sent = at - skew;
    let date_header = FixedOffset::east_opt(offset_min * 60)
        .and_then(|tz| tz.timestamp_opt(sent.div_euclid(TICKS_PER_SEC), 0).single())
        .map(|d| d.format("%a, %-d %b %Y %H:%M:%S %z").to_string())
        .unwrap_or_default();
    InboundFacts {
        index,
        sender,
        subject,
        status,
        mailbox_hash,
        tag,
        date_header,
        cc: r.u32(0..6) == 0,
        attachment: r.u32(0..5) == 0,
    }
}

/// The message ID of inbound message `index`.
pub fn message_id(seed: u64, server: usize, index: usize) -> String {
    ids::encode_message_id(
        seed,
        MessageKey {
            kind: KIND_INBOUND,
            server,
            stream: INBOUND_STREAM,
            index,
        },
    )
}

/// Renders the search record (§3.8).
pub fn render(
    seed: u64,
    server: usize,
    inbound_hash: &str,
    f: &InboundFacts,
) -> Map<String, Value> {
    let (name, email) = names::INBOUND_SENDERS[f.sender];
    let to_email = format!("{inbound_hash}@inbound.postmarkapp.com");
    let original = if f.mailbox_hash.is_empty() {
        to_email.clone()
    } else {
        format!("{inbound_hash}+{}@inbound.postmarkapp.com", f.mailbox_hash)
    };
    let mut m = Map::new();
    m.insert("MessageID".into(), json!(message_id(seed, server, f.index)));
    m.insert("MessageStream".into(), json!("inbound"));
    m.insert("From".into(), json!(email));
    m.insert("FromName".into(), json!(name));
    m.insert(
        "FromFull".into(),
        json!({"Email": email, "Name": name, "MailboxHash": ""}),
    );
    m.insert("To".into(), json!(format!("\"Support\" <{to_email}>")));
    m.insert(
        "ToFull".into(),
        json!([{"Email": to_email, "Name": "Support", "MailboxHash": f.mailbox_hash}]),
    );
    if f.cc {
        m.insert("Cc".into(), json!("\"Zoë\" <zoe@example.net>"));
        m.insert(
            "CcFull".into(),
            json!([{"Email": "zoe@example.net", "Name": "Zoë", "MailboxHash": ""}]),
        );
    } else {
        m.insert("Cc".into(), json!(""));
        m.insert("CcFull".into(), json!([]));
    }
    m.insert("ReplyTo".into(), json!(""));
    m.insert("OriginalRecipient".into(), json!(original));
    m.insert("Subject".into(), json!(f.subject));
    m.insert("Date".into(), json!(f.date_header));
    m.insert("MailboxHash".into(), json!(f.mailbox_hash));
    if let Some(t) = f.tag {
        m.insert("Tag".into(), json!(t));
    }
    m.insert("Status".into(), json!(f.status));
    let attachments = if f.attachment {
        json!([{"Name": "photo.jpg", "ContentType": "image/jpeg", "ContentID": "", "ContentLength": 48_213 + f.index % 1000}])
    } else {
        json!([])
    };
    m.insert("Attachments".into(), attachments);
    m
}

/// Optional filters of `/messages/inbound`.
#[derive(Default)]
pub struct Filter {
    pub recipient: Option<String>,
    pub fromemail: Option<String>,
    pub subject: Option<String>,
    pub mailboxhash: Option<String>,
    pub tag: Option<String>,
    pub status: Option<String>,
}

impl Filter {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.recipient.is_none()
            && self.fromemail.is_none()
            && self.subject.is_none()
            && self.mailboxhash.is_none()
            && self.tag.is_none()
            && self.status.is_none()
    }

    /// Whether a message matches.
    pub fn matches(&self, inbound_hash: &str, f: &InboundFacts) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(have))
        };
        let to = format!("{inbound_hash}@inbound.postmarkapp.com");
        eq(&self.recipient, &to)
            && eq(&self.fromemail, names::INBOUND_SENDERS[f.sender].1)
            && eq(&self.mailboxhash, &f.mailbox_hash)
            && eq(&self.tag, f.tag.unwrap_or(""))
            && eq(&self.status, f.status)
            && self
                .subject
                .as_ref()
                .is_none_or(|s| f.subject.to_lowercase().contains(&s.to_lowercase()))
    }
}
