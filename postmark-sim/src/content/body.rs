//! Message bodies, derived on demand from a message's coordinates (nothing is stored): the size
//! each body is drawn at (the default distribution and the `body_size_scale`/`large_body_rate`
//! knobs) and its HTML and plain-text renditions, written side by side from seeded blocks
//! (paragraphs, headings, receipt lines, buttons with tracking links, images) of one layout.

use std::fmt::Write;

use super::copy::{self, vocab, Phrase};
use crate::generate::ids;
use crate::generate::model::BodyKnobs;
use crate::generate::names;

const KIB: f64 = 1024.0;
/// The default distribution: (per mille, low KiB, high KiB), log-uniform within each band.
const BANDS: [(u32, f64, f64); 3] = [(900, 1.0, 20.0), (95, 20.0, 200.0), (5, 200.0, 1024.0)];
/// Smallest large body (`large_body_rate`).
pub const LARGE_MIN: usize = 960 * 1024;
/// Largest large body, and the top of the default distribution.
pub const LARGE_MAX: usize = 1024 * 1024;
/// No scale makes a body larger than this.
const HARD_CAP: usize = 16 * 1024 * 1024;

/// The size, in bytes, the main body (HTML, or text for a text-only message) of the message at
/// `parts` is written to (a little over it: blocks are whole). The first draw alone decides
/// whether the body is large, so a higher `large_rate` keeps every body a lower one made large.
pub fn size(knobs: BodyKnobs, seed: u64, parts: &[u64]) -> usize {
    let mut r = ids::rng(seed, &[&[0xB0D1], parts].concat());
    if r.f64() < knobs.large_rate {
        return r.usize(LARGE_MIN..=LARGE_MAX);
    }
    let mut x = r.u32(0..1000);
    let mut band = BANDS[0];
    for b in BANDS {
        band = b;
        if x < b.0 {
            break;
        }
        x -= b.0;
    }
    let (lo, hi) = (band.1.ln(), band.2.ln());
    let kib = (lo + r.f64() * (hi - lo)).exp();
    let scale = if knobs.scale.is_finite() {
        knobs.scale.max(0.0)
    } else {
        1.0
    };
    ((kib * KIB * scale) as usize).min(HARD_CAP)
}

/// Which blocks a body is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Receipts, welcomes, alerts: paragraphs, receipt tables, buttons, some images.
    Receipt,
    /// Broadcasts: headings, paragraphs, images, buttons.
    Newsletter,
    /// Password resets: a few paragraphs and a button.
    Notice,
}

/// An HTML body and its plain-text rendition written side by side; either may be off.
pub struct Writer {
    pub html: Option<String>,
    pub text: Option<String>,
    r: fastrand::Rng,
    /// Tracking parameters appended to every link (`utm_…`, a per-message token).
    tracking: String,
}

impl Writer {
    /// A writer for the message at `parts`, with room for `size` bytes.
    pub fn new(seed: u64, parts: &[u64], html: bool, text: bool, size: usize) -> Writer {
        let r = ids::rng(seed, &[&[0xB0D2], parts].concat());
        Writer {
            html: html.then(|| String::with_capacity(size + 2048)),
            text: text.then(|| String::with_capacity(size / 2 + 1024)),
            r,
            tracking: String::new(),
        }
    }

    /// Sets the tracking parameters of links (campaign name, per-message token).
    pub fn track(&mut self, campaign: &str, token: &str) {
        self.tracking =
            format!("utm_source=postmark&utm_medium=email&utm_campaign={campaign}&pm_uid={token}");
    }

    /// Length of the main body (HTML, else text).
    pub fn main_len(&self) -> usize {
        self.html
            .as_ref()
            .or(self.text.as_ref())
            .map_or(0, String::len)
    }

    /// Appends raw HTML and raw text.
    pub fn push(&mut self, html: &str, text: &str) {
        if let Some(h) = &mut self.html {
            h.push_str(html);
        }
        if let Some(t) = &mut self.text {
            t.push_str(text);
        }
    }

    fn pick<'v>(&mut self, list: &'v [Phrase]) -> &'v Phrase {
        &list[self.r.usize(0..list.len())]
    }

    /// A paragraph of two to four sentences.
    pub fn paragraph(&mut self) {
        let v = vocab();
        self.push(
            "<p style=\"margin:.4em 0 1.1875em;font-size:16px;line-height:1.625;color:#51545E;\">",
            "",
        );
        for k in 0..2 + self.r.usize(0..3) {
            let s = self.pick(&v.sentences);
            self.push(if k > 0 { " " } else { "" }, if k > 0 { " " } else { "" });
            self.push(&s.html, s.text);
        }
        self.push("</p>\r\n", "\r\n\r\n");
    }

    /// A section heading.
    pub fn heading(&mut self) {
        let h = self.pick(&vocab().headings);
        self.push("<h2 style=\"margin-top:0;color:#333333;font-size:16px;font-weight:bold;text-align:left;\">", "");
        self.push(&h.html, h.text);
        self.push("</h2>\r\n", "\r\n----------\r\n\r\n");
    }

    /// A receipt table of 3 to 12 lines and its total.
    pub fn items(&mut self) {
        self.push("<table class=\"purchase\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\">\r\n<tr>\r\n<th class=\"purchase_heading\" align=\"left\"><p class=\"f-fallback\">Description</p></th>\r\n<th class=\"purchase_heading\" align=\"right\"><p class=\"f-fallback\">Amount</p></th>\r\n</tr>\r\n",
            "Description                               Amount\r\n");
        let mut total = 0u64;
        for _ in 0..3 + self.r.usize(0..10) {
            let p = self.pick(&vocab().products);
            let (qty, cents) = (1 + self.r.u64(0..4), self.r.u64(199..49_999));
            total += qty * cents;
            let amount = format!("{}.{:02}", qty * cents / 100, qty * cents % 100);
            let html = format!("<tr>\r\n<td width=\"80%\" class=\"purchase_item\" style=\"padding:10px 0;color:#51545E;font-size:15px;line-height:18px;\"><span class=\"f-fallback\">{} &times; {qty}</span></td>\r\n<td class=\"align-right\" width=\"20%\" style=\"text-align:right;padding:10px 0;\"><span class=\"f-fallback\">{amount}&nbsp;&euro;</span></td>\r\n</tr>\r\n", p.html);
            let text = format!("{} x {qty}    {amount} €\r\n", p.text);
            self.push(&html, &text);
        }
        let amount = format!("{}.{:02}", total / 100, total % 100);
        let html = format!("<tr>\r\n<td width=\"80%\" class=\"purchase_footer\" valign=\"middle\"><p class=\"f-fallback purchase_total purchase_total--label\">Total</p></td>\r\n<td width=\"20%\" class=\"purchase_footer\" valign=\"middle\"><p class=\"f-fallback purchase_total\">{amount}&nbsp;&euro;</p></td>\r\n</tr>\r\n</table>\r\n");
        self.push(&html, &format!("Total: {amount} €\r\n\r\n"));
    }

    /// A link of the message with its tracking parameters (raw).
    fn link(&mut self) -> String {
        let base = names::LINKS[self.r.usize(0..names::LINKS.len())];
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}{}", self.tracking)
    }

    /// A button linking to a tracked URL.
    pub fn button(&mut self) {
        let label = self.pick(&vocab().buttons);
        let url = self.link();
        let href = url.replace('&', "&amp;");
        let html = format!("<table class=\"body-action\" align=\"center\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\">\r\n<tr>\r\n<td align=\"center\"><a href=\"{href}\" class=\"f-fallback button button--green\" target=\"_blank\" style=\"color:#FFF;background-color:#22BC66;border-color:#22BC66;border-style:solid;border-width:10px 18px;display:inline-block;text-decoration:none;border-radius:3px;\">{}</a></td>\r\n</tr>\r\n</table>\r\n", label.html);
        self.push(&html, &format!("{} ( {url} )\r\n\r\n", label.text));
    }

    /// An image (HTML only).
    pub fn image(&mut self) {
        let alt = self.pick(&vocab().headings);
        let html = format!(
            "<img src=\"https://cdn.acme.example/mail/{:016x}.png\" alt=\"{}\" width=\"570\" height=\"{}\" style=\"display:block;border:0;outline:none;text-decoration:none;max-width:100%;height:auto;\" />\r\n",
            self.r.u64(..),
            alt.html,
            120 + self.r.u32(0..300)
        );
        self.push(&html, "");
    }

    /// Appends blocks of `layout` until the main body holds `target` bytes (less `reserve` kept
    /// for what follows).
    pub fn fill(&mut self, layout: Layout, target: usize, reserve: usize) {
        if self.html.is_none() && self.text.is_none() {
            return;
        }
        while self.main_len() + reserve < target {
            let x = self.r.u32(0..100);
            match (layout, x) {
                (Layout::Notice, 0..=69) | (_, 0..=44) => self.paragraph(),
                (Layout::Notice, _) | (_, 45..=59) => self.button(),
                (Layout::Receipt, 60..=79) => self.items(),
                (Layout::Newsletter, 60..=79) | (_, 80..=89) => self.heading(),
                _ => self.image(),
            }
        }
    }
}

/// What an outbound message's bodies say.
pub struct Letter<'a> {
    pub layout: Layout,
    pub subject: &'a str,
    /// Greeting name (`there` when the recipient has none).
    pub name: &'a str,
    /// `utm_campaign` of its links (the tag, or the stream).
    pub campaign: &'a str,
    /// A per-message token in its links.
    pub token: &'a str,
    pub html: bool,
    pub text: bool,
    /// Size of the main body, from [`size`].
    pub size: usize,
}

const FOOTER_HTML: &str = "</td>\r\n</tr>\r\n</table>\r\n</td>\r\n</tr>\r\n<tr>\r\n<td>\r\n<table class=\"email-footer\" align=\"center\" width=\"570\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\">\r\n<tr>\r\n<td class=\"content-cell\" align=\"center\">\r\n<p class=\"f-fallback sub align-center\">&copy; Acme Inc. All rights reserved.</p>\r\n<p class=\"f-fallback sub align-center\">Acme Inc.<br />1234 Street Rd.<br />Suite 1234</p>\r\n</td>\r\n</tr>\r\n</table>\r\n</td>\r\n</tr>\r\n</table>\r\n</td>\r\n</tr>\r\n</table>\r\n</body>\r\n</html>\r\n";
const FOOTER_TEXT: &str =
    "© Acme Inc. All rights reserved.\r\n\r\nAcme Inc.\r\n1234 Street Rd.\r\nSuite 1234\r\n";

/// The head of an HTML mail: doctype, title, as many style rules as a quarter of `size`
/// allows, the preheader and the opening of the layout tables.
fn head(w: &mut Writer, l: &Letter) {
    let mut h = String::with_capacity(4096);
    h.push_str("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\r\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\" />\r\n<meta name=\"x-apple-disable-message-reformatting\" />\r\n<title>");
    copy::escape(l.subject, &mut h);
    h.push_str("</title>\r\n<style type=\"text/css\" rel=\"stylesheet\" media=\"all\">\r\n");
    for rule in copy::CSS {
        if h.len() + rule.len() > l.size / 4 {
            break;
        }
        h.push_str(rule);
        h.push_str("\r\n");
    }
    h.push_str("</style>\r\n</head>\r\n<body style=\"width:100% !important;height:100%;margin:0;background-color:#F2F4F6;color:#51545E;\">\r\n<span class=\"preheader\" style=\"display:none !important;visibility:hidden;mso-hide:all;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;\">");
    copy::escape(l.subject, &mut h);
    h.push_str("</span>\r\n<table class=\"email-wrapper\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\">\r\n<tr>\r\n<td align=\"center\">\r\n<table class=\"email-content\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\">\r\n<tr>\r\n<td class=\"email-masthead\"><a href=\"https://acme.example\" class=\"f-fallback email-masthead_name\">Acme</a></td>\r\n</tr>\r\n<tr>\r\n<td class=\"email-body\" width=\"570\" cellpadding=\"0\" cellspacing=\"0\">\r\n<table class=\"email-body_inner\" align=\"center\" width=\"570\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\">\r\n<tr>\r\n<td class=\"content-cell\">\r\n<h1>Hi ");
    copy::escape(l.name, &mut h);
    h.push_str(",</h1>\r\n");
    w.push(&h, "");
    w.push("", &format!("Hi {},\r\n\r\n", l.name));
}

/// The HTML and text bodies of an outbound message (each `None` when the letter has none).
pub fn letter(seed: u64, parts: &[u64], l: &Letter) -> (Option<String>, Option<String>) {
    let mut w = Writer::new(seed, parts, l.html, l.text, l.size);
    w.track(l.campaign, l.token);
    head(&mut w, l);
    w.paragraph();
    if l.layout == Layout::Notice {
        w.button();
    }
    let reserve = if l.html {
        FOOTER_HTML.len()
    } else {
        FOOTER_TEXT.len()
    };
    w.fill(l.layout, l.size, reserve);
    if l.layout == Layout::Newsletter {
        let url = format!("https://acme.example/unsubscribe?{}", w.tracking);
        let mut html = String::new();
        let _ = write!(
            html,
            "<p class=\"f-fallback sub\">No longer want these emails? <a href=\"{}\">Unsubscribe</a>.</p>\r\n",
            url.replace('&', "&amp;")
        );
        w.push(&html, &format!("Unsubscribe: {url}\r\n\r\n"));
    }
    w.push(FOOTER_HTML, FOOTER_TEXT);
    (w.html, w.text)
}
