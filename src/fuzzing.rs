//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the
//! parsers and planners that read what a client or a balancer sends,
//! reachable from outside the crate so that `cargo fuzz` drives the real
//! code, not a copy. Each is a thin wrapper; the invariants live in the
//! targets. None of this is a stable API.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::SystemTime;

pub use crate::compress::Coding;
pub use crate::http::{
    Body, Conditions, MAX_HEADER_BYTES, Method, Precondition, Ranges, Request, Version,
};
use crate::http::{ChunkError, Chunked, Payload, Status};
pub use crate::proxy::{Header as ProxyHeader, MAX_HEADER as MAX_PROXY_HEADER};

/// A request head the parser refuses: the status code it is answered with
/// (the connection then closes), and the reason that goes to the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

/// The request head parser, as a connection calls it on what it has
/// buffered: `Ok(None)` means "not complete yet, read more".
pub fn parse_request(buf: &[u8]) -> Result<Option<Request>, Refusal> {
    crate::http::parse(buf).map_err(|err| Refusal {
        status: err.status.code(),
        reason: err.reason,
    })
}

/// The chunked request body decoder, fed what a connection has buffered
/// after the head.
#[derive(Default)]
pub struct ChunkedBody(Chunked);

impl ChunkedBody {
    /// How many bytes of `input` belong to the body (all of them until it
    /// ends), or the status code the request gets instead: `400` for
    /// malformed framing, `413` for too much decoded data.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, u16> {
        self.0.feed(input).map_err(|err| match err {
            ChunkError::Malformed(_) => Status::BadRequest.code(),
            ChunkError::TooLarge => Status::ContentTooLarge.code(),
        })
    }

    /// Whether the body ended (the last chunk and the trailers were read).
    pub fn is_done(&self) -> bool {
        self.0.is_done()
    }
}

/// The URL → path resolver: the path under the root that a request target
/// names, or the status code the target is refused with.
pub fn resolve_path(target: &str, show_hidden: bool) -> Result<PathBuf, u16> {
    crate::files::resolve(target, show_hidden)
        .map(|resolved| resolved.rel)
        .map_err(|status| status.code())
}

/// The `Range` parser, for a representation of `len` bytes.
pub fn parse_range(header: &str, len: u64) -> Ranges {
    crate::http::parse_range(header, len)
}

/// An answer as it goes on the wire: what its head says, and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub content_range: Option<String>,
    /// The `Content-Length` the head announces.
    pub content_length: u64,
    /// The bytes that follow the head, every part laid end to end.
    pub body: Vec<u8>,
}

/// The answer to a GET of `page` (an in-memory representation, as a
/// directory listing is served): preconditions, `If-Range`, and `Range`
/// up to the `multipart/byteranges` plan.
pub fn respond(page: Vec<u8>, conditions: &Conditions) -> Answer {
    let variant =
        crate::representation::Variant::generated(page, Cow::Borrowed("text/plain"), false, None);
    let reply = variant.respond(conditions);
    let mut body = Vec::new();
    lay_out(&reply.payload, &mut body);
    Answer {
        status: reply.status.code(),
        content_type: reply
            .content_type
            .or_else(|| reply.representation.map(|r| r.content_type.clone()))
            .map(Cow::into_owned),
        content_range: reply.content_range,
        content_length: reply.payload.len(),
        body,
    }
}

/// Appends the bytes of an in-memory payload to `out`, as the writer sends
/// them.
fn lay_out(payload: &Payload, out: &mut Vec<u8>) {
    match payload {
        Payload::None => {}
        Payload::Bytes(bytes) => out.extend_from_slice(bytes),
        Payload::Shared { bytes, range } => out.extend_from_slice(&bytes[range.clone()]),
        Payload::Parts(parts) => parts.iter().for_each(|part| lay_out(part, out)),
        Payload::File { .. } => unreachable!("a generated page is in memory"),
    }
}

/// The precondition evaluator (RFC 9110 §13.2.2) for a representation
/// with the strong `etag` and `last_modified`.
pub fn evaluate_preconditions(
    conditions: &Conditions,
    etag: &str,
    last_modified: Option<SystemTime>,
) -> Precondition {
    crate::http::evaluate_preconditions(conditions, etag, last_modified)
}

/// Whether `If-Range` lets a `Range` be honoured for a representation with
/// the strong `etag` and `last_modified`.
pub fn if_range_holds(if_range: &str, etag: &str, last_modified: Option<SystemTime>) -> bool {
    crate::http::if_range_holds(if_range, etag, last_modified)
}

/// `Accept-Encoding` negotiation among the codings `available`: `None`
/// means identity.
pub fn negotiate(
    accept_encoding: Option<&str>,
    available: impl Fn(Coding) -> bool,
) -> Option<Coding> {
    crate::representation::negotiate(accept_encoding, available)
}

/// The PROXY protocol header parser, on a connection's first bytes:
/// `Ok(None)` means "may still be a header, wait for more"; `Err` carries
/// the reason the connection is closed.
pub fn parse_proxy_header(buf: &[u8]) -> Result<Option<ProxyHeader>, &'static str> {
    crate::proxy::parse(buf).map_err(|invalid| invalid.0)
}
