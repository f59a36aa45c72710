//! `--header`: fields added to every response of the public listener, in
//! the order given, and none on the admin listener. (The names and values
//! it refuses are in `cli.rs`.)

mod common;

use common::*;

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "0123456789abcdef\n");
    root.file("list/b.txt", "b");
    root
}

/// The fields every response of a server from [`start`] carries.
fn assert_fields(resp: &Response, what: &str) {
    assert_eq!(
        resp.header_all("x-frame-options"),
        ["DENY"],
        "{what}: {resp:?}"
    );
    assert_eq!(
        resp.header_all("link"),
        ["</a.txt>; rel=preload"],
        "{what}: {resp:?}"
    );
    assert_eq!(
        resp.header_all("x-extra"),
        ["one", "two"],
        "{what}: {resp:?}"
    );
}

fn start(root: &DocRoot, more: &[&str]) -> Server {
    let mut args = vec![
        "--quiet",
        "--header",
        "X-Frame-Options: DENY",
        "--header",
        "Link: </a.txt>; rel=preload",
        // A name given twice is sent twice, in order; the spaces around a
        // value are not part of it.
        "--header=X-Extra:  one ",
        "--header",
        "X-Extra: two",
    ];
    args.extend_from_slice(more);
    Server::start(root.path(), &args)
}

/// A method, a target, the request's fields and the status expected.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u16);

#[test]
fn every_kind_of_response_carries_the_fields() {
    let root = site();
    let server = start(&root, &[]);
    let tag = etag(&server.get("/a.txt"));
    let cases: [Case; 10] = [
        ("GET", "/a.txt", &[], 200),
        ("HEAD", "/a.txt", &[], 200),
        ("GET", "/a.txt", &[("Range", "bytes=0-3")], 206),
        ("GET", "/a.txt", &[("If-None-Match", &tag)], 304),
        ("GET", "/a.txt", &[("Range", "bytes=99-")], 416),
        ("GET", "/missing", &[], 404),
        ("GET", "/list", &[], 301),
        ("GET", "/list/", &[], 200),
        ("OPTIONS", "*", &[], 204),
        ("DELETE", "/a.txt", &[], 405),
    ];
    let mut client = server.client();
    for (method, path, headers, status) in cases {
        let resp = exchange(&mut client, method, path, headers);
        let what = format!("{method} {path} {headers:?}");
        assert_eq!(resp.status, status, "{what}: {resp:?}");
        assert_fields(&resp, &what);
    }
}

#[test]
fn answers_to_malformed_requests_carry_them_too() {
    let root = site();
    let server = start(&root, &[]);
    let mut client = server.client();
    client.send(b"GET /a.txt HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_fields(&resp, "a 400");
}

#[test]
fn the_admin_listener_gets_none() {
    let root = site();
    let server = start(&root, &["--admin", "127.0.0.1:0"]);
    for path in ["/health", "/metrics", "/missing"] {
        let resp = exchange(&mut Client::connect(server.admin_addr()), "GET", path, &[]);
        for name in ["x-frame-options", "link", "x-extra"] {
            assert_eq!(resp.header(name), None, "{path}: {resp:?}");
        }
    }
    assert_fields(&server.get("/a.txt"), "the public listener beside it");
}
