//! How deeply an answer may nest: no deeper than the JSON readers downstream take.

/// Arrays and objects may nest fewer levels than this in an answer: serde_json's own limit
/// (127 levels are read, 128 are refused), which every standard JSON reader downstream also
/// accepts. The page reader copies a record's values as text without descending into them, so
/// it checks the depth of each value that is an array or an object itself.
pub const MAX_DEPTH: usize = 128;
/// The levels above a record's values: the answer, the envelope's list, the record.
pub(super) const RECORD_VALUE_DEPTH: usize = 3;

/// Whether a value nests arrays and objects more than `limit` deep. Only a value with more
/// than `limit` brackets can, so the brackets are counted first (a loop the compiler
/// vectorises); values that have that many are scanned.
pub(super) fn too_deep(value: &str, limit: usize) -> bool {
    value.starts_with(['[', '{'])
        && value.bytes().filter(|b| matches!(b, b'[' | b'{')).count() > limit
        && nests_deeper_than(value.as_bytes(), limit)
}

/// Whether JSON text nests arrays and objects more than `limit` deep (string contents are
/// skipped; the text is not otherwise checked).
pub fn nests_deeper_than(text: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}
