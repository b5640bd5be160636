//! A small HTTP/1.1 server on `std::net`: one accept thread, one thread per connection
//! (keep-alive, pipelining-safe), and full control of the socket so a fault can close a
//! connection in the middle of a response. Request bodies are read by `Content-Length` (at most
//! [`MAX_BODY`] bytes, else 413); a chunked body is refused with 411.
//!
//! tiny_http was the first choice, but once a response is handed over it keeps the connection
//! open waiting for the next request, so a client promised more body bytes would hang instead of
//! seeing a broken connection. Owning the socket makes the drop fault real.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The largest request body read; a longer `Content-Length` is answered 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// A parsed request: head, body and the client's address.
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client's address (`None` when the socket could not tell).
    pub peer: Option<SocketAddr>,
}

/// What to send back.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Send the headers (with the full Content-Length) and this many body bytes, then close.
    pub drop_after: Option<usize>,
    /// The `Allow` header of a 405 (the methods the path takes).
    pub allow: Option<&'static str>,
}

/// The request handler.
pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

type Conns = Arc<Mutex<Vec<(u64, TcpStream, Option<JoinHandle<()>>)>>>;

/// A running server.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    conns: Conns,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HttpServer {
    /// Binds `addr` and starts serving.
    pub fn start(addr: &str, handler: Handler) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Conns = Arc::new(Mutex::new(Vec::new()));
        let (stop2, conns2) = (stop.clone(), conns.clone());
        let accept = std::thread::Builder::new()
            .name("postmark-sim-accept".into())
            .spawn(move || accept_loop(listener, handler, stop2, conns2))?;
        Ok(HttpServer {
            addr: local,
            stop,
            accept: Some(accept),
            conns,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection and joins all threads.
    pub fn stop(&mut self) {
        if self.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let handles: Vec<JoinHandle<()>> = {
            let mut conns = lock(&self.conns);
            conns
                .iter_mut()
                .filter_map(|(_, s, h)| {
                    let _ = s.shutdown(Shutdown::Both);
                    h.take()
                })
                .collect()
        };
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, handler: Handler, stop: Arc<AtomicBool>, conns: Conns) {
    let next_id = AtomicU64::new(0);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let (h, st, cs) = (handler.clone(), stop.clone(), conns.clone());
        let mut list = lock(&conns);
        list.retain(|(_, _, h)| h.as_ref().is_some_and(|h| !h.is_finished()));
        let spawned = std::thread::Builder::new()
            .name("postmark-sim-conn".into())
            .spawn(move || {
                serve_connection(stream, &h, &st);
                lock(&cs).retain(|(i, _, _)| *i != id);
            });
        if let Ok(handle) = spawned {
            list.push((id, clone, Some(handle)));
        }
    }
}

/// Reads what the client sent next into `buf`; `false` when the connection is over (closed, an
/// error, or the server stopping while the client is idle).
fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
    stop: &AtomicBool,
) -> bool {
    match stream.read(chunk) {
        Ok(0) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            !stop.load(Ordering::SeqCst)
        }
        Err(_) => false,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn serve_connection(mut stream: TcpStream, handler: &Handler, stop: &AtomicBool) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut request_no = 0u64;
    loop {
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p;
            }
            if buf.len() > 64 * 1024 {
                let _ = write_reply(&mut stream, &simple(431), "close", 0);
                return;
            }
            if !read_more(&mut stream, &mut buf, &mut chunk, stop) {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        let Some(mut req) = parse_head(&head) else {
            let _ = write_reply(&mut stream, &simple(400), "close", 0);
            return;
        };
        let header = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let conn = header("connection").unwrap_or_default();
        let body_len = match body_length(&req.headers) {
            Ok(n) => n,
            Err(status) => {
                let _ = write_reply(&mut stream, &simple(status), "close", 0);
                linger(&mut stream);
                return;
            }
        };
        while buf.len() < body_len {
            if !read_more(&mut stream, &mut buf, &mut chunk, stop) {
                return;
            }
        }
        req.body = buf.drain(..body_len).collect();
        req.peer = stream.peer_addr().ok();
        let http10 = head.lines().next().is_some_and(|l| l.ends_with("HTTP/1.0"));
        let close = conn.contains("close") || (http10 && !conn.contains("keep-alive"));
        // A bug in a handler must answer 500, not leave the client waiting on an open socket.
        let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&req)))
            .unwrap_or_else(|_| Reply {
                status: 500,
                content_type: "application/json; charset=utf-8",
                body: br#"{"ErrorCode":500,"Message":"Simulator internal error."}"#.to_vec(),
                drop_after: None,
                allow: None,
            });
        request_no += 1;
        let drop_after = reply.drop_after;
        let ok = write_reply(
            &mut stream,
            &reply,
            if close { "close" } else { "keep-alive" },
            request_no,
        )
        .is_ok();
        if drop_after.is_some() || close || !ok {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Closes the sending side, then reads and drops what the client still sends (a refused body),
/// for at most 2 s and 16 MiB, so it reads the refusal instead of a reset connection.
fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let start = std::time::Instant::now();
    let mut chunk = [0u8; 8192];
    let mut left = 16 * MAX_BODY;
    while left > 0 && start.elapsed() < Duration::from_secs(2) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => left = left.saturating_sub(n),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
            }
            Err(_) => return,
        }
    }
}

fn simple(status: u16) -> Reply {
    Reply {
        status,
        content_type: "text/plain; charset=utf-8",
        body: Vec::new(),
        drop_after: None,
        allow: None,
    }
}

/// The body length a request head announces: its `Content-Length` (0 without one), or the
/// status refusing it: 411 for a `Transfer-Encoding` (chunked bodies are not read), 400 for a
/// malformed or contradictory `Content-Length`, 413 above [`MAX_BODY`].
fn body_length(headers: &[(String, String)]) -> Result<usize, u16> {
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
    {
        return Err(411);
    }
    let mut len = None;
    for (_, v) in headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        let v = v.trim();
        let n: usize = match v.parse() {
            Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(400),
        };
        if len.is_some_and(|l| l != n) {
            return Err(400);
        }
        len = Some(n);
    }
    match len.unwrap_or(0) {
        n if n > MAX_BODY => Err(413),
        n => Ok(n),
    }
}

fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Request {
        method,
        target,
        headers,
        body: Vec::new(),
        peer: None,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

fn write_reply(stream: &mut TcpStream, r: &Reply, connection: &str, _n: u64) -> io::Result<()> {
    let rid =
        crate::generate::ids::uuid(0x005E_ED1D, &[REQUEST_IDS.fetch_add(1, Ordering::Relaxed)]);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nX-Request-Id: {rid}\r\nConnection: {connection}\r\n",
        r.status,
        reason(r.status),
        r.body.len()
    );
    if !r.body.is_empty() || r.status != 405 {
        head.push_str(&format!("Content-Type: {}\r\n", r.content_type));
    }
    if let Some(allow) = r.allow.filter(|_| r.status == 405) {
        head.push_str(&format!("Allow: {allow}\r\n"));
    }
    head.push_str("\r\n");
    let body = match r.drop_after {
        Some(n) => &r.body[..n.min(r.body.len())],
        None => &r.body[..],
    };
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    stream.flush()
}
