//! HTTP/1.1 on the wire: request parsing with limits, status codes, response
//! heads and error pages, and the `Date` header.

mod date;
mod request;
mod response;

pub use date::Clock;
pub use request::{Body, MAX_HEADER_BYTES, Method, Request, Version, parse};
pub use response::{Head, Payload, Reply, Representation, Status};
