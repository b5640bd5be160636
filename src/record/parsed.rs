//! An answer's body as parsed: its value, and the error fields Postmark may put in a 2xx answer
//! (`ErrorCode`, `Message`), which the client turns into a retry or an error.

/// A 2xx body, parsed, with the error fields Postmark may put in it.
pub struct Parsed<T> {
    pub value: T,
    pub error_code: Option<i64>,
    pub message: String,
}

impl<T> Parsed<T> {
    /// The same answer, its value turned into a `U`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        Parsed {
            value: f(self.value),
            error_code: self.error_code,
            message: self.message,
        }
    }
}
