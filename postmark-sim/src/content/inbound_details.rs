//! The inbound details record (§3.9), its content derived on demand: text and HTML bodies (a
//! reply above the quoted Acme message it answers, or a message of its own), the stripped
//! reply, the `Headers` Postmark's inbound servers saw (Return-Path, the Received chain, the
//! spam verdict, SPF/DKIM/DMARC results, Message-ID, In-Reply-To/References for replies, MIME)
//! and the reason a blocked message was blocked. Attachments stay the search record's.

use serde_json::{json, Map, Value};

use super::body::{self, Layout, Writer};
use super::copy::{self, vocab, SIGNATURES};
use super::mime;
use crate::generate::eastern::{TICKS_PER_HOUR, TICKS_PER_SEC};
use crate::generate::ids;
use crate::generate::model::BodyKnobs;
use crate::generate::names;
use crate::render::inbound::{self, InboundFacts, INBOUND_STREAM};

/// What the content of one inbound message depends on.
struct Mail<'a> {
    seed: u64,
    f: &'a InboundFacts,
    /// Hidden receive time.
    at: i64,
    parts: [u64; 4],
    email: &'a str,
    domain: &'a str,
    to: String,
    /// A reply quoting the message it answers (it then has a stripped reply).
    quoted: bool,
    html: bool,
}

impl Mail<'_> {
    fn hash(&self, salt: u64) -> u64 {
        ids::hash(self.seed, &[&[salt], &self.parts[..]].concat())
    }
}

/// The reply the sender wrote: (text, HTML).
fn reply(m: &Mail) -> (String, String) {
    let mut r = ids::rng(m.seed, &[&[0xE1], &m.parts[..]].concat());
    let v = vocab();
    let mut text = String::from("Hi Acme team,\r\n\r\n");
    let mut html = String::from("<div dir=\"ltr\"><div>Hi Acme team,</div><div><br></div><div>");
    for k in 0..1 + r.usize(0..3) {
        let p = if k == 0 {
            &v.replies[r.usize(0..v.replies.len())]
        } else {
            &v.sentences[r.usize(0..v.sentences.len())]
        };
        let sep = if k > 0 { " " } else { "" };
        text.push_str(sep);
        text.push_str(p.text);
        html.push_str(sep);
        html.push_str(&p.html);
    }
    let sig = SIGNATURES[r.usize(0..SIGNATURES.len())];
    text.push_str("\r\n\r\n");
    text.push_str(sig);
    html.push_str("</div><div><br></div><div>");
    let mut sig_html = String::new();
    copy::escape(sig, &mut sig_html);
    html.push_str(&sig_html.replace("\r\n", "<br>"));
    html.push_str("</div></div>\r\n");
    (text, html)
}

/// (TextBody, HtmlBody, StrippedTextReply).
fn bodies(m: &Mail, knobs: BodyKnobs) -> (String, Option<String>, Option<String>) {
    let (mut text, mut html) = reply(m);
    let stripped = m.quoted.then(|| text.clone());
    let size = body::size(knobs, m.seed, &m.parts);
    let main = if m.html { html.len() } else { text.len() };
    let mut w = Writer::new(m.seed, &m.parts, m.html, true, size);
    w.track(
        "support",
        &ids::hex(m.seed, &[0xE2, m.parts[1], m.parts[3]], 12),
    );
    w.fill(Layout::Receipt, size.saturating_sub(main), 0);
    let (fill_html, fill_text) = (w.html.unwrap_or_default(), w.text.unwrap_or_default());
    if m.quoted {
        let when = mime::date(m.at - (1 + (m.hash(0xE3) % 72) as i64) * TICKS_PER_HOUR);
        text.push_str(&format!(
            "\r\n\r\nOn {when}, Acme Support <support@acme.example> wrote:\r\n\r\n"
        ));
        for line in fill_text.trim_end().split("\r\n") {
            text.push_str(if line.is_empty() { ">" } else { "> " });
            text.push_str(line);
            text.push_str("\r\n");
        }
        html.push_str(&format!("<br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On {when}, Acme Support &lt;support@acme.example&gt; wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">\r\n"));
        html.push_str(&fill_html);
        html.push_str("</blockquote></div>\r\n");
    } else {
        text.push_str("\r\n\r\n");
        text.push_str(&fill_text);
        html.push_str(&fill_html);
    }
    (text, m.html.then_some(html), stripped)
}

fn spam_score(m: &Mail) -> f64 {
    let h = m.hash(0xE4);
    if m.f.status == "Blocked" && h % 2 == 0 {
        6.0 + ((h >> 8) % 40) as f64 / 10.0
    } else {
        ((h >> 8) % 30) as f64 / 10.0 - 1.0
    }
}

/// `BlockedReason`: set only for blocked messages.
fn blocked_reason(m: &Mail) -> Value {
    if m.f.status != "Blocked" {
        return Value::Null;
    }
    let score = spam_score(m);
    if score >= 5.0 {
        json!(format!(
            "Spam score of {score:.1} is above this server's inbound spam threshold of 5.0."
        ))
    } else {
        json!(format!(
            "The sender {} matched an inbound rule of this server.",
            m.email
        ))
    }
}

fn received(m: &Mail, host: &str, queue: u64) -> [String; 3] {
    let ip = format!("198.51.100.{}", m.hash(0xE5) % 250 + 1);
    let relay = format!("mail-{:x}.{}", m.hash(0xE6) & 0xFFFF, m.domain);
    let at = mime::date_zone(m.at);
    [
        format!("by {host} (Postfix, from userid 996) id {queue:X}; {at}"),
        format!("from {relay} ({relay} [{ip}]) (using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256) (No client certificate requested) by {host} (Postfix) with ESMTPS id {queue:X} for <{}>; {at}", m.to),
        format!("by {relay} with SMTP id {:x}.{}; {}", m.hash(0xE7), m.at.div_euclid(TICKS_PER_SEC) % 100_000, m.f.date_header),
    ]
}

/// The `Headers` array.
fn headers(m: &Mail) -> Value {
    let host = format!(
        "p-pm-inboundg0{}a-aws-useast1a.inbound.postmarkapp.com",
        m.hash(0xE8) % 4 + 1
    );
    let [by, from, sender] = received(m, &host, m.hash(0xE9) & 0xFF_FFFF_FFFF);
    let score = spam_score(m);
    let spam = score >= 5.0;
    let mut h: Vec<(&str, String)> = vec![
        ("Return-Path", format!("<{}>", m.email)),
        ("Received", by),
        ("X-Spam-Checker-Version", format!("SpamAssassin 3.4.0 (2014-02-07) on {host}")),
        ("X-Spam-Status", if spam { "Yes" } else { "No" }.to_string()),
        ("X-Spam-Score", format!("{score:.1}")),
        ("X-Spam-Tests", if spam { "BAYES_99,HTML_MESSAGE,RDNS_NONE,URIBL_BLACK" } else { "DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,HTML_MESSAGE,RCVD_IN_DNSWL_NONE,SPF_HELO_NONE,SPF_PASS" }.to_string()),
        ("Received-SPF", format!("pass ({}: Sender is authorized to use '{}' in 'mfrom' identity (mechanism 'include:_spf.{}' matched)) receiver={host}; identity=mailfrom; envelope-from=\"{}\"", m.domain, m.email, m.domain, m.email)),
        ("Authentication-Results", format!("{host}; dkim=pass header.d={d}; spf=pass smtp.mailfrom={}; dmarc=pass (p=NONE) header.from={d}", m.email, d = m.domain)),
        ("Received", from),
        ("DKIM-Signature", format!("v=1; a=rsa-sha256; c=relaxed/relaxed; d={}; s=20230601; t={}; darn=inbound.postmarkapp.com; h=to:subject:message-id:date:from:mime-version; bh={}; b={}", m.domain, m.at.div_euclid(TICKS_PER_SEC), mime::noise_b64(m.seed, &[0xEA, m.hash(0)], 32), mime::noise_b64(m.seed, &[0xEB, m.hash(0)], 256))),
        ("Received", sender),
        ("MIME-Version", "1.0".to_string()),
    ];
    if m.f.subject.starts_with("Re:") {
        let id = format!(
            "<{}@mtasv.net>",
            ids::uuid(m.seed, &[0xEC, m.parts[1], m.parts[3]])
        );
        h.push(("References", id.clone()));
        h.push(("In-Reply-To", id));
    }
    h.push((
        "Message-ID",
        format!(
            "<CA+{}@mail.{}>",
            ids::hex(m.seed, &[0xED, m.hash(0)], 40),
            m.domain
        ),
    ));
    let boundary = format!("000000000000{}", ids::hex(m.seed, &[0xEE, m.hash(0)], 16));
    let ct = match (m.f.attachment, m.html) {
        (true, _) => format!("multipart/mixed; boundary=\"{boundary}\""),
        (false, true) => format!("multipart/alternative; boundary=\"{boundary}\""),
        (false, false) => "text/plain; charset=\"UTF-8\"".to_string(),
    };
    h.push(("Content-Type", ct));
    Value::Array(
        h.into_iter()
            .map(|(n, v)| json!({"Name": n, "Value": v}))
            .collect(),
    )
}

/// The details record of inbound message `f`, received at `at` (§3.9): the search record plus
/// `TextBody`, `HtmlBody`, `StrippedTextReply`, `Headers` and `BlockedReason`.
pub fn render(
    seed: u64,
    server: usize,
    inbound_hash: &str,
    (f, at): (&InboundFacts, i64),
    knobs: BodyKnobs,
) -> Value {
    let mut rec: Map<String, Value> = inbound::render(seed, server, inbound_hash, f);
    let (_, email) = names::INBOUND_SENDERS[f.sender];
    let m = Mail {
        seed,
        f,
        at,
        parts: [2, server as u64, INBOUND_STREAM as u64, f.index as u64],
        email,
        domain: email.rsplit('@').next().unwrap_or("example.org"),
        to: format!("{inbound_hash}@inbound.postmarkapp.com"),
        quoted: f.index % 2 == 0,
        html: f.index % 3 != 0,
    };
    let (text, html, stripped) = bodies(&m, knobs);
    rec.insert("TextBody".into(), json!(text));
    rec.insert("HtmlBody".into(), json!(html));
    rec.insert("StrippedTextReply".into(), json!(stripped));
    rec.insert("Headers".into(), headers(&m));
    rec.insert("BlockedReason".into(), blocked_reason(&m));
    Value::Object(rec)
}
