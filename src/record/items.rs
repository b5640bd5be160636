//! Answers read whole: a list's items (full-table lists, `/servers`) and objects, each carrying
//! the fields that identify it once and non-null.

use super::members::Members;
use super::page::{self, Record, Records, Total};
use super::parsed::Parsed;
use crate::error::Error;
use serde_json::Value;

/// A list answer read whole (full-table lists, `/servers`).
pub struct Items {
    pub total: Total,
    pub list: Records,
    pub items: Vec<Value>,
}

/// Parses a list answer: each item of `envelope` as a `Value`, each carrying its `identity`
/// fields once and non-null (an item without them is an error naming the field).
pub fn parse_items(
    body: &[u8],
    envelope: &str,
    identity: &[&str],
) -> Result<Parsed<Result<Items, Error>>, String> {
    let mut items = Vec::new();
    let parsed =
        page::parse(body, envelope, &mut |_, record| {
            let Record::Object(members) = record else {
                return Err(Error::Api("an item that is not an object".into()));
            };
            if let Some(problem) = members.identity_problem(identity) {
                return Err(Error::Api(format!("an item that {problem}")));
            }
            items.push(members.to_value().map_err(|e| {
                Error::Internal(format!("an item of a parsed list is not JSON: {e}"))
            })?);
            Ok(())
        })?;
    Ok(Parsed {
        error_code: parsed.error_code,
        message: parsed.message,
        value: parsed.value.map(|page| Items {
            total: page.total,
            list: page.records,
            items,
        }),
    })
}

/// Parses an object answer whose `identity` fields must each be present, non-null and written
/// once (`ID` of `/server`, `TemplateId` of a template).
pub fn parse_object(
    body: &[u8],
    identity: &[&str],
) -> Result<Parsed<Result<Value, Error>>, String> {
    let parsed = crate::client::parse_value(body.to_vec())?;
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let problem = match Members::parse(text) {
        Some(members) => members.identity_problem(identity),
        None => Some("is not an object".to_string()),
    };
    Ok(Parsed {
        error_code: parsed.error_code,
        message: parsed.message,
        value: match problem {
            Some(p) => Err(Error::Api(p)),
            None => Ok(parsed.value),
        },
    })
}
