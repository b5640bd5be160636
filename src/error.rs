//! The tap's one error type, and the exit code each kind of failure maps to.
//!
//! Every message is a single line meant for a person: what went wrong and what to do about it.
//! No message ever carries a token: errors are built from paths, status codes and Postmark's
//! ErrorCode/Message, never from request headers.

use std::fmt;
use std::io;

/// Exit codes (documented in the README).
pub mod exit {
    /// The run finished and every selected stream is complete.
    pub const OK: u8 = 0;
    /// The Postmark API failed past the retry budget, or answered something unusable.
    pub const API: u8 = 1;
    /// Bad input: command line, config, state or catalog.
    pub const INPUT: u8 = 2;
    /// Postmark rejected a token (HTTP 401 or 403).
    pub const AUTH: u8 = 3;
    /// Some servers failed; the others finished (the summary names them).
    pub const PARTIAL: u8 = 4;
    /// The reader of stdout went away (a target closed the pipe), or the tap was told to stop.
    pub const INTERRUPTED: u8 = 5;
    /// A bug in the tap.
    pub const INTERNAL: u8 = 70;
}

#[derive(Debug)]
pub enum Error {
    /// Command line, config, state or catalog problem.
    Input(String),
    /// A token was rejected.
    Auth(String),
    /// The API failed or answered something that cannot be used.
    Api(String),
    /// A search window holds more records than Postmark's offset paging can reach and cannot be
    /// split further.
    Ceiling(String),
    /// Some servers failed; carries the summary.
    Partial(String),
    /// stdout was closed by its reader.
    BrokenPipe,
    /// SIGTERM/SIGINT arrived.
    Interrupted,
    /// A bug.
    Internal(String),
}

impl Error {
    /// Maps a write error on stdout: a closed pipe is a normal way for a run to end early.
    pub fn from_output(e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Error::BrokenPipe
        } else {
            Error::Api(format!("cannot write to stdout: {e}"))
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => exit::INPUT,
            Error::Auth(_) => exit::AUTH,
            Error::Api(_) | Error::Ceiling(_) => exit::API,
            Error::Partial(_) => exit::PARTIAL,
            Error::BrokenPipe | Error::Interrupted => exit::INTERRUPTED,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}

impl Error {
    /// The kind of failure as a type name, for a structured log's `exception`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Input(_) => "InputError",
            Error::Auth(_) => "AuthError",
            Error::Api(_) => "ApiError",
            Error::Ceiling(_) => "CeilingError",
            Error::Partial(_) => "PartialFailure",
            Error::BrokenPipe => "BrokenPipe",
            Error::Interrupted => "Interrupted",
            Error::Internal(_) => "InternalError",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m)
            | Error::Auth(m)
            | Error::Api(m)
            | Error::Ceiling(m)
            | Error::Partial(m) => f.write_str(m),
            Error::BrokenPipe => f.write_str("stdout was closed by its reader; stopping"),
            Error::Interrupted => f.write_str("stopped by a signal"),
            Error::Internal(m) => write!(f, "internal error (please report): {m}"),
        }
    }
}

impl std::error::Error for Error {}
