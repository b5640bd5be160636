//! The Meltano plugin definitions agree with the tap: `plugin/tap-postmark.json` (the Hub-style
//! extractor definition) and the extractor in `meltano/meltano.yml` name the capabilities and
//! settings that `tap-postmark --about --format json` reports, with the same defaults, and every
//! secret setting is marked sensitive.

use crate::common;
use crate::common::repo::repo_file;
use crate::common::Tap;
use serde_json::Value;
use std::collections::BTreeSet;

fn about() -> Value {
    let run = Tap::bare().with(&["--about", "--format", "json"]).run_raw();
    assert_eq!(run.code, 0, "--about failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("--about --format json prints one JSON document")
}

fn definition() -> Value {
    serde_json::from_str(&repo_file("plugin/tap-postmark.json"))
        .expect("plugin/tap-postmark.json is JSON")
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn is_secret(prop: &Value) -> bool {
    prop.get("secret").and_then(Value::as_bool) == Some(true)
        || prop.get("writeOnly").and_then(Value::as_bool) == Some(true)
}

/// Numbers compare by value (`60` and `60.0` are the same default).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[test]
fn hub_definition_names_the_tap() {
    let about = about();
    let def = definition();
    assert_eq!(def["name"], about["name"]);
    assert_eq!(def["name"], "tap-postmark");
    assert_eq!(def["namespace"], "tap_postmark");
    assert_eq!(def["executable"], "tap-postmark");
    for key in ["variant", "label", "description", "pip_url"] {
        let v = def[key].as_str().unwrap_or_default();
        assert!(!v.trim().is_empty(), "{key} is missing or empty");
    }
}

/// `pip_url` installs what exists today: the wheel built from the repository, from a directory
/// the user names, and never a package of the same name from PyPI (none is published yet).
#[test]
fn hub_definition_pip_url_installs_the_built_wheel() {
    let def = definition();
    let pip_url: Vec<&str> = def["pip_url"]
        .as_str()
        .expect("pip_url")
        .split_whitespace()
        .collect();
    assert_eq!(pip_url.last(), Some(&"tap-postmark"), "{pip_url:?}");
    assert!(pip_url.contains(&"--no-index"), "{pip_url:?}");
    assert!(
        pip_url.contains(&"--find-links=${TAP_POSTMARK_DIST}"),
        "{pip_url:?}"
    );
    let usage = def["usage"].as_str().expect("usage");
    assert!(
        usage.contains("TAP_POSTMARK_DIST") && usage.contains("PyPI"),
        "usage does not say how pip_url finds the wheel: {usage}"
    );
}

#[test]
fn hub_definition_capabilities_equal_about() {
    let about = about();
    let def = definition();
    assert_eq!(
        strings(&def["capabilities"]),
        strings(&about["capabilities"])
    );
    for required in ["catalog", "discover", "state", "about", "test"] {
        assert!(
            strings(&def["capabilities"]).contains(required),
            "capability {required} missing"
        );
    }
}

#[test]
fn hub_definition_settings_equal_about() {
    let about = about();
    let def = definition();
    let props = about["settings"]["properties"]
        .as_object()
        .expect("--about settings.properties");
    let settings = def["settings"].as_array().expect("settings list");

    let names: Vec<&str> = settings
        .iter()
        .map(|s| s["name"].as_str().expect("setting name"))
        .collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "a setting is listed twice");
    let about_names: BTreeSet<&str> = props.keys().map(String::as_str).collect();
    assert_eq!(unique, about_names, "settings differ from --about");

    for s in settings {
        let name = s["name"].as_str().unwrap();
        let prop = &props[name];
        let kind = s["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no kind"));
        let sensitive = s.get("sensitive").and_then(Value::as_bool) == Some(true);
        assert!(
            !s["label"].as_str().unwrap_or_default().is_empty(),
            "{name}: no label"
        );
        assert!(
            !s["description"].as_str().unwrap_or_default().is_empty(),
            "{name}: no description"
        );
        if is_secret(prop) {
            assert!(sensitive, "{name}: secret in --about, not sensitive");
            // Meltano 4 reads `kind: password` as `kind: string` + `sensitive: true` and writes
            // it back that way, so a definition in the old form changes in every project file.
            assert_eq!(
                kind, "string",
                "{name}: a secret is kind string + sensitive"
            );
        } else {
            assert!(!sensitive, "{name}: sensitive but not secret in --about");
        }
        // Defaults: the definition's value is exactly --about's default, or both are absent.
        match (prop.get("default"), s.get("value")) {
            (None, None) => {}
            (Some(d), Some(v)) => assert!(same_value(d, v), "{name}: default {d} vs value {v}"),
            (d, v) => panic!("{name}: --about default {d:?} vs definition value {v:?}"),
        }
        // Kinds follow the JSON Schema type. Numbers are `integer` in Meltano (a `decimal`
        // setting given through an environment variable breaks Meltano's config serialisation).
        let ty = prop["type"].as_str().unwrap_or("string");
        let ok = match ty {
            "integer" => kind == "integer",
            "number" => kind == "integer" || kind == "decimal",
            "array" => kind == "array",
            "boolean" => kind == "boolean",
            "object" => kind == "object",
            _ if prop.get("enum").is_some() => kind == "options",
            _ if name.ends_with("_date") => kind == "date_iso8601",
            _ => kind == "string",
        };
        assert!(ok, "{name}: kind {kind} does not fit type {ty}");
        if let Some(options) = prop.get("enum") {
            let values: Vec<&Value> = s["options"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: options missing"))
                .iter()
                .map(|o| &o["value"])
                .collect();
            let expected: Vec<&Value> = options.as_array().unwrap().iter().collect();
            assert_eq!(values, expected, "{name}: options differ from the enum");
        }
    }
}

#[test]
fn hub_definition_token_groups() {
    let def = definition();
    assert_eq!(
        def["settings_group_validation"],
        serde_json::json!([["postmark_server_token"], ["postmark_account_token"]])
    );
}

/// The lines of the `tap-postmark` extractor entry of meltano.yml (up to the loaders).
fn meltano_extractor() -> Vec<String> {
    let yml = repo_file("meltano/meltano.yml");
    let lines: Vec<String> = yml.lines().map(str::to_string).collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "- name: tap-postmark")
        .expect("meltano.yml has an extractor named tap-postmark");
    let end = lines[start..]
        .iter()
        .position(|l| l.trim() == "loaders:")
        .map_or(lines.len(), |i| start + i);
    lines[start..end].to_vec()
}

/// The items of a block list `key:` (lines `- item` indented under it).
fn block_list(lines: &[String], key: &str) -> Vec<String> {
    let at = lines
        .iter()
        .position(|l| l.trim() == format!("{key}:"))
        .unwrap_or_else(|| panic!("meltano.yml extractor has no {key}:"));
    let indent = lines[at].len() - lines[at].trim_start().len();
    lines[at + 1..]
        .iter()
        .take_while(|l| {
            let i = l.len() - l.trim_start().len();
            l.trim().is_empty() || i > indent || (i == indent && l.trim_start().starts_with("- "))
        })
        .filter_map(|l| l.trim().strip_prefix("- ").map(str::to_string))
        .collect()
}

#[test]
fn meltano_yml_extractor_agrees_with_about() {
    let about = about();
    let def = definition();
    let ext = meltano_extractor();
    let has = |line: &str| ext.iter().any(|l| l.trim() == line);
    assert!(has("namespace: tap_postmark"));
    assert!(has("executable: tap-postmark"));
    assert!(
        has(&format!("variant: {}", def["variant"].as_str().unwrap())),
        "meltano.yml variant differs from plugin/tap-postmark.json"
    );

    let caps: BTreeSet<String> = block_list(&ext, "capabilities").into_iter().collect();
    assert_eq!(caps, strings(&about["capabilities"]));

    // Settings: `- name: X` blocks under `settings:`; secrets carry `sensitive: true`.
    let props = about["settings"]["properties"].as_object().unwrap();
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    let settings_at = ext
        .iter()
        .position(|l| l.trim() == "settings:")
        .expect("settings:");
    for l in &ext[settings_at + 1..] {
        let t = l.trim();
        if let Some(name) = t.strip_prefix("- name: ") {
            blocks.push((name.to_string(), Vec::new()));
        } else if let Some((_, body)) = blocks.last_mut() {
            body.push(t.to_string());
        }
        if t == "select:" {
            break;
        }
    }
    let names: BTreeSet<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    let about_names: BTreeSet<&str> = props.keys().map(String::as_str).collect();
    assert_eq!(
        names, about_names,
        "meltano.yml settings differ from --about"
    );
    for (name, body) in &blocks {
        let sensitive = body.iter().any(|l| l == "sensitive: true");
        assert_eq!(
            sensitive,
            is_secret(&props[name.as_str()]),
            "meltano.yml {name}: sensitive flag"
        );
        if let Some(d) = props[name.as_str()].get("default") {
            let shown = match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert!(
                body.iter().any(|l| l == &format!("value: {shown}")),
                "meltano.yml {name}: default {shown} missing"
            );
        }
    }
    // Every stream but those the tap does not select by default (one request per record found),
    // as in the definition.
    let left_out = common::table::names(|d| !d.selected_by_default);
    assert!(left_out.contains(&"message_events") && left_out.len() >= 4);
    let select: Vec<String> = std::iter::once("*.*".to_string())
        .chain(left_out.iter().map(|s| format!("!{s}.*")))
        .collect();
    assert_eq!(
        block_list(&ext, "select"),
        select.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>()
    );
    let expected: BTreeSet<String> = select.into_iter().collect();
    assert_eq!(strings(&def["select"]), expected);
    // The wheel of ../dist, never PyPI.
    assert!(
        has(
            "pip_url: --no-index --find-links=${MELTANO_PROJECT_ROOT}/../dist \
             --reinstall-package=tap-postmark tap-postmark"
        ),
        "meltano.yml pip_url"
    );
}

/// Nothing in the example project makes Meltano rewrite it: no deprecated `kind: password`
/// (Meltano 4 writes it back as `kind: string` + `sensitive: true`), and no value that belongs in
/// `.env` (tokens, passwords, dates).
#[test]
fn meltano_yml_uses_current_kinds_and_holds_no_secret() {
    let yml = repo_file("meltano/meltano.yml");
    for (i, line) in yml.lines().enumerate() {
        let code = line.split('#').next().unwrap_or_default();
        assert!(
            !code.contains("kind: password"),
            "meltano.yml line {}: deprecated kind password",
            i + 1
        );
        for key in [
            "postmark_account_token:",
            "postmark_server_token:",
            "password:",
            "start_date:",
            "end_date:",
            "base_url:",
        ] {
            assert!(
                !code.trim_start().starts_with(key),
                "meltano.yml line {}: {key} belongs in .env",
                i + 1
            );
        }
    }
    let def = repo_file("plugin/tap-postmark.json");
    assert!(!def.contains("\"kind\": \"password\""));
}

/// What the Meltano Hub's extractor schema demands of a definition (meltano/hub
/// `schemas/plugin_definitions/extractors.schema.json`, with `schemas/common/common.schema.json`,
/// `extractors_specific.schema.json`, `base_setting.schema.json` and
/// `plugin_definitions/hub_metadata.schema.json`), restated: the keys it allows and requires,
/// the setting keys and kinds, the capability and status names.
fn hub_extractor_rules() -> Value {
    let setting_keys = [
        "name",
        "aliases",
        "label",
        "value",
        "placeholder",
        "kind",
        "description",
        "tooltip",
        "documentation",
        "env",
        "value_processor",
        "value_post_processor",
        "oauth",
        "options",
        "docs",
        "hidden",
        "sensitive",
    ];
    let top_keys = [
        "name",
        "pip_url",
        "variant",
        "namespace",
        "label",
        "description",
        "executable",
        "settings",
        "docs",
        "repo",
        "logo_url",
        "hidden",
        "python",
        "settings_group_validation",
        "commands",
        "capabilities",
        "metadata",
        "schema",
        "select",
        "maintenance_status",
        "quality",
        "domain_url",
        "keywords",
        "requires",
        "definition",
        "next_steps",
        "settings_preamble",
        "usage",
        "prereq",
        "supported_python_versions",
        "log_parser",
    ];
    let any = |keys: &[&str]| -> Value {
        keys.iter()
            .map(|k| (k.to_string(), serde_json::json!({})))
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    let mut properties = any(&top_keys);
    properties["settings"] = serde_json::json!({"type": "array", "items": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": any(&setting_keys),
    }});
    properties["settings"]["items"]["properties"]["kind"] = serde_json::json!({"enum": [
        "oauth", "hidden", "password", "date_iso8601", "file", "email", "integer", "options",
        "object", "array", "boolean", "string", "decimal"
    ]});
    properties["capabilities"] = serde_json::json!({"type": "array", "items": {"enum": [
        "properties", "catalog", "discover", "state", "about", "stream-maps", "schema-flattening",
        "activate-version", "batch", "test", "log-based", "structured-logging"
    ]}});
    properties["maintenance_status"] =
        serde_json::json!({"enum": ["active", "beta", "development", "inactive", "unknown"]});
    properties["quality"] = serde_json::json!({"enum": ["gold", "silver", "bronze", "unknown"]});
    properties["keywords"] = serde_json::json!({"type": "array", "items": {"type": "string"}});
    properties["log_parser"] = serde_json::json!({"type": "string"});
    properties["settings_group_validation"] = serde_json::json!(
        {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}
    );
    for key in [
        "name",
        "namespace",
        "variant",
        "pip_url",
        "executable",
        "label",
        "description",
    ] {
        properties[key] = serde_json::json!({"type": "string"});
    }
    serde_json::json!({
        "type": "object",
        "required": ["name", "namespace", "variant", "quality"],
        "additionalProperties": false,
        "properties": properties,
    })
}

#[test]
fn hub_definition_fits_the_hubs_extractor_schema() {
    let rules = jsonschema::validator_for(&hub_extractor_rules()).expect("the rules compile");
    let errors: Vec<String> = rules
        .iter_errors(&definition())
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The rules catch what they should: an unknown key, a kind the Hub lacks, no quality.
    for (pointer, bad) in [
        ("/colour", serde_json::json!("blue")),
        ("/settings/0/kind", serde_json::json!("number")),
        ("/settings/0/secret", serde_json::json!(true)),
        ("/capabilities/0", serde_json::json!("logging")),
    ] {
        let mut def = definition();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = def.pointer_mut(parent).unwrap();
        match target {
            Value::Array(items) => items[key.parse::<usize>().unwrap()] = bad,
            _ => target[key] = bad,
        }
        assert!(!rules.is_valid(&def), "{pointer} passed");
    }
    let mut def = definition();
    def.as_object_mut().unwrap().remove("quality");
    assert!(!rules.is_valid(&def), "no quality passed");
}

/// Meltano parses the tap's structured log: the capability is declared with the Singer SDK's
/// parser, in the Hub definition and in the ready project.
#[test]
fn structured_logging_is_declared_with_its_parser() {
    assert!(strings(&about()["capabilities"]).contains("structured-logging"));
    assert_eq!(definition()["log_parser"], "singer-sdk");
    let ext = meltano_extractor();
    assert!(
        ext.iter().any(|l| l.trim() == "log_parser: singer-sdk"),
        "meltano.yml: no log_parser: singer-sdk"
    );
}
