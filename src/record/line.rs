//! RECORD lines of one stream's records, shaped to the stream's schema and framed as Singer
//! messages: from a record's members (written straight from their text when the transcoder
//! can, through a `Value` otherwise) or from a `Value`. No I/O, so workers run it.

use super::page::Record;
use super::shape::remove_secrets;
use crate::error::Error;
use crate::singer::catalog::Selected;
use crate::singer::output::record_frame;
use serde_json::Value;

/// Writes the RECORD lines of one stream's records extracted at one time, on one server.
pub struct RecordWriter<'a> {
    sel: &'a Selected,
    server: Option<u64>,
    /// Every line's start, up to the record, and its end after it.
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

impl<'a> RecordWriter<'a> {
    /// `server` sets `ServerID` on every record.
    pub fn new(
        sel: &'a Selected,
        server: Option<u64>,
        time_extracted: &str,
    ) -> Result<RecordWriter<'a>, Error> {
        let (prefix, suffix) = record_frame(sel.def.name, time_extracted)?;
        Ok(RecordWriter {
            sel,
            server,
            prefix,
            suffix,
        })
    }

    /// Appends the RECORD line of a record as read from its page to `out`; `clean` says the
    /// page holds no NUL character and no line break.
    pub fn text(&self, record: &Record, clean: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        if let (Record::Object(members), []) = (record, self.sel.def.secret_fields) {
            out.extend_from_slice(&self.prefix);
            let shape = &self.sel.shape;
            if shape
                .transcode_record(members, self.server, clean, out)
                .is_ok()
            {
                out.extend_from_slice(&self.suffix);
                return Ok(());
            }
            out.truncate(start);
        }
        let value = record
            .to_value()
            .map_err(|e| Error::Internal(format!("a record of a parsed page is not JSON: {e}")))?;
        self.value(value, out)
    }

    /// Appends the RECORD line of a record given as a `Value` to `out`: `ServerID` added,
    /// secrets removed, shaped. A record without a declared key property is refused: it could
    /// be neither told apart nor loaded.
    pub fn value(&self, mut record: Value, out: &mut Vec<u8>) -> Result<(), Error> {
        let sel = self.sel;
        if let (Some(id), Some(map)) = (self.server, record.as_object_mut()) {
            map.insert("ServerID".into(), Value::from(id));
        }
        remove_secrets(&mut record, sel.def.secret_fields);
        let shaped = sel.shape.apply(record, sel.def.name)?;
        let declared = sel.schema.get("properties");
        if let Some(key) = sel.key_properties.iter().find(|k| {
            declared.is_some_and(|p| p.get(k.as_str()).is_some()) && shaped[k.as_str()].is_null()
        }) {
            return Err(Error::Api(format!(
                "Postmark returned a {} record without {key}; a record must carry its key to be told apart and loaded",
                sel.def.name
            )));
        }
        out.extend_from_slice(&self.prefix);
        serde_json::to_writer(&mut *out, &shaped)
            .map_err(|e| Error::Internal(format!("cannot serialise a record: {e}")))?;
        out.extend_from_slice(&self.suffix);
        Ok(())
    }
}
