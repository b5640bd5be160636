//! Postmark simulator.
