//! An answer's body: read within `max_response_mb`, the large ones one at a time, and parsed
//! whole or as it is read.

use super::answer::{
    describe_transport, failure, parse_value, parsed, with_error_fields, Attempt, CallError, Parsed,
};
use crate::error::Error;
use serde_json::Value;
use std::io::{BufReader, Read};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Answers up to this size are read side by side; a larger one is read only while no other
/// large one is (see [`Bodies::read_body`]).
const LARGE_BODY: u64 = 4 << 20;
/// An answer parsed as it is read is large past this size: its text is not kept, but its
/// parsed value and the record lines made from it are several times this.
const LARGE_PARSED: u64 = 512 << 10;
/// Held while a large answer is read.
static LARGE_BODIES: Mutex<()> = Mutex::new(());

/// How a 2xx body becomes the caller's value: any `Fn(Vec<u8>)` parses the whole body, and
/// [`StreamedValue`] parses it as it is read.
pub trait Parse<T> {
    /// Parses the whole body; `Err(why)` when it is not what was asked for (retried).
    fn whole(&self, body: Vec<u8>) -> Result<Parsed<T>, String>;
    /// The parser that reads the body as it comes instead, if there is one: an answer is then
    /// never in memory twice (as text and parsed).
    fn streamed(&self) -> Option<Streamed<T>> {
        None
    }
}

/// Parses a body as it is read; an I/O error comes back inside the `serde_json::Error`.
pub type Streamed<T> = fn(&mut BodyReader) -> Result<Parsed<T>, serde_json::Error>;

impl<T, F: Fn(Vec<u8>) -> Result<Parsed<T>, String>> Parse<T> for F {
    fn whole(&self, body: Vec<u8>) -> Result<Parsed<T>, String> {
        self(body)
    }
}

/// A `Value` parsed as the body is read: for answers that may be large (a message's bodies and
/// MIME source), whose text and `Value` would otherwise be in memory side by side. A large one
/// comes with the hold on large answers ([`Large`]), for the caller to keep while it makes its
/// records.
pub struct StreamedValue;

/// A parsed answer, and the hold on large answers if it is one.
pub struct Held {
    pub value: Value,
    pub large: Option<Large>,
}

impl Parse<Held> for StreamedValue {
    fn whole(&self, body: Vec<u8>) -> Result<Parsed<Held>, String> {
        parse_value(body).map(|p| p.map(|value| Held { value, large: None }))
    }

    fn streamed(&self) -> Option<Streamed<Held>> {
        Some(|body| {
            let value = serde_json::from_reader(&mut *body)?;
            let large = body.take_large();
            Ok(with_error_fields(value).map(|value| Held { value, large }))
        })
    }
}

/// A 2xx answer: parsed, or retried when it is not JSON or carries a non-zero ErrorCode.
pub(super) fn success<T>(status: u16, body: Vec<u8>, parse: &impl Parse<T>) -> Attempt<T> {
    let len = body.len();
    parsed(status, parse.whole(body), || format!("{len} bytes"))
}

/// What reading an answer's body needs of the rest of it.
pub(super) struct Head<'a> {
    pub path: &'a str,
    pub status: u16,
    /// The answer's `Retry-After`, if any.
    pub retry_after: Option<Duration>,
    /// What to call the token in an error ("the server token of server 10001").
    pub token_label: &'a str,
}

/// Reads bodies no larger than `max_body` bytes (after decompression).
pub(super) struct Bodies {
    pub max_body: u64,
}

impl Bodies {
    /// What an answer comes to: a 2xx one parsed (as it is read when the parser can), any
    /// other read whole and classified by [`failure`].
    pub(super) fn answer<T>(
        &self,
        head: &Head,
        body: &mut ureq::Body,
        parse: &impl Parse<T>,
    ) -> Attempt<T> {
        let status = head.status;
        if let Some(announced) = body.content_length().filter(|n| *n > self.max_body) {
            return self.too_large(head, format!("announced as {announced} bytes"));
        }
        let ok = (200..=299).contains(&status);
        // A reader is made only to be read: making one may read the start of the body.
        if let Some(streamed) = parse.streamed().filter(|_| ok) {
            let metered = Metered {
                inner: body.with_config().limit(self.max_body).reader(),
                read: 0,
                large: None,
            };
            let mut reader = BodyReader {
                inner: BufReader::with_capacity(64 << 10, metered),
            };
            return match streamed(&mut reader) {
                Err(e) if e.is_io() => self.unreadable(head, e.into()),
                answer => {
                    let read = reader.read();
                    let answer = answer.map_err(|e| e.to_string());
                    parsed(status, answer, || format!("{read} bytes read"))
                }
            };
        }
        let body = match self.read_body(head, body) {
            Ok(b) => b,
            Err(other) => return other,
        };
        match ok {
            true => success(status, body, parse),
            false => failure(status, &body, head.token_label, head.retry_after),
        }
    }

    /// The failure for an answer larger than `max_response_mb`.
    fn too_large<T>(&self, head: &Head, size: String) -> Attempt<T> {
        Attempt::Fail(CallError::Fatal(Error::Api(format!(
            "Postmark's answer to GET {} (HTTP {}) is {size}, more than the {} MiB that max_response_mb allows; if such answers are expected, raise max_response_mb",
            head.path,
            head.status,
            self.max_body >> 20
        ))))
    }

    /// What a body that could not be read comes to: too large, or retried (after the answer's
    /// `Retry-After`, as rate limited if it was a 429).
    fn unreadable<T>(&self, head: &Head, e: std::io::Error) -> Attempt<T> {
        match ureq::Error::from(e) {
            ureq::Error::BodyExceedsLimit(_) => self.too_large(head, "larger than that".into()),
            e => Attempt::Retry {
                why: format!(
                    "HTTP {} body unreadable ({})",
                    head.status,
                    describe_transport(&e)
                ),
                after: head.retry_after,
                rate_limited: head.status == 429,
            },
        }
    }

    /// Reads an answer's body whole, refusing one larger than `max_response_mb` (read, after
    /// decompression). At most one answer larger than [`LARGE_BODY`] is read at a time, so
    /// memory stays within about `max_response_mb` plus 4 MiB per request in flight, even when
    /// every answer is a decompression bomb.
    fn read_body<T>(&self, head: &Head, body: &mut ureq::Body) -> Result<Vec<u8>, Attempt<T>> {
        let announced = body.content_length();
        let mut reader = body.with_config().limit(self.max_body).reader();
        // Sized once when the length is known: no copies while it grows.
        let mut buf = Vec::with_capacity(announced.unwrap_or(0).min(LARGE_BODY) as usize);
        let unreadable = |e| self.unreadable(head, e);
        (&mut reader)
            .take(LARGE_BODY)
            .read_to_end(&mut buf)
            .map_err(unreadable)?;
        if buf.len() as u64 == LARGE_BODY {
            let _one_at_a_time = large_body();
            reader.read_to_end(&mut buf).map_err(unreadable)?;
        }
        Ok(buf)
    }
}

/// Waits until no other answer larger than [`LARGE_BODY`] is being read.
fn large_body() -> MutexGuard<'static, ()> {
    LARGE_BODIES.lock().unwrap_or_else(|p| p.into_inner())
}

/// A large answer being handled: while it is held, no other large answer is read. Whoever
/// turns a large parsed answer into records holds it until they are made, so only one such
/// answer, with its records, is in memory at a time.
pub struct Large {
    _held: MutexGuard<'static, ()>,
}

/// A body parsed as it is read ([`super::Parse::streamed`]): counts the bytes, and once past
/// [`LARGE_PARSED`] holds [`LARGE_BODIES`], as [`Bodies::read_body`] does past [`LARGE_BODY`].
pub struct BodyReader<'a> {
    inner: BufReader<Metered<ureq::BodyReader<'a>>>,
}

impl BodyReader<'_> {
    /// Bytes read so far (after decompression).
    fn read(&self) -> u64 {
        self.inner.get_ref().read
    }

    /// Hands over the hold on large answers, if this one is large.
    pub fn take_large(&mut self) -> Option<Large> {
        self.inner
            .get_mut()
            .large
            .take()
            .map(|held| Large { _held: held })
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

struct Metered<R> {
    inner: R,
    read: u64,
    large: Option<MutexGuard<'static, ()>>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > LARGE_PARSED && self.large.is_none() {
            self.large = Some(large_body());
        }
        Ok(n)
    }
}
