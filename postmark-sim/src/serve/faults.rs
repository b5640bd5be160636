//! Fault injection: which fault (if any) a request gets, drawn from a seeded RNG, the canned
//! bodies of the faults that replace the answer, and the rewriting of paged lists that lose items.

use serde_json::{json, Value};

use crate::generate::ids;
use crate::knobs::Faults;

/// A fault chosen for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// One of the remaining `burst_429` answers.
    Burst429,
    /// An error status (500, 503 or 429) from `error_rate`.
    Status(u16),
    /// Headers and part of the body, then the connection is closed.
    Drop,
    /// 200 with a JSON body cut short.
    Truncate,
    /// An HTML error page with this status (200 or 502).
    NonJson(u16),
    /// HTTP 200 whose JSON body carries a non-zero ErrorCode.
    ErrorCode200,
}

impl Fault {
    /// The name recorded in the request log.
    pub fn name(self) -> String {
        match self {
            Fault::Burst429 => "burst_429".to_string(),
            Fault::Status(s) => format!("status_{s}"),
            Fault::Drop => "drop".to_string(),
            Fault::Truncate => "truncate".to_string(),
            Fault::NonJson(s) => format!("non_json_{s}"),
            Fault::ErrorCode200 => "error_code_200".to_string(),
        }
    }
}

/// A fault of a paged full-table list's answer: items go missing while `TotalCount` stays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageFault {
    /// Only the first half of the items (rounded down; a single item is kept).
    Short,
    /// No items.
    Empty,
}

impl PageFault {
    /// The name recorded in the request log.
    pub fn name(self) -> String {
        match self {
            PageFault::Short => "short_page".to_string(),
            PageFault::Empty => "empty_page".to_string(),
        }
    }

    /// How many of `n` items the answer keeps.
    pub fn keep(self, n: usize) -> usize {
        match self {
            PageFault::Short if n >= 2 => n / 2,
            PageFault::Short => n,
            PageFault::Empty => 0,
        }
    }
}

/// The active fault settings and their RNG.
pub struct FaultState {
    pub faults: Faults,
    rng: fastrand::Rng,
    burst_left: u32,
}

impl FaultState {
    /// Fresh state; a zero fault seed is derived from the data seed.
    pub fn new(faults: Faults, data_seed: u64) -> FaultState {
        let seed = if faults.seed == 0 {
            ids::hash(data_seed, &[0xFA17])
        } else {
            faults.seed
        };
        FaultState {
            burst_left: faults.burst_429,
            rng: fastrand::Rng::with_seed(seed),
            faults,
        }
    }

    /// Draws the fault of the next request.
    pub fn pick(&mut self) -> Option<Fault> {
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return Some(Fault::Burst429);
        }
        let f = &self.faults;
        let rates = [
            f.error_rate,
            f.drop_rate,
            f.truncate_rate,
            f.non_json_rate,
            f.error_code_200_rate,
        ];
        if rates.iter().all(|r| *r <= 0.0) {
            return None;
        }
        let mut u = self.rng.f64();
        for (i, r) in rates.iter().enumerate() {
            let r = r.max(0.0);
            if u < r {
                return Some(match i {
                    0 => Fault::Status([500, 503, 429][self.rng.usize(0..3)]),
                    1 => Fault::Drop,
                    2 => Fault::Truncate,
                    3 => Fault::NonJson(if self.rng.bool() { 200 } else { 502 }),
                    _ => Fault::ErrorCode200,
                });
            }
            u -= r;
        }
        None
    }

    /// Draws the page fault of an answer of a paged full-table list (called only for those, and
    /// only when [`FaultState::pick`] drew nothing, so other requests leave the RNG alone).
    pub fn pick_page(&mut self) -> Option<PageFault> {
        let short = self.faults.short_page_rate.max(0.0);
        let empty = self.faults.empty_page_rate.max(0.0);
        if short <= 0.0 && empty <= 0.0 {
            return None;
        }
        let u = self.rng.f64();
        if u < short {
            Some(PageFault::Short)
        } else if u < short + empty {
            Some(PageFault::Empty)
        } else {
            None
        }
    }
}

/// The body of a list answer with the items of its `envelope` list cut as `fault` says, the rest
/// (`TotalCount` included) unchanged; `None` when the fault removes nothing (or the body is not
/// such a list).
pub fn cut_page(body: &[u8], envelope: &str, fault: PageFault) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let items = v.get_mut(envelope)?.as_array_mut()?;
    let keep = fault.keep(items.len());
    if keep == items.len() {
        return None;
    }
    items.truncate(keep);
    Some(v.to_string().into_bytes())
}

/// JSON body of an error-status fault.
pub fn status_body(status: u16) -> Vec<u8> {
    let v = match status {
        503 => json!({"ErrorCode": 100, "Message": "Maintenance"}),
        429 => {
            json!({"ErrorCode": 429, "Message": "Rate limit exceeded: too many requests. Please slow down."})
        }
        _ => json!({"ErrorCode": 1, "Message": "An internal server error occurred. Please retry."}),
    };
    v.to_string().into_bytes()
}

/// JSON body of the HTTP-200-with-ErrorCode fault.
pub fn error_code_200_body() -> Vec<u8> {
    json!({"ErrorCode": 100, "Message": "Maintenance: the request could not be completed, please retry."}).to_string().into_bytes()
}

/// HTML body of the non-JSON fault.
pub fn html_body(status: u16) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{status} Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1><p>The upstream server returned an invalid response.</p><hr><address>nginx</address></body></html>\n"
    )
    .into_bytes()
}

/// A body cut short so that it is no longer valid JSON.
pub fn truncate(body: &[u8]) -> Vec<u8> {
    let cut = (body.len() / 2).max(1).min(body.len().saturating_sub(1));
    body[..cut].to_vec()
}

#[cfg(test)]
mod tests {
    //! How page faults cut a list: halves rounded down, a lone item kept, `TotalCount` untouched.

    use super::*;

    #[test]
    fn short_keeps_the_first_half_and_never_empties_a_page() {
        let kept: Vec<usize> = (0..=5).map(|n| PageFault::Short.keep(n)).collect();
        assert_eq!(kept, vec![0, 1, 1, 1, 2, 2]);
        assert!((0..=5).all(|n| PageFault::Empty.keep(n) == 0));
    }

    #[test]
    fn cut_page_changes_only_the_envelope_list() {
        let body = br#"{"TotalCount":5,"Templates":[1,2,3,4,5]}"#;
        let short = cut_page(body, "Templates", PageFault::Short).unwrap();
        assert_eq!(short, br#"{"Templates":[1,2],"TotalCount":5}"#.to_vec());
        let empty = cut_page(body, "Templates", PageFault::Empty).unwrap();
        assert_eq!(empty, br#"{"Templates":[],"TotalCount":5}"#.to_vec());
        assert_eq!(cut_page(body, "Servers", PageFault::Empty), None);
        let lone = br#"{"TotalCount":5,"Templates":[5]}"#;
        assert_eq!(cut_page(lone, "Templates", PageFault::Short), None);
        assert_eq!(cut_page(b"{\"Templ", "Templates", PageFault::Empty), None);
    }
}
