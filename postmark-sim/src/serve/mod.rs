//! Serving over HTTP: the HTTP/1.1 server, routing, fault injection, the simulator controls,
//! the request log, and the state and clock the threads share with the pipeline each request
//! goes through.

pub mod controls;
pub mod faults;
pub mod http;
pub mod pipeline;
pub mod request_log;
pub mod routes;
pub mod shared;
