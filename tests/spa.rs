//! `--spa`: a single-page app's routes get the root's index; missing
//! assets, files, folders and bad requests are answered as without it.

mod common;

use common::*;

const INDEX: &str = "<!doctype html><title>app</title><div id=app></div>\n";

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("index.html", INDEX);
    root.file("app.css", "body{}");
    root.file("real.txt", "a real file");
    root.file("docs/guide.txt", "the guide");
    root.file(".env", "SECRET_TOKEN=1");
    root
}

/// What a browser sends when it navigates.
const NAVIGATE: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[test]
fn app_routes_get_the_index() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--spa"]);
    let mut client = server.client();
    // (path, Accept)
    let cases = [
        ("/app", None),
        ("/app/settings", None),
        ("/users/42/", None),
        ("/users/42?tab=posts", None),
        ("/name.", None),
        ("/v1.2", Some(NAVIGATE)),
        ("/a.b", Some("text/html")),
        ("/report.pdf", Some(NAVIGATE)),
        // A hidden path is missing like any other: no leak either way.
        ("/.env", None),
        ("/.git/config", None),
    ];
    for (path, accept) in cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let resp = exchange(&mut client, "GET", path, &headers);
        assert_eq!(resp.status, 200, "{path} {accept:?}: {resp:?}");
        assert_eq!(resp.body_text(), INDEX, "{path}");
        assert_eq!(resp.header("cache-control"), Some("no-cache"), "{path}");
        assert_eq!(
            resp.content_type().as_deref(),
            Some("text/html;charset=utf-8"),
            "{path}"
        );
    }
    let head = exchange(&mut client, "HEAD", "/app/settings", &[]);
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.content_length(), Some(INDEX.len() as u64));
    assert!(head.body.is_empty());
    assert_eq!(client.get("/real.txt").body, b"a real file");
}

#[test]
fn missing_assets_stay_missing() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--spa"]);
    let mut client = server.client();
    for (path, accept) in [
        ("/app.js", None),
        ("/img/x.png", None),
        (
            "/img/x.png",
            Some("image/avif,image/webp,image/*,*/*;q=0.8"),
        ),
        ("/missing.css", Some("text/css,*/*;q=0.1")),
        ("/data.json", Some("*/*")),
        ("/a.b", None),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let resp = exchange(&mut client, "GET", path, &headers);
        assert_eq!(resp.status, 404, "{path} {accept:?}: {resp:?}");
        assert_error_body(&resp);
    }
    // With a 404 page, a missing asset gets it.
    root.file("404.html", "<p>no such asset</p>");
    let server = Server::start(root.path(), &["--quiet", "--spa"]);
    let resp = server.get("/app.js");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_eq!(resp.body, b"<p>no such asset</p>");
    assert_eq!(server.get("/route").body_text(), INDEX);
}

#[test]
fn files_folders_and_bad_requests_are_answered_as_without_it() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--spa"]);
    let mut client = server.client();
    let file = client.get("/real.txt");
    assert_eq!(file.status, 200);
    assert_eq!(file.body, b"a real file");
    assert_eq!(file.header("cache-control"), None, "{file:?}");
    let css = exchange(&mut client, "GET", "/app.css", &[("Accept", NAVIGATE)]);
    assert_eq!(css.body, b"body{}");
    let folder = client.get("/docs/");
    assert_eq!(folder.status, 200);
    assert!(folder.body_text().contains("guide.txt"), "{folder:?}");
    let redirect = client.get("/docs");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/docs/"));
    let root_page = client.get("/");
    assert_eq!(root_page.body_text(), INDEX);

    for (target, status) in [
        ("/../secret.txt", 400),
        ("/app/..%2f..%2fsecret", 400),
        ("/a%00b", 400),
    ] {
        let mut client = server.client();
        client.send(request("GET", target).as_bytes());
        let resp = client.read_response();
        assert_eq!(resp.status, status, "{target}: {resp:?}");
        assert!(!resp.body_text().contains("id=app"), "{target}");
    }
    let post = fetch(&server, "POST", "/app/route", &[("Content-Length", "0")]);
    assert_eq!(post.status, 405, "{post:?}");
}

#[test]
fn the_index_revalidates_like_the_file_it_is() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--spa"]);
    let mut client = server.client();
    let first = client.get("/app/x");
    let tag = etag(&first);
    assert_eq!(tag, etag(&client.get("/index.html")));
    let again = exchange(&mut client, "GET", "/app/y", &[("If-None-Match", &tag)]);
    assert_eq!(again.status, 304, "{again:?}");
    assert_eq!(again.header("cache-control"), Some("no-cache"));
}

#[test]
fn without_a_root_index_routes_are_404() {
    let root = DocRoot::new();
    root.file("sub/index.html", "not the root's");
    let server = Server::start(root.path(), &["--quiet", "--spa"]);
    let resp = server.get("/app");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_error_body(&resp);
}

#[test]
fn the_index_follows_the_index_flag() {
    let root = site();
    root.file("app.html", "<p>the app shell</p>");
    let server = Server::start(root.path(), &["--quiet", "--spa", "--index", "app.html"]);
    let resp = server.get("/some/route");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, b"<p>the app shell</p>");
}
