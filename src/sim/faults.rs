//! Fault injection: which fault (if any) a request gets, drawn from a seeded RNG, and the
//! canned bodies of the faults that replace the answer.

use serde_json::json;

use super::ids;
use super::Faults;

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
