//! A small HTTP server on loopback that answers as a hostile or broken Postmark (or a proxy in
//! front of it) would: each request goes to a rule, which may pass it to the simulator and bend
//! the answer. Every connection is served by its own thread, which ends with its answer; endless
//! answers stop when the client goes away, or at their own bound.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request as received.
pub struct Request {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the rule answers.
pub enum Reply {
    /// The simulator's answer, unchanged.
    Forward,
    /// A JSON answer.
    Json(u16, Value),
    /// A body given as text (for JSON no `Value` can hold), status 200.
    Text(String),
    /// The whole response as bytes: status line, headers and body.
    Raw(Vec<u8>),
    /// A status line and headers, then a body written by the closure.
    Stream(String, Box<dyn FnOnce(&mut TcpStream) + Send>),
}

/// Passes requests to the simulator.
pub struct Upstream {
    base_url: Option<String>,
    agent: ureq::Agent,
}

impl Upstream {
    /// The simulator's answer to `request`: status and body.
    pub fn fetch(&self, request: &Request) -> (u16, Vec<u8>) {
        let base = self
            .base_url
            .as_ref()
            .expect("a rule forwarded without a simulator");
        let mut url = format!("{base}{}", request.path);
        if !request.query.is_empty() {
            url = format!("{url}?{}", request.query);
        }
        let mut call = self.agent.get(&url);
        for name in [
            "X-Postmark-Server-Token",
            "X-Postmark-Account-Token",
            "Accept",
        ] {
            if let Some(v) = request.header(name) {
                call = call.header(name, v);
            }
        }
        let mut response = call.call().expect("the simulator answers");
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_vec()
            .expect("the simulator's body");
        (status, body)
    }

    /// The simulator's answer as JSON.
    pub fn json(&self, request: &Request) -> Value {
        serde_json::from_slice(&self.fetch(request).1).expect("the simulator answers JSON")
    }
}

pub type Rule = dyn Fn(&Request, &Upstream) -> Reply + Send + Sync;

pub struct Hostile {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Serves `rule` on 127.0.0.1; `upstream` is the simulator's base URL, if any.
    pub fn start(
        upstream: Option<String>,
        rule: impl Fn(&Request, &Upstream) -> Reply + Send + Sync + 'static,
    ) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new((
            Upstream {
                base_url: upstream,
                agent: ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into(),
            },
            Box::new(rule) as Box<Rule>,
        ));
        let stop2 = Arc::clone(&stop);
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(conn, &shared.0, &*shared.1));
            }
        });
        Hostile {
            addr,
            stop,
            accept: Some(accept),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(mut conn: TcpStream, upstream: &Upstream, rule: &Rule) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&mut conn) else {
        return;
    };
    let response = match rule(&request, upstream) {
        Reply::Forward => {
            let (status, body) = upstream.fetch(&request);
            response(status, "application/json", &body)
        }
        Reply::Json(status, value) => {
            response(status, "application/json", value.to_string().as_bytes())
        }
        Reply::Text(text) => response(200, "application/json", text.as_bytes()),
        Reply::Raw(bytes) => bytes,
        Reply::Stream(head, body) => {
            if conn.write_all(head.as_bytes()).is_ok() {
                body(&mut conn);
            }
            return;
        }
    };
    let _ = conn.write_all(&response);
    let _ = conn.flush();
}

/// A complete response with `Connection: close`.
pub fn response(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} Hostile\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Request {
        path,
        query,
        headers,
    })
}

/// Writes `chunk` again and again as a chunked body, until the client goes away, `limit` bytes
/// are out, or `time` has passed.
pub fn endless_chunks(conn: &mut TcpStream, chunk: &[u8], limit: u64, time: Duration) {
    let started = Instant::now();
    let mut sent = 0u64;
    let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
    while sent < limit && started.elapsed() < time {
        if conn.write_all(&framed).is_err() {
            return;
        }
        sent += chunk.len() as u64;
    }
}

/// A 200 answer with `headers` (each ending in CRLF), then spaces for a body, written chunk by
/// chunk until the client goes away, `limit` bytes are out, or `time` has passed.
pub fn endless_spaces(headers: &str, limit: u64, time: Duration) -> Reply {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}\r\n");
    Reply::Stream(
        head,
        Box::new(move |conn| endless_chunks(conn, &[b' '; 65536], limit, time)),
    )
}

/// A listener that only counts the connections it gets (a host a token must never reach).
pub struct Bystander {
    pub port: u16,
    hits: Arc<Mutex<u32>>,
    stop: Arc<AtomicBool>,
}

impl Bystander {
    pub fn start() -> Bystander {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let hits = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (hits2, stop2) = (Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if conn.is_ok() {
                    *hits2.lock().unwrap() += 1;
                }
            }
        });
        Bystander { port, hits, stop }
    }

    pub fn hits(&self) -> u32 {
        *self.hits.lock().unwrap()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
