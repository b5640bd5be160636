//! What a correct sync must produce and read, at the clock's now: the ground truth of every tap
//! stream, the answer a content stream's endpoint gives for one key, the messages that changed
//! in an interval, and what became of each outbound message.

pub mod changed_messages;
pub mod expected_answer;
pub mod ground_truth;
pub mod outcomes;
