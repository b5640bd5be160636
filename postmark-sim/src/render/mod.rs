//! The API's records of the generated traffic, rendered per request from a message's facts at
//! the clock's now: outbound message records, their opens, clicks, bounces and
//! `MessageEvents`, and inbound message records, with the search filters that match them.

pub mod events;
pub mod inbound;
pub mod messages;
pub mod view;
