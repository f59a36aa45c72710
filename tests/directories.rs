//! Directories: index files, redirects, listings and hidden entries.

mod common;

use common::*;

const INDEX: &str = "<!doctype html><title>sub</title><p>the sub index</p>\n";

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "a");
    root.file("sub/index.html", INDEX);
    root.file("sub/other.txt", "other");
    root.dir("list/zulu_dir");
    root.dir("list/alpha_dir");
    root.file("list/bravo.txt", "b");
    root.file("list/a<b>&c.txt", "escaped");
    root.file("list/with space.txt", "spaced");
    root.file("list/inner/deep.txt", "deep");
    root
}

#[test]
fn directory_with_index_serves_index_html() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/sub/");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body_text(), INDEX);
    assert_eq!(
        resp.content_type().as_deref(),
        Some("text/html;charset=utf-8"),
        "{resp:?}"
    );
}

#[test]
fn directory_without_slash_redirects() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for (target, location) in [
        ("/sub", "/sub/"),
        ("/sub?x=1", "/sub/?x=1"),
        ("/list/inner", "/list/inner/"),
    ] {
        let resp = client.get(target);
        assert_eq!(resp.status, 301, "{target}: {resp:?}");
        assert_eq!(
            resp.header("location"),
            Some(location),
            "{target}: {resp:?}"
        );
    }
}

#[test]
fn listing_is_sorted_escaped_and_encoded() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/list/");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(
        resp.content_type()
            .is_some_and(|t| t.starts_with("text/html")),
        "{resp:?}"
    );
    let html = resp.body_text();

    // Names are HTML-escaped, never raw.
    assert!(!html.contains("a<b>&c.txt"), "raw name in listing:\n{html}");
    assert!(
        html.contains("a&lt;b&gt;&amp;c.txt"),
        "escaped name missing:\n{html}"
    );

    // Folders first with a trailing slash, then files, each group sorted.
    let order = [
        "alpha_dir/",
        "inner/",
        "zulu_dir/",
        "a&lt;b&gt;&amp;c.txt",
        "bravo.txt",
        "with space.txt",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|name| {
            html.find(&format!(">{name}<"))
                .or_else(|| html.find(name))
                .unwrap_or_else(|| panic!("{name:?} missing from listing:\n{html}"))
        })
        .collect();
    for (pair, names) in positions.windows(2).zip(order.windows(2)) {
        assert!(
            pair[0] < pair[1],
            "{:?} should come before {:?}:\n{html}",
            names[0],
            names[1]
        );
    }

    let links = hrefs(&html);
    assert!(
        links.iter().any(|h| h.ends_with("with%20space.txt")),
        "href not percent-encoded: {links:?}"
    );
    assert!(
        !links.iter().any(|h| h.contains(' ') || h.contains('<')),
        "raw characters in hrefs: {links:?}"
    );
    assert!(
        links.iter().any(|h| h == "../" || h == "/"),
        "no link to the parent: {links:?}"
    );
}

#[test]
fn listing_links_work() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let html = client.get("/list/").body_text();
    let link = hrefs(&html)
        .into_iter()
        .find(|h| h.ends_with("with%20space.txt"))
        .unwrap_or_else(|| panic!("no link to `with space.txt`:\n{html}"));
    let target = if link.starts_with('/') {
        link
    } else {
        format!("/list/{link}")
    };
    let resp = client.get(&target);
    assert_eq!(resp.status, 200, "{target}: {resp:?}");
    assert_eq!(resp.body, b"spaced");

    // Nested directory: the parent link leads back to /list/.
    let inner = client.get("/list/inner/");
    assert_eq!(inner.status, 200, "{inner:?}");
    let links = hrefs(&inner.body_text());
    assert!(
        links.iter().any(|h| h == "../" || h == "/list/"),
        "no parent link in /list/inner/: {links:?}"
    );
    assert!(
        links.iter().any(|h| h.ends_with("deep.txt")),
        "deep.txt not listed: {links:?}"
    );
}

fn hidden_site() -> DocRoot {
    let root = DocRoot::new();
    root.file("visible.txt", "visible");
    root.file(".env", "SECRET_TOKEN=1");
    root.file(".git/config", "[core]");
    root.file("sub/.hidden.txt", "hidden in sub");
    root.file("sub/shown.txt", "shown");
    root
}

#[test]
fn dotfiles_are_hidden_by_default() {
    let root = hidden_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for path in [
        "/.env",
        "/.git/config",
        "/.git/",
        "/.git",
        "/sub/.hidden.txt",
    ] {
        let resp = client.get(path);
        assert_eq!(resp.status, 404, "{path}: {resp:?}");
        assert!(!resp.body_text().contains("SECRET_TOKEN"), "{path}");
    }
    let listing = client.get("/");
    assert_eq!(listing.status, 200, "{listing:?}");
    let html = listing.body_text();
    assert!(html.contains("visible.txt"), "{html}");
    assert!(!html.contains(".env"), ".env listed:\n{html}");
    assert!(!html.contains(".git"), ".git listed:\n{html}");
    let sub = client.get("/sub/").body_text();
    assert!(sub.contains("shown.txt"), "{sub}");
    assert!(!sub.contains(".hidden.txt"), ".hidden.txt listed:\n{sub}");
}

#[test]
fn show_hidden_serves_and_lists_dotfiles() {
    let root = hidden_site();
    let server = Server::start(root.path(), &["--quiet", "--show-hidden"]);
    let mut client = server.client();
    let env = client.get("/.env");
    assert_eq!(env.status, 200, "{env:?}");
    assert_eq!(env.body, b"SECRET_TOKEN=1");
    let git = client.get("/.git/config");
    assert_eq!(git.status, 200, "{git:?}");
    assert_eq!(git.body, b"[core]");
    let hidden = client.get("/sub/.hidden.txt");
    assert_eq!(hidden.status, 200, "{hidden:?}");
    let html = client.get("/").body_text();
    assert!(html.contains(".env"), ".env not listed:\n{html}");
    assert!(html.contains(".git/"), ".git/ not listed:\n{html}");
}

#[test]
fn listing_has_a_validator_and_must_be_revalidated() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--cache-control", "max-age=60"]);
    let mut client = server.client();
    let first = client.get("/list/");
    assert_eq!(first.status, 200, "{first:?}");
    // Not --cache-control: a listing changes with its directory.
    assert_eq!(first.header("cache-control"), Some("no-cache"), "{first:?}");
    let etag = first
        .header("etag")
        .expect("listing without ETag")
        .to_owned();
    assert!(etag.starts_with('"'), "{etag}");

    let raw = format!("GET /list/ HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n");
    client.send(raw.as_bytes());
    let not_modified = client.read_head_response();
    assert_eq!(not_modified.status, 304, "{not_modified:?}");
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));

    // A new entry changes the page, and with it the tag.
    root.file("list/new.txt", "new");
    client.send(raw.as_bytes());
    let changed = client.read_response();
    assert_eq!(changed.status, 200, "{changed:?}");
    assert!(changed.body_text().contains("new.txt"));
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
}

#[test]
fn listing_does_not_describe_files_outside_the_root() {
    let root = site();
    let outside = root.parent().join("outside").join("secret.txt");
    root.symlink(&outside, "list/escape");
    root.symlink("bravo.txt", "list/inner_link.txt");
    let server = Server::start(root.path(), &["--quiet"]);
    let page = server.get("/list/").body_text();
    let row = |name: &str| {
        page.lines()
            .find(|l| l.contains(&format!(">{name}<")))
            .unwrap_or_else(|| panic!("{name} not listed: {page}"))
            .to_owned()
    };
    // The secret's size would be "27 B"; a link out of the root shows none.
    let escape = row("escape");
    assert!(!escape.contains(" B<"), "{escape}");
    // A link inside the root shows its target's size (1 byte).
    assert!(row("inner_link.txt").contains("1 B"), "{page}");
}

fn index_site() -> DocRoot {
    let root = DocRoot::new();
    root.file("both/index.html", "both: index.html");
    root.file("both/index.htm", "both: index.htm");
    root.file("both/home.html", "both: home.html");
    root.file("htm/index.htm", "htm: index.htm");
    root.file("htm/other.txt", "other");
    root.file(
        "dir_named_index/index.html/inside.txt",
        "a folder, not a file",
    );
    root.symlink(root.parent().join("secret.txt"), "escaping/index.html");
    root.file("plain/a.txt", "a");
    root
}

#[test]
fn index_files_are_tried_in_order() {
    let root = index_site();
    // (flags, path, body of the index served, or None for a listing)
    type Case = (&'static [&'static str], &'static str, Option<&'static str>);
    let cases: &[Case] = &[
        (&[], "/both/", Some("both: index.html")),
        (&[], "/htm/", Some("htm: index.htm")),
        (&[], "/plain/", None),
        // A folder called index.html is no index file.
        (&[], "/dir_named_index/", None),
        // Nor is a link that leaves the root.
        (&[], "/escaping/", None),
        (
            &["--index", "home.html", "--index", "index.html"],
            "/both/",
            Some("both: home.html"),
        ),
        (
            &["--index", "home.html", "--index", "index.html"],
            "/htm/",
            None,
        ),
        (&["--index", "index.htm"], "/both/", Some("both: index.htm")),
    ];
    for (flags, path, expected) in cases {
        let mut args = vec!["--quiet"];
        args.extend_from_slice(flags);
        let server = Server::start(root.path(), &args);
        let resp = server.get(path);
        assert_eq!(resp.status, 200, "{flags:?} {path}: {resp:?}");
        let body = resp.body_text();
        assert!(!body.contains(SECRET), "{flags:?} {path}: {body}");
        match expected {
            Some(index) => {
                assert_eq!(body, *index, "{flags:?} {path}");
                assert!(resp.content_type().unwrap().starts_with("text/html"));
            }
            None => assert!(
                body.contains("<table id=\"listing\">"),
                "{flags:?} {path}: not a listing: {body}"
            ),
        }
    }
}

#[test]
fn no_listing_hides_folders_without_an_index() {
    let root = site();
    root.dir("empty");
    let server = Server::start(root.path(), &["--quiet", "--no-listing"]);
    let mut client = server.client();
    let missing = client.get("/no-such-thing/");
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_error_body(&missing);
    // A folder without an index reads exactly as a missing path, with or
    // without its slash: a redirect would say it exists.
    for path in [
        "/list/",
        "/list",
        "/list/inner/",
        "/list/inner",
        "/",
        "/empty/",
    ] {
        let resp = client.get(path);
        assert_eq!(resp.status, 404, "{path}: {resp:?}");
        assert_eq!(resp.body, missing.body, "{path}");
        assert_eq!(resp.header("location"), None, "{path}");
        assert_eq!(
            resp.content_type(),
            missing.content_type(),
            "{path}: {resp:?}"
        );
    }
    // Folders with an index, and files, are served as before.
    assert_eq!(client.get("/sub/").body_text(), INDEX);
    assert_eq!(client.get("/sub").status, 301);
    assert_eq!(client.get("/list/bravo.txt").body, b"b");
}

#[test]
fn no_listing_gives_folders_the_sites_404_page() {
    let root = site();
    root.file("404.html", "<h1>our own 404</h1>");
    let server = Server::start(root.path(), &["--quiet", "--no-listing"]);
    let missing = server.get("/no-such-thing");
    let folder = server.get("/list/");
    assert_eq!(folder.status, 404, "{folder:?}");
    assert_eq!(folder.body, b"<h1>our own 404</h1>");
    assert_eq!(folder.body, missing.body);
}
