//! Message content, derived per request from a message's coordinates (nothing is stored): the
//! bodies and their words, the raw sources and their MIME building blocks, the outbound and
//! inbound details records that carry them, and the bounce dumps.

pub mod body;
pub mod copy;
pub mod dsn;
pub mod inbound_details;
pub mod mime;
pub mod outbound;
pub mod source;
