//! What the simulator's HTTP tests share: a client that hands back every status as an answer,
//! GETs with credentials (any answer, or a 200 and its JSON), requests of any method with a
//! body, the credential headers, times as answers and filters write them, one server's view
//! ([`Client`]) and the check that its statistics count what its searches list.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::America::New_York;
use postmark_sim::{SimConfig, Simulator};
use serde_json::Value;

pub const SERVER: &str = "X-Postmark-Server-Token";
pub const ACCOUNT: &str = "X-Postmark-Account-Token";

/// The clock of the write tests' accounts.
pub fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 11, 20, 15, 0, 0).unwrap()
}

/// The demo account (`SimConfig::small()`) with its clock at [`anchor`].
pub fn small_at_anchor() -> Simulator {
    Simulator::start(SimConfig {
        now: Some(anchor()),
        ..SimConfig::small()
    })
    .unwrap()
}

/// An HTTP client that returns 4xx and 5xx answers instead of errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// One answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub request_id: Option<String>,
    /// The `Allow` header (405 answers).
    pub allow: Option<String>,
    pub text: String,
}

impl Resp {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", self.text))
    }
}

/// GETs `path` with `headers`: the answer whatever its status, or the transport error (a
/// connection closed mid-body). A `Content-Length` sent must be the length of the body sent.
pub fn try_get(sim: &Simulator, path: &str, headers: &[(&str, &str)]) -> Result<Resp, ureq::Error> {
    let mut req = agent().get(format!("{}{path}", sim.base_url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(path, req.call()?)
}

/// The answer `r` to a request for `path`, its body checked against its `Content-Length`.
fn read(path: &str, mut r: ureq::http::Response<ureq::Body>) -> Result<Resp, ureq::Error> {
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, request_id) = (h("content-type").unwrap_or_default(), h("x-request-id"));
    let allow = h("allow");
    let length = h("content-length").and_then(|v| v.parse::<usize>().ok());
    let text = r.body_mut().read_to_string()?;
    if let Some(length) = length {
        assert_eq!(
            length,
            text.len(),
            "{path}: Content-Length matches the body sent"
        );
    }
    Ok(Resp {
        status: r.status().as_u16(),
        content_type,
        request_id,
        allow,
        text,
    })
}

/// Sends `method` to `path` with `headers` and `body` (none when empty): the answer whatever
/// its status.
pub fn send(
    sim: &Simulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", sim.base_url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_empty() {
        req = req.header("Content-Type", "application/json");
    }
    let req = req
        .body(body.to_string())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    agent
        .run(req)
        .and_then(|r| read(path, r))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// [`try_get`] where the answer must arrive.
pub fn get(sim: &Simulator, path: &str, headers: &[(&str, &str)]) -> Resp {
    try_get(sim, path, headers).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// GETs `path` with one credential header; requires a 200 and returns its JSON.
pub fn get_json(sim: &Simulator, path: &str, header: &str, token: &str) -> Value {
    let r = get(sim, path, &[(header, token)]);
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json()
}

/// Every item of a paged list or search (`key`: its envelope), page by page with one credential
/// header, until `TotalCount` is reached or a page comes back empty.
pub fn get_all(sim: &Simulator, path: &str, key: &str, header: &str, token: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    loop {
        let page = format!("{path}{sep}count=500&offset={}", out.len());
        let v = get_json(sim, &page, header, token);
        let items = v[key].as_array().unwrap().clone();
        let total = v["TotalCount"].as_u64().unwrap() as usize;
        let empty = items.is_empty();
        out.extend(items);
        if out.len() >= total || empty {
            return out;
        }
    }
}

/// The IDs of a server's sending (not inbound) message streams, archived ones included.
pub fn sending_streams(sim: &Simulator, token: &str) -> Vec<String> {
    let path = "/message-streams?IncludeArchivedStreams=true";
    get_json(sim, path, SERVER, token)["MessageStreams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["MessageStreamType"] != "Inbound")
        .map(|s| s["ID"].as_str().unwrap().to_string())
        .collect()
}

/// The per-day statistics endpoints, by the path after `/stats/outbound/`.
pub const STATS_ENDPOINTS: &[&str] = &[
    "sends",
    "bounces",
    "spam",
    "tracked",
    "opens",
    "opens/platforms",
    "opens/emailclients",
    "clicks",
    "clicks/browserfamilies",
    "clicks/platforms",
    "clicks/location",
];

/// [`get_json`] with the first server's token.
pub fn sget(sim: &Simulator, path: &str) -> Value {
    get_json(sim, path, SERVER, &sim.servers()[0].token)
}

/// An RFC 3339 instant of an answer.
pub fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The tap's form of a time: UTC, six fractional digits, `Z`.
pub fn norm(s: &str) -> String {
    instant(s).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An instant as Postmark's filters write it: Eastern wall time, whole seconds.
pub fn wall(t: DateTime<Utc>) -> String {
    t.with_timezone(&New_York)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// `fromdate`/`todate` covering `[a, b)` (whole seconds).
pub fn window(a: DateTime<Utc>, b: DateTime<Utc>) -> String {
    format!(
        "fromdate={}&todate={}.9999999",
        wall(a),
        wall(b - Duration::seconds(1))
    )
}

/// A JSON value as text: a string as is, anything else as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One server's view through HTTP: its id, its token and its sending streams (archived ones
/// included).
pub struct Client<'a> {
    pub sim: &'a Simulator,
    pub id: u64,
    pub token: String,
    pub streams: Vec<String>,
}

impl<'a> Client<'a> {
    pub fn new(sim: &'a Simulator, server: usize) -> Client<'a> {
        let s = &sim.servers()[server];
        Client {
            sim,
            id: s.id,
            token: s.token.clone(),
            streams: sending_streams(sim, &s.token),
        }
    }

    pub fn get(&self, path: &str) -> Value {
        get_json(self.sim, path, SERVER, &self.token)
    }

    /// The answer's status and text, whatever the status.
    pub fn raw(&self, path: &str) -> (u16, String) {
        let r = get(self.sim, path, &[(SERVER, &self.token)]);
        (r.status, r.text)
    }
}

/// The statistics of one query (a stream and a day) count what its searches list.
pub fn assert_stats_agree(c: &Client, q: &str) {
    let total = |p: &str| c.get(&format!("{p}?count=1&offset=0&{q}"))["TotalCount"].as_u64();
    let stat = |ep: &str, key: &str| c.get(&format!("/stats/outbound/{ep}?{q}"))[key].as_u64();
    let sent = stat("sends", "Sent").unwrap_or(0);
    assert_eq!(Some(sent), total("/messages/outbound"), "{q}: sends");
    let opens = stat("opens", "Opens").unwrap_or(0);
    assert_eq!(Some(opens), total("/messages/outbound/opens"), "{q}: opens");
    let clicks = stat("clicks", "Clicks").unwrap_or(0);
    assert_eq!(
        Some(clicks),
        total("/messages/outbound/clicks"),
        "{q}: clicks"
    );
    let by_type = c.get(&format!("/stats/outbound/bounces?{q}"));
    let counts = by_type
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "Days");
    let bounced: u64 = counts.map(|(_, n)| n.as_u64().unwrap()).sum();
    let spam = stat("spam", "SpamComplaint").unwrap_or(0);
    assert_eq!(Some(bounced + spam), total("/bounces"), "{q}: bounces");
    let overview = c.get(&format!("/stats/outbound?{q}"));
    assert_eq!(overview["Sent"].as_u64(), Some(sent), "{q}: overview");
    assert_eq!(overview["Opens"].as_u64(), Some(opens), "{q}: overview");
    assert_eq!(
        overview["SpamComplaints"].as_u64(),
        Some(spam),
        "{q}: overview"
    );
}
