//! What a missing path gets: the site's own `404.html` (always a 404,
//! never a 304 or a 206), or the built-in error pages, which every error
//! shares.

mod common;

use common::*;
use std::time::Duration;

const PAGE: &str = "<!doctype html><title>lost</title><h1>Nothing here</h1>\n";

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("404.html", PAGE);
    root.file("a.txt", "a");
    root.file(".env", "SECRET_TOKEN=1");
    root.dir("docs");
    root
}

#[test]
fn a_missing_path_gets_the_sites_404_page() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for path in [
        "/missing",
        "/missing.html",
        "/deep/er/path/",
        "/a.txt/below-a-file",
        "/.env",
        "/docs/missing.png",
        "/missing?with=query",
    ] {
        let resp = client.get(path);
        assert_eq!(resp.status, 404, "{path}: {resp:?}");
        assert_eq!(resp.body_text(), PAGE, "{path}");
        assert_eq!(
            resp.content_type().as_deref(),
            Some("text/html;charset=utf-8"),
            "{path}"
        );
        assert_eq!(resp.content_length(), Some(PAGE.len() as u64));
        // Nothing that would let a cache or a client treat it as a 200.
        for header in ["etag", "last-modified", "accept-ranges", "content-range"] {
            assert_eq!(resp.header(header), None, "{path}: {header} in {resp:?}");
        }
    }
    // The page itself is an ordinary file.
    let page = client.get("/404.html");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.header("etag").is_some());
}

#[test]
fn head_of_a_missing_path_gets_the_head_of_the_404_page() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let resp = exchange(&mut client, "HEAD", "/missing", &[]);
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_eq!(resp.content_length(), Some(PAGE.len() as u64));
    assert!(resp.body.is_empty());
    // The connection is still in step: the next answer is whole.
    assert_eq!(client.get("/a.txt").body, b"a");
}

#[test]
fn conditions_and_ranges_never_make_a_404_page_a_304_or_a_206() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let page_tag = etag(&client.get("/404.html"));
    let cases: [(&str, &str); 7] = [
        ("If-None-Match", "*"),
        ("If-None-Match", &page_tag),
        ("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        ("Range", "bytes=0-3"),
        ("Range", "bytes=-5"),
        ("Range", "bytes=1000-2000"),
        ("If-Match", "\"no-such-tag\""),
    ];
    for (name, value) in cases {
        let resp = exchange(&mut client, "GET", "/missing", &[(name, value)]);
        assert_eq!(resp.status, 404, "{name}: {value}: {resp:?}");
        assert_eq!(resp.body_text(), PAGE, "{name}: {value}");
    }
    let resp = exchange(
        &mut client,
        "GET",
        "/missing",
        &[("Range", "bytes=0-3"), ("If-Range", &page_tag)],
    );
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_eq!(resp.body_text(), PAGE);
}

#[test]
fn a_large_404_page_goes_out_as_it_is() {
    let root = DocRoot::new();
    let page = format!("<!doctype html><p>{}</p>\n", "lost ".repeat(1000));
    root.file("404.html", &page);
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = fetch(
        &server,
        "GET",
        "/missing",
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_eq!(resp.header("content-encoding"), None, "{resp:?}");
    assert_eq!(resp.body_text(), page);
}

#[test]
fn other_errors_keep_the_built_in_pages() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (raw, status) in [
        (request("GET", "/../secret.txt"), 400),
        (request("GET", "/a%2Fb"), 400),
        (request("POST", "/missing"), 405),
        (request("DELETE", "/a.txt"), 405),
    ] {
        let mut client = server.client();
        client.send(raw.as_bytes());
        let resp = client.read_response();
        assert_eq!(resp.status, status, "{raw:?}: {resp:?}");
        assert_error_body(&resp);
        assert!(!resp.body_text().contains("Nothing here"), "{raw:?}");
    }
}

#[test]
fn a_404_page_outside_the_root_or_not_a_file_is_not_used() {
    // A link that leaves the root.
    let root = DocRoot::new();
    root.symlink(root.parent().join("secret.txt"), "404.html");
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/missing");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert!(!resp.body_text().contains(SECRET), "{resp:?}");
    assert!(
        resp.body_text().contains("<h1>404 Not Found</h1>"),
        "{resp:?}"
    );

    // A folder called 404.html.
    let root = DocRoot::new();
    root.file("404.html/index.html", "a folder's index");
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/missing");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert!(
        resp.body_text().contains("<h1>404 Not Found</h1>"),
        "{resp:?}"
    );

    // A link inside the root is fine.
    let root = DocRoot::new();
    root.file("pages/lost.html", PAGE);
    root.symlink("pages/lost.html", "404.html");
    let server = Server::start(root.path(), &["--quiet"]);
    assert_eq!(server.get("/missing").body_text(), PAGE);
}

#[test]
fn a_changed_404_page_shows_within_seconds() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--workers", "1"]);
    let mut client = server.client();
    assert_eq!(client.get("/missing").body_text(), PAGE);
    root.file("404.html", "<p>new</p>");
    let changed = poll_until(Duration::from_secs(5), || {
        client.get("/missing").body_text() == "<p>new</p>"
    });
    assert!(changed, "the old 404 page is still served");
    std::fs::remove_file(root.path().join("404.html")).unwrap();
    let gone = poll_until(Duration::from_secs(5), || {
        client
            .get("/missing")
            .body_text()
            .contains("<h1>404 Not Found</h1>")
    });
    assert!(gone, "a removed 404 page is still served");
}

#[test]
fn built_in_error_pages_are_small_styled_and_link_home() {
    let root = DocRoot::new();
    root.file("a.txt", "a");
    let server = Server::start(root.path(), &["--quiet"]);
    let long = format!("/{}", "a".repeat(9000));
    for (raw, status, reason) in [
        (request("GET", "/missing"), 404, "Not Found"),
        (request("GET", "/../x"), 400, "Bad Request"),
        (request("PUT", "/a.txt"), 405, "Method Not Allowed"),
        (request("GET", &long), 414, "URI Too Long"),
        (
            "GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n".to_owned(),
            505,
            "HTTP Version Not Supported",
        ),
    ] {
        let mut client = server.client();
        client.send(raw.as_bytes());
        let resp = client.read_response();
        assert_eq!(resp.status, status, "{resp:?}");
        assert_error_body(&resp);
        let html = resp.body_text();
        assert!(html.len() < 1024, "{status}: {} bytes", html.len());
        for needle in [
            format!("<title>{status} {reason}</title>"),
            format!("<h1>{status} {reason}</h1>"),
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">".into(),
            "prefers-color-scheme:dark".into(),
            "<a href=\"/\">".into(),
        ] {
            assert!(html.contains(&needle), "{status}: {needle} not in {html}");
        }
    }
}
