//! A stream chosen for a run, as the record path needs it: its definition, the schema it emits,
//! its keys, the shape its records take and how they drift from it.

use super::drift::Drift;
use super::shape::Shape;
use crate::streams::StreamDef;
use serde_json::Value;
use std::sync::Arc;

/// A stream chosen for this run, with the schema to emit and the shape its records take.
#[derive(Clone, Debug)]
pub struct Selected {
    pub def: &'static StreamDef,
    pub schema: Value,
    pub key_properties: Vec<String>,
    pub bookmark_properties: Vec<String>,
    pub shape: Shape,
    /// How this run's records of the stream drift from its schema.
    pub drift: Arc<Drift>,
    /// The table version every RECORD carries, when the run sends ACTIVATE_VERSION for the
    /// stream (`emit_activate_version_messages`, full-table streams).
    pub version: Option<i64>,
}
