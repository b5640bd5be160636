//! The Singer message writer: SCHEMA, RECORD and STATE as JSON lines on stdout.
//!
//! Output goes through one buffered writer, flushed at every STATE and at the end, so a STATE
//! line never reaches the target before the records it covers. A closed pipe (the target went
//! away) becomes [`Error::BrokenPipe`] so the tap can stop quietly. Once a stop is requested
//! (SIGTERM/SIGINT) no new line is started, and the buffer is abandoned rather than flushed, so
//! the target never sees half a line.

use crate::error::Error;
use crate::record::line::record_frame;
use crate::signals;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::io::{self, Write};

/// Writes Singer messages and enforces the ordering rules (SCHEMA once, before any RECORD).
pub struct Output<W: Write> {
    out: io::BufWriter<Tracked<W>>,
    schemas_sent: HashSet<String>,
    line: Vec<u8>,
}

#[derive(Serialize)]
struct SchemaMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    stream: &'a str,
    schema: &'a Value,
    key_properties: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    bookmark_properties: &'a [String],
}

#[derive(Serialize)]
struct StateMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a Value,
}

#[derive(Serialize)]
struct ActivateVersionMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    stream: &'a str,
    version: i64,
}

/// Bytes handed to the OS per write: small enough that a slow reader shows progress, and a
/// stop can fall between two lines, even inside one large buffer flush.
const CHUNK: usize = 4096;

/// A writer that tells the signal watchdog when a write is under way and how far it got, writes
/// in chunks that end on a line boundary where possible, and refuses to start a new line once a
/// stop has been requested, so a stop never cuts a line a reader is still taking.
pub struct Tracked<W: Write> {
    inner: W,
    at_line_start: bool,
}

impl<W: Write> Write for Tracked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.at_line_start && signals::check().is_err() {
            return Err(io::Error::other("stopped"));
        }
        let head = &buf[..buf.len().min(CHUNK)];
        let chunk = match head.iter().rposition(|b| *b == b'\n') {
            Some(nl) => &head[..=nl],
            None => head,
        };
        let _writing = signals::writing();
        let n = self.inner.write(chunk)?;
        signals::wrote(n);
        if n > 0 {
            self.at_line_start = chunk[n - 1] == b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let _writing = signals::writing();
        self.inner.flush()
    }
}

impl Output<io::Stdout> {
    /// Standard output with a large buffer.
    pub fn stdout() -> Self {
        Output::new(io::stdout())
    }
}

impl<W: Write> Output<W> {
    pub fn new(out: W) -> Self {
        Output {
            out: io::BufWriter::with_capacity(
                256 * 1024,
                Tracked {
                    inner: out,
                    at_line_start: true,
                },
            ),
            schemas_sent: HashSet::new(),
            line: Vec::with_capacity(4096),
        }
    }

    /// Writes a stream's SCHEMA message, once per run.
    pub fn schema(
        &mut self,
        stream: &str,
        schema: &Value,
        key_properties: &[String],
        bookmark_properties: &[String],
    ) -> Result<(), Error> {
        if !self.schemas_sent.insert(stream.to_string()) {
            return Ok(());
        }
        self.write(&SchemaMessage {
            kind: "SCHEMA",
            stream,
            schema,
            key_properties,
            bookmark_properties,
        })
    }

    /// Writes a RECORD. The stream's SCHEMA must have been written first.
    pub fn record(
        &mut self,
        stream: &str,
        record: &Value,
        time_extracted: &str,
    ) -> Result<(), Error> {
        let (mut line, suffix) = record_frame(stream, time_extracted, None)?;
        serde_json::to_writer(&mut line, record)
            .map_err(|e| Error::Internal(format!("cannot serialise a record: {e}")))?;
        line.extend_from_slice(&suffix);
        self.record_lines(stream, &line)
    }

    /// Writes RECORD lines already framed by `record_frame` (one or more whole lines).
    pub fn record_lines(&mut self, stream: &str, lines: &[u8]) -> Result<(), Error> {
        if !self.schemas_sent.contains(stream) {
            return Err(Error::Internal(format!(
                "RECORD for {stream} before its SCHEMA"
            )));
        }
        signals::check()?;
        self.out.write_all(lines).map_err(output_error)
    }

    /// Writes an ACTIVATE_VERSION: the target may drop the stream's rows of older versions.
    pub fn activate_version(&mut self, stream: &str, version: i64) -> Result<(), Error> {
        if !self.schemas_sent.contains(stream) {
            return Err(Error::Internal(format!(
                "ACTIVATE_VERSION for {stream} before its SCHEMA"
            )));
        }
        self.write(&ActivateVersionMessage {
            kind: "ACTIVATE_VERSION",
            stream,
            version,
        })
    }

    /// Writes a STATE and flushes everything before it to the target.
    pub fn state(&mut self, value: &Value) -> Result<(), Error> {
        self.write(&StateMessage {
            kind: "STATE",
            value,
        })?;
        self.flush()
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(output_error)
    }

    /// Flushes and gives the underlying writer back (tests).
    pub fn into_inner(self) -> W {
        match self.out.into_inner() {
            Ok(tracked) => tracked.inner,
            Err(e) => e.into_inner().into_parts().0.inner,
        }
    }

    /// Drops what is buffered without writing it (after a stop: only whole lines were written).
    pub fn abandon(self) {
        let (_tracked, _unwritten) = self.out.into_parts();
    }

    /// Ends a run: flushes the output, or abandons what is buffered when the run was stopped
    /// (whole lines only ever reach the reader); gives the run's result back.
    pub fn finish(mut self, result: Result<(), Error>) -> Result<(), Error> {
        match result {
            Err(e @ (Error::Interrupted | Error::BrokenPipe)) => {
                self.abandon();
                Err(e)
            }
            other => {
                self.flush()?;
                other
            }
        }
    }

    fn write<T: Serialize>(&mut self, message: &T) -> Result<(), Error> {
        signals::check()?;
        self.line.clear();
        serde_json::to_writer(&mut self.line, message)
            .map_err(|e| Error::Internal(format!("cannot serialise a message: {e}")))?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(output_error)
    }
}

/// A write error, or the refusal to start a line after a stop.
fn output_error(e: io::Error) -> Error {
    match signals::check() {
        Err(stopped) => stopped,
        Ok(()) => Error::from_output(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_singer_lines_in_order() {
        let mut out = Output::new(Vec::new());
        let keys = vec!["ID".to_string()];
        out.schema(
            "s",
            &json!({"type": "object", "properties": {}}),
            &keys,
            &[],
        )
        .unwrap();
        out.schema("s", &json!({}), &keys, &[]).unwrap();
        out.record("s", &json!({"ID": 1}), "2024-01-01T00:00:00.000000Z")
            .unwrap();
        out.state(&json!({"bookmarks": {}})).unwrap();
        let text = String::from_utf8(out.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            r#"{"type":"SCHEMA","stream":"s","schema":{"properties":{},"type":"object"},"key_properties":["ID"]}"#
        );
        assert_eq!(
            lines[1],
            r#"{"type":"RECORD","stream":"s","record":{"ID":1},"time_extracted":"2024-01-01T00:00:00.000000Z"}"#
        );
        assert_eq!(lines[2], r#"{"type":"STATE","value":{"bookmarks":{}}}"#);
    }

    #[test]
    fn record_before_schema_is_refused() {
        let mut out = Output::new(Vec::new());
        assert!(out.record("s", &json!({}), "x").is_err());
    }
}
