//! The words message bodies are made of: sentences, headings, product lines, button labels,
//! style rules and reply snippets (several languages, quotes, dashes, symbols and markup
//! characters), each kept as plain text and as HTML with the entities an editor writes.

use std::sync::OnceLock;

/// Sentences of transactional mail.
pub const SENTENCES: &[&str] = &[
    "Thanks for using Acme — we’re glad you’re here.",
    "Your order ships from our warehouse in Zürich within 2–3 business days.",
    "Questions? Just reply to this email & our support team will get back to you.",
    "Use the code “SPRING25” at checkout to save 25 % on your next order.",
    "Le paiement a été reçu ; merci pour votre confiance.",
    "Ihre Rechnung ist ab sofort im Kundenkonto verfügbar.",
    "お問い合わせいただきありがとうございます。担当者より折り返しご連絡いたします。",
    "Tip: press <Ctrl> + K anywhere in the app to search.",
    "If you didn't request this, you can safely ignore this email.",
    "For security, this link expires in 24 hours and can be used only once.",
    "You're receiving this because you have an account at acme.example.",
    "Amounts are shown in EUR (€) and include VAT where applicable.",
    "We’ve updated our Terms of Service — the changes take effect on the 1st of next month.",
    "Need a hand? Our help center has guides for every feature.",
    "El pedido se ha enviado y llegará en los próximos días.",
    "Shipping to São Paulo, Kraków and Reykjavík is now free over 50 €.",
    "“It just works,” wrote one of our customers — and we couldn’t agree more.",
    "Your trial ends soon; upgrade any time to keep your projects.",
    "Ce message a été envoyé automatiquement, merci de ne pas y répondre.",
    "Zoë, Søren and 李雷 joined your team this week 🎉",
    "Backups run nightly at 02:00 UTC and are kept for 30 days.",
    "Downloads over 2 GB are split into parts of 500 MB each.",
    "Payment was declined by the issuing bank (code 05 \"do not honor\").",
    "Prices & availability are subject to change without notice.",
];

/// Newsletter headings.
pub const HEADINGS: &[&str] = &[
    "What’s new this week",
    "Product update: faster exports",
    "From the blog",
    "Événements à venir",
    "Customer story: Müller & Söhne",
    "Tips & tricks",
    "Nuevas funciones ✨",
];

/// Product names of receipt lines.
pub const PRODUCTS: &[&str] = &[
    "Pro plan (monthly)",
    "Extra seat × 1",
    "Storage add-on — 100 GB",
    "Priority support",
    "Café crème beans, 1 kg",
    "Notebook “Classic” A5",
    "USB-C cable 2 m",
    "Gift card 50 €",
    "Übergröße Paket",
];

/// Button labels.
pub const BUTTONS: &[&str] = &[
    "View your receipt",
    "Track your order",
    "Confirm email address",
    "Reset password",
    "Read more →",
    "Voir la facture",
    "Jetzt ansehen",
];

/// Style rules of the `<style>` block.
pub const CSS: &[&str] = &[
    "@import url(\"https://fonts.googleapis.com/css?family=Nunito+Sans:400,700&display=swap\");",
    "body { width: 100% !important; height: 100%; margin: 0; -webkit-text-size-adjust: none; }",
    "a { color: #3869D4; }",
    "a img { border: none; }",
    "td { word-break: break-word; }",
    ".preheader { display: none !important; visibility: hidden; mso-hide: all; font-size: 1px; line-height: 1px; max-height: 0; max-width: 0; opacity: 0; overflow: hidden; }",
    "body, td, th { font-family: \"Nunito Sans\", Helvetica, Arial, sans-serif; }",
    "h1 { margin-top: 0; color: #333333; font-size: 22px; font-weight: bold; text-align: left; }",
    "p, ul, ol, blockquote { margin: .4em 0 1.1875em; font-size: 16px; line-height: 1.625; }",
    ".button { background-color: #3869D4; border-top: 10px solid #3869D4; border-right: 18px solid #3869D4; border-bottom: 10px solid #3869D4; border-left: 18px solid #3869D4; display: inline-block; color: #FFF; text-decoration: none; border-radius: 3px; box-shadow: 0 2px 3px rgba(0, 0, 0, 0.16); -webkit-text-size-adjust: none; box-sizing: border-box; }",
    ".purchase_item { padding: 10px 0; color: #51545E; font-size: 15px; line-height: 18px; }",
    "@media only screen and (max-width: 600px) { .email-body_inner, .email-footer { width: 100% !important; } }",
    "@media (prefers-color-scheme: dark) { body, .email-body, .email-body_inner { background-color: #333333 !important; color: #FFF !important; } }",
];

/// Opening lines of inbound replies.
pub const REPLIES: &[&str] = &[
    "Thanks for the quick answer!",
    "I still can't log in — the reset link says it has expired.",
    "Could you resend the invoice with our VAT number (DE 123 456 789)?",
    "Merci, c’est réglé de mon côté.",
    "The package arrived today, but one item is missing.",
    "Ich bin bis Montag nicht im Büro und habe nur eingeschränkt Zugriff auf E-Mails.",
    "Please see the attached photo of the damaged box.",
    "Can we move the call to Thursday at 3 pm?",
];

/// Signatures of inbound replies.
pub const SIGNATURES: &[&str] = &[
    "Best,\r\nBob",
    "Cheers,\r\nAna Souza\r\nHead of Ops — Souza & Filhos",
    "--\r\nKenji Sato\r\nSent from my iPhone",
    "Cordialement,\r\nZoë",
];

/// Plain text with its HTML form.
pub struct Phrase {
    pub text: &'static str,
    pub html: String,
}

/// Every list above with its HTML forms, computed once.
pub struct Vocab {
    pub sentences: Vec<Phrase>,
    pub headings: Vec<Phrase>,
    pub products: Vec<Phrase>,
    pub buttons: Vec<Phrase>,
    pub replies: Vec<Phrase>,
}

fn phrases(list: &'static [&'static str]) -> Vec<Phrase> {
    list.iter()
        .map(|t| {
            let mut html = String::with_capacity(t.len() + 16);
            escape(t, &mut html);
            Phrase { text: t, html }
        })
        .collect()
}

/// The shared vocabulary.
pub fn vocab() -> &'static Vocab {
    static V: OnceLock<Vocab> = OnceLock::new();
    V.get_or_init(|| Vocab {
        sentences: phrases(SENTENCES),
        headings: phrases(HEADINGS),
        products: phrases(PRODUCTS),
        buttons: phrases(BUTTONS),
        replies: phrases(REPLIES),
    })
}

/// Appends `text` as HTML: markup characters escaped, typographic characters as the named
/// entities an editor writes, every other character as itself.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '—' => out.push_str("&mdash;"),
            '–' => out.push_str("&ndash;"),
            '’' => out.push_str("&rsquo;"),
            '“' => out.push_str("&ldquo;"),
            '”' => out.push_str("&rdquo;"),
            '€' => out.push_str("&euro;"),
            '×' => out.push_str("&times;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            _ => out.push(c),
        }
    }
}
