//! How much of the slow tests runs: fewer cases by default, every case with
//! `TAP_POSTMARK_FULL_TESTS=1`, as CI runs them. The README's Development section lists the tests
//! that use it.

/// Whether the slow tests run in full.
pub fn full() -> bool {
    std::env::var("TAP_POSTMARK_FULL_TESTS").is_ok_and(|v| v == "1")
}

/// `quick` by default, `all` when the slow tests run in full.
pub fn cases(quick: usize, all: usize) -> usize {
    if full() {
        all
    } else {
        quick
    }
}
