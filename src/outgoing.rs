//! A response on its way out of a connection: the head and a small body in
//! one write, then the rest part by part (file ranges with `sendfile`, or
//! read and encrypted over TLS), within the turn's write budget.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::access_log::{Entry, Logged};
use crate::conn::Ctx;
use crate::http::{Head, Payload, Reply, Status};
use crate::metrics::MethodLabel;
use crate::stream::Peer;
use crate::transport::{Transport, Wrote};

/// Bodies up to this size are copied behind the head, into one buffer;
/// larger in-memory bodies go out beside it in one gathered write.
pub const COPY_LIMIT: usize = 8 * 1024;
/// Most bytes one `sendfile` call may send (bounded chunks keep latency even).
const SENDFILE_CHUNK: u64 = 1024 * 1024;

/// How a response goes out on this connection, beside what it says.
pub struct Framing {
    /// HEAD: the head only, with the body's `Content-Length`.
    pub head_only: bool,
    /// `Connection: close`, and close once it is sent.
    pub close: bool,
    /// `Connection: keep-alive` (HTTP/1.0 clients need to be told).
    pub announce_keep_alive: bool,
    /// How `/metrics` counts the request.
    pub method: MethodLabel,
    /// For the access log; `None` when there is none.
    pub request: Option<Logged>,
}

impl Framing {
    /// For an answer after which the stream can't be trusted (a malformed
    /// or timed-out request): always closes.
    pub fn closing(request: Logged) -> Framing {
        Framing {
            head_only: false,
            close: true,
            announce_keep_alive: false,
            method: MethodLabel::Other,
            request: Some(request),
        }
    }
}

/// A response on its way out: the head and what of the body fits in `buf`
/// go in one `write`; the rest follows part by part (file ranges with
/// `sendfile`).
pub struct Outgoing {
    pub buf: Vec<u8>,
    written: usize,
    head_len: usize,
    /// What follows `buf`, in order.
    rest: VecDeque<Part>,
    /// Close the connection once this is sent.
    pub close: bool,
    /// When the last byte went out (the write deadline runs from here).
    pub progress: Instant,
    status: Status,
    method: MethodLabel,
    /// When its request's head was read (the worker's round began).
    started: Instant,
    request: Option<Logged>,
    /// Bytes sent so far, head included.
    sent: u64,
    body_sent: u64,
}

/// A piece of a body after the head: bytes in memory (sent with the head
/// in one gathered write when they come first) or a file range (`sendfile`).
enum Part {
    Memory {
        bytes: Memory,
        /// Sent so far.
        pos: usize,
    },
    File {
        file: Rc<File>,
        offset: u64,
        remaining: u64,
    },
}

/// Bytes in memory: our own (multipart heads) or a cached file's, shared.
enum Memory {
    Owned(Vec<u8>),
    Shared {
        bytes: Arc<[u8]>,
        range: Range<usize>,
    },
}

impl Memory {
    fn as_slice(&self) -> &[u8] {
        match self {
            Memory::Owned(bytes) => bytes,
            Memory::Shared { bytes, range } => &bytes[range.clone()],
        }
    }
}

pub enum Sent {
    All,
    Blocked,
    BudgetSpent,
}

impl Outgoing {
    /// The body goes out in more than one piece after the head.
    pub fn in_pieces(&self) -> bool {
        !self.rest.is_empty()
    }

    pub fn encode(reply: Reply, framing: Framing, ctx: &mut Ctx) -> Outgoing {
        let Framing {
            head_only,
            close,
            announce_keep_alive,
            method,
            request,
        } = framing;
        let mut buf = ctx.buffers.take_output();
        let mut head = Head::new(&mut buf, reply.status, ctx.clock.http_date());
        let rep = reply.representation.as_deref();
        // A 304 repeats the validators and caching headers, not the
        // representation's metadata (RFC 9110 §15.4.5).
        let not_modified = reply.status == Status::NotModified;
        match (&reply.content_type, rep) {
            (Some(content_type), _) => head.header("Content-Type", content_type),
            (None, Some(rep)) if !not_modified => head.header("Content-Type", &rep.content_type),
            _ => &mut head,
        };
        if let Some(rep) = rep {
            if let Some(encoding) = rep.content_encoding.filter(|_| !not_modified) {
                head.header("Content-Encoding", encoding);
            }
            head.header("ETag", &rep.etag);
            if let Some(modified) = &rep.last_modified {
                head.header("Last-Modified", modified);
            }
            if let (None, Some(cache_control)) = (reply.cache_control, &ctx.config.cache_control) {
                head.header("Cache-Control", cache_control);
            }
            if !not_modified {
                head.header("Accept-Ranges", "bytes");
            }
        }
        if let Some(cache_control) = reply.cache_control {
            head.header("Cache-Control", cache_control);
        }
        if let Some(policy) = reply.content_security_policy {
            head.header("Content-Security-Policy", policy);
        }
        if let Some(content_range) = &reply.content_range {
            head.header("Content-Range", content_range);
        }
        if let Some(location) = &reply.location {
            head.header("Location", location);
        }
        if let Some(allow) = reply.allow {
            head.header("Allow", allow);
        }
        // One `Vary` for every reason a response may vary: its media type
        // (a listing as HTML or JSON), its coding, the request's origin.
        let reasons = [
            (rep.is_some_and(|rep| rep.varies_by_type), "Accept"),
            (rep.is_some_and(|rep| rep.varies), "Accept-Encoding"),
            (ctx.policy.varies_by_origin(), "Origin"),
        ];
        head.list(
            "Vary",
            reasons.iter().filter(|(on, _)| *on).map(|(_, name)| *name),
        );
        for (name, value) in &reply.headers {
            head.header(name, value);
        }
        head.fields(ctx.policy.fields());
        if !matches!(reply.payload, Payload::None) {
            head.content_length(reply.payload.len());
        }
        if close {
            head.header("Connection", "close");
        } else if announce_keep_alive {
            head.header("Connection", "keep-alive");
        }
        head.finish();
        let head_len = buf.len();
        let mut rest = VecDeque::new();
        if !head_only {
            queue_payload(reply.payload, &mut buf, &mut rest);
        }
        Outgoing {
            buf,
            written: 0,
            head_len,
            rest,
            close,
            progress: ctx.now,
            status: reply.status,
            method,
            started: ctx.now,
            request,
            sent: 0,
            body_sent: 0,
        }
    }

    /// Sends as much as the socket takes, within `budget`: the rest of the
    /// head together with a leading in-memory part (one `sendmsg`), then
    /// part after part.
    pub fn send(
        &mut self,
        transport: &mut Transport,
        budget: &mut u64,
        ctx: &mut Ctx,
    ) -> io::Result<Sent> {
        loop {
            if self.rest.front().is_some_and(Part::is_done) {
                self.rest.pop_front();
                continue;
            }
            let head = &self.buf[self.written..];
            if self.written == self.buf.len() && self.rest.is_empty() {
                // All taken; over TLS, the last records may still wait.
                let all_out = transport.flush()?;
                if transport.take_progress() {
                    self.progress = ctx.now;
                }
                return Ok(if all_out { Sent::All } else { Sent::Blocked });
            }
            if head.is_empty() && *budget == 0 {
                return Ok(Sent::BudgetSpent);
            }
            // Tell the kernel when more follows at once, so it doesn't push
            // a short segment (the head) on its own.
            // When the connection closes after this response, the last
            // piece is held back too: the close then sends it with the FIN,
            // one segment instead of two.
            let parts_after_front = self.rest.len() > 1 || self.close;
            let more = parts_after_front || !head.is_empty() && !self.rest.is_empty();
            let wrote = match self.rest.front_mut() {
                Some(Part::File {
                    file,
                    offset,
                    remaining,
                }) if head.is_empty() => {
                    let chunk = (*remaining).min(SENDFILE_CHUNK).min(*budget);
                    let scratch = ctx.buffers.file_chunk();
                    let wrote = transport.send_file(file, offset, chunk, scratch)?;
                    if let Wrote::Bytes(n) | Wrote::Full(n) = wrote {
                        *remaining -= n;
                    }
                    wrote
                }
                Some(Part::Memory { bytes, pos }) => {
                    let data = &bytes.as_slice()[*pos..];
                    let wrote = transport.write(&[head, data], parts_after_front)?;
                    if let Wrote::Bytes(n) | Wrote::Full(n) = wrote {
                        let into_data = (n as usize).saturating_sub(head.len());
                        *pos += into_data;
                        self.written += n as usize - into_data;
                    }
                    wrote
                }
                _ => {
                    let wrote = transport.write(&[head], more)?;
                    if let Wrote::Bytes(n) | Wrote::Full(n) = wrote {
                        self.written += n as usize;
                    }
                    wrote
                }
            };
            match wrote {
                Wrote::Bytes(n) => self.progressed(n, budget, ctx),
                Wrote::Full(n) => {
                    self.progressed(n, budget, ctx);
                    return Ok(Sent::Blocked);
                }
                Wrote::Blocked => {
                    // Records queued earlier may have gone out meanwhile.
                    if transport.take_progress() {
                        self.progress = ctx.now;
                    }
                    return Ok(Sent::Blocked);
                }
            }
        }
    }

    fn progressed(&mut self, n: u64, budget: &mut u64, ctx: &mut Ctx) {
        // Everything but the head is body (for the access log).
        let total_before = self.sent;
        self.sent += n;
        self.body_sent += self
            .sent
            .saturating_sub((self.head_len as u64).max(total_before));
        *budget = budget.saturating_sub(n);
        ctx.metrics.bytes_sent += n;
        self.progress = ctx.now;
    }

    /// Counts the response for `/metrics` and writes its access-log line,
    /// with the body bytes sent so far (all of them, unless the connection
    /// failed or timed out).
    pub fn done(&self, peer: Peer, ctx: &mut Ctx) {
        let duration = self.started.elapsed();
        ctx.metrics.response(self.method, self.status, duration);
        if let (Some(log), Some(request)) = (ctx.access_log, &self.request) {
            log.write(&Entry {
                peer,
                clf_date: ctx.clock.clf_date(),
                iso_date: ctx.clock.iso_date(),
                request,
                status: self.status.code(),
                body_bytes: self.body_sent,
                duration,
            });
        }
    }
}

/// Lays a payload out for sending: small bytes are copied into `buf` (one
/// write with the head) until the first part that isn't; the rest is queued.
fn queue_payload(payload: Payload, buf: &mut Vec<u8>, rest: &mut VecDeque<Part>) {
    let memory = |bytes: Memory, buf: &mut Vec<u8>, rest: &mut VecDeque<Part>| {
        let data = bytes.as_slice();
        if rest.is_empty() && data.len() <= COPY_LIMIT {
            buf.extend_from_slice(data);
        } else {
            rest.push_back(Part::Memory { bytes, pos: 0 });
        }
    };
    match payload {
        Payload::None => {}
        Payload::Bytes(bytes) => memory(Memory::Owned(bytes), buf, rest),
        Payload::Shared { bytes, range } => memory(Memory::Shared { bytes, range }, buf, rest),
        Payload::File { file, offset, len } => rest.push_back(Part::File {
            file,
            offset,
            remaining: len,
        }),
        Payload::Parts(parts) => {
            for part in parts {
                queue_payload(part, buf, rest);
            }
        }
    }
}

impl Part {
    fn is_done(&self) -> bool {
        match self {
            Part::Memory { bytes, pos } => *pos == bytes.as_slice().len(),
            Part::File { remaining, .. } => *remaining == 0,
        }
    }
}
