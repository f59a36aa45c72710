//! The request parser fed a byte stream the way a connection reads it:
//! bytes arrive in pieces into a buffer of `MAX_HEADER_BYTES`, each
//! complete head is parsed and taken off, a `Content-Length` body is
//! skipped, a chunked body is read through the server's decoder to its
//! end, and a refusal or a closing request ends the stream.
//!
//! Input: one byte `k` (mod 16), then `k` bytes that size the pieces the
//! stream arrives in (cycled), then the stream itself.
//!
//! Invariants: no panic; a request's head is non-empty, within what was
//! buffered, ends in an empty line, and its framing agrees with its
//! `Content-Length` and `Transfer-Encoding` fields (both together, or
//! `Transfer-Encoding` in HTTP/1.0, are refused); the chunked decoder
//! takes all it is given until the body ends; a full buffer is never "not
//! complete yet" (memory stays bounded); and what the stream turns into
//! does not depend on how it was split: read in one go it gives the same
//! requests, body ends and refusals.

#![no_main]

use libfuzzer_sys::fuzz_target;
use simple_web_server::fuzzing::{
    Body, ChunkedBody, MAX_HEADER_BYTES, Request, Version, parse_request,
};

/// The connection's read buffer (`conn.rs`: `READ_BUFFER`).
const BUFFER: usize = MAX_HEADER_BYTES;
/// The largest body a request may announce (`request.rs`: `MAX_DISCARDED_BODY`).
const MAX_BODY: u64 = 1024 * 1024;

/// What the connection makes of the stream, in order.
#[derive(Debug, PartialEq)]
enum Event {
    /// A request taken (its `Debug` form: every field the parser fills).
    Request(String),
    /// The end of a chunked body: its request is answered now.
    BodyEnd,
    /// A refusal: the status sent before the connection closes.
    Refused(u16),
    /// The stream ended: bytes still buffered (an incomplete head), body
    /// bytes still to skip, and whether a chunked body is unfinished.
    End {
        buffered: usize,
        body_left: u64,
        in_chunked_body: bool,
    },
}

/// A chunked body being read, and whether the connection closes after it.
struct PendingBody {
    chunked: ChunkedBody,
    close: bool,
}

/// A connection's input side: the socket's unread bytes, the buffer, and
/// the body still to skip or decode.
#[derive(Default)]
struct Conn {
    unread: Vec<u8>,
    buf: Vec<u8>,
    body_left: u64,
    body: Option<PendingBody>,
    closed: bool,
    events: Vec<Event>,
}

impl Conn {
    /// Bytes arrive; the connection reads and parses what it can.
    fn arrive(&mut self, bytes: &[u8]) {
        self.unread.extend_from_slice(bytes);
        while !self.closed {
            let room = BUFFER - self.buf.len();
            let n = room.min(self.unread.len());
            self.buf.extend(self.unread.drain(..n));
            let skip = self.body_left.min(self.buf.len() as u64);
            self.buf.drain(..skip as usize);
            self.body_left -= skip;
            if let Some(body) = &mut self.body {
                match body.chunked.feed(&self.buf) {
                    Ok(used) => {
                        assert!(used <= self.buf.len(), "{used} of {}", self.buf.len());
                        assert!(
                            body.chunked.is_done() || used == self.buf.len(),
                            "an unfinished body left {} of {} bytes",
                            self.buf.len() - used,
                            self.buf.len()
                        );
                        self.buf.drain(..used);
                    }
                    Err(status) => {
                        assert!(
                            status == 400 || status == 413,
                            "a body refused with {status}"
                        );
                        self.events.push(Event::Refused(status));
                        self.closed = true;
                        return;
                    }
                }
                if !body.chunked.is_done() {
                    if self.unread.is_empty() {
                        return;
                    }
                    continue;
                }
                self.closed = body.close;
                self.body = None;
                self.events.push(Event::BodyEnd);
                continue;
            }
            if self.buf.is_empty() {
                if self.unread.is_empty() {
                    return;
                }
                continue;
            }
            match parse_request(&self.buf) {
                Ok(Some(request)) => {
                    check_request(&request, &self.buf);
                    self.buf.drain(..request.head_len);
                    self.body_left = match request.body {
                        Body::Length(n) => n,
                        _ => 0,
                    };
                    // As `conn.rs` decides: after `Expect: 100-continue`
                    // the body may or may not come, so the connection closes.
                    let unsure_body = request.expects_continue && request.body != Body::None;
                    let close = !request.keep_alive || unsure_body;
                    if request.body == Body::Chunked {
                        self.body = Some(PendingBody {
                            chunked: ChunkedBody::default(),
                            close,
                        });
                    } else {
                        self.closed = close;
                    }
                    self.events.push(Event::Request(format!("{request:?}")));
                }
                Ok(None) => {
                    assert!(
                        self.buf.len() < BUFFER,
                        "a full buffer of {} bytes is still an incomplete head",
                        self.buf.len()
                    );
                    if self.unread.is_empty() {
                        return;
                    }
                }
                Err(refusal) => {
                    assert!(
                        (400..=505).contains(&refusal.status),
                        "refused with {refusal:?}"
                    );
                    self.events.push(Event::Refused(refusal.status));
                    self.closed = true;
                }
            }
        }
    }

    fn end(mut self) -> Vec<Event> {
        if !self.closed {
            self.events.push(Event::End {
                buffered: self.buf.len(),
                body_left: self.body_left,
                in_chunked_body: self.body.is_some(),
            });
        }
        self.events
    }
}

/// What a parsed request must be, checked against its own bytes.
fn check_request(request: &Request, buf: &[u8]) {
    let head_len = request.head_len;
    assert!(head_len > 0, "an empty head");
    assert!(
        head_len <= buf.len(),
        "head_len {head_len} > {} buffered",
        buf.len()
    );
    assert!(head_len <= MAX_HEADER_BYTES, "a head of {head_len} bytes");
    let head = &buf[..head_len];
    assert!(
        head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"),
        "a head that does not end in an empty line"
    );

    // The header fields as they lie in the head: httparse accepted it, so
    // every line after the request line is `name: value`.
    // Empty lines before the request line are skipped (RFC 9112 §2.2).
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .skip_while(|l| l.is_empty());
    let request_line = lines.next().unwrap_or_default();
    assert!(!request.target.is_empty(), "an empty target");
    assert!(
        request_line
            .windows(request.target.len())
            .any(|w| w == request.target.as_bytes()),
        "a target not in the request line"
    );
    let fields: Vec<(&[u8], &[u8])> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .expect("a field has a colon");
            (&line[..colon], line[colon + 1..].trim_ascii())
        })
        .collect();
    let named = |name: &'static str| {
        fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    };

    let hosts = named("host").count();
    match request.version {
        Version::Http11 => assert_eq!(hosts, 1, "HTTP/1.1 needs exactly one Host"),
        Version::Http10 => assert!(hosts <= 1, "more than one Host"),
    }
    if named("connection").any(|v| has_token(v, b"close")) {
        assert!(!request.keep_alive, "kept alive after Connection: close");
    }

    let lengths: Vec<&[u8]> = named("content-length").collect();
    let transfer_encoding = named("transfer-encoding").count();
    if transfer_encoding > 0 {
        assert!(
            lengths.is_empty(),
            "both Content-Length and Transfer-Encoding taken"
        );
        assert_eq!(
            request.version,
            Version::Http11,
            "Transfer-Encoding in HTTP/1.0 taken"
        );
        assert_eq!(
            request.body,
            Body::Chunked,
            "Transfer-Encoding but no chunked body"
        );
        return;
    }
    // Every Content-Length value is a list of copies of one number.
    let mut length = None;
    for value in &lengths {
        for item in value.split(|&b| b == b',') {
            let item = item.trim_ascii();
            assert!(
                !item.is_empty() && item.iter().all(u8::is_ascii_digit),
                "a Content-Length that is not a number taken"
            );
            let n: u64 = std::str::from_utf8(item)
                .unwrap()
                .parse()
                .expect("fits u64");
            assert!(
                length.is_none_or(|m| m == n),
                "conflicting Content-Length taken"
            );
            length = Some(n);
        }
    }
    let expected = match length {
        None | Some(0) => Body::None,
        Some(n) => {
            assert!(n <= MAX_BODY, "a body of {n} bytes taken");
            Body::Length(n)
        }
    };
    assert_eq!(
        request.body, expected,
        "framing against Content-Length {length:?}"
    );
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The events of `stream` arriving in pieces of the `sizes` given (cycled).
fn run(stream: &[u8], sizes: &[usize]) -> Vec<Event> {
    let mut conn = Conn::default();
    let mut rest = stream;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() && !conn.closed {
        let n = sizes.next().map_or(rest.len(), |&n| n.min(rest.len()));
        conn.arrive(&rest[..n]);
        rest = &rest[n..];
    }
    conn.end()
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, data)) = data.split_first() else {
        return;
    };
    let k = usize::from(k % 16).min(data.len());
    let (sizes, stream) = data.split_at(k);
    // Pieces from 1 byte to a whole buffer, small ones more likely.
    let sizes: Vec<usize> = sizes
        .iter()
        .map(|&s| 1 + usize::from(s).pow(2) / 4)
        .collect();
    let split = run(stream, &sizes);
    if sizes.is_empty() {
        return;
    }
    let whole = run(stream, &[]);
    assert_eq!(
        split, whole,
        "the stream read in pieces {sizes:?} and in one go differ"
    );
});
