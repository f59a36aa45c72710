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
            "GET,HEAD",
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
fn unsupported_versions_are_505() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    expect_error(&server, b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505);
    expect_error(&server, b"GET / HTTP/1.2\r\nHost: localhost\r\n\r\n", 505);
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

#[test]
fn chunked_body_is_never_parsed_as_a_request() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    client.send(
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n\
          GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    let first = client.read_response();
    match first.status {
        411 | 400 => {
            assert_error_body(&first);
            assert!(
                client.wait_closed(CLOSE_WAIT),
                "refused a chunked request but kept the connection: {first:?}"
            );
        }
        200 => {
            assert_eq!(first.body, b"file a\n");
            // Either the body was skipped and the next request answered,
            // or the server closed the connection after this response.
            match client.try_read_response(false) {
                Ok(second) => {
                    assert_eq!(
                        second.status, 200,
                        "chunk data was parsed as a request: {second:?}"
                    );
                    assert_eq!(second.body, b"file b\n");
                }
                Err(e) => {
                    assert!(
                        is_closed_error(&e),
                        "neither a second response nor a close: {e}"
                    );
                    assert!(
                        first.connection_has("close"),
                        "closed without announcing Connection: close: {first:?}"
                    );
                }
            }
        }
        _ => panic!("unexpected response to a chunked GET: {first:?}"),
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
