//! HTTP/1.1 on the wire: request parsing with limits, status codes, response
//! heads and error pages, and the `Date` header.

mod chunked;
mod conditional;
mod date;
mod range;
mod request;
mod response;

pub use chunked::{ChunkError, Chunked};
pub use conditional::{Precondition, evaluate as evaluate_preconditions, if_range_holds};
pub use date::{Clock, Utc, http_date};
pub use range::{Ranges, parse as parse_range};
pub use request::{Body, Conditions, MAX_HEADER_BYTES, Method, Request, Version, is_token, parse};
pub use response::{Head, Payload, Reply, Representation, SERVER, Status};
