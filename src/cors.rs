//! Cross-origin resource sharing (`--cors`, the Fetch standard's CORS
//! protocol): the fields every response carries, so that scripts on other
//! sites may read it, and the answer to a preflight.

use std::borrow::Cow;

use crate::http::{Method, Reply, Request, is_token};

/// `--cors` without a value: any origin.
pub const ANY_ORIGIN: &str = "*";

/// What a script may read beyond the CORS-safelisted fields: enough to
/// fetch ranges and revalidate.
const EXPOSED: &str = "Content-Length, Content-Range, ETag, Last-Modified, Accept-Ranges";

/// The methods a preflight may be told about: a static server has no others.
const METHODS: &str = "GET, HEAD";

/// How long a browser may keep a preflight's answer, in seconds (a day;
/// Firefox's cap, Chrome keeps two hours at most).
const MAX_AGE: &str = "86400";

/// What `--cors` accepts, for its error message.
pub const EXPECTED: &str = "*, null or an origin like https://example.com or \
    http://localhost:8080 (scheme://host[:port] in lower case, no path)";

/// Whether `origin` may be given to `--cors`: `*`, `null` or an origin as
/// browsers serialize it (RFC 6454 §6.2): a lower-case scheme, `://`, a
/// lower-case host (a name, an IPv4 address or a bracketed IPv6 one) and
/// an optional port, nothing after. `Access-Control-Allow-Origin` is
/// compared byte for byte with the request's `Origin`, so anything else
/// would never match.
pub fn valid_origin(origin: &str) -> bool {
    if origin == ANY_ORIGIN || origin == "null" {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) if valid_ipv6(ip) => ("ip", port),
            _ => return false,
        },
        None => authority.split_at(authority.find(':').unwrap_or(authority.len())),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => (1..=5).contains(&digits.len()) && digits.parse::<u16>().is_ok(),
        None => port.is_empty(),
    };
    scheme_ok && host_ok && port_ok
}

/// An IPv6 address as written between brackets, in lower case.
fn valid_ipv6(ip: &str) -> bool {
    ip.parse::<std::net::Ipv6Addr>().is_ok() && !ip.bytes().any(|b| b.is_ascii_uppercase())
}

/// The fields every response gets with `--cors ORIGIN`, formatted.
pub fn response_fields(origin: &str, out: &mut Vec<u8>) {
    for (name, value) in [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Expose-Headers", EXPOSED),
    ] {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
}

/// Whether responses vary by the request's `Origin` (`Vary: Origin`):
/// with one origin named, a cache must not hand a response made for one
/// site to a script of another that it may have been checked against.
pub fn varies(origin: &str) -> bool {
    origin != ANY_ORIGIN
}

/// The answer to a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`), if `request` is one: `204`, the
/// plain `OPTIONS` answer's `Allow`, the methods, the request's headers
/// echoed when they are a list of tokens (left out otherwise), and how
/// long the browser may keep the answer. `Access-Control-Allow-Origin` is
/// among every response's fields.
pub fn preflight(request: &Request) -> Option<Reply> {
    let access = &request.access;
    if request.method != Method::Options
        || access.origin.is_none()
        || access.request_method.is_none()
    {
        return None;
    }
    let mut reply = Reply::options();
    reply
        .headers
        .push(("Access-Control-Allow-Methods", Cow::Borrowed(METHODS)));
    if let Some(headers) = access.request_headers.as_deref().and_then(token_list) {
        reply
            .headers
            .push(("Access-Control-Allow-Headers", Cow::Owned(headers)));
    }
    reply
        .headers
        .push(("Access-Control-Max-Age", Cow::Borrowed(MAX_AGE)));
    Some(reply)
}

/// A comma-separated list of tokens (RFC 9110 §5.6.1: empty elements
/// allowed, and dropped), joined again with `, `; `None` if an element is
/// not a token or none is there.
fn token_list(value: &str) -> Option<String> {
    let mut list = String::new();
    for element in value.split(',') {
        let element = element.trim_matches([' ', '\t']);
        if element.is_empty() {
            continue;
        }
        if !is_token(element) {
            return None;
        }
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(element);
    }
    (!list.is_empty()).then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let cases = [
            ("*", true),
            ("null", true),
            ("https://example.com", true),
            ("http://localhost:8080", true),
            ("http://127.0.0.1:1", true),
            ("http://[::1]:8000", true),
            ("http://[::1]", true),
            ("app+x.y-z://host", true),
            ("https://example.com/", false),
            ("https://example.com/app", false),
            ("https://Example.com", false),
            ("HTTPS://example.com", false),
            ("https://", false),
            ("example.com", false),
            ("https://example.com:", false),
            ("https://example.com:65536", false),
            ("https://example.com:80:80", false),
            ("https://user@example.com", false),
            ("http://[::G]", false),
            ("http://[::1]x", false),
            ("https://example.com?x", false),
            ("1http://x", false),
            ("", false),
        ];
        for (origin, valid) in cases {
            assert_eq!(valid_origin(origin), valid, "{origin:?}");
        }
    }

    #[test]
    fn token_lists() {
        let cases = [
            ("x-requested-with", Some("x-requested-with")),
            ("content-type,x-a", Some("content-type, x-a")),
            (" range ,, if-none-match\t", Some("range, if-none-match")),
            ("", None),
            (" , ", None),
            ("x a", None),
            ("x-a, \"quoted\"", None),
            ("x-a;b", None),
        ];
        for (value, expected) in cases {
            assert_eq!(token_list(value).as_deref(), expected, "{value:?}");
        }
    }
}
