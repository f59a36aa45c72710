//! 100 requests pipelined in one write are answered in order, each
//! response complete and byte-exact.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// One pipelined request and what its response must be.
struct Expected {
    method: &'static str,
    path: &'static str,
    status: u16,
    /// The file's contents for a `200` (a HEAD gets only its length).
    body: Option<Vec<u8>>,
}

#[test]
fn one_hundred_pipelined_requests_are_answered_in_order() {
    const REQUESTS: usize = 100;
    let root = DocRoot::new();
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("/a.txt", b"alpha\n".to_vec()),
        ("/empty.txt", Vec::new()),
        (
            "/page.html",
            b"<!doctype html><p>pipelined page</p>\n".to_vec(),
        ),
        ("/mid.bin", pseudo_random(100_000, 1)),
        ("/odd.bin", pseudo_random(65_537, 2)),
        ("/big.bin", pseudo_random(3 * 1024 * 1024 + 3, 3)),
        ("/sub/", b"<p>sub index</p>\n".to_vec()),
    ];
    for (path, contents) in &files {
        let rel = path.trim_start_matches('/');
        let rel = if rel.ends_with('/') {
            format!("{rel}index.html")
        } else {
            rel.to_string()
        };
        root.file(&rel, contents);
    }
    let server = Server::start(root.path(), &["--quiet", "--workers", "2"]);

    // A fixed mix: mostly GETs of the files in turn, every 9th a HEAD,
    // every 13th a 404.
    let mut plan = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let (path, contents) = &files[(i * 5 + i / 7) % files.len()];
        let expected = if i % 13 == 6 {
            Expected {
                method: "GET",
                path: "/missing.txt",
                status: 404,
                body: None,
            }
        } else if i % 9 == 4 {
            Expected {
                method: "HEAD",
                path,
                status: 200,
                body: Some(contents.clone()),
            }
        } else {
            Expected {
                method: "GET",
                path,
                status: 200,
                body: Some(contents.clone()),
            }
        };
        plan.push(expected);
    }
    assert!(plan.iter().any(|e| e.method == "HEAD"));
    assert!(plan.iter().any(|e| e.status == 404));

    // All requests in one write; each carries a little padding so that
    // together they overflow the server's 16 KiB read buffer.
    let mut wire = Vec::new();
    for (i, e) in plan.iter().enumerate() {
        let close = if i == REQUESTS - 1 {
            "Connection: close\r\n"
        } else {
            ""
        };
        let pad = "p".repeat(100 + i % 50);
        wire.extend_from_slice(
            format!(
                "{} {} HTTP/1.1\r\nHost: localhost\r\nX-Request: {i}\r\nX-Pad: {pad}\r\n{close}\r\n",
                e.method, e.path
            )
            .as_bytes(),
        );
    }
    assert!(wire.len() > 16 * 1024, "{} bytes of requests", wire.len());

    let started = Instant::now();
    let mut client = server.client();
    client.send(&wire);
    for (i, e) in plan.iter().enumerate() {
        let what = format!("response {i} ({} {})", e.method, e.path);
        let resp = client
            .try_read_response(e.method == "HEAD")
            .unwrap_or_else(|err| panic!("{what}: {err}"));
        assert_eq!(resp.status, e.status, "{what}: {resp:?}");
        let length = resp
            .content_length()
            .unwrap_or_else(|| panic!("{what}: no Content-Length: {resp:?}"));
        match &e.body {
            Some(contents) => {
                assert_eq!(length, contents.len() as u64, "{what}: {resp:?}");
                if e.method == "HEAD" {
                    assert!(resp.body.is_empty(), "{what}: {resp:?}");
                } else {
                    assert!(
                        resp.body == *contents,
                        "{what}: body differs from the file: {resp:?}"
                    );
                }
            }
            None => assert_eq!(length, resp.body.len() as u64, "{what}: {resp:?}"),
        }
        let last = i == REQUESTS - 1;
        assert_eq!(
            resp.connection_has("close"),
            last,
            "{what}: Connection: close only on the last response: {resp:?}"
        );
    }
    // Nothing follows the last response: the connection just closes.
    let rest = client.read_to_close();
    assert!(
        rest.is_empty(),
        "{} bytes after the last response: {:?}",
        rest.len(),
        String::from_utf8_lossy(&rest[..rest.len().min(200)])
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "100 pipelined requests took {took:?}"
    );
}
