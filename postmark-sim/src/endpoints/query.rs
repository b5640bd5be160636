//! Request parameters: query-string parsing with case-insensitive names, Postmark's error
//! envelope, and the shared validations (paging, the 10,000 ceiling, date filters, booleans).

use serde_json::{json, Value};

use crate::generate::eastern::{self, FilterValue, Intervals};

/// A Postmark API error: HTTP status plus the `{"ErrorCode","Message"}` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: i64,
    pub message: String,
}

impl ApiError {
    /// A 422 with the given ErrorCode.
    pub fn unprocessable(code: i64, message: impl Into<String>) -> ApiError {
        ApiError {
            status: 422,
            code,
            message: message.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"ErrorCode": self.code, "Message": self.message})
    }
}

/// Result type of handlers.
pub type ApiResult = Result<Value, ApiError>;

/// Decodes `%XX` escapes (and `+` as space when `plus` is set); invalid escapes stay literal.
pub fn percent_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters in the order sent; names are matched case-insensitively, first one wins.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (without `?`).
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
                None => (percent_decode(p, true), String::new()),
            })
            .collect();
        Query { pairs }
    }

    /// The value of a parameter, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty string parameter.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// Parameters whose name starts with `prefix` (case-insensitive), prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| {
                k.len() > prefix.len() && k[..prefix.len()].eq_ignore_ascii_case(prefix)
            })
            .map(|(k, v)| (k[prefix.len()..].to_string(), v.clone()))
            .collect()
    }

    /// Optional boolean parameter (`true`/`false`, any case).
    pub fn flag(&self, name: &str, code: i64) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::unprocessable(
                code,
                format!("The value '{v}' is not valid for '{name}'."),
            )),
        }
    }
}

/// Paging rules of a list endpoint.
#[derive(Clone, Copy)]
pub struct Paging {
    /// ErrorCode family (700 messages, 1000 bounces, 1100 templates, 600 servers…).
    pub code: i64,
    /// Whether `count + offset <= 10000` applies.
    pub ceiling: bool,
}

/// Validates `count`/`offset` (both required, count 1..=500).
pub fn paging(q: &Query, rules: Paging) -> Result<(usize, usize), ApiError> {
    let count = required_number(q, "count", rules.code)?;
    let offset = required_number(q, "offset", rules.code)?;
    if !(1..=500).contains(&count) {
        return Err(ApiError::unprocessable(
            rules.code,
            "Count must be between 1 and 500.",
        ));
    }
    if offset < 0 {
        return Err(ApiError::unprocessable(
            rules.code,
            "Offset must be a positive number.",
        ));
    }
    if rules.ceiling && count + offset > 10_000 {
        return Err(ApiError::unprocessable(
            rules.code,
            "Count + Offset cannot exceed 10000 messages.",
        ));
    }
    Ok((count as usize, offset as usize))
}

fn required_number(q: &Query, name: &str, code: i64) -> Result<i64, ApiError> {
    match q.get(name) {
        None | Some("") => Err(ApiError::unprocessable(
            code,
            format!("Parameter '{name}' is required but has been left out"),
        )),
        Some(v) => v.trim().parse::<i64>().map_err(|_| {
            ApiError::unprocessable(
                code,
                format!("The value '{v}' is not valid for parameter '{name}'."),
            )
        }),
    }
}

fn date_param(q: &Query, name: &str, code: i64) -> Result<Option<FilterValue>, ApiError> {
    match q.get(name) {
        None | Some("") => Ok(None),
        Some(v) => eastern::parse_filter(v).map(Some).ok_or_else(|| {
            ApiError::unprocessable(
                code,
                format!("The value '{v}' is not a valid date for '{name}'."),
            )
        }),
    }
}

/// The `fromdate`/`todate` window as UTC intervals (empty when a bound carries an offset).
pub fn window(q: &Query, code: i64) -> Result<Intervals, ApiError> {
    let from = date_param(q, "fromdate", code)?;
    let to = date_param(q, "todate", code)?;
    Ok(eastern::filter_intervals(from, to))
}

/// The window further limited to instants at or after `cutoff` (retention).
pub fn window_since(q: &Query, code: i64, cutoff: i64) -> Result<Intervals, ApiError> {
    Ok(eastern::intersect(&window(q, code)?, &[(cutoff, i64::MAX)]))
}

/// The stats day range: (first day, last day, matches-nothing).
pub fn day_range(q: &Query, code: i64) -> Result<(Option<i32>, Option<i32>, bool), ApiError> {
    let from = date_param(q, "fromdate", code)?;
    let to = date_param(q, "todate", code)?;
    let nothing = matches!(from, Some(FilterValue::WithOffset))
        || matches!(to, Some(FilterValue::WithOffset));
    Ok((
        eastern::filter_days(from),
        eastern::filter_days(to),
        nothing,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = Query::parse("Count=5&offset=0&subject=caf%C3%A9+menu&bad=%zz&flag");
        assert_eq!(q.get("COUNT"), Some("5"));
        assert_eq!(q.get("subject"), Some("café menu"));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("a%2", false), "a%2");
    }

    #[test]
    fn validates_paging() {
        let rules = Paging {
            code: 700,
            ceiling: true,
        };
        assert_eq!(
            paging(&Query::parse("count=500&offset=9500"), rules),
            Ok((500, 9500))
        );
        assert_eq!(
            paging(&Query::parse("count=1"), rules).unwrap_err().message,
            "Parameter 'offset' is required but has been left out"
        );
        assert_eq!(
            paging(&Query::parse("count=501&offset=0"), rules)
                .unwrap_err()
                .status,
            422
        );
        assert_eq!(
            paging(&Query::parse("count=500&offset=9501"), rules)
                .unwrap_err()
                .message,
            "Count + Offset cannot exceed 10000 messages."
        );
        assert!(paging(&Query::parse("count=x&offset=0"), rules).is_err());
    }
}
