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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::page::parse;
    use serde_json::Value;

    #[test]
    fn refuses_records_nested_as_deep_as_serde_json_refuses() {
        let nested = |depth: usize| {
            format!(
                r#"{{"TotalCount": 1, "Messages": [{{"A": {}1{}, "B": "x"}}]}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        // The answer, the list and the record are three levels: 124 more make the 127 that
        // serde_json reads, 125 the 128 it refuses.
        let ok = nested(MAX_DEPTH - 4);
        assert!(serde_json::from_str::<Value>(&ok).is_ok());
        assert!(parse(ok.as_bytes(), "Messages", &mut |_, _| Ok(())).is_ok());
        let deep = nested(MAX_DEPTH - 3);
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        let why = parse(deep.as_bytes(), "Messages", &mut |_, _| Ok(()))
            .err()
            .unwrap();
        assert!(
            why.contains("a record's A is nested 128 levels deep"),
            "{why}"
        );
        // Brackets inside strings (escaped quotes too) do not count.
        let text = format!(r#"{{"A": "{}\"{}"}}"#, "[".repeat(500), "{".repeat(500));
        assert!(!nests_deeper_than(text.as_bytes(), 2));
        assert!(!nests_deeper_than(b"\"unterminated [[[", 1));
        assert!(nests_deeper_than(b"[[[", 2));
        assert!(!nests_deeper_than(br#"["\\", [[1]]]"#, 3));
    }
}
