//! `--about`: the plugin's name, capabilities and settings, as text, JSON or Markdown.
//!
//! The settings are the config JSON Schema itself (`config::schema`), so `--about`, the config
//! validation and the Meltano plugin definition cannot drift apart.

use crate::config;
use serde_json::{json, Value};

pub const NAME: &str = "tap-postmark";
pub const DESCRIPTION: &str = "Singer tap for Postmark: messages, opens, clicks, events, bounces, templates, streams, servers and statistics, from every server and message stream";
pub const CAPABILITIES: &[&str] = &[
    "catalog",
    "properties",
    "discover",
    "state",
    "about",
    "structured-logging",
    "test",
];

pub fn json() -> Value {
    json!({
        "name": NAME,
        "description": DESCRIPTION,
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": CAPABILITIES,
        "settings": config::schema(),
    })
}

/// One row per setting: name, type, default, description.
fn settings() -> Vec<(String, String, String, String, bool)> {
    let schema = config::schema();
    let mut rows = Vec::new();
    if let Some(props) = schema["properties"].as_object() {
        for (name, p) in props {
            let kind = match &p["type"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let default = p.get("default").map(|d| d.to_string()).unwrap_or_default();
            let description = p["description"].as_str().unwrap_or("").to_string();
            let secret = p.get("secret").and_then(Value::as_bool).unwrap_or(false);
            rows.push((name.clone(), kind, default, description, secret));
        }
    }
    rows
}

pub fn text() -> String {
    let mut out = format!(
        "Name: {NAME}\nDescription: {DESCRIPTION}\nVersion: {}\nCapabilities:\n",
        env!("CARGO_PKG_VERSION")
    );
    for c in CAPABILITIES {
        out.push_str(&format!("  - {c}\n"));
    }
    out.push_str("Settings:\n");
    for (name, kind, _, _, secret) in settings() {
        out.push_str(&format!(
            "  - Name: {name}\n    Type: {kind}{}\n    Environment Variable: TAP_POSTMARK_{}\n",
            if secret { " (secret)" } else { "" },
            name.to_ascii_uppercase()
        ));
    }
    out
}

pub fn markdown() -> String {
    let mut out = format!(
        "# {NAME}\n\n{DESCRIPTION}\n\nVersion {}\n\n## Capabilities\n\n",
        env!("CARGO_PKG_VERSION")
    );
    for c in CAPABILITIES {
        out.push_str(&format!("* `{c}`\n"));
    }
    out.push_str(
        "\n## Settings\n\n| Setting | Required | Default | Description |\n|:--|:--:|:--|:--|\n",
    );
    for (name, _, default, description, secret) in settings() {
        let required = if name.starts_with("postmark_") {
            "one of the tokens"
        } else {
            "False"
        };
        let note = if secret { " (secret)" } else { "" };
        out.push_str(&format!(
            "| {name} | {required} | {} | {}{note} |\n",
            if default.is_empty() {
                "None".into()
            } else {
                default
            },
            description.replace('|', "\\|")
        ));
    }
    out.push_str("\nA full list of supported settings and capabilities is available by running: `tap-postmark --about`\n");
    out
}
