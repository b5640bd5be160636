//! MIME building blocks for the raw sources the simulator serves: quoted-printable and base64
//! encoding, RFC 2047 encoded words for non-ASCII header text, RFC 2231 file names, RFC 2822
//! dates in US-Eastern time, folded headers and seeded boundaries. Every line ends in `\r\n`.

use chrono::TimeZone;
use chrono_tz::America::New_York;

use crate::generate::eastern::from_ticks;
use crate::generate::ids;

const HEX: &[u8; 16] = b"0123456789ABCDEF";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Longest quoted-printable line before a soft break (76 with the `=`).
const QP_LINE: usize = 75;

/// Appends `text` encoded quoted-printable (RFC 2045): `\r\n` stays a hard line break, lines
/// longer than 76 characters get soft breaks, every other byte outside printable ASCII (and
/// `=`, and a space or tab ending a line) becomes `=XX`.
pub fn quoted_printable(text: &str, out: &mut String) {
    out.reserve(text.len() + text.len() / 16);
    let bytes = text.as_bytes();
    let mut col = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            out.push_str("\r\n");
            col = 0;
            i += 2;
            continue;
        }
        let line_end = matches!(bytes.get(i + 1), None | Some(b'\r'));
        let literal =
            ((33..=126).contains(&b) && b != b'=') || ((b == b' ' || b == b'\t') && !line_end);
        let width = if literal { 1 } else { 3 };
        if col + width > QP_LINE {
            out.push_str("=\r\n");
            col = 0;
        }
        if literal {
            out.push(char::from(b));
        } else {
            out.push('=');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        col += width;
        i += 1;
    }
}

/// Appends `data` encoded base64 (standard alphabet, padded, no line breaks).
pub fn base64(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (k, &b)| acc | (u32::from(b) << (16 - 8 * k)));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Header text as it must be sent: itself when it is printable ASCII, otherwise RFC 2047
/// `=?UTF-8?B?…?=` words of at most 75 characters, folded onto continuation lines.
pub fn header_text(text: &str) -> String {
    if text.bytes().all(|b| (32..=126).contains(&b)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut word = String::new();
    for c in text.chars() {
        if word.len() + c.len_utf8() > 45 {
            push_word(&word, &mut out);
            word.clear();
        }
        word.push(c);
    }
    push_word(&word, &mut out);
    out
}

fn push_word(word: &str, out: &mut String) {
    if word.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\r\n ");
    }
    out.push_str("=?UTF-8?B?");
    base64(word.as_bytes(), out);
    out.push_str("?=");
}

/// An address with its display name: `"Name" <a@b>`, an encoded word when the name is not
/// ASCII, or the bare address when there is no name.
pub fn mailbox(name: Option<&str>, email: &str) -> String {
    match name {
        Some(n) if !n.is_empty() && n.is_ascii() => {
            format!("\"{}\" <{email}>", n.replace('"', "'"))
        }
        Some(n) if !n.is_empty() => format!("{} <{email}>", header_text(n)),
        _ => email.to_string(),
    }
}

/// A `name`/`filename` parameter: quoted when ASCII, RFC 2231 `name*=utf-8''…` otherwise.
pub fn file_param(key: &str, file: &str) -> String {
    if file.is_ascii() {
        return format!("{key}=\"{file}\"");
    }
    let mut out = format!("{key}*=utf-8''");
    for b in file.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// An RFC 2822 date in US-Eastern time: `Thu, 14 Mar 2024 10:22:31 -0400`.
pub fn date(ticks: i64) -> String {
    New_York
        .from_utc_datetime(&from_ticks(ticks).naive_utc())
        .format("%a, %-d %b %Y %H:%M:%S %z")
        .to_string()
}

/// The same date with its zone's name in a comment, as `Received` lines print it.
pub fn date_zone(ticks: i64) -> String {
    New_York
        .from_utc_datetime(&from_ticks(ticks).naive_utc())
        .format("%a, %-d %b %Y %H:%M:%S %z (%Z)")
        .to_string()
}

/// Seeded base64 text of `bytes` random-looking bytes (signatures, body hashes).
pub fn noise_b64(seed: u64, parts: &[u64], bytes: usize) -> String {
    let mut raw = Vec::with_capacity(bytes + 8);
    let mut n = 0u64;
    while raw.len() < bytes {
        raw.extend_from_slice(&ids::hash(seed, &[parts, &[n]].concat()).to_le_bytes());
        n += 1;
    }
    raw.truncate(bytes);
    let mut out = String::with_capacity(bytes * 4 / 3 + 4);
    base64(&raw, &mut out);
    out
}

/// Folds `value` into lines of `width` characters joined by `\r\n\t` (for long tokens such as
/// signatures, which have no spaces to break at).
pub fn fold(value: &str, width: usize) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / width * 3 + 3);
    let mut rest = value;
    while rest.len() > width {
        let (head, tail) = rest.split_at(width);
        out.push_str(head);
        out.push_str("\r\n\t");
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Appends one header line `Name: value\r\n`.
pub fn header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes quoted-printable text (the inverse of [`quoted_printable`]; tests read parts back).
    fn decode_quoted_printable(text: &str) -> Vec<u8> {
        let b = text.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0usize;
        while i < b.len() {
            if b[i] != b'=' {
                out.push(b[i]);
                i += 1;
            } else if b.get(i + 1) == Some(&b'\r') {
                i += 3;
            } else {
                let hex =
                    std::str::from_utf8(b.get(i + 1..i + 3).unwrap_or_default()).unwrap_or("");
                out.extend(u8::from_str_radix(hex, 16).ok());
                i += 3;
            }
        }
        out
    }

    #[test]
    fn quoted_printable_round_trips_and_keeps_lines_short() {
        let text =
            "Grüße — “quoted” = 100 %\r\ntrailing space \r\n".repeat(20) + &"x".repeat(300) + "\t";
        let mut qp = String::new();
        quoted_printable(&text, &mut qp);
        assert!(qp.is_ascii());
        assert!(qp.split("\r\n").all(|l| l.len() <= 76), "{qp}");
        assert!(!qp.contains(" \r\n"));
        assert_eq!(decode_quoted_printable(&qp), text.as_bytes());
    }

    #[test]
    fn base64_and_encoded_words() {
        let mut s = String::new();
        base64(b"any carnal pleas", &mut s);
        assert_eq!(s, "YW55IGNhcm5hbCBwbGVhcw==");
        assert_eq!(header_text("Plain subject"), "Plain subject");
        let w = header_text(&"Zoë ✨ ".repeat(12));
        assert!(w.starts_with("=?UTF-8?B?"));
        assert!(w.split("\r\n ").all(|x| x.len() <= 75 && x.ends_with("?=")));
        assert_eq!(
            file_param("filename", "naïve.txt"),
            "filename*=utf-8''na%C3%AFve.txt"
        );
    }
}
