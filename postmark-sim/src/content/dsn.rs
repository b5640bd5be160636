//! Bounce dumps: the raw message each bounce came back as, derived from the bounce and its
//! message. Delivery failures and delays are DSNs (`multipart/report;
//! report-type=delivery-status`) whose `Status` and `Diagnostic-Code` are the bounce's SMTP
//! `Details`; spam complaints are ARF feedback reports; auto-responders are the reply itself.
//! Each quotes the original message's headers (the same ones its raw source starts with).

use super::mime::{self, header};
use super::source;
use crate::generate::facts::{self, MsgFacts};
use crate::generate::ids;
use crate::generate::names::{self, BounceType, BOUNCE_TYPES};
use crate::render::messages;
use crate::render::view::StreamView;

/// What every part of one dump refers to.
struct Bounced<'a> {
    bt: &'a BounceType,
    /// Bounced address and its receiving host.
    rcpt: String,
    mx: String,
    ip: String,
    queue: String,
    at: i64,
    sent: i64,
    boundary: String,
    /// The original message's headers.
    original: String,
    message_id: String,
    subject: String,
}

/// Enhanced status code of a bounce: the first `d.d.d` of its details, else one for its type.
fn status(bt: &BounceType) -> String {
    let found = bt
        .details
        .split(|c: char| c.is_whitespace() || c == ';')
        .find(|w| {
            let p: Vec<&str> = w.split('.').collect();
            p.len() == 3
                && p.iter()
                    .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        });
    found.map_or_else(
        || match bt.key {
            "DnsError" => "4.4.3".to_string(),
            "Blocked" => "5.7.1".to_string(),
            _ => "5.0.0".to_string(),
        },
        str::to_string,
    )
}

/// `Diagnostic-Code` value: the details as the receiving server wrote them, lines folded.
fn diagnostic(bt: &BounceType) -> String {
    let d = bt.details.trim_end();
    let (kind, text) = match d.strip_prefix("smtp;") {
        Some(rest) => ("smtp", rest),
        None => ("X-Postfix", d),
    };
    format!("{kind}; {}", text.replace("\r\n", "\r\n    "))
}

/// (`Action`, subject) of a DSN.
fn action(bt: &BounceType) -> (&'static str, &'static str) {
    match bt.key {
        "Transient" | "DnsError" => ("delayed", "Delayed Mail (still being retried)"),
        "SpamNotification" => ("delivered", "Delivery Status Notification (Filtered)"),
        _ => ("failed", "Undelivered Mail Returned to Sender"),
    }
}

fn outer_headers(out: &mut String, b: &Bounced, from: &str, subject: &str, content_type: &str) {
    let received = format!(
        "from {mx} ({mx} [{ip}])\r\n\tby pm-bounces.mtasv.net (Postfix) with ESMTPS id {q}\r\n\tfor <pm_bounces@pm.mtasv.net>; {}",
        mime::date_zone(b.at),
        mx = b.mx,
        ip = b.ip,
        q = b.queue
    );
    header(out, "Return-Path", "<>");
    header(out, "Received", &received);
    header(out, "Date", &mime::date(b.at));
    header(out, "From", from);
    header(out, "To", "pm_bounces@pm.mtasv.net");
    header(out, "Subject", &mime::header_text(subject));
    header(
        out,
        "Message-Id",
        &format!("<{}.{}@{}>", b.queue, b.at % 1_000_000, b.mx),
    );
    header(out, "Auto-Submitted", "auto-replied");
    header(out, "MIME-Version", "1.0");
    header(out, "Content-Type", content_type);
}

fn part(out: &mut String, b: &Bounced, description: Option<&str>, content_type: &str) {
    out.push_str(&format!("--{}\r\n", b.boundary));
    if let Some(d) = description {
        header(out, "Content-Description", d);
    }
    header(out, "Content-Type", content_type);
    out.push_str("\r\n");
}

/// The last part: the original message's headers, and the closing delimiter.
fn original_headers(out: &mut String, b: &Bounced, description: &str) {
    part(out, b, Some(description), "text/rfc822-headers");
    out.push_str(&b.original);
    out.push_str(&format!("\r\n--{}--\r\n", b.boundary));
}

/// A delivery status notification.
fn delivery_status(b: &Bounced) -> String {
    let (action, subject) = action(b.bt);
    let mut out = String::with_capacity(b.original.len() + 2048);
    let ct = format!(
        "multipart/report; report-type=delivery-status;\r\n\tboundary=\"{}\"",
        b.boundary
    );
    let from = format!("Mail Delivery System <MAILER-DAEMON@{}>", b.mx);
    outer_headers(&mut out, b, &from, subject, &ct);
    out.push_str("\r\nThis is a MIME-encapsulated message.\r\n\r\n");
    part(
        &mut out,
        b,
        Some("Notification"),
        "text/plain; charset=us-ascii",
    );
    out.push_str(&format!(
        "This is the mail system at host {mx}.\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients. It's attached below.\r\n\r\nFor further assistance, please send mail to postmaster.\r\n\r\n                   The mail system\r\n\r\n<{rcpt}>: host {mx}[{ip}] said:\r\n    {}\r\n    (in reply to end of DATA command)\r\n\r\n",
        b.bt.details.trim_end().replace("\r\n", "\r\n    "),
        mx = b.mx,
        ip = b.ip,
        rcpt = b.rcpt
    ));
    part(
        &mut out,
        b,
        Some("Delivery report"),
        "message/delivery-status",
    );
    header(&mut out, "Reporting-MTA", &format!("dns; {}", b.mx));
    header(&mut out, "X-Postfix-Queue-ID", &b.queue);
    header(
        &mut out,
        "X-Postfix-Sender",
        "rfc822; pm_bounces@pm.mtasv.net",
    );
    header(&mut out, "Arrival-Date", &mime::date(b.sent));
    out.push_str("\r\n");
    header(&mut out, "Final-Recipient", &format!("rfc822; {}", b.rcpt));
    header(
        &mut out,
        "Original-Recipient",
        &format!("rfc822;{}", b.rcpt),
    );
    header(&mut out, "Action", action);
    header(&mut out, "Status", &status(b.bt));
    header(&mut out, "Remote-MTA", &format!("dns; {}", b.mx));
    header(&mut out, "Diagnostic-Code", &diagnostic(b.bt));
    header(&mut out, "Last-Attempt-Date", &mime::date(b.at));
    out.push_str("\r\n");
    original_headers(&mut out, b, "Undelivered Message Headers");
    out
}

/// An ARF feedback report (a spam complaint through a feedback loop).
fn feedback_report(b: &Bounced) -> String {
    let mut out = String::with_capacity(b.original.len() + 2048);
    let ct = format!(
        "multipart/report; report-type=feedback-report;\r\n\tboundary=\"{}\"",
        b.boundary
    );
    let domain = b.rcpt.rsplit('@').next().unwrap_or("example.com");
    let from = format!("Feedback Loop <fbl@{domain}>");
    outer_headers(
        &mut out,
        b,
        &from,
        "complaint about message from 50.31.156.6",
        &ct,
    );
    out.push_str("\r\nThis is a MIME-encapsulated message.\r\n\r\n");
    part(&mut out, b, None, "text/plain; charset=\"US-ASCII\"");
    out.push_str(&format!(
        "This is an email abuse report for an email message received from IP 50.31.156.6 on {}.\r\nFor more information about this format please see http://www.mipassoc.org/arf/.\r\n\r\n",
        mime::date(b.sent)
    ));
    part(&mut out, b, None, "message/feedback-report");
    header(&mut out, "Feedback-Type", "abuse");
    header(&mut out, "User-Agent", "ReturnPathFBL/2.0");
    header(&mut out, "Version", "1");
    header(&mut out, "Original-Mail-From", "<pm_bounces@pm.mtasv.net>");
    header(&mut out, "Original-Rcpt-To", &format!("<{}>", b.rcpt));
    header(&mut out, "Arrival-Date", &mime::date(b.sent));
    header(&mut out, "Reported-Domain", "pm.mtasv.net");
    header(&mut out, "Source-IP", "50.31.156.6");
    out.push_str("\r\n");
    original_headers(&mut out, b, "Reported Message Headers");
    out
}

/// The reply an auto-responder sent back.
fn auto_reply(b: &Bounced) -> String {
    let mut out = String::with_capacity(b.original.len() + 1024);
    let subject = format!("Automatic reply: {}", b.subject);
    let mut ct = "multipart/mixed;\r\n\tboundary=\"".to_string();
    ct.push_str(&b.boundary);
    ct.push('"');
    outer_headers(&mut out, b, &format!("<{}>", b.rcpt), &subject, &ct);
    let reply_to = format!("<{}@mtasv.net>", b.message_id);
    header(&mut out, "In-Reply-To", &reply_to);
    header(&mut out, "References", &reply_to);
    header(&mut out, "X-Auto-Response-Suppress", "All");
    out.push_str("\r\n");
    out.push_str(&format!("--{}\r\n", b.boundary));
    header(&mut out, "Content-Type", "text/plain; charset=utf-8");
    header(&mut out, "Content-Transfer-Encoding", "quoted-printable");
    out.push_str("\r\n");
    let domain = b.rcpt.rsplit('@').next().unwrap_or("example.com");
    mime::quoted_printable(
        &format!("Hello,\r\n\r\nI’m out of the office until Monday and will reply when I’m back. For anything urgent, please write to support@{domain}.\r\n"),
        &mut out,
    );
    out.push_str("\r\n");
    original_headers(&mut out, b, "Original Message Headers");
    out
}

/// The raw bounce message of the bounce of `f` (empty when it has none).
pub fn dump(v: &StreamView, f: &MsgFacts) -> String {
    let Some(fb) = f.bounce else {
        return String::new();
    };
    let m = messages::render(v, f);
    let addr = f
        .recipients
        .get(usize::from(fb.slot))
        .copied()
        .unwrap_or(f.recipients[0]);
    let rcpt = facts::email(v.ctx.seed, v.ctx.server, addr);
    let h = ids::hash(
        v.ctx.seed,
        &[
            0xD5,
            v.ctx.server as u64,
            v.ctx.stream as u64,
            f.index as u64,
        ],
    );
    let domain = rcpt.rsplit('@').next().unwrap_or("example.com").to_string();
    let b = Bounced {
        bt: &BOUNCE_TYPES[fb.kind],
        mx: format!("mx{}.{domain}", h % 3 + 1),
        ip: format!("192.0.2.{}", 10 + (h >> 8) % 200),
        queue: format!("4T{:X}", (h >> 16) & 0xFF_FFFF_FFFF),
        rcpt,
        at: fb.at,
        sent: f.at,
        boundary: format!(
            "{:X}.{}/{}",
            h >> 24,
            fb.at % 1_000_000_000,
            "pm-bounces.mtasv.net"
        ),
        original: source::headers(v, f, &m),
        message_id: m.message_id.clone(),
        subject: m.subject.clone(),
    };
    match fb.kind {
        names::SPAM_COMPLAINT => feedback_report(&b),
        k if BOUNCE_TYPES[k].key == "AutoResponder" => auto_reply(&b),
        _ => delivery_status(&b),
    }
}
