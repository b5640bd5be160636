//! Static vocabularies the generated account draws from: people, subjects, tags, email
//! clients, browsers, places, bounce types and links.

/// Given names (some non-ASCII, so unicode flows through every string field).
pub const FIRST_NAMES: &[&str] = &[
    "Jane", "John", "Zoë", "José", "Łukasz", "Amélie", "Søren", "Mia", "Noah", "Olivia", "Liam",
    "Ava", "Mateo", "Chloé", "Yusuf", "Hana", "李雷", "Nguyễn", "Björn", "Priya", "Omar", "Grace",
];

/// Family names.
pub const LAST_NAMES: &[&str] = &[
    "Doe", "Smith", "García", "Müller", "Kowalski", "O'Brien", "Dubois", "Nakamura", "Okafor",
    "Rossi", "Novák", "Larsen", "Silva", "Khan", "Cohen", "Ivanova", "Jensen", "Lefèvre",
];

/// Recipient mail domains (reserved example domains).
pub const RECIPIENT_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
    "inbox.example.net",
];

/// Message tags; index + 1 is the tag number used in statistics keys (0 = untagged).
pub const TAGS: &[&str] = &[
    "welcome",
    "receipt",
    "password-reset",
    "newsletter",
    "digest",
    "invoice",
    "alert",
];

/// Subjects by stream kind: transactional, broadcast, password reset.
pub const SUBJECTS_TRANSACTIONAL: &[&str] = &[
    "Your receipt #{n}",
    "Welcome to Acme, {name}!",
    "Your order #{n} has shipped 📦",
    "Invoice {n} is ready",
    "Confirm your email address",
    "Nouvelle connexion détectée",
    "Ihre Bestellung #{n}",
    "Alert: usage at {n}%",
];

/// Broadcast subjects.
pub const SUBJECTS_BROADCAST: &[&str] = &[
    "Acme Weekly — issue {n}",
    "What's new in March ✨",
    "Our spring sale starts now",
    "Product update: faster exports",
    "Événement: rejoignez-nous",
];

/// Password-reset subjects.
pub const SUBJECTS_RESET: &[&str] = &["Reset your password", "Your sign-in code is {n}"];

/// Email clients: (Name, Company, Family); the last one is unrecorded ("unknown").
pub const CLIENTS: &[(&str, &str, &str)] = &[
    ("Gmail", "Google", "Gmail"),
    ("Apple Mail", "Apple Inc.", "Apple Mail"),
    ("Outlook 2016", "Microsoft Corporation", "Outlook"),
    ("iOS Mail", "Apple Inc.", "iOS Mail"),
    ("Yahoo! Mail", "Yahoo", "Yahoo! Mail"),
    ("Thunderbird", "Mozilla", "Thunderbird"),
    ("unknown", "unknown", "unknown"),
];

/// Open platforms (statistics keys).
pub const OPEN_PLATFORMS: &[&str] = &["Desktop", "WebMail", "Mobile", "Unknown"];

/// Click platforms (statistics keys).
pub const CLICK_PLATFORMS: &[&str] = &["Desktop", "Mobile", "Unknown"];

/// Operating systems: (Name, Company, Family).
pub const OSES: &[(&str, &str, &str)] = &[
    ("OS X 10.15 Catalina", "Apple Computer, Inc.", "OS X"),
    ("Windows 10", "Microsoft Corporation", "Windows"),
    ("iOS 17.4", "Apple Inc.", "iOS"),
    ("Android 14", "Google", "Android"),
    ("unknown", "unknown", "unknown"),
];

/// Browser families for clicks: (family key in stats, Name, Company).
pub const BROWSERS: &[(&str, &str, &str)] = &[
    ("Google Chrome", "Chrome 122.0", "Google"),
    ("Safari", "Safari 17.3", "Apple Inc."),
    ("Firefox", "Firefox 123.0", "Mozilla"),
    ("Microsoft Edge", "Edge 122.0", "Microsoft Corporation"),
];

/// User agents matching the browsers above (plus the image proxy used for opens).
pub const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36 Edg/122.0",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
];

/// Places: (CountryISOCode, Country, RegionISOCode, Region, City, Zip, Coords).
pub const PLACES: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "US",
        "United States",
        "NY",
        "New York",
        "New York",
        "10001",
        "40.7128,-74.0060",
    ),
    (
        "US",
        "United States",
        "CA",
        "California",
        "San Francisco",
        "94103",
        "37.7749,-122.4194",
    ),
    (
        "DE",
        "Germany",
        "BE",
        "Berlin",
        "Berlin",
        "10115",
        "52.5200,13.4050",
    ),
    (
        "FR",
        "France",
        "IDF",
        "Île-de-France",
        "Paris",
        "75001",
        "48.8566,2.3522",
    ),
    (
        "BR",
        "Brazil",
        "SP",
        "São Paulo",
        "São Paulo",
        "01000-000",
        "-23.5505,-46.6333",
    ),
    (
        "JP",
        "Japan",
        "13",
        "Tokyo",
        "Tokyo",
        "100-0001",
        "35.6762,139.6503",
    ),
];

/// One bounce type as Postmark names it.
pub struct BounceType {
    pub key: &'static str,
    pub code: u32,
    pub name: &'static str,
    pub description: &'static str,
    pub details: &'static str,
    /// Relative frequency among generated bounces.
    pub weight: u32,
    /// Whether the message was delivered before this bounce arrived.
    pub after_delivery: bool,
    pub inactive: bool,
    pub can_activate: bool,
}

/// Index of `SpamComplaint` in [`BOUNCE_TYPES`] (counted by the spam stats, not bounces).
pub const SPAM_COMPLAINT: usize = 3;
/// Index of `HardBounce`.
pub const HARD_BOUNCE: usize = 0;
/// Index of `SoftBounce`.
pub const SOFT_BOUNCE: usize = 1;
/// Index of `SMTPApiError` (counted as SMTPApiErrors in the overview).
pub const SMTP_API_ERROR: usize = 7;

/// Generated bounce types.
pub const BOUNCE_TYPES: &[BounceType] = &[
    BounceType { key: "HardBounce", code: 1, name: "Hard bounce", description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).", details: "smtp;550 5.1.1 The email account that you tried to reach does not exist.\r\nPlease try double-checking the recipient's email address.", weight: 40, after_delivery: false, inactive: true, can_activate: true },
    BounceType { key: "SoftBounce", code: 4096, name: "Soft bounce", description: "Unable to temporarily deliver this message.", details: "smtp;452 4.2.2 The email account that you tried to reach is over quota.\r\n", weight: 14, after_delivery: false, inactive: false, can_activate: true },
    BounceType { key: "Transient", code: 2, name: "Message delayed", description: "The server could not temporarily deliver your message (ex: Message is delayed due to network troubles).", details: "smtp;421 4.7.0 Temporary System Problem.\r\nTry again later.", weight: 14, after_delivery: true, inactive: false, can_activate: true },
    BounceType { key: "SpamComplaint", code: 100001, name: "Spam complaint", description: "The subscriber explicitly marked this message as spam.", details: "Complaint via feedback loop\r\n", weight: 8, after_delivery: true, inactive: true, can_activate: false },
    BounceType { key: "AutoResponder", code: 64, name: "Auto responder", description: "Automatic email responder (ex: \"Out of Office\" or \"On Vacation\").", details: "Auto-Submitted: auto-replied\r\n", weight: 8, after_delivery: true, inactive: false, can_activate: true },
    BounceType { key: "Blocked", code: 100006, name: "ISP block", description: "Blocked from this ISP due to content or blacklisting.", details: "smtp;554 5.7.1 Message rejected due to local policy.\r\n", weight: 6, after_delivery: false, inactive: false, can_activate: true },
    BounceType { key: "DnsError", code: 256, name: "DNS error", description: "A temporary DNS error.", details: "DNS lookup failed: SERVFAIL\r\n", weight: 5, after_delivery: false, inactive: false, can_activate: true },
    BounceType { key: "SMTPApiError", code: 100007, name: "SMTP API error", description: "An error occurred while accepting an email through the SMTP API.", details: "SMTP API error: invalid 'From' header\r\n", weight: 2, after_delivery: false, inactive: false, can_activate: true },
    BounceType { key: "SpamNotification", code: 512, name: "Spam notification", description: "The message was delivered, but was either blocked by the user, or classified as spam, bulk mail, or had rejected content.", details: "smtp;250 2.0.0 OK (filtered)\r\n", weight: 2, after_delivery: true, inactive: false, can_activate: true },
    BounceType { key: "Unknown", code: 2048, name: "Unknown", description: "Unable to classify the bounce.", details: "unrecognised bounce\r\n", weight: 1, after_delivery: false, inactive: false, can_activate: true },
];

/// Server colours as the API spells them.
pub const COLORS: &[&str] = &[
    "purple",
    "blue",
    "turquoise",
    "green",
    "red",
    "orange",
    "yellow",
    "grey",
];

/// Server names (cycled with a number when there are more servers).
pub const SERVER_NAMES: &[&str] = &["Production", "Marketing", "Staging", "Billing", "Support"];

/// Links that tracked messages contain.
pub const LINKS: &[&str] = &[
    "https://acme.example/start",
    "https://acme.example/account/billing?utm_source=postmark",
    "https://acme.example/unsubscribe",
    "https://docs.acme.example/guides/getting-started#step-1",
    "https://acme.example/café/menü",
];

/// Attachment file names.
pub const ATTACHMENTS: &[&str] = &[
    "invoice.pdf",
    "receipt.pdf",
    "photo.jpg",
    "report-Q1.xlsx",
    "naïve-notes.txt",
];

/// External senders of inbound mail: (name, address).
pub const INBOUND_SENDERS: &[(&str, &str)] = &[
    ("Bob Martin", "bob@example.org"),
    ("Ana Souza", "ana.souza@example.net"),
    ("Kenji Sato", "kenji@mail.example.com"),
    ("", "noreply@example.org"),
    ("Zoë Dubois", "zoe@example.net"),
];

/// Sender time-zone offsets (minutes) for inbound `Date` headers.
pub const SENDER_OFFSETS: &[i32] = &[-420, -300, -240, 0, 60, 120, 330, 540];
