//! The record path: from an answer's JSON text to RECORD lines shaped by the stream's schema.
//!
//! `page` reads an answer in one pass and hands each record over as its `members` (keys and
//! JSON text), refusing one nested deeper than `depth` allows; `items` reads list and object
//! answers whole; `shape` is the schema compiled for shaping, with the `Value` path
//! ([`Shape::apply`]); `transcode` is the fast path that writes a record straight from its text;
//! `line` frames either into RECORD lines, and is all the sync engines use.

pub mod depth;
pub mod drift;
pub mod items;
pub mod line;
pub mod members;
pub mod page;
pub mod parsed;
pub mod selected;
pub mod shape;
pub mod transcode;
pub mod types;

pub use drift::Drift;
pub use members::Members;
pub use parsed::Parsed;
pub use selected::Selected;
pub use shape::{remove_secrets, Prop, Shape, ValueKind};
pub use transcode::{Declined, Stamps};
pub use types::Types;
