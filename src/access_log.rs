//! One access-log line per response, in Common Log Format, on stdout.
//!
//! Lines go through `log` with the target [`TARGET`]; `main` routes that
//! target to stdout and everything else to stderr.

use std::net::IpAddr;

/// The `log` target of access-log lines.
pub const TARGET: &str = "access";

/// Logs `127.0.0.1 - - [24/Nov/2026:06:52:49 +0000] "GET /a.txt HTTP/1.1" 200 1024`.
/// A body of zero bytes is logged as `-`, as Apache's `%b` does.
pub fn log(peer: IpAddr, date: &str, request_line: &str, status: u16, body_bytes: u64) {
    if body_bytes == 0 {
        log::info!(target: TARGET, "{peer} - - [{date}] \"{request_line}\" {status} -");
    } else {
        log::info!(target: TARGET, "{peer} - - [{date}] \"{request_line}\" {status} {body_bytes}");
    }
}

/// The request line as it can safely appear between quotes in the log: for a
/// request that did not parse, the first line of what the client sent, cut
/// short, with quotes, backslashes and control bytes escaped.
pub fn sanitize(raw: &[u8]) -> String {
    const MAX: usize = 200;
    let line = raw
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(raw);
    let mut out = String::with_capacity(line.len().min(MAX));
    for &b in line.iter().take(MAX) {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes() {
        assert_eq!(
            sanitize(b"GET /\"x\" HTTP/1.1\r\nHost: a"),
            "GET /\\\"x\\\" HTTP/1.1"
        );
        assert_eq!(sanitize(b"\x01\xff"), "\\x01\\xFF");
        assert_eq!(sanitize(&[b'a'; 500]).len(), 200);
    }
}
