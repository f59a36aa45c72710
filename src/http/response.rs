//! Status codes, response heads and error pages.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

/// The methods a static file server allows (`Allow`).
const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The `Server` header value.
pub const SERVER: &str = concat!("simple-web-server/", env!("CARGO_PKG_VERSION"));

/// The status codes this server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    NoContent,
    PartialContent,
    MovedPermanently,
    NotModified,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PreconditionFailed,
    ContentTooLarge,
    UriTooLong,
    RangeNotSatisfiable,
    HeaderFieldsTooLarge,
    InternalServerError,
    NotImplemented,
    ServiceUnavailable,
    VersionNotSupported,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::NoContent => 204,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::PreconditionFailed => 412,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::VersionNotSupported => 505,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::NoContent => "No Content",
            Status::PartialContent => "Partial Content",
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::PreconditionFailed => "Precondition Failed",
            Status::ContentTooLarge => "Content Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

/// What to answer: status, the headers that vary by resource, and the body.
/// The connection adds `Server`, `Date`, `Content-Length`, `Connection`
/// and, for files, `Cache-Control`.
#[derive(Debug)]
pub struct Reply {
    pub status: Status,
    /// `Content-Type` of a generated page (error, redirect, listing) or a
    /// `multipart/byteranges` body; wins over the representation's.
    pub content_type: Option<Cow<'static, str>>,
    /// The headers that describe a file, formatted once and shared by every
    /// response that serves it.
    pub representation: Option<Rc<Representation>>,
    /// `Content-Range`, for `206` and `416`.
    pub content_range: Option<String>,
    /// `Cache-Control` of a generated page (file responses take
    /// `--cache-control` instead).
    pub cache_control: Option<&'static str>,
    /// `Content-Security-Policy` of a page of our own (a listing).
    pub content_security_policy: Option<&'static str>,
    pub location: Option<String>,
    /// `Allow`, for `405`.
    pub allow: Option<&'static str>,
    /// Fields of this answer alone: a `401`'s `WWW-Authenticate`, a CORS
    /// preflight's `Access-Control-*`.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    pub payload: Payload,
}

/// What the headers say about one version of a file.
#[derive(Debug)]
pub struct Representation {
    pub content_type: Cow<'static, str>,
    /// `Content-Encoding` of a precompressed sidecar or a variant
    /// compressed on the fly (`br`, `zstd`, `gzip`).
    pub content_encoding: Option<&'static str>,
    /// The resource has other encodings (sidecars, or compression on the
    /// fly): `Vary: Accept-Encoding`.
    pub varies: bool,
    /// The resource has other media types, chosen by `Accept` (a listing,
    /// as HTML or JSON): `Vary: Accept`.
    pub varies_by_type: bool,
    /// A strong entity-tag, quotes included.
    pub etag: String,
    pub modified: Option<SystemTime>,
    /// `Last-Modified`, as an HTTP date.
    pub last_modified: Option<String>,
    pub len: u64,
}

/// A response body.
#[derive(Debug)]
pub enum Payload {
    /// No body at all (`304`): no `Content-Length` either.
    None,
    Bytes(Vec<u8>),
    /// Part of a small file's content, read once and shared.
    Shared {
        bytes: Arc<[u8]>,
        range: Range<usize>,
    },
    /// `len` bytes of `file` from `offset`, sent straight from disk.
    File {
        file: Rc<File>,
        offset: u64,
        len: u64,
    },
    /// One payload after another (`multipart/byteranges`).
    Parts(Vec<Payload>),
}

impl Payload {
    pub fn len(&self) -> u64 {
        match self {
            Payload::None => 0,
            Payload::Bytes(bytes) => bytes.len() as u64,
            Payload::Shared { range, .. } => range.len() as u64,
            Payload::File { len, .. } => *len,
            Payload::Parts(parts) => parts.iter().map(Payload::len).sum(),
        }
    }
}

impl Reply {
    /// The one way to build an error response: the status and a small HTML page.
    pub fn error(status: Status) -> Reply {
        Reply {
            status,
            content_type: Some(Cow::Borrowed("text/html; charset=utf-8")),
            representation: None,
            content_range: None,
            cache_control: None,
            content_security_policy: None,
            location: None,
            allow: (status == Status::MethodNotAllowed).then_some(ALLOW),
            headers: Vec::new(),
            payload: Payload::Bytes(error_page(status)),
        }
    }

    /// The answer to a plain-HTTP request sent to the HTTPS port, in plain
    /// text (as nginx answers it): which scheme to use instead.
    pub fn https_required() -> Reply {
        let mut reply = Reply::error(Status::BadRequest);
        reply.content_type = Some(Cow::Borrowed("text/plain; charset=utf-8"));
        reply.payload = Payload::Bytes(
            b"400 Bad Request: this port speaks HTTPS. Use https:// instead of http://.\n".to_vec(),
        );
        reply
    }

    /// A generated plain-text answer that no cache keeps (the admin
    /// listener's health and metrics).
    pub fn text(status: Status, content_type: &'static str, body: Vec<u8>) -> Reply {
        let mut reply = Reply::error(status);
        reply.content_type = Some(Cow::Borrowed(content_type));
        reply.cache_control = Some("no-store");
        reply.payload = Payload::Bytes(body);
        reply
    }

    /// The answer to `OPTIONS`: which methods there are, and no body.
    pub fn options() -> Reply {
        let mut reply = Reply::error(Status::NoContent);
        reply.content_type = None;
        reply.allow = Some(ALLOW);
        reply.payload = Payload::None;
        reply
    }

    /// A redirect to `location`, with a small page that links there.
    pub fn moved_permanently(location: String) -> Reply {
        let mut reply = Reply::error(Status::MovedPermanently);
        reply.location = Some(location);
        reply
    }
}

/// Every response says its `Content-Type` is to be believed: a browser
/// must not guess another one (run a `.txt` as a script, say).
const NOSNIFF: &str = "X-Content-Type-Options: nosniff\r\n";

/// Writes a response head into a buffer: status line, `Server`, `Date`,
/// then whatever the caller adds, then the blank line.
pub struct Head<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Head<'a> {
    pub fn new(buf: &'a mut Vec<u8>, status: Status, date: &str) -> Head<'a> {
        // Writing into a Vec cannot fail.
        let _ = write!(
            buf,
            "HTTP/1.1 {} {}\r\nServer: {SERVER}\r\nDate: {date}\r\n{NOSNIFF}",
            status.code(),
            status.reason()
        );
        Head { buf }
    }

    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// One field whose value is a list (`Vary: Accept, Origin`), written
    /// only if the list is not empty.
    pub fn list<'v>(&mut self, name: &str, values: impl IntoIterator<Item = &'v str>) -> &mut Self {
        let mut values = values.into_iter();
        let Some(first) = values.next() else {
            return self;
        };
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(first.as_bytes());
        for value in values {
            self.buf.extend_from_slice(b", ");
            self.buf.extend_from_slice(value.as_bytes());
        }
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Header lines formatted beforehand (`Name: value\r\n` each).
    pub fn fields(&mut self, formatted: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(formatted);
        self
    }

    pub fn content_length(&mut self, len: u64) -> &mut Self {
        let _ = write!(self.buf, "Content-Length: {len}\r\n");
        self
    }

    /// Ends the head; the body (if any) follows.
    pub fn finish(self) {
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// The look of the error pages: the listings' colours, light or dark as
/// the reader's system is.
const ERROR_STYLE: &str = "body{margin:0 auto;max-width:36em;padding:12vh 1.25em;\
font:16px/1.5 system-ui,sans-serif;color:#1f2328;background:#fff}\
h1{font-size:1.5em;font-weight:600;margin:0 0 .4em}a{color:#0969da}p{color:#656d76}\
@media(prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}\
a{color:#4493f8}p{color:#8d96a0}}";

/// The small HTML page that goes with every error status: the status, a
/// link to the home page, and who answered; readable on a phone.
pub fn error_page(status: Status) -> Vec<u8> {
    let (code, reason) = (status.code(), status.reason());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{code} {reason}</title><style>{ERROR_STYLE}</style></head>\n\
         <body><h1>{code} {reason}</h1><p><a href=\"/\">Go to the home page</a></p>\
         <p>{SERVER}</p></body></html>\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_layout() {
        let mut buf = Vec::new();
        let mut head = Head::new(&mut buf, Status::NotFound, "Tue, 24 Nov 2026 06:52:49 GMT");
        head.header("Content-Type", "text/html").content_length(12);
        head.finish();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\nServer: simple-web-server/"));
        assert!(text.contains("\r\nDate: Tue, 24 Nov 2026 06:52:49 GMT\r\n"));
        assert!(text.ends_with("Content-Type: text/html\r\nContent-Length: 12\r\n\r\n"));
    }

    #[test]
    fn error_page_names_the_status() {
        let page = String::from_utf8(error_page(Status::UriTooLong)).unwrap();
        assert!(page.contains("<title>414 URI Too Long</title>"));
        assert!(page.contains("<h1>414 URI Too Long</h1>"));
    }

    #[test]
    fn error_pages_stay_small() {
        // The longest reason makes the longest page.
        let page = error_page(Status::HeaderFieldsTooLarge);
        assert!(page.len() < 1024, "{} bytes", page.len());
    }
}
