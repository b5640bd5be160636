//! The raw source of an outbound message, as the details `Body` and the dump give it: the
//! headers Postmark's MTA writes (Received, two DKIM signatures, the addresses, an RFC 2047
//! subject, an Eastern `Date`, `Message-ID`, `X-PM-*`, `List-Unsubscribe` on broadcasts), then
//! the text and HTML bodies as quoted-printable parts, and one part per attachment that names it
//! and holds no bytes (Postmark never gives attachments back).

use super::mime::{self, header};
use crate::generate::eastern::TICKS_PER_SEC;
use crate::generate::facts::MsgFacts;
use crate::generate::ids;
use crate::generate::stream_type::StreamType;
use crate::render::messages::Outbound;
use crate::render::view::StreamView;

/// Which bodies a message has: (HTML, text). A quarter of messages have no text body; one in
/// fifty of the others is text only.
pub fn bodies_present(v: &StreamView, f: &MsgFacts) -> (bool, bool) {
    let text = f.index % 4 != 0;
    let text_only = text && coords_hash(v, f, 0xB5) % 50 == 0;
    (!text_only, text)
}

fn coords_hash(v: &StreamView, f: &MsgFacts, salt: u64) -> u64 {
    ids::hash(
        v.ctx.seed,
        &[
            salt,
            v.ctx.server as u64,
            v.ctx.stream as u64,
            f.index as u64,
        ],
    )
}

fn boundary(v: &StreamView, f: &MsgFacts, salt: u64) -> String {
    let parts = [
        salt,
        v.ctx.server as u64,
        v.ctx.stream as u64,
        f.index as u64,
    ];
    format!("mk3-{}", ids::hex(v.ctx.seed, &parts, 32))
}

/// MIME type of an attachment, by its extension.
fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next().unwrap_or("") {
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn dkim(v: &StreamView, f: &MsgFacts, domain: &str, selector: &str, salt: u64) -> String {
    let parts = [
        salt,
        v.ctx.server as u64,
        v.ctx.stream as u64,
        f.index as u64,
    ];
    let seed = v.ctx.seed;
    format!(
        "v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain};\r\n\ts={selector}; t={};\r\n\tbh={};\r\n\th=From:Date:Subject:Message-Id:Reply-To:To:Cc:MIME-Version:Content-Type;\r\n\tb={}",
        f.at.div_euclid(TICKS_PER_SEC),
        mime::noise_b64(seed, &parts, 32),
        mime::fold(&mime::noise_b64(seed, &[&parts[..], &[1]].concat(), 256), 72)
    )
}

fn received(v: &StreamView, f: &MsgFacts, m: &Outbound) -> String {
    let h = coords_hash(v, f, 0xB6);
    let first = m.recipients.first().map_or("", String::as_str);
    format!(
        "from ip-10-32-{a}-{b}.ec2.internal (unknown [10.32.{a}.{b}])\r\n\tby sc-ord-mta-ip{n}.mtasv.net (Postfix) with ESMTP id 4T{q:X}\r\n\tfor <{first}>; {}",
        mime::date_zone(f.at),
        a = h % 250,
        b = (h >> 8) % 250,
        n = (h >> 16) % 8 + 1,
        q = (h >> 24) & 0xFF_FFFF_FFFF,
    )
}

fn addresses(list: &[crate::render::messages::Addr]) -> String {
    list.iter()
        .map(|a| mime::mailbox(a.name.as_deref(), &a.email))
        .collect::<Vec<_>>()
        .join(",\r\n\t")
}

/// The headers of the message, one `Name: value\r\n` line each (folded lines continue with a
/// tab), ending with its `Content-Type`; the bounce dumps quote them too.
pub fn headers(v: &StreamView, f: &MsgFacts, m: &Outbound) -> String {
    let mut h = String::with_capacity(2560);
    header(&mut h, "Received", &received(v, f, m));
    let domain = m
        .from
        .rsplit('@')
        .next()
        .unwrap_or("")
        .trim_end_matches('>');
    let selector = format!("20240101{:06x}pm", coords_hash(v, f, 0xB7) & 0xFF_FFFF);
    header(
        &mut h,
        "DKIM-Signature",
        &dkim(v, f, domain, &selector, 0xB8),
    );
    header(
        &mut h,
        "DKIM-Signature",
        &dkim(v, f, "pm.mtasv.net", "pm", 0xB9),
    );
    header(&mut h, "Date", &mime::date(f.at));
    header(&mut h, "From", &m.from);
    header(&mut h, "To", &addresses(&m.to));
    if !m.cc.is_empty() {
        header(&mut h, "Cc", &addresses(&m.cc));
    }
    header(
        &mut h,
        "Message-Id",
        &format!("<{}@mtasv.net>", m.message_id),
    );
    header(&mut h, "Subject", &mime::header_text(&m.subject));
    header(&mut h, "MIME-Version", "1.0");
    postmark_headers(&mut h, v, f, m);
    let (html, text) = bodies_present(v, f);
    content_type_headers(&mut h, v, f, html && text, !m.attachments.is_empty(), html);
    h
}

/// The headers Postmark adds: its message ID, tag, metadata, job and feedback IDs, and the
/// unsubscribe headers of broadcasts.
fn postmark_headers(h: &mut String, v: &StreamView, f: &MsgFacts, m: &Outbound) {
    header(h, "X-PM-Message-Id", &m.message_id);
    if let Some(tag) = m.tag {
        header(h, "X-PM-Tag", tag);
    }
    for (k, val) in &m.metadata {
        header(h, &format!("X-PM-Metadata-{k}"), &mime::header_text(val));
    }
    let job = coords_hash(v, f, 0xBA);
    header(
        h,
        "X-Job",
        &format!("{}_{}", job % 90_000 + 10_000, f.index),
    );
    header(h, "X-Complaints-To", "abuse@postmarkapp.com");
    header(
        h,
        "Feedback-ID",
        &format!(
            "s{}-{:x}:s{}:a{}:postmark",
            job % 9000,
            job >> 40,
            job % 9000,
            job % 70_000
        ),
    );
    if v.ctx.kind == StreamType::Broadcasts {
        let token = ids::hex(v.ctx.seed, &[0xBB, job], 24);
        header(
            h,
            "List-Unsubscribe",
            &format!("<https://pm-unsubscribe.mtasv.net/u/{token}>,\r\n\t<mailto:unsubscribe+{token}@pm.mtasv.net>"),
        );
        header(h, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    }
}

fn content_type_headers(
    h: &mut String,
    v: &StreamView,
    f: &MsgFacts,
    alt: bool,
    mixed: bool,
    html: bool,
) {
    if mixed {
        let b = boundary(v, f, 0xBC);
        header(
            h,
            "Content-Type",
            &format!("multipart/mixed; boundary=\"{b}\""),
        );
    } else if alt {
        let b = boundary(v, f, 0xBD);
        header(
            h,
            "Content-Type",
            &format!("multipart/alternative; boundary=\"{b}\""),
        );
    } else {
        header(h, "Content-Type", text_type(html));
        header(h, "Content-Transfer-Encoding", "quoted-printable");
    }
}

fn text_type(html: bool) -> &'static str {
    if html {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// Appends one body part: its headers, a blank line, the body quoted-printable.
fn text_part(out: &mut String, boundary: &str, html: bool, body: &str) {
    out.push_str("--");
    out.push_str(boundary);
    out.push_str("\r\n");
    header(out, "Content-Type", text_type(html));
    header(out, "Content-Transfer-Encoding", "quoted-printable");
    out.push_str("\r\n");
    mime::quoted_printable(body, out);
    out.push_str("\r\n");
}

/// The text and HTML bodies: an alternative of both (its own part inside `multipart/mixed`),
/// or the one body.
fn alternative(
    out: &mut String,
    v: &StreamView,
    f: &MsgFacts,
    html: Option<&str>,
    text: Option<&str>,
) {
    match (html, text) {
        (Some(h), Some(t)) => {
            let b = boundary(v, f, 0xBD);
            text_part(out, &b, false, t);
            text_part(out, &b, true, h);
            out.push_str(&format!("--{b}--\r\n"));
        }
        (Some(body), None) | (None, Some(body)) => mime::quoted_printable(body, out),
        (None, None) => {}
    }
}

/// The raw source of the message with these bodies (as [`bodies_present`] says it has them).
pub fn source(
    v: &StreamView,
    f: &MsgFacts,
    m: &Outbound,
    html: Option<&str>,
    text: Option<&str>,
) -> String {
    let size = html.map_or(0, str::len) + text.map_or(0, str::len);
    let mut out = String::with_capacity(size + size / 8 + 4096);
    out.push_str(&headers(v, f, m));
    out.push_str("\r\n");
    if m.attachments.is_empty() {
        alternative(&mut out, v, f, html, text);
        return out;
    }
    let mixed = boundary(v, f, 0xBC);
    out.push_str(&format!("--{mixed}\r\n"));
    if let (Some(_), Some(_)) = (html, text) {
        let b = boundary(v, f, 0xBD);
        header(
            &mut out,
            "Content-Type",
            &format!("multipart/alternative; boundary=\"{b}\""),
        );
        out.push_str("\r\n");
    } else {
        header(&mut out, "Content-Type", text_type(html.is_some()));
        header(&mut out, "Content-Transfer-Encoding", "quoted-printable");
        out.push_str("\r\n");
    }
    alternative(&mut out, v, f, html, text);
    out.push_str("\r\n");
    for file in &m.attachments {
        out.push_str(&format!("--{mixed}\r\n"));
        let ct = content_type(file);
        header(
            &mut out,
            "Content-Type",
            &format!("{ct}; {}", mime::file_param("name", file)),
        );
        header(
            &mut out,
            "Content-Disposition",
            &format!("attachment; {}", mime::file_param("filename", file)),
        );
        // The blank line ending the headers, an empty body, the delimiter's line break.
        out.push_str("\r\n\r\n");
    }
    out.push_str(&format!("--{mixed}--\r\n"));
    out
}
