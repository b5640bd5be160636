//! The per-request pipeline: simulator controls first (never faulted), then latency, fault
//! draw, routing (live arrivals before searches, then the GET handler under the model's read
//! lock, or a write under its write lock), fault rewriting of the answer (a paged list's answer
//! may then lose items), and the request log.

use super::controls;
use super::faults::{self, Fault, PageFault};
use super::http::{Reply, Request};
use super::request_log::RequestLogEntry;
use super::routes::{self, Answer, Write};
use super::shared::{lock, Shared};
use crate::endpoints::env::Env;
use crate::endpoints::query::Query;
use crate::generate::eastern::from_ticks;

const JSON: &str = "application/json; charset=utf-8";

impl Shared {
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
            return match routes::apply_write(route, &mut self.model_write(), &write) {
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
        if controls::is_control(path) {
            let now = self.now_ticks();
            let a = controls::answer(&mut self.model_write(), now, &req.method, path, req.peer);
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
