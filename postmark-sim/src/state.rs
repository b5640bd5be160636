//! Shared simulator state and the per-request pipeline: simulator controls first (never
//! faulted), then latency, fault draw, routing (live arrivals before searches, then the GET
//! handler under the model's read lock, or a write under its write lock), fault rewriting of
//! the answer (a paged list's answer may then lose items), and the request log.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use super::admin;
use super::config::Faults;
use super::eastern::from_ticks;
use super::env::Env;
use super::faults::{self, Fault, FaultState, PageFault};
use super::generate;
use super::http::{Reply, Request};
use super::ids;
use super::log::{RequestLog, RequestLogEntry};
use super::model::Model;
use super::query::Query;
use super::routes::{self, Answer};
use super::writes::{self, Write};

const JSON: &str = "application/json; charset=utf-8";

/// Everything the worker threads share.
pub struct Shared {
    pub model: RwLock<Model>,
    pub started: Instant,
    /// The data's anchor (ticks); kept outside the lock so the clock never takes it.
    anchor: i64,
    /// Whether real time elapsed since start counts on the clock.
    clock_runs: bool,
    /// Ticks the clock was moved forward (advance, set_now, live arrivals).
    offset: AtomicI64,
    pub faults: Mutex<FaultState>,
    pub log: RequestLog,
    live_rng: Mutex<fastrand::Rng>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Wraps a generated model.
    pub fn new(model: Model, faults: Faults, clock_runs: bool) -> Shared {
        let seed = model.seed;
        let anchor = model.anchor;
        Shared {
            anchor,
            clock_runs,
            offset: AtomicI64::new(0),
            model: RwLock::new(model),
            started: Instant::now(),
            faults: Mutex::new(FaultState::new(faults, seed)),
            log: RequestLog::default(),
            live_rng: Mutex::new(fastrand::Rng::with_seed(ids::hash(seed, &[0x11FE]))),
        }
    }

    /// Write access to the model.
    pub fn model_write(&self) -> std::sync::RwLockWriteGuard<'_, Model> {
        self.model.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Read access to the model.
    pub fn model_read(&self) -> RwLockReadGuard<'_, Model> {
        self.model.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock before its offset: the anchor, plus real time since start when the clock runs.
    fn base_ticks(&self) -> i64 {
        let elapsed = if self.clock_runs {
            (self.started.elapsed().as_nanos() / 100) as i64
        } else {
            0
        };
        self.anchor + elapsed
    }

    /// The simulator clock in ticks: anchor, plus real time since start when the clock runs,
    /// plus every move forward.
    pub fn now_ticks(&self) -> i64 {
        // No lock here: callers may already hold a read guard, and a second read lock on a
        // writer-preferring RwLock can deadlock while a live arrival waits to write.
        self.base_ticks() + self.offset.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `ticks` (nothing for a negative amount).
    pub fn advance(&self, ticks: i64) {
        self.offset.fetch_add(ticks.max(0), Ordering::SeqCst);
    }

    /// Moves the clock forward to `t` (ticks) unless it is already there or later.
    pub fn advance_to(&self, t: i64) {
        let wanted = t - self.base_ticks();
        self.offset.fetch_max(wanted, Ordering::SeqCst);
    }

    /// Replaces the fault settings (and restarts their RNG and burst counter).
    pub fn set_faults(&self, f: Faults) {
        let seed = self.model_read().seed;
        *lock(&self.faults) = FaultState::new(f, seed);
    }

    /// Appends the configured number of live arrivals.
    fn live_arrivals(&self) {
        let n = lock(&self.faults).faults.live_arrivals_per_request;
        if n == 0 {
            return;
        }
        let now = self.now_ticks();
        let mut rng = lock(&self.live_rng);
        let mut m = self.model.write().unwrap_or_else(|e| e.into_inner());
        generate::live_arrivals(&mut m, now, n, &mut rng);
        // A stopped clock moves with the arrivals, so none of them lies in its future.
        self.advance_to(m.last_live);
    }

    /// Routes and answers one request (no faults here): a GET by its handler (searches get
    /// their live arrivals first), any other method the route takes by the write API.
    fn answer(&self, req: &Request, path: &str, q: &Query) -> Answer {
        let admitted = routes::admit(&self.model_read(), &req.method, path, &req.headers);
        let (route, id, s) = match admitted {
            Ok(admitted) => admitted,
            Err(refusal) => return refusal,
        };
        if req.method != "GET" {
            let write = Write {
                s,
                id: &id,
                body: &req.body,
                now: self.now_ticks(),
            };
            return match writes::apply(route, &mut self.model_write(), &write) {
                Ok(v) => Answer::json(200, &v),
                Err(e) => Answer::json(e.status, &e.body()),
            };
        }
        if route.is_search() {
            self.live_arrivals();
        }
        let m = self.model_read();
        let env = Env {
            m: &m,
            s,
            q,
            now: self.now_ticks(),
            id: &id,
        };
        routes::dispatch(route, &env)
    }

    /// Answers one HTTP request.
    pub fn serve(&self, req: &Request) -> Reply {
        let (path, raw_query) = req
            .target
            .split_once('?')
            .unwrap_or((req.target.as_str(), ""));
        let query = Query::parse(raw_query);
        if admin::is_control(path) {
            let a = admin::answer(&mut self.model_write(), &req.method, path, req.peer);
            let reply = answer_reply(a);
            self.record(req, path, query, (None, false), reply.status, None);
            return reply;
        }
        let (latency, fault) = {
            let mut f = lock(&self.faults);
            (f.faults.latency, f.pick())
        };
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        let (server, account) = routes::identify(&self.model_read(), &req.headers);
        let server_id = server.map(|s| self.model_read().servers[s].id);
        let (reply, page_fault) = self.faulted(fault, req, path, &query);
        let fault = fault
            .map(Fault::name)
            .or_else(|| page_fault.map(PageFault::name));
        self.record(req, path, query, (server_id, account), reply.status, fault);
        reply
    }

    /// The reply to a request that drew `fault` (routed unless the fault replaces the answer),
    /// and the page fault applied to it, if any.
    fn faulted(
        &self,
        fault: Option<Fault>,
        req: &Request,
        path: &str,
        query: &Query,
    ) -> (Reply, Option<PageFault>) {
        let reply = match fault {
            Some(Fault::Burst429) => json_reply(429, faults::status_body(429)),
            Some(Fault::Status(s)) => json_reply(s, faults::status_body(s)),
            Some(Fault::NonJson(s)) => Reply {
                status: s,
                content_type: "text/html; charset=utf-8",
                body: faults::html_body(s),
                drop_after: None,
                allow: None,
            },
            Some(Fault::ErrorCode200) => json_reply(200, faults::error_code_200_body()),
            None | Some(Fault::Drop) | Some(Fault::Truncate) => {
                let a = self.answer(req, path, query);
                match fault {
                    Some(Fault::Truncate) => {
                        json_reply(200, faults::truncate(&a.body.unwrap_or_default()))
                    }
                    Some(Fault::Drop) => {
                        let mut reply = answer_reply(a);
                        reply.drop_after = Some(reply.body.len() / 2);
                        reply
                    }
                    _ => {
                        let (status, allow) = (a.status, a.allow);
                        let (body, cut) = self.page_fault(path, status, a.body.unwrap_or_default());
                        return (
                            Reply {
                                allow,
                                ..json_reply(status, body)
                            },
                            cut,
                        );
                    }
                }
            }
        };
        (reply, None)
    }

    /// Appends one request to the log.
    fn record(
        &self,
        req: &Request,
        path: &str,
        query: Query,
        (server_id, account): (Option<u64>, bool),
        status: u16,
        fault: Option<String>,
    ) {
        self.log.push(RequestLogEntry {
            method: req.method.clone(),
            path: path.to_string(),
            query: query.pairs,
            server_id,
            account,
            status,
            fault,
            at: from_ticks(self.now_ticks()),
        });
    }

    /// Draws and applies the page fault of a successful answer of a paged full-table list; any
    /// other answer passes untouched. Returns the body sent and the fault, if it removed items.
    fn page_fault(&self, path: &str, status: u16, body: Vec<u8>) -> (Vec<u8>, Option<PageFault>) {
        let envelope = routes::resolve(path).and_then(|(route, _)| route.paged_list_envelope());
        let Some(envelope) = envelope.filter(|_| status == 200) else {
            return (body, None);
        };
        let Some(fault) = lock(&self.faults).pick_page() else {
            return (body, None);
        };
        match faults::cut_page(&body, envelope, fault) {
            Some(cut) => (cut, Some(fault)),
            None => (body, None),
        }
    }
}

fn json_reply(status: u16, body: Vec<u8>) -> Reply {
    Reply {
        status,
        content_type: JSON,
        body,
        drop_after: None,
        allow: None,
    }
}

/// The reply carrying a routed answer (an empty body when it has none).
fn answer_reply(a: Answer) -> Reply {
    Reply {
        allow: a.allow,
        ..json_reply(a.status, a.body.unwrap_or_default())
    }
}
