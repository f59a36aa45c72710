//! Request parsing with limits: `httparse` does the syntax, this module the
//! HTTP/1.1 rules on top (framing, `Host`, persistence, limits).

use super::Status;
use std::ops::Range;

/// Longest request target we accept (`414` beyond).
pub const MAX_TARGET: usize = 8 * 1024;
/// Largest header section (request line and headers) we accept (`431` beyond).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields we accept (`431` beyond).
pub const MAX_HEADERS: usize = 100;
/// Largest request body we read and discard; beyond it `413` and close.
pub const MAX_DISCARDED_BODY: u64 = 1024 * 1024;
/// Longest method token we accept (the longest registered one has 17).
const MAX_METHOD: usize = 32;
/// Longest request line: "METHOD SP target SP HTTP/1.1", with room for the
/// method and the version around the longest target.
const MAX_LINE: usize = MAX_TARGET + 32;
/// The transfer codings we can be sent before `chunked` (the body is
/// discarded, so they need no decoding); others get `501`.
const KNOWN_CODINGS: [&[u8]; 6] = [
    b"gzip",
    b"x-gzip",
    b"deflate",
    b"compress",
    b"x-compress",
    b"zstd",
];

/// What the request asks us to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    /// `OPTIONS`: which methods the server allows (`204`).
    Options,
    /// A standard method that a static file server does not allow (`405`).
    NotAllowed,
    /// A method nobody here knows (`501`).
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the request body (if any) is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    None,
    /// `Content-Length` bytes follow the header section.
    Length(u64),
    /// A chunked body follows: read to its end (see `chunked.rs`) before
    /// the request is answered.
    Chunked,
}

/// The header fields that decide how a file is served: raw values, present
/// only when the client sent them.
#[derive(Debug, Default)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_unmodified_since: Option<String>,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub accept_encoding: Option<String>,
    /// Which media type the client prefers: a listing as JSON, and with
    /// `--spa` whether a missing path was a page.
    pub accept: Option<String>,
}

impl Conditions {
    /// The field a header name fills, if it is one of ours.
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        // A cheap filter first: the common headers start with other letters.
        let first = name.as_bytes().first()?.to_ascii_lowercase();
        if !matches!(first, b'i' | b'r' | b'a') {
            return None;
        }
        let fields = [
            ("if-match", &mut self.if_match),
            ("if-none-match", &mut self.if_none_match),
            ("if-modified-since", &mut self.if_modified_since),
            ("if-unmodified-since", &mut self.if_unmodified_since),
            ("range", &mut self.range),
            ("if-range", &mut self.if_range),
            ("accept-encoding", &mut self.accept_encoding),
            ("accept", &mut self.accept),
        ];
        fields
            .into_iter()
            .find(|(field, _)| name.eq_ignore_ascii_case(field))
            .map(|(_, slot)| slot)
    }
}

/// The header fields that `--auth` and `--cors` read: raw values, present
/// only when the client sent them.
#[derive(Debug, Default)]
pub struct AccessFields {
    pub authorization: Option<String>,
    pub origin: Option<String>,
    /// `Access-Control-Request-Method`: with `Origin`, on an `OPTIONS`, a
    /// CORS preflight.
    pub request_method: Option<String>,
    /// `Access-Control-Request-Headers`.
    pub request_headers: Option<String>,
}

impl AccessFields {
    /// The field a header name fills, if it is one of these.
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        let first = name.as_bytes().first()?.to_ascii_lowercase();
        if !matches!(first, b'a' | b'o') {
            return None;
        }
        let fields = [
            ("authorization", &mut self.authorization),
            ("origin", &mut self.origin),
            ("access-control-request-method", &mut self.request_method),
            ("access-control-request-headers", &mut self.request_headers),
        ];
        fields
            .into_iter()
            .find(|(field, _)| name.eq_ignore_ascii_case(field))
            .map(|(_, slot)| slot)
    }
}

/// A parsed request head.
#[derive(Debug)]
pub struct Request {
    /// The method as sent (for the access log).
    pub method_name: String,
    pub method: Method,
    /// The request target as sent: path and query, still percent-encoded.
    pub target: String,
    pub version: Version,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
    pub body: Body,
    /// `Expect: 100-continue`: the client may hold its body back until we
    /// answer, so after our (final) answer we can't know whether it follows.
    pub expects_continue: bool,
    pub conditions: Conditions,
    pub access: AccessFields,
    /// Length of the header section in bytes (the body starts here).
    pub head_len: usize,
    /// Where the `Referer` and `User-Agent` values lie in the parsed bytes
    /// (for the access log; kept as positions so that a request costs no
    /// allocation for them when the log does not show them).
    pub referer: Option<Range<usize>>,
    pub user_agent: Option<Range<usize>>,
}

/// A request that cannot be answered normally. Every one of these closes the
/// connection after its response: the stream can't be trusted any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub status: Status,
    pub reason: &'static str,
}

impl ParseError {
    fn new(status: Status, reason: &'static str) -> ParseError {
        ParseError { status, reason }
    }
}

fn bad(reason: &'static str) -> ParseError {
    ParseError::new(Status::BadRequest, reason)
}

/// Parses the request at the start of `buf`. `Ok(None)` means "not complete
/// yet": read more and call again. The limits above are enforced here, also
/// on a partial request, so a caller never buffers more than
/// [`MAX_HEADER_BYTES`].
pub fn parse(buf: &[u8]) -> Result<Option<Request>, ParseError> {
    match parse_head(buf) {
        // HTTP/1.2 and later 1.x: read as the highest 1.x we speak
        // (RFC 9110 §2.5). The copy differs in that one digit, so every
        // position in the result holds for `buf` too.
        Err(err) if err.reason == NEWER_MINOR => {
            let at = first_line(buf).len() - 1;
            let mut copy = buf.to_vec();
            copy[at] = b'1';
            parse_head(&copy)
        }
        result => result,
    }
}

/// The reason [`version_error`] gives an `HTTP/1.x` newer than 1.1.
const NEWER_MINOR: &str = "a newer HTTP/1.x";

/// The request line, without its line end.
fn first_line(buf: &[u8]) -> &[u8] {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_head(buf: &[u8]) -> Result<Option<Request>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            check_partial(buf)?;
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            // The request line comes first: a read that ended before the
            // 101st field would have judged it already.
            check_request_line(buf)?;
            return Err(ParseError::new(
                Status::HeaderFieldsTooLarge,
                "too many header fields",
            ));
        }
        // httparse judges a version before its line ends: wait for the
        // whole line, so the answer never depends on where a read ended.
        Err(httparse::Error::Version) if !buf.contains(&b'\n') => {
            check_partial(buf)?;
            return Ok(None);
        }
        Err(httparse::Error::Version) => {
            check_request_line(buf)?;
            return Err(version_error(buf));
        }
        Err(_) => {
            // A target over the limit can make httparse fail before it sees
            // the line end: see `check_request_line`. (Not the section's
            // size: a malformed field is a 400 however much follows it.)
            check_request_line(buf)?;
            return Err(bad("malformed request line or header"));
        }
    };
    // Checked on a complete head too, so the answer is the same however
    // the bytes arrived.
    check_request_line(buf)?;
    if head_len > MAX_HEADER_BYTES {
        return Err(ParseError::new(
            Status::HeaderFieldsTooLarge,
            "header section too large",
        ));
    }
    // Lines end in CRLF, here as in a chunked body: a bare LF, which some
    // parsers take for a line end and others for part of a value, is how
    // one request is smuggled past another's framing. RFC 9112 §2.2 lets
    // us refuse it.
    let head = &buf[..head_len];
    if head
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
    {
        return Err(bad("bare LF in the request head"));
    }
    let target = req.path.unwrap_or_default();
    if target.len() > MAX_TARGET {
        return Err(ParseError::new(
            Status::UriTooLong,
            "request target too long",
        ));
    }
    // Visible ASCII only (RFC 9112 §3.2: octets beyond it are sent
    // percent-encoded), and no fragment: those never travel in a request.
    if !target.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Err(bad("invalid request target"));
    }
    let version = match req.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let method_name = req.method.unwrap_or_default();
    let method = match method_name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        "POST" | "PUT" | "DELETE" | "PATCH" | "TRACE" | "CONNECT" => Method::NotAllowed,
        _ => Method::Unknown,
    };
    // The asterisk form is for OPTIONS alone (RFC 9112 §3.2.4).
    if target == "*" && method != Method::Options {
        return Err(bad("'*' target outside OPTIONS"));
    }

    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut close = false;
    let mut keep_alive = false;
    let mut conditions = Conditions::default();
    let mut access = AccessFields::default();
    let mut expects_continue = false;
    let (mut referer, mut user_agent) = (None, None);
    // `value` lies within `buf`: its position there, from the addresses.
    let position = |value: &[u8]| {
        let start = value.as_ptr() as usize - buf.as_ptr() as usize;
        start..start + value.len()
    };
    for header in req.headers.iter() {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if !valid_host(value) {
                return Err(bad("invalid Host header"));
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(value)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(bad("conflicting Content-Length headers"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if transfer_encoding.is_some() {
                return Err(bad("repeated Transfer-Encoding header"));
            }
            transfer_encoding = Some(value);
        } else if name.eq_ignore_ascii_case("expect") {
            expects_continue |= value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in tokens(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("user-agent") {
            user_agent = Some(position(value));
        } else if name.eq_ignore_ascii_case("referer") {
            referer = Some(position(value));
        } else if let Some(slot) = conditions.slot(name).or_else(|| access.slot(name)) {
            // Lists (`If-None-Match`, `Accept-Encoding`) may be split over
            // several fields: join them, as RFC 9110 §5.3 allows. (Fields
            // that are no lists, repeated, join into a value that is
            // refused: two `Authorization`s are no credentials.)
            let value = String::from_utf8_lossy(value);
            match slot {
                Some(joined) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                None => *slot = Some(value.into_owned()),
            }
        }
    }
    if version == Version::Http11 && hosts == 0 {
        return Err(bad("missing Host header"));
    }
    if hosts > 1 {
        return Err(bad("more than one Host header"));
    }
    let body = match (transfer_encoding, content_length) {
        (Some(_), Some(_)) => {
            return Err(bad("both Content-Length and Transfer-Encoding"));
        }
        (Some(_), None) if version == Version::Http10 => {
            return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        (Some(te), None) => {
            transfer_codings(te)?;
            Body::Chunked
        }
        (None, Some(0)) | (None, None) => Body::None,
        (None, Some(n)) if n > MAX_DISCARDED_BODY => {
            return Err(ParseError::new(
                Status::ContentTooLarge,
                "request body too large",
            ));
        }
        (None, Some(n)) => Body::Length(n),
    };
    let keep_alive = match version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive && !close,
    };
    Ok(Some(Request {
        method_name: method_name.to_owned(),
        method,
        target: target.to_owned(),
        version,
        keep_alive,
        body,
        expects_continue,
        conditions,
        access,
        head_len,
        referer,
        user_agent,
    }))
}

/// A request's `Transfer-Encoding`: `chunked` last and only there (RFC
/// 9112 §6.3: otherwise the body's length can't be known, `400`), after
/// codings we know (`501` for others).
fn transfer_codings(te: &[u8]) -> Result<(), ParseError> {
    let codings: Vec<&[u8]> = tokens(te).collect();
    let Some((last, before)) = codings.split_last() else {
        return Err(bad("empty Transfer-Encoding"));
    };
    let chunked = |coding: &&[u8]| coding.eq_ignore_ascii_case(b"chunked");
    if !chunked(last) || before.iter().any(chunked) {
        return Err(bad("Transfer-Encoding without chunked last"));
    }
    let known = |coding: &&[u8]| KNOWN_CODINGS.iter().any(|k| coding.eq_ignore_ascii_case(k));
    if !before.iter().all(known) {
        return Err(ParseError::new(
            Status::NotImplemented,
            "unsupported Transfer-Encoding",
        ));
    }
    Ok(())
}

/// `Host` is `uri-host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2): an IP
/// literal in brackets or a registered name (no user info, path, space or
/// list), then an optional decimal port.
fn valid_host(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    let (host, port) = match value.strip_prefix(b"[") {
        Some(rest) => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let literal = &rest[..end];
            let ip_chars = |b: &u8| b.is_ascii_hexdigit() || b".:vV".contains(b) || sub_delim(*b);
            if literal.is_empty() || !literal.iter().all(ip_chars) {
                return false;
            }
            match &rest[end + 1..] {
                [] => return true,
                [b':', port @ ..] => (&b"x"[..], port),
                _ => return false,
            }
        }
        None => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &b""[..]),
        },
    };
    !host.is_empty() && reg_name(host) && port.iter().all(u8::is_ascii_digit)
}

/// RFC 3986's `reg-name`: unreserved characters, sub-delims and
/// percent-encodings.
fn reg_name(host: &[u8]) -> bool {
    let mut bytes = host.iter();
    while let Some(&b) = bytes.next() {
        let ok = match b {
            b'%' => {
                bytes.next().is_some_and(u8::is_ascii_hexdigit)
                    && bytes.next().is_some_and(u8::is_ascii_hexdigit)
            }
            _ => b.is_ascii_alphanumeric() || b"-._~".contains(&b) || sub_delim(b),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A token of RFC 9110 §5.6.2 (a field name, a method): one or more tchars.
pub fn is_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(is_tchar)
}

/// A `tchar` of RFC 9110 §5.6.2 (the characters of a token).
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// Limits that apply before the header section is complete.
fn check_partial(buf: &[u8]) -> Result<(), ParseError> {
    check_request_line(buf)?;
    if buf.len() >= MAX_HEADER_BYTES {
        return Err(ParseError::new(
            Status::HeaderFieldsTooLarge,
            "header section too large",
        ));
    }
    Ok(())
}

/// The limits of the request line (what of it has arrived): the method's
/// length and the target's.
fn check_request_line(buf: &[u8]) -> Result<(), ParseError> {
    let line_end = buf.iter().position(|&b| b == b'\n');
    let line_len = line_end.unwrap_or(buf.len());
    // A method longer than any there is: not a target too long.
    let method_len = buf[..line_len]
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(line_len);
    if method_len > MAX_METHOD {
        return Err(bad("method too long"));
    }
    if line_len > MAX_LINE {
        // Too long: a 414 if the line was sound up to its limit, as a read
        // that ended there would find; a 400 if it was malformed before.
        let mut one = [httparse::EMPTY_HEADER; 1];
        let head = httparse::Request::new(&mut one).parse(&buf[..MAX_LINE]);
        if !matches!(head, Ok(httparse::Status::Partial)) {
            return Err(bad("malformed request line"));
        }
        return Err(ParseError::new(
            Status::UriTooLong,
            "request target too long",
        ));
    }
    Ok(())
}

/// httparse reports any version other than HTTP/1.0 and HTTP/1.1 as a
/// version error, and a space inside the target as one too (it reads the
/// rest as the version). A request line of three parts with a well-formed
/// `HTTP/x.y` gets 505 (or, for a newer 1.x, is read as 1.1: see
/// [`parse`]); anything else is a malformed request line, 400.
fn version_error(buf: &[u8]) -> ParseError {
    let line = first_line(buf);
    if line.split(|&b| b == b' ').count() != 3 {
        return bad("malformed request line");
    }
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            ParseError::new(Status::VersionNotSupported, NEWER_MINOR)
        }
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            ParseError::new(Status::VersionNotSupported, "HTTP version not supported")
        }
        _ => bad("malformed request line"),
    }
}

/// `Content-Length` is one or more comma-separated copies of one decimal number.
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let mut result = None;
    for token in value.split(|&b| b == b',') {
        let token = token.trim_ascii();
        if token.is_empty() || token.len() > 19 || !token.iter().all(u8::is_ascii_digit) {
            return Err(bad("invalid Content-Length"));
        }
        let n: u64 = std::str::from_utf8(token)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad("invalid Content-Length"))?;
        if result.is_some_and(|m| m != n) {
            return Err(bad("conflicting Content-Length values"));
        }
        result = Some(n);
    }
    result.ok_or(bad("invalid Content-Length"))
}

/// The comma-separated tokens of a header value, trimmed, empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(raw: &str) -> Result<Option<Request>, Status> {
        parse(raw.as_bytes()).map_err(|e| e.status)
    }

    #[test]
    fn complete_requests() {
        let cases: &[(&str, Method, Version, bool, Body)] = &[
            (
                "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                Method::Get,
                Version::Http11,
                true,
                Body::None,
            ),
            (
                "HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                Method::Head,
                Version::Http11,
                false,
                Body::None,
            ),
            (
                "GET / HTTP/1.0\r\n\r\n",
                Method::Get,
                Version::Http10,
                false,
                Body::None,
            ),
            (
                "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                Method::Get,
                Version::Http10,
                true,
                Body::None,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
                Method::NotAllowed,
                Version::Http11,
                true,
                Body::Length(5),
            ),
            (
                "FROB / HTTP/1.1\r\nHost: a\r\n\r\n",
                Method::Unknown,
                Version::Http11,
                true,
                Body::None,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n",
                Method::Get,
                Version::Http11,
                true,
                Body::Length(7),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Method::Get,
                Version::Http11,
                true,
                Body::Chunked,
            ),
        ];
        for (raw, method, version, keep_alive, body) in cases {
            let req = parse(raw.as_bytes()).unwrap().unwrap();
            assert_eq!(req.method, *method, "{raw:?}");
            assert_eq!(req.version, *version, "{raw:?}");
            assert_eq!(req.keep_alive, *keep_alive, "{raw:?}");
            assert_eq!(req.body, *body, "{raw:?}");
            assert_eq!(req.head_len, raw.len(), "{raw:?}");
        }
    }

    #[test]
    fn partial_requests_wait_for_more() {
        for raw in [
            "",
            "GE",
            "GET / HTTP/1.1\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n",
        ] {
            assert!(matches!(status_of(raw), Ok(None)), "{raw:?}");
        }
    }

    #[test]
    fn errors_have_the_right_status() {
        let long_target = format!(
            "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "a".repeat(MAX_TARGET)
        );
        let long_partial = format!("GET /{}", "a".repeat(MAX_TARGET + 100));
        let long_method = "M".repeat(100 * 1024);
        let big_header = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n",
            "a".repeat(MAX_HEADER_BYTES)
        );
        let many_headers = format!(
            "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS)
        );
        let cases: &[(&str, Status)] = &[
            ("HELLO\r\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.1\r\nHost a\r\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.1\r\n\r\n", Status::BadRequest),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
                Status::VersionNotSupported,
            ),
            ("GET /pa th HTTP/1.1\r\nHost: a\r\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.1\nHost: a\r\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.1\r\nHost: a\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.0\n\n", Status::BadRequest),
            (
                "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n",
                Status::BadRequest,
            ),
            ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", Status::BadRequest),
            (
                "GET / HTTP/1.1\r\nHost: user@a:80\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a:80/path\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a:80, b\r\n\r\n",
                Status::BadRequest,
            ),
            ("GET / HTTP/1.1\r\nHost: a:http\r\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.1\r\nHost:\r\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", Status::BadRequest),
            ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Status::BadRequest),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: frob, chunked\r\n\r\n",
                Status::NotImplemented,
            ),
            ("GET / FOO/1.1\r\nHost: a\r\n\r\n", Status::BadRequest),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
                Status::ContentTooLarge,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                Status::BadRequest,
            ),
            (&long_target, Status::UriTooLong),
            (&long_partial, Status::UriTooLong),
            (&long_method, Status::BadRequest),
            (&big_header, Status::HeaderFieldsTooLarge),
            (&many_headers, Status::HeaderFieldsTooLarge),
        ];
        for (raw, status) in cases {
            match status_of(raw) {
                Err(got) => assert_eq!(got, *status, "{:?}", &raw[..raw.len().min(60)]),
                Ok(_) => panic!("accepted {:?}", &raw[..raw.len().min(60)]),
            }
        }
    }

    /// The answer never depends on where a read ended: every prefix of a
    /// request is "incomplete" or gets the whole request's refusal. The
    /// cases are what the `request_stream` fuzz target found
    /// (fuzz/regressions/request_stream/).
    #[test]
    fn the_answer_does_not_depend_on_where_a_read_ended() {
        let long_field = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: \x08{}\r\n\r\n",
            "b".repeat(MAX_HEADER_BYTES)
        );
        let cases = [
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n".to_owned(),
            "GET /abc HTTP/2.0x\r\nHost: a\r\n\r\n".to_owned(),
            format!("{} / HTTP/1.1\r\nHost: a\r\n\r\n", "A".repeat(40)),
            long_field,
            format!("GET /a\x01{} HTTP/1.1\r\nHost: a\r\n\r\n", "b".repeat(9000)),
            format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "b".repeat(9000)),
            format!("GET /{} /d HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000)),
            format!("GET /{} /d HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(100)),
            format!(
                "{} / HTTP/1.1\r\nHost: a\r\n{}\r\n",
                "M".repeat(40),
                "X: y\r\n".repeat(MAX_HEADERS)
            ),
        ];
        for whole in &cases {
            let expected = status_of(whole).expect_err("refused whole");
            for cut in 1..whole.len() {
                match status_of(&whole[..cut]) {
                    Ok(None) => {}
                    Err(status) => assert_eq!(status, expected, "{:.30?} cut at {cut}", whole),
                    Ok(Some(_)) => panic!("{:.30?} accepted at {cut}", whole),
                }
            }
        }
    }

    #[test]
    fn hosts_and_versions_that_are_accepted() {
        let cases = [
            "GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: ex%41mple.org\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.2\r\nHost: a\r\nUser-Agent: ua\r\n\r\n",
            "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        ];
        for raw in cases {
            let req = parse(raw.as_bytes())
                .unwrap_or_else(|e| panic!("{raw:?}: {e:?}"))
                .unwrap_or_else(|| panic!("{raw:?}: incomplete"));
            assert_eq!(req.version, Version::Http11, "{raw:?}");
            assert_eq!(req.head_len, raw.len(), "{raw:?}");
        }
        // Positions found in the copy made for HTTP/1.2 hold in the original.
        let raw = b"GET / HTTP/1.2\r\nHost: a\r\nUser-Agent: ua\r\n\r\n";
        let req = parse(raw).unwrap().unwrap();
        assert_eq!(&raw[req.user_agent.unwrap()], b"ua");
    }

    #[test]
    fn conditions_are_collected() {
        let raw = "GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nIF-NONE-MATCH: \"x\"\r\n\
                   If-None-Match: \"y\"\r\nAccept-Encoding: br\r\nAccept: text/html\r\n\
                   accept: */*;q=0.8\r\n\r\n";
        let req = parse(raw.as_bytes()).unwrap().unwrap();
        assert_eq!(req.conditions.range.as_deref(), Some("bytes=0-1"));
        assert_eq!(
            req.conditions.if_none_match.as_deref(),
            Some("\"x\", \"y\"")
        );
        assert_eq!(req.conditions.accept_encoding.as_deref(), Some("br"));
        assert_eq!(
            req.conditions.accept.as_deref(),
            Some("text/html, */*;q=0.8")
        );
        assert_eq!(req.conditions.if_match, None);
    }
}
