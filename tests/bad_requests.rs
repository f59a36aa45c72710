//! Malformed, oversized and unsupported requests.

mod common;

use common::*;
use std::time::Duration;

const CLOSE_WAIT: Duration = Duration::from_secs(5);

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "file a\n");
    root.file("b.txt", "file b\n");
    root.file("big.bin", pseudo_random(4 * 1024 * 1024, 7));
    root
}

/// Sends `raw` on a fresh connection; returns the response and the client.
/// Write errors are ignored: the server may answer and close before it has
/// read everything.
fn exchange(server: &Server, raw: &[u8]) -> (Response, Client) {
    let mut client = server.client();
    let _ = client.try_send(raw);
    let resp = client
        .try_read_response(false)
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", preview(raw)));
    (resp, client)
}

fn preview(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned()
}

/// Sends `raw`, expects `status` with an HTML error body.
fn expect_error(server: &Server, raw: &[u8], status: u16) -> (Response, Client) {
    let (resp, client) = exchange(server, raw);
    assert_eq!(resp.status, status, "{}: {resp:?}", preview(raw));
    assert_error_body(&resp);
    (resp, client)
}

/// Like [`expect_error`], and the response says `Connection: close` and
/// the server then closes.
fn expect_error_and_close(server: &Server, raw: &[u8], status: u16) {
    let (resp, mut client) = expect_error(server, raw, status);
    assert!(
        resp.connection_has("close"),
        "{}: no Connection: close: {resp:?}",
        preview(raw)
    );
    assert!(
        client.wait_closed(CLOSE_WAIT),
        "{}: server kept the connection open",
        preview(raw)
    );
}

fn long_target() -> Vec<u8> {
    format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(9 * 1024)
    )
    .into_bytes()
}

fn big_headers() -> Vec<u8> {
    let mut raw = String::from("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..20 {
        raw.push_str(&format!("X-Fill-{i}: {}\r\n", "v".repeat(1000)));
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

fn many_headers() -> Vec<u8> {
    let mut raw = String::from("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..120 {
        raw.push_str(&format!("X-H{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

#[test]
fn garbage_request_line_is_400() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, b"HELLO\r\n\r\n", 400);
}

#[test]
fn malformed_header_line_is_400() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nThis is not a header\r\n\r\n",
        400,
    );
}

#[test]
fn http11_without_host_is_400() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, b"GET /a.txt HTTP/1.1\r\n\r\n", 400);
    // HTTP/1.0 needs no Host.
    let (ok, _) = exchange(&server, b"GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[test]
fn long_request_target_is_414() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, &long_target(), 414);
}

#[test]
fn large_header_section_is_431() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, &big_headers(), 431);
}

#[test]
fn too_many_headers_is_431() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, &many_headers(), 431);
}

#[test]
fn disallowed_methods_are_405_with_allow() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for method in ["POST", "PUT", "DELETE"] {
        let raw =
            format!("{method} /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
        let (resp, _) = expect_error(&server, raw.as_bytes(), 405);
        let allow = resp
            .header("allow")
            .unwrap_or_else(|| panic!("{method}: no Allow header: {resp:?}"));
        assert_eq!(
            allow.replace(' ', "").to_ascii_uppercase(),
            "GET,HEAD,OPTIONS",
            "{method}: {resp:?}"
        );
    }
}

#[test]
fn unknown_method_is_501() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, request("FROB", "/a.txt").as_bytes(), 501);
}

#[test]
fn unsupported_versions_are_505_and_newer_1x_is_read_as_11() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505);
    // RFC 9110 §2.5: a newer minor version is answered as the highest we
    // speak, on a connection that stays open.
    for version in ["1.2", "1.9"] {
        let mut client = server.client();
        let raw = format!("GET /a.txt HTTP/{version}\r\nHost: localhost\r\n\r\n");
        client.send(raw.as_bytes());
        let resp = client.read_response();
        assert_eq!(
            (resp.status, resp.version.as_str()),
            (200, "HTTP/1.1"),
            "{resp:?}"
        );
        assert_eq!(resp.body, b"file a\n");
        assert_eq!(client.get("/b.txt").body, b"file b\n");
    }
}

/// Each of these is refused with `400` (or `501`) and a close: RFC 9112
/// says the request can't be trusted, or the framing of what follows can't
/// be known. Each was answered differently before (noted).
#[test]
fn invalid_requests_get_400_and_a_close() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let long_method = format!(
        "{} /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "M".repeat(100_000)
    );
    let cases: &[(&[u8], u16, &str)] = &[
        (
            b"GET /a.txt HTTP/1.1\r\nHost: user@localhost:8000\r\n\r\n",
            400,
            "userinfo in Host (was 200)",
        ),
        (
            b"GET /a.txt HTTP/1.1\r\nHost: localhost:8000/path\r\n\r\n",
            400,
            "path in Host (was 200)",
        ),
        (
            b"GET /a.txt HTTP/1.1\r\nHost: localhost:8000, other.example.com\r\n\r\n",
            400,
            "a list in Host (was 200)",
        ),
        (
            b"GET /a.txt HTTP/1.1\r\nHost: localhost:http\r\n\r\n",
            400,
            "a port that is not a number (was 200)",
        ),
        (
            b"GET /a.txt HTTP/1.1\r\nHost:\r\n\r\n",
            400,
            "an empty Host (was 200)",
        ),
        (
            b"GET /pa th HTTP/1.1\r\nHost: localhost\r\n\r\n",
            400,
            "a space in the target (was 505)",
        ),
        (
            b"GET /a.txt#top HTTP/1.1\r\nHost: localhost\r\n\r\n",
            400,
            "a fragment (was 404)",
        ),
        (
            b"GET /caf\xc3\xa9.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
            400,
            "raw octets in the target (was 404)",
        ),
        (long_method.as_bytes(), 400, "a 100 KB method (was 414)"),
        (
            b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            400,
            "chunked not last (was 501)",
        ),
        (
            b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
            "no chunked at all (was 501)",
        ),
        (
            b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: frob, chunked\r\n\r\n",
            501,
            "an unknown coding",
        ),
        (
            b"GET * HTTP/1.1\r\nHost: localhost\r\n\r\n",
            400,
            "'*' outside OPTIONS",
        ),
        (
            b"GET /a.txt HTTP/1.1\nHost: localhost\n\n",
            400,
            "bare LF line ends (was 200)",
        ),
    ];
    for (raw, status, what) in cases {
        let (resp, mut client) = exchange(&server, raw);
        assert_eq!(resp.status, *status, "{what}: {resp:?}");
        assert!(resp.connection_has("close"), "{what}: {resp:?}");
        assert!(client.wait_closed(CLOSE_WAIT), "{what}: kept open");
    }
}

#[test]
fn options_is_204_with_allow_and_the_connection_stays_open() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for target in ["*", "/a.txt", "/missing"] {
        client.send(format!("OPTIONS {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        let resp = client.read_head_response();
        assert_eq!(resp.status, 204, "{target}: {resp:?}");
        assert_eq!(resp.header("allow"), Some("GET, HEAD, OPTIONS"), "{target}");
        assert_eq!(
            resp.header("content-length"),
            None,
            "{target}: a 204 has none"
        );
        assert!(!resp.connection_has("close"), "{target}: {resp:?}");
    }
    assert_eq!(client.get("/a.txt").body, b"file a\n");
}

/// Answers given before a body is read: the body is skipped (or the
/// connection closed), never read as the next request.
#[test]
fn a_body_answered_before_it_is_read_is_never_a_request() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let smuggled = "GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let cases = [
        ("POST", 405),
        ("PUT", 405),
        ("FROB", 501),
        ("OPTIONS", 204),
        ("GET", 200),
    ];
    for (method, status) in cases {
        let mut client = server.client();
        let raw = format!(
            "{method} /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        );
        client.send(raw.as_bytes());
        // A 204 has no body (and no length); the others have one.
        let resp = if status == 204 {
            client.read_head_response()
        } else {
            client.read_response()
        };
        assert_eq!(resp.status, status, "{method}: {resp:?}");
        // The next request on the connection is a real one, answered with
        // a.txt: the smuggled one inside the body was skipped.
        let next = client.get("/a.txt");
        assert_eq!(next.body, b"file a\n", "{method}: {next:?}");
    }
}

#[test]
fn content_length_with_transfer_encoding_is_400_and_close() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error_and_close(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\
          Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn non_numeric_content_length_is_400_and_close() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error_and_close(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
        400,
    );
}

#[test]
fn conflicting_content_lengths_are_400_and_close() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error_and_close(
        &server,
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\
          Content-Length: 4\r\n\r\nabcd",
        400,
    );
}

/// A chunked body is read to its end (RFC 9112 §7.1) and thrown away; the
/// method's own answer follows, and the connection stays open.
#[test]
fn chunked_bodies_are_read_and_the_method_answered() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let head = |method: &str| {
        format!("{method} /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
    };
    let bodies: &[&str] = &[
        "0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\r\n",
        // What looks like a request inside the data stays data.
        "28\r\nGET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n\r\n0\r\n\r\n",
        "5;name=value;q=\"a b\"\r\nhello\r\n0\r\nX-Trailer: yes\r\n\r\n",
        "00000005\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n",
    ];
    for (method, status) in [("GET", 200), ("POST", 405)] {
        for body in bodies {
            let mut client = server.client();
            // In two writes: the body arrives after the head.
            client.send(head(method).as_bytes());
            client.send(format!("{body}GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
            let first = client.read_response();
            assert_eq!(first.status, status, "{method} {body:?}: {first:?}");
            assert!(
                !first.connection_has("close"),
                "{method} {body:?}: {first:?}"
            );
            let second = client.read_response();
            assert_eq!(second.body, b"file b\n", "{method} {body:?}: {second:?}");
        }
    }
}

/// Malformed chunked framing is a 400 and a close; more than 1 MiB decoded
/// is a 413 and a close. Never an answer to the request, never the rest
/// read as a request.
#[test]
fn malformed_or_oversized_chunked_bodies_are_refused() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let too_big = format!("{:x}\r\n", 1024 * 1024 + 1);
    let cases: &[(&str, u16)] = &[
        ("-5\r\nhello\r\n0\r\n\r\n", 400),
        ("0x5\r\nhello\r\n0\r\n\r\n", 400),
        ("5 6\r\nhello\r\n0\r\n\r\n", 400),
        ("5\nhello\r\n0\r\n\r\n", 400),
        ("5\r\nhelloEXTRA\r\n0\r\n\r\n", 400),
        ("11111111111111111\r\n", 400),
        ("5;bad\x01ext\r\nhello\r\n0\r\n\r\n", 400),
        ("0\r\nnot a trailer\r\n\r\n", 400),
        (&too_big, 413),
    ];
    for (body, status) in cases {
        let raw = format!(
            "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{body}\
             GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        );
        let (resp, mut client) = exchange(&server, raw.as_bytes());
        assert_eq!(resp.status, *status, "{body:?}: {resp:?}");
        assert!(resp.connection_has("close"), "{body:?}: {resp:?}");
        assert!(client.wait_closed(CLOSE_WAIT), "{body:?}: kept open");
    }
}

#[test]
fn server_survives_bad_requests_and_broken_clients() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let bad: Vec<Vec<u8>> = vec![
        b"HELLO\r\n\r\n".to_vec(),
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nbroken header\r\n\r\n".to_vec(),
        b"GET /a.txt HTTP/1.1\r\n\r\n".to_vec(),
        long_target(),
        big_headers(),
        many_headers(),
        request("POST", "/a.txt").into_bytes(),
        request("FROB", "/a.txt").into_bytes(),
        b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        b"\x00\x01\x02\xff\xfe\r\n\r\n".to_vec(),
    ];
    for raw in &bad {
        let (resp, _) = exchange(&server, raw);
        assert!(
            (400..600).contains(&resp.status),
            "{}: {resp:?}",
            preview(raw)
        );
    }

    // Half a request, then hang up.
    let mut half = server.client();
    half.send(b"GET /a.txt HTTP/1.1\r\nHo");
    drop(half);
    // Connect and hang up at once.
    drop(server.client());
    // Ask for a file and hang up without reading the response.
    let mut rude = server.client();
    rude.send(get_request("/a.txt").as_bytes());
    drop(rude);
    // Start a large download and hang up in the middle of it.
    let mut quitter = server.client();
    quitter.send(get_request("/big.bin").as_bytes());
    let head = quitter.read_response_head().expect("head of /big.bin");
    assert_eq!(head.status, 200, "{head:?}");
    let mut some = [0u8; 1024];
    quitter.read_exact(&mut some).expect("first body bytes");
    drop(quitter);

    let resp = server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, b"file a\n");
}
