//! Discovery output and input-catalog selection.
//!
//! The discovered catalog carries full standard metadata. An input catalog is read leniently
//! (Meltano's extra keys, `selected` as a string, legacy `schema.selected`), and the schema it
//! carries is the one emitted, minus deselected fields, so user schema overrides take effect.

use crate::error::Error;
pub use crate::record::Selected;
use crate::record::{Drift, Shape};
use crate::streams::{Kind, Replication, StreamDef, STREAMS};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The parsed schema of a stream definition.
pub fn stream_schema(def: &StreamDef) -> Result<Value, Error> {
    serde_json::from_str(def.schema)
        .map_err(|e| Error::Internal(format!("catalog/{}.json is not JSON: {e}", def.name)))
}

fn automatic(def: &StreamDef, field: &str) -> bool {
    def.key_properties.contains(&field) || def.replication_key == Some(field)
}

/// The column of a statistics row's tag (with `stats_tags`).
const TAG: &str = "Tag";

/// A stream's key: its own, with `Tag` after `MessageStream` on statistics streams when
/// `tagged` (`stats_tags` set).
fn key_of(def: &StreamDef, tagged: bool) -> Vec<String> {
    let mut key: Vec<String> = def.key_properties.iter().map(|k| k.to_string()).collect();
    if tagged && matches!(def.kind, Kind::Stats(_)) {
        let at = key
            .iter()
            .position(|k| k == "MessageStream")
            .map_or(0, |i| i + 1);
        key.insert(at, TAG.to_string());
    }
    key
}

/// Declares a statistics stream's `Tag` (a string, `""` on the rows of all messages).
fn declare_tag(schema: &mut Value) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(TAG.into(), json!({"type": "string"}));
    }
}

/// With `stats_tags`: the statistics streams' rows carry `Tag`, which joins their key.
pub fn tag_stats(selection: &mut [Selected]) {
    for sel in selection {
        if matches!(sel.def.kind, Kind::Stats(_)) {
            declare_tag(&mut sel.schema);
            sel.key_properties = key_of(sel.def, true);
            sel.shape = Shape::compile(&sel.schema);
        }
    }
}

/// The catalog `--discover` prints (`tagged`: with `stats_tags` set).
pub fn discover(tagged: bool) -> Result<Value, Error> {
    let mut streams = Vec::new();
    for def in STREAMS {
        let mut schema = stream_schema(def)?;
        let key = key_of(def, tagged);
        if key.iter().any(|k| k == TAG) {
            declare_tag(&mut schema);
        }
        let mut root = json!({
            "inclusion": "available",
            "selected-by-default": def.selected_by_default,
            "table-key-properties": key,
            "forced-replication-method": def.replication().as_str(),
        });
        if let Some(key) = def.replication_key {
            root["valid-replication-keys"] = json!([key]);
            root["replication-key"] = json!(key);
        }
        let mut metadata = vec![json!({"breadcrumb": [], "metadata": root})];
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for name in props.keys() {
                let keyed = key.iter().any(|k| k == name);
                let inclusion = if keyed || def.replication_key == Some(name.as_str()) {
                    "automatic"
                } else {
                    "available"
                };
                metadata.push(json!({
                    "breadcrumb": ["properties", name],
                    "metadata": {"inclusion": inclusion, "selected-by-default": true},
                }));
            }
        }
        streams.push(json!({
            "tap_stream_id": def.name,
            "stream": def.name,
            "schema": schema,
            "key_properties": key,
            "metadata": metadata,
        }));
    }
    Ok(json!({ "streams": streams }))
}

/// `true`, `false`, `"true"`, `"false"` (any case); anything else is "not said".
fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The metadata map of a breadcrumb in a catalog entry.
fn metadata_at<'a>(entry: &'a Value, breadcrumb: &[&str]) -> Option<&'a Map<String, Value>> {
    entry.get("metadata")?.as_array()?.iter().find_map(|m| {
        let crumb = m.get("breadcrumb")?.as_array()?;
        let same = crumb.len() == breadcrumb.len()
            && crumb
                .iter()
                .zip(breadcrumb)
                .all(|(a, b)| a.as_str() == Some(*b));
        if same {
            m.get("metadata")?.as_object()
        } else {
            None
        }
    })
}

fn selected_from(def: &'static StreamDef, schema: Value) -> Result<Selected, Error> {
    let key_properties = def.key_properties.iter().map(|s| s.to_string()).collect();
    let bookmark_properties = def.replication_key.iter().map(|s| s.to_string()).collect();
    if schema
        .get("properties")
        .and_then(Value::as_object)
        .is_none()
    {
        return Err(Error::Input(format!(
            "catalog: the schema of stream {} has no \"properties\" object",
            def.name
        )));
    }
    let shape = Shape::compile(&schema);
    Ok(Selected {
        def,
        schema,
        key_properties,
        bookmark_properties,
        shape,
        drift: Arc::new(Drift::default()),
        version: None,
    })
}

/// A stream as its own definition describes it, selected or not: for searches read on another
/// stream's behalf (the activity searches of `message_events`), whose keys and fields count but
/// whose records are not written.
pub fn for_reading(def: &'static StreamDef) -> Result<Selected, Error> {
    selected_from(def, stream_schema(def)?)
}

/// Gives every selected full-table stream the table version of this run.
pub fn version_full_tables(selection: &mut [Selected], version: i64) {
    for sel in selection {
        if sel.def.replication() == Replication::FullTable {
            sel.version = Some(version);
        }
    }
}

/// The streams to sync when no catalog is given: every stream selected by default.
pub fn default_selection() -> Result<Vec<Selected>, Error> {
    STREAMS
        .iter()
        .filter(|d| d.selected_by_default)
        .map(|d| selected_from(d, stream_schema(d)?))
        .collect()
}

/// The streams an input catalog selects, in the tap's sync order.
pub fn select(catalog: &Value) -> Result<Vec<Selected>, Error> {
    let entries = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Input("catalog must be an object with a \"streams\" array".into()))?;
    let mut chosen: Vec<Selected> = Vec::new();
    for entry in entries {
        let Some(selected) = select_entry(entry)? else {
            continue;
        };
        if chosen.iter().any(|s| s.def.name == selected.def.name) {
            return Err(Error::Input(format!(
                "catalog lists stream {} twice",
                selected.def.name
            )));
        }
        chosen.push(selected);
    }
    chosen.sort_by_key(|s| STREAMS.iter().position(|d| d.name == s.def.name));
    Ok(chosen)
}

/// One entry of an input catalog: the stream, if it is selected, with the schema to emit.
fn select_entry(entry: &Value) -> Result<Option<Selected>, Error> {
    let id = entry
        .get("tap_stream_id")
        .or_else(|| entry.get("stream"))
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Input("catalog: a stream entry has no tap_stream_id".into()))?;
    let def = STREAMS.iter().find(|d| d.name == id).ok_or_else(|| {
        Error::Input(format!(
            "catalog names stream {id:?}, which this tap does not have; run --discover for the current list"
        ))
    })?;
    let root = metadata_at(entry, &[]);
    let selected = flag(root.and_then(|m| m.get("selected")))
        .or_else(|| flag(entry.get("selected")))
        .or_else(|| flag(entry.get("schema").and_then(|s| s.get("selected"))))
        .or_else(|| flag(root.and_then(|m| m.get("selected-by-default"))))
        .unwrap_or(def.selected_by_default);
    if !selected {
        return Ok(None);
    }
    let method = root
        .and_then(|m| m.get("replication-method"))
        .or_else(|| entry.get("replication_method"))
        .and_then(Value::as_str);
    if let Some(method) = method {
        if !method.eq_ignore_ascii_case(def.replication().as_str()) {
            return Err(Error::Input(format!(
                "catalog asks for replication method {method} on stream {id}, which supports only {}",
                def.replication().as_str()
            )));
        }
    }
    let schema = selected_schema(def, entry)?;
    selected_from(def, schema).map(Some)
}

/// The schema a catalog entry asks for (its own, or the stream's), less the fields it
/// deselects; a field it names that neither schema has is an error.
fn selected_schema(def: &'static StreamDef, entry: &Value) -> Result<Value, Error> {
    let mut schema = match entry.get("schema") {
        Some(s) if s.is_object() => s.clone(),
        _ => stream_schema(def)?,
    };
    let ours = stream_schema(def)?;
    let known = |name: &str| {
        ours["properties"].get(name).is_some() || schema["properties"].get(name).is_some()
    };
    let crumbs = entry
        .get("metadata")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("breadcrumb").and_then(Value::as_array));
    for crumb in crumbs {
        let crumb: Vec<&str> = crumb.iter().filter_map(Value::as_str).collect();
        if let ["properties", name, ..] = crumb.as_slice() {
            if !known(name) {
                return Err(Error::Input(format!(
                    "catalog names field {name:?} of stream {}, which neither the stream nor the catalog's schema has",
                    def.name
                )));
            }
        }
    }
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.retain(|name, _| {
            if automatic(def, name) {
                return true;
            }
            let meta = metadata_at(entry, &["properties", name]);
            let inclusion = meta
                .and_then(|m| m.get("inclusion"))
                .and_then(Value::as_str);
            inclusion != Some("unsupported")
                && flag(meta.and_then(|m| m.get("selected"))).unwrap_or(true)
        });
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_catalog_selects_back_to_the_defaults() {
        let catalog = discover(false).unwrap();
        let chosen = select(&catalog).unwrap();
        let defaults = default_selection().unwrap();
        let names = |v: &[Selected]| v.iter().map(|s| s.def.name).collect::<Vec<_>>();
        assert_eq!(names(&chosen), names(&defaults));
    }

    #[test]
    fn meltano_style_selection_with_strings_and_deselected_fields() {
        let catalog = json!({"streams": [{
        "tap_stream_id": "messages_outbound",
        "selected": "true",
        "extra": 1,
        "schema": {"type": "object", "properties": {
            "ServerID": {"type": "integer"}, "MessageID": {"type": "string"},
            "ReceivedAt": {"type": "string", "format": "date-time"},
            "Subject": {"type": ["string", "null"]}}},
        "metadata": [
            {"breadcrumb": [], "metadata": {"selected": "true"}},
            {"breadcrumb": ["properties", "MessageID"], "metadata": {"selected": false, "inclusion": "automatic"}},
            {"breadcrumb": ["properties", "Subject"], "metadata": {"selected": "false"}}
        ]}]});
        let chosen = select(&catalog).unwrap();
        assert_eq!(chosen.len(), 1);
        let props = chosen[0].schema["properties"].as_object().unwrap();
        assert!(props.contains_key("MessageID"));
        assert!(!props.contains_key("Subject"));
    }

    #[test]
    fn unknown_stream_field_and_method_are_refused() {
        assert!(select(&json!({"streams": [{"tap_stream_id": "nope"}]})).is_err());
        assert!(select(
            &json!({"streams": [{"tap_stream_id": "templates", "metadata": [
            {"breadcrumb": ["properties", "Nope"], "metadata": {"selected": true}}]}]})
        )
        .is_err());
        assert!(select(&json!({"streams": [{"tap_stream_id": "templates", "metadata": [
            {"breadcrumb": [], "metadata": {"selected": true, "replication-method": "INCREMENTAL"}}]}]}))
        .is_err());
        assert!(select(&json!({"nope": []})).is_err());
    }
}
