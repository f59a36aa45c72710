//! Persistent connections, HTTP/1.0, pipelining and request bodies.

mod common;

use common::*;
use std::time::Duration;

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "file a\n");
    root.file("b.txt", "file b, a bit longer\n");
    root.file("c.css", "p { margin: 0 }\n");
    root.file("sub/index.html", "<p>sub index</p>\n");
    root
}

#[test]
fn two_requests_on_one_connection() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let first = client.get("/a.txt");
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body, b"file a\n");
    assert!(!first.connection_has("close"), "{first:?}");
    let second = client.get("/b.txt");
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body, b"file b, a bit longer\n");
}

#[test]
fn connection_close_is_honoured() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    client.send(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, b"file a\n");
    assert!(resp.connection_has("close"), "{resp:?}");
    assert!(
        client.wait_closed(Duration::from_secs(5)),
        "server kept the connection open after Connection: close"
    );
}

#[test]
fn http10_without_keep_alive_closes() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    client.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, b"file a\n");
    assert!(
        client.wait_closed(Duration::from_secs(5)),
        "server kept an HTTP/1.0 connection open"
    );
}

#[test]
fn http10_keep_alive_keeps_the_connection() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let req = |path: &str| format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    client.send(req("/a.txt").as_bytes());
    let first = client.read_response();
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.connection_has("keep-alive"), "{first:?}");
    assert_eq!(first.content_length(), Some(7), "{first:?}");
    assert_eq!(first.body, b"file a\n");
    client.send(req("/b.txt").as_bytes());
    let second = client.read_response();
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body, b"file b, a bit longer\n");
}

#[test]
fn ten_pipelined_requests_answered_in_order() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    // (method, path, status, body for GET)
    let plan: [(&str, &str, u16, &str); 10] = [
        ("GET", "/a.txt", 200, "file a\n"),
        ("HEAD", "/b.txt", 200, ""),
        ("GET", "/missing.txt", 404, ""),
        ("GET", "/sub/", 200, "<p>sub index</p>\n"),
        ("HEAD", "/a.txt", 200, ""),
        ("GET", "/c.css", 200, "p { margin: 0 }\n"),
        ("GET", "/b.txt", 200, "file b, a bit longer\n"),
        ("HEAD", "/missing.txt", 404, ""),
        ("GET", "/a.txt?n=9", 200, "file a\n"),
        ("GET", "/b.txt", 200, "file b, a bit longer\n"),
    ];
    let all: String = plan
        .iter()
        .map(|(method, path, _, _)| request(method, path))
        .collect();
    let mut client = server.client();
    client.send(all.as_bytes());
    for (i, (method, path, status, body)) in plan.iter().enumerate() {
        let head = *method == "HEAD";
        let resp = client
            .try_read_response(head)
            .unwrap_or_else(|e| panic!("response {i} ({method} {path}): {e}"));
        assert_eq!(
            resp.status, *status,
            "response {i} ({method} {path}): {resp:?}"
        );
        if head {
            assert!(resp.content_length().is_some(), "{i}: {resp:?}");
        } else if *status == 200 {
            assert_eq!(resp.body_text(), *body, "response {i} ({method} {path})");
        }
    }
}

#[test]
fn request_body_is_discarded_not_parsed() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    // If "hello" were taken as the start of the next request, the server
    // would see a method "helloGET" and answer 501 or 400.
    client.send(
        b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello\
          GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    let first = client.read_response();
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body, b"file a\n");
    let second = client.read_response();
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body, b"file b, a bit longer\n");
}

#[test]
fn idle_keep_alive_connection_times_out() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--keepalive-timeout", "1"]);
    let mut client = server.client();
    let resp = client.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(
        client.wait_closed(Duration::from_secs(8)),
        "idle connection still open well after --keepalive-timeout 1"
    );
}

#[test]
fn incomplete_header_section_times_out() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--header-timeout", "1"]);
    let mut client = server.client();
    client.send(b"GET /a.txt HTTP/1.1\r\nHost: loc");
    assert!(
        client.wait_closed(Duration::from_secs(8)),
        "slow header section not cut off after --header-timeout 1"
    );
    // Others are still served.
    let resp = server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
}

#[test]
fn expect_continue_with_a_body_is_answered_and_closed() {
    // The client holds its body back until it sees 100 Continue; after our
    // final answer it may send it or not, so the connection can't go on.
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    client.send(
        b"POST /a.txt HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
    );
    let resp = client.read_response();
    assert_eq!(resp.status, 405, "{resp:?}");
    assert!(resp.connection_has("close"), "{resp:?}");
    assert!(client.wait_closed(Duration::from_secs(10)));

    // Without Expect, a body that arrives is skipped and the connection lives.
    let mut client = server.client();
    client.send(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    let resp = client.read_response();
    assert_eq!(resp.status, 405, "{resp:?}");
    assert!(!resp.connection_has("close"), "{resp:?}");
    assert_eq!(client.get("/a.txt").body, b"file a\n");
}

#[test]
fn a_body_that_arrives_after_its_answer_leaves_the_connection_idle() {
    // The body is skipped; the connection is idle again, not "reading a
    // request" (which would end with a 408 at the header deadline).
    let root = site();
    let server = Server::start(
        root.path(),
        &[
            "--quiet",
            "--header-timeout",
            "1",
            "--keepalive-timeout",
            "30",
        ],
    );
    let mut client = server.client();
    client.send(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(client.read_response().status, 405);
    client.send(b"hello");
    // Past the header deadline: nothing may arrive, and the connection works.
    client
        .stream()
        .set_read_timeout(Some(Duration::from_millis(2500)))
        .unwrap();
    let mut byte = [0u8; 1];
    match client.read_some(&mut byte) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected silence on an idle connection, got {other:?}"),
    }
    client
        .stream()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(client.get("/a.txt").body, b"file a\n");
}

#[test]
fn a_request_followed_by_fin_is_answered_then_closed() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for _ in 0..5 {
        let mut client = server.client();
        assert_eq!(client.get("/a.txt").status, 200);
        client.send(b"GET /b.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        client.stream().shutdown(std::net::Shutdown::Write).unwrap();
        let resp = client.read_response();
        assert_eq!(resp.body, b"file b, a bit longer\n");
        // The FIN came with the request: the server sees it and closes,
        // rather than keeping the connection until the keep-alive timeout.
        assert!(client.wait_closed(Duration::from_secs(5)));
    }
}
