//! `--cors [ORIGIN]`: `Access-Control-Allow-Origin` on every response of
//! the public listener, `Vary: Origin` (one `Vary`, with `Accept-Encoding`)
//! when an origin is named, preflights answered, and nothing of it without
//! the flag. (The origins it refuses are in `cli.rs`.)

mod common;

use common::*;

const APP: &str = "https://app.example";

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "0123456789abcdef\n");
    // Compressible and large enough: its responses vary by Accept-Encoding.
    root.file("page.html", "<p>hello</p>\n".repeat(200));
    // A listing varies by Accept (HTML or JSON); as HTML also by coding.
    root.file("dir/x.txt", "x");
    root
}

/// Request header fields, as `exchange` takes them.
type Fields = &'static [(&'static str, &'static str)];

const EXPOSED: &str = "Content-Length, Content-Range, ETag, Last-Modified, Accept-Ranges";

/// A preflight for a GET with two extra request headers.
fn preflight(client: &mut Client, request_headers: Option<&str>) -> Response {
    let mut headers = vec![("Origin", APP), ("Access-Control-Request-Method", "GET")];
    if let Some(value) = request_headers {
        headers.push(("Access-Control-Request-Headers", value));
    }
    exchange(client, "OPTIONS", "/a.txt", &headers)
}

#[test]
fn any_origin_by_default_on_every_response_without_vary() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--cors"]);
    // The path, the request's fields, the status and the `Vary` fields.
    let cases: [(&str, Fields, u16, &[&str]); 5] = [
        ("/a.txt", &[("Origin", APP)], 200, &[]),
        ("/a.txt", &[], 200, &[]),
        ("/missing", &[("Origin", APP)], 404, &[]),
        (
            "/page.html",
            &[("Accept-Encoding", "gzip")],
            200,
            &["Accept-Encoding"],
        ),
        ("/page.html", &[], 200, &["Accept-Encoding"]),
    ];
    let mut client = server.client();
    for (path, headers, status, vary) in cases {
        let resp = exchange(&mut client, "GET", path, headers);
        assert_eq!(resp.status, status, "{path}: {resp:?}");
        assert_eq!(
            resp.header_all("access-control-allow-origin"),
            ["*"],
            "{path}: {resp:?}"
        );
        assert_eq!(
            resp.header("access-control-expose-headers"),
            Some(EXPOSED),
            "{path}: {resp:?}"
        );
        assert_eq!(resp.header_all("vary"), vary, "{path}: {resp:?}");
    }
}

#[test]
fn a_named_origin_adds_origin_to_the_one_vary() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", &format!("--cors={APP}")]);
    let cases: [(&str, Fields, u16, &str); 6] = [
        ("/a.txt", &[("Origin", APP)], 200, "Origin"),
        ("/dir/", &[], 200, "Accept, Accept-Encoding, Origin"),
        ("/dir/?format=json", &[], 200, "Accept, Origin"),
        ("/missing", &[], 404, "Origin"),
        (
            "/page.html",
            &[("Origin", APP), ("Accept-Encoding", "gzip")],
            200,
            "Accept-Encoding, Origin",
        ),
        ("/page.html", &[], 200, "Accept-Encoding, Origin"),
    ];
    let mut client = server.client();
    for (path, headers, status, vary) in cases {
        let resp = exchange(&mut client, "GET", path, headers);
        assert_eq!(resp.status, status, "{path}: {resp:?}");
        assert_eq!(
            resp.header_all("access-control-allow-origin"),
            [APP],
            "{path}: {resp:?}"
        );
        assert_eq!(resp.header_all("vary"), [vary], "{path}: {resp:?}");
    }
    let tag = etag(&exchange(&mut client, "GET", "/page.html", &[]));
    let resp = exchange(&mut client, "GET", "/page.html", &[("If-None-Match", &tag)]);
    assert_eq!(resp.status, 304, "{resp:?}");
    assert_eq!(
        resp.header_all("vary"),
        ["Accept-Encoding, Origin"],
        "{resp:?}"
    );
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
}

#[test]
fn a_preflight_is_answered_with_methods_headers_and_max_age() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", &format!("--cors={APP}")]);
    let mut client = server.client();
    let cases = [
        (
            Some("x-requested-with, range"),
            Some("x-requested-with, range"),
        ),
        (Some("Content-Type,,X-A "), Some("Content-Type, X-A")),
        // Not a list of tokens: left out, and the browser says no.
        (Some("x a"), None),
        (Some("x-a, \"b\""), None),
        (None, None),
    ];
    for (asked, allowed) in cases {
        let resp = preflight(&mut client, asked);
        assert_eq!(resp.status, 204, "{asked:?}: {resp:?}");
        assert!(resp.body.is_empty(), "{asked:?}: {resp:?}");
        let expect = [
            ("access-control-allow-origin", Some(APP)),
            ("access-control-allow-methods", Some("GET, HEAD")),
            ("access-control-allow-headers", allowed),
            ("access-control-max-age", Some("86400")),
            ("allow", Some("GET, HEAD, OPTIONS")),
            ("vary", Some("Origin")),
        ];
        for (name, value) in expect {
            assert_eq!(resp.header(name), value, "{asked:?}, {name}: {resp:?}");
        }
    }
    // An OPTIONS without Access-Control-Request-Method is no preflight.
    let resp = exchange(&mut client, "OPTIONS", "/a.txt", &[("Origin", APP)]);
    assert_eq!(resp.status, 204, "{resp:?}");
    assert_eq!(
        resp.header("access-control-allow-methods"),
        None,
        "{resp:?}"
    );
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
}

#[test]
fn without_the_flag_there_is_no_cors_at_all() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let resp = preflight(&mut client, Some("x-a"));
    assert_eq!(resp.status, 204, "{resp:?}");
    assert_eq!(resp.header("allow"), Some("GET, HEAD, OPTIONS"), "{resp:?}");
    let resp2 = exchange(&mut client, "GET", "/a.txt", &[("Origin", APP)]);
    assert_eq!(resp2.status, 200, "{resp2:?}");
    for resp in [&resp, &resp2] {
        assert!(
            !resp
                .headers
                .iter()
                .any(|(name, _)| name.to_ascii_lowercase().starts_with("access-control-")),
            "{resp:?}"
        );
        assert_eq!(resp.header("vary"), None, "{resp:?}");
    }
}

#[test]
fn the_admin_listener_gets_no_cors() {
    let root = site();
    let server = Server::start(
        root.path(),
        &["--quiet", "--cors", "--admin", "127.0.0.1:0"],
    );
    let mut admin = Client::connect(server.admin_addr());
    let resp = exchange(&mut admin, "GET", "/health", &[("Origin", APP)]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("access-control-allow-origin"), None, "{resp:?}");
}
