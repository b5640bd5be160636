//! What every record of one outbound message shares, whichever endpoint renders it: the
//! stream's rendering context, the message ID and the cosmetic fields (subject, sender,
//! metadata, attachments) derived from the message's seed.

use std::collections::BTreeMap;

use crate::generate::facts::{Ctx, MsgFacts};
use crate::generate::ids::{self, MessageKey, KIND_OUTBOUND};
use crate::generate::names;
use crate::generate::stream_type::StreamType;

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
    /// The clock's now: what the records show depends on it.
    pub now: i64,
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
