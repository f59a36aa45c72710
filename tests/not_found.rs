//! What a missing path gets: the built-in error pages, which every error
//! shares.

mod common;

use common::*;

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
