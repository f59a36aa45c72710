//! Serving regular files with GET and HEAD.

mod common;

use common::*;
use std::time::{Duration, SystemTime};

/// 2020-01-02 03:04:05 UTC, a Thursday.
const MTIME_SECS: u64 = 1_577_934_245;
const MTIME_HTTP: &str = "Thu, 02 Jan 2020 03:04:05 GMT";

fn site() -> DocRoot {
    let root = DocRoot::new();
    let a = root.file("a.txt", "Hello, file!\n");
    set_mtime(
        a.as_path(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS),
    );
    root.file("page.html", "<!doctype html><title>x</title><p>page</p>\n");
    root.file("style.css", "body { color: red }\n");
    root.file("img.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake png");
    root.file("blob.zzunknownext", b"\x00\x01\x02 opaque");
    root
}

#[test]
fn get_serves_exact_body_and_headers() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.version, "HTTP/1.1", "{resp:?}");
    assert_eq!(resp.body, b"Hello, file!\n");
    assert_eq!(resp.content_length(), Some(13), "{resp:?}");
    assert_eq!(
        resp.content_type().as_deref(),
        Some("text/plain;charset=utf-8"),
        "{resp:?}"
    );
    assert_eq!(resp.header("last-modified"), Some(MTIME_HTTP), "{resp:?}");
    let date = resp.header("date").expect("Date header");
    assert!(is_http_date(date), "bad Date {date:?}");
    let server_hdr = resp.header("server").expect("Server header");
    assert!(
        server_hdr.starts_with("simple-web-server/") && server_hdr.len() > 18,
        "bad Server header {server_hdr:?}"
    );
}

#[test]
fn content_type_follows_extension() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let cases = [
        ("/page.html", "text/html;charset=utf-8"),
        ("/style.css", "text/css;charset=utf-8"),
        ("/a.txt", "text/plain;charset=utf-8"),
        ("/img.png", "image/png"),
        ("/blob.zzunknownext", "application/octet-stream"),
    ];
    let mut client = server.client();
    for (path, want) in cases {
        let resp = client.get(path);
        assert_eq!(resp.status, 200, "{path}: {resp:?}");
        assert_eq!(
            resp.content_type().as_deref(),
            Some(want),
            "{path}: {resp:?}"
        );
        let on_disk = std::fs::read(root.path().join(&path[1..])).unwrap();
        assert_eq!(resp.body, on_disk, "{path}");
    }
}

#[test]
fn head_has_get_headers_and_no_body() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let get = server.get("/page.html");
    assert_eq!(get.status, 200, "{get:?}");

    // HEAD then GET pipelined in one write: if HEAD sent any body bytes the
    // second response would not start with a status line.
    let mut client = server.client();
    let mut both = head_request("/page.html");
    both.push_str(&get_request("/a.txt"));
    client.send(both.as_bytes());
    let head = client.read_head_response();
    assert_eq!(head.status, 200, "{head:?}");
    for name in ["content-length", "content-type", "last-modified"] {
        assert_eq!(head.header(name), get.header(name), "{name}: {head:?}");
    }
    assert!(head.header("date").is_some_and(is_http_date), "{head:?}");
    let next = client.read_response();
    assert_eq!(next.status, 200, "{next:?}");
    assert_eq!(next.body, b"Hello, file!\n");
}

#[test]
fn large_file_arrives_byte_for_byte() {
    let root = DocRoot::new();
    let data = pseudo_random(20 * 1024 * 1024, 42);
    root.file("big.bin", &data);
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/big.bin");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.content_length(), Some(data.len() as u64), "{resp:?}");
    assert_eq!(resp.body.len(), data.len());
    assert!(resp.body == data, "20 MiB body differs from the file");
}

#[test]
fn missing_file_is_404_with_small_html_body() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let resp = client.get("/no-such-file.txt");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_error_body(&resp);
    // HEAD of a missing file: 404 with no body, and the connection is usable.
    let head = client.head("/no-such-file.txt");
    assert_eq!(head.status, 404, "{head:?}");
    let next = client.get("/a.txt");
    assert_eq!(next.status, 200, "{next:?}");
    assert_eq!(next.body, b"Hello, file!\n");
}

#[test]
fn a_file_that_shrinks_mid_download_ends_the_connection() {
    // The client takes the head and stops reading, so the server's sends
    // soon fill the socket buffers. The file is then cut to a length that
    // the server has not reached yet: once the client reads on, it gets the
    // file up to its new end and then a close (the promised length can't be
    // met), not a connection that waits for the socket to want more.
    const LEN: usize = 64 << 20;
    const CUT: u64 = (48 << 20) + 12_345;
    let root = DocRoot::new();
    let path = root.file("big.bin", vec![7u8; LEN]);
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    client.send(get_request("/big.bin").as_bytes());
    let head = client.read_response_head().expect("response head");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.content_length(), Some(LEN as u64), "{head:?}");
    set_len(&path, CUT);
    let body = client.read_to_close();
    assert_eq!(body.len() as u64, CUT, "body bytes before the close");
    assert!(body.iter().all(|&b| b == 7), "body bytes are the file's");
}

#[test]
fn every_response_says_nosniff() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let etag = server.get("/a.txt").header("etag").unwrap().to_owned();
    let responses = [
        fetch(&server, "GET", "/a.txt", &[]),
        fetch(&server, "GET", "/missing", &[]),
        fetch(&server, "GET", "/a.txt", &[("If-None-Match", &etag)]),
        fetch(&server, "POST", "/a.txt", &[("Content-Length", "0")]),
        fetch(&server, "HEAD", "/", &[]),
    ];
    for resp in responses {
        assert_eq!(
            resp.header("x-content-type-options"),
            Some("nosniff"),
            "{resp:?}"
        );
    }
}

#[test]
fn a_file_dated_before_1970_is_served_with_its_date() {
    // httpdate panics before 1970: this used to cost the connection.
    let root = site();
    let old = root.file("old.txt", "from 1960\n");
    set_mtime(
        &old,
        SystemTime::UNIX_EPOCH - Duration::from_secs(315_619_200),
    );
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/old.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, b"from 1960\n");
    assert_eq!(
        resp.header("last-modified"),
        Some("Fri, 01 Jan 1960 00:00:00 GMT"),
        "{resp:?}"
    );
}

#[test]
fn a_listing_with_a_file_dated_before_1970_is_served() {
    let root = DocRoot::new();
    let old = root.file("dir/old.txt", "from 1960\n");
    set_mtime(
        &old,
        SystemTime::UNIX_EPOCH - Duration::from_secs(315_619_200),
    );
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/dir/");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(resp.body_text().contains("old.txt"), "{resp:?}");
}
