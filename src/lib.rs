//! tap-postmark: a Singer tap for the Postmark API, and the Postmark simulator that proves it.

pub mod sim;
