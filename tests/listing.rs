//! Directory listings as people and programs browse them: sorting,
//! breadcrumbs, escaping, JSON, the summary, the filter box's hooks, the
//! Content-Security-Policy and the bounds.

mod common;

use common::*;
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime};

/// 2026-12-04 10:01:44 UTC.
const BASE: u64 = 1_796_378_504;

fn at(offset: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(BASE + offset)
}

/// Two folders and five files with distinct sizes and times:
///
/// | name | size | mtime (BASE +) |
/// | alpha/ | - | 100 |
/// | Beta/ | - | 50 |
/// | a.txt | 10 | 40 |
/// | B.txt | 20 | 30 |
/// | c.txt | 30 | 10 |
/// | n10.txt | 40 | 20 |
/// | n9.txt | 50 | 5 |
fn sorting_site() -> DocRoot {
    let root = DocRoot::new();
    for (name, size, offset) in [
        ("a.txt", 10, 40),
        ("B.txt", 20, 30),
        ("c.txt", 30, 10),
        ("n10.txt", 40, 20),
        ("n9.txt", 50, 5),
    ] {
        let path = root.file(&format!("s/{name}"), vec![b'x'; size]);
        set_mtime(&path, at(offset));
    }
    for (name, offset) in [("alpha", 100), ("Beta", 50)] {
        let path = root.dir(&format!("s/{name}"));
        set_dir_mtime(&path, at(offset));
    }
    root
}

fn names(rows: &[Row]) -> Vec<String> {
    rows.iter().map(|row| row.link.text.clone()).collect()
}

fn json(resp: &Response) -> Vec<Value> {
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Array(entries)) => entries,
        other => panic!("not a JSON array: {other:?}\n{resp:?}"),
    }
}

fn json_names(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| entry["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// The expected order for each sort: folders first in every one, ties by
/// name; names compare case-insensitively, numbers as numbers.
const ORDERS: [(&str, &[&str]); 7] = [
    (
        "",
        &[
            "alpha/", "Beta/", "a.txt", "B.txt", "c.txt", "n9.txt", "n10.txt",
        ],
    ),
    (
        "?sort=name&order=asc",
        &[
            "alpha/", "Beta/", "a.txt", "B.txt", "c.txt", "n9.txt", "n10.txt",
        ],
    ),
    (
        "?sort=name&order=desc",
        &[
            "Beta/", "alpha/", "n10.txt", "n9.txt", "c.txt", "B.txt", "a.txt",
        ],
    ),
    (
        "?sort=size",
        &[
            "alpha/", "Beta/", "a.txt", "B.txt", "c.txt", "n10.txt", "n9.txt",
        ],
    ),
    (
        "?sort=size&order=desc",
        &[
            "alpha/", "Beta/", "n9.txt", "n10.txt", "c.txt", "B.txt", "a.txt",
        ],
    ),
    (
        "?sort=modified&order=asc",
        &[
            "Beta/", "alpha/", "n9.txt", "c.txt", "n10.txt", "B.txt", "a.txt",
        ],
    ),
    (
        "?sort=modified&order=desc",
        &[
            "alpha/", "Beta/", "a.txt", "B.txt", "n10.txt", "c.txt", "n9.txt",
        ],
    ),
];

#[test]
fn every_sort_keeps_folders_first() {
    let root = sorting_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for (query, expected) in ORDERS {
        let resp = client.get(&format!("/s/{query}"));
        assert_eq!(resp.status, 200, "{query}: {resp:?}");
        let rows = listing_rows(&resp.body_text());
        assert_eq!(names(&rows), expected, "{query}");
        for row in &rows {
            let is_dir = row.link.text.ends_with('/');
            assert_eq!(row.class == "d", is_dir, "{query}: {row:?}");
        }
    }
}

#[test]
fn unknown_sort_values_fall_back_to_the_default() {
    let root = sorting_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let default = client.get("/s/");
    for query in [
        "?sort=bogus",
        "?order=sideways",
        "?sort=SIZE&order=DESC",
        "?sort=&order=",
        "?sort",
        "?x=1&y=2",
        "?format=xml",
    ] {
        let resp = client.get(&format!("/s/{query}"));
        assert_eq!(resp.status, 200, "{query}: {resp:?}");
        assert_eq!(resp.body, default.body, "{query}");
        assert_eq!(etag(&resp), etag(&default), "{query}");
    }
}

#[test]
fn column_headers_sort_and_the_active_one_toggles() {
    let root = sorting_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    // (query, the three headers' hrefs, the active column, its arrow)
    let cases = [
        (
            "",
            [
                "?sort=name&order=desc",
                "?sort=size&order=asc",
                "?sort=modified&order=asc",
            ],
            "name",
            "↑",
        ),
        (
            "?sort=name&order=desc",
            [
                "?sort=name&order=asc",
                "?sort=size&order=asc",
                "?sort=modified&order=asc",
            ],
            "name",
            "↓",
        ),
        (
            "?sort=size",
            [
                "?sort=name&order=asc",
                "?sort=size&order=desc",
                "?sort=modified&order=asc",
            ],
            "size",
            "↑",
        ),
        (
            "?sort=modified&order=desc",
            [
                "?sort=name&order=asc",
                "?sort=size&order=asc",
                "?sort=modified&order=asc",
            ],
            "modified",
            "↓",
        ),
    ];
    for (query, hrefs, active, arrow) in cases {
        let html = client.get(&format!("/s/{query}")).body_text();
        let head = html
            .split_once("<thead>")
            .and_then(|(_, rest)| rest.split_once("</thead>"))
            .unwrap_or_else(|| panic!("no thead:\n{html}"))
            .0;
        let header_links = links(head);
        let got: Vec<&str> = header_links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(got, hrefs, "{query}");
        for key in ["name", "size", "modified"] {
            assert!(head.contains(&format!("data-sort=\"{key}\"")), "{head}");
        }
        // The active column's arrow, and only there.
        let arrows: Vec<&Link> = header_links
            .iter()
            .filter(|l| l.text.contains('↑') || l.text.contains('↓'))
            .collect();
        assert_eq!(arrows.len(), 1, "{query}: {head}");
        assert!(arrows[0].text.ends_with(arrow), "{query}: {head}");
        assert!(arrows[0].href.starts_with(&format!("?sort={active}&")));
        assert!(head.contains("Modified (UTC)"), "{head}");
        // Each header link gives the order it promises.
        for link in &header_links {
            let sorted = client.get(&format!("/s/{}", link.href));
            let expected = ORDERS
                .iter()
                .find(|(q, _)| *q == link.href)
                .map(|(_, order)| *order);
            if let Some(expected) = expected {
                assert_eq!(names(&listing_rows(&sorted.body_text())), expected);
            }
        }
    }
}

#[test]
fn rows_show_sizes_and_compact_utc_dates() {
    let root = sorting_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let rows = listing_rows(&server.get("/s/").body_text());
    let row = |name: &str| rows.iter().find(|r| r.link.text == name).unwrap();
    let a = row("a.txt");
    assert_eq!(a.size, "10 B");
    // BASE + 40 s: 2026-12-04 10:02:24 UTC.
    assert_eq!(a.modified, "2026-12-04 10:02");
    assert_eq!(
        a.title.as_deref(),
        Some("Fri, 04 Dec 2026 10:02:24 GMT"),
        "{a:?}"
    );
    let alpha = row("alpha/");
    assert_eq!(alpha.size, "-");
    assert_eq!(alpha.modified, "2026-12-04 10:03");
    assert_eq!(alpha.link.href, "alpha/");
}

#[test]
fn breadcrumbs_link_every_level() {
    let root = DocRoot::new();
    let dir = "x<y>/p&q/sp ace/%41/日本";
    root.file(&format!("{dir}/f.txt"), "f");
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let target = "/x%3Cy%3E/p&q/sp%20ace/%2541/%E6%97%A5%E6%9C%AC/";
    let resp = client.get(target);
    assert_eq!(resp.status, 200, "{resp:?}");
    let html = resp.body_text();
    let crumbs = breadcrumbs(&html);
    let expected = [
        ("/", "/"),
        ("/x%3Cy%3E/", "x<y>"),
        ("/x%3Cy%3E/p&q/", "p&q"),
        ("/x%3Cy%3E/p&q/sp%20ace/", "sp ace"),
        ("/x%3Cy%3E/p&q/sp%20ace/%2541/", "%41"),
        ("/x%3Cy%3E/p&q/sp%20ace/%2541/%E6%97%A5%E6%9C%AC/", "日本"),
    ];
    let got: Vec<(&str, &str)> = crumbs
        .iter()
        .map(|l| (l.href.as_str(), l.text.as_str()))
        .collect();
    assert_eq!(got, expected);
    // Escaped in the page: no raw `<y>`, and `&` as `&amp;` in the hrefs.
    assert!(!html.contains("x<y>"), "{html}");
    assert!(html.contains("<a href=\"/x%3Cy%3E/p&amp;q/\">p&amp;q</a>"));
    assert!(html.contains("<title>Index of /x&lt;y&gt;/p&amp;q/sp ace/%41/日本/</title>"));
    // Every crumb leads to that folder's listing.
    for crumb in &crumbs {
        let level = client.get(&crumb.href);
        assert_eq!(level.status, 200, "{crumb:?}: {level:?}");
        let last = breadcrumbs(&level.body_text()).pop().unwrap();
        assert_eq!(last, *crumb);
    }
    // Below the root, a link to the parent folder.
    assert!(links(&html).iter().any(|l| l.href == "../"), "{html}");
    let top = client.get("/").body_text();
    assert!(!links(&top).iter().any(|l| l.href == "../"), "{top}");
}

/// Names that break naive pages, links and JSON.
const HOSTILE: [&str; 8] = [
    "a<b>&c.txt",
    "q\"uo't.txt",
    "per%cent#hash?query.txt",
    "with space.txt",
    "x&amp;y.txt",
    "ünïcödé 日本.txt",
    "tab\there.txt",
    "<script>alert(1)<",
];

fn hostile_site() -> DocRoot {
    let root = DocRoot::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        root.file(&format!("h/{name}"), format!("content {i}"));
    }
    root.dir("h/dir <&> \"'");
    std::fs::write(
        root.path()
            .join("h")
            .join(OsStr::from_bytes(b"bad\xffutf8.txt")),
        "invalid utf-8",
    )
    .unwrap();
    root
}

#[test]
fn hostile_names_are_escaped_in_html_and_their_links_work() {
    let root = hostile_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let html = client.get("/h/").body_text();
    assert!(
        !html.contains("<script>alert"),
        "raw name in the page:\n{html}"
    );
    assert!(!html.contains("a<b>"), "raw name in the page:\n{html}");
    let rows = listing_rows(&html);
    assert_eq!(rows.len(), HOSTILE.len() + 2, "{html}");
    for (i, name) in HOSTILE.iter().enumerate() {
        let row = rows
            .iter()
            .find(|r| r.link.text == *name)
            .unwrap_or_else(|| panic!("{name:?} not listed:\n{html}"));
        // The href is one path segment, percent-encoded, that decodes to
        // the name.
        let href = &row.link.href;
        assert!(
            href.bytes()
                .all(|b| b == b'%' || (b.is_ascii_graphic() && !b"<>\"'#?/".contains(&b))),
            "{href}"
        );
        assert_eq!(percent_decode(href), name.as_bytes(), "{href}");
        let resp = client.get(&format!("/h/{href}"));
        assert_eq!(resp.status, 200, "{name:?} via {href}: {resp:?}");
        assert_eq!(resp.body_text(), format!("content {i}"));
    }
    let dir = rows.iter().find(|r| r.class == "d").expect("the folder");
    assert_eq!(dir.link.text, "dir <&> \"'/");
    assert_eq!(dir.link.href, "dir%20%3C&%3E%20%22%27/");
    assert_eq!(client.get(&format!("/h/{}", dir.link.href)).status, 200);
    // Invalid UTF-8: shown with U+FFFD, linked byte for byte.
    let bad = rows
        .iter()
        .find(|r| r.link.text == "bad\u{fffd}utf8.txt")
        .unwrap_or_else(|| panic!("invalid UTF-8 name not listed:\n{html}"));
    assert_eq!(bad.link.href, "bad%FFutf8.txt");
    let resp = client.get("/h/bad%FFutf8.txt");
    assert_eq!(resp.body, b"invalid utf-8");
}

#[test]
fn hostile_names_are_escaped_in_json_and_their_urls_work() {
    let root = hostile_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let resp = client.get("/h/?format=json");
    let entries = json(&resp);
    assert_eq!(entries.len(), HOSTILE.len() + 2);
    for (i, name) in HOSTILE.iter().enumerate() {
        let entry = entries
            .iter()
            .find(|e| e["name"] == *name)
            .unwrap_or_else(|| panic!("{name:?} missing: {entries:?}"));
        let url = entry["url"].as_str().unwrap();
        assert_eq!(percent_decode(url), name.as_bytes(), "{url}");
        let file = client.get(&format!("/h/{url}"));
        assert_eq!(file.body_text(), format!("content {i}"), "{url}");
    }
    let bad = entries
        .iter()
        .find(|e| e["url"] == "bad%FFutf8.txt")
        .expect("the invalid UTF-8 name");
    assert_eq!(bad["name"], "bad\u{fffd}utf8.txt");
    let dir = entries.iter().find(|e| e["type"] == "dir").unwrap();
    assert_eq!(dir["name"], "dir <&> \"'");
    assert_eq!(dir["url"], "dir%20%3C&%3E%20%22%27/");
}

#[test]
fn json_listing_fields_types_and_sorting() {
    let root = sorting_site();
    let outside = root.parent().join("outside");
    root.symlink(&outside, "s/zlink_out");
    root.symlink("a.txt", "s/zlink_in");
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();

    let resp = client.get("/s/?format=json");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.content_type().as_deref(), Some("application/json"));
    assert_eq!(resp.header("cache-control"), Some("no-cache"));
    let entries = json(&resp);
    assert_eq!(
        json_names(&entries),
        [
            "alpha",
            "Beta",
            "a.txt",
            "B.txt",
            "c.txt",
            "n9.txt",
            "n10.txt",
            "zlink_in",
            "zlink_out"
        ]
    );
    for entry in &entries {
        let object = entry.as_object().expect("an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["modified", "name", "size", "type", "url"], "{entry}");
    }
    let entry = |name: &str| entries.iter().find(|e| e["name"] == name).unwrap();
    let alpha = entry("alpha");
    assert_eq!(alpha["type"], "dir");
    assert_eq!(alpha["size"], Value::Null);
    assert_eq!(alpha["url"], "alpha/");
    assert_eq!(alpha["modified"], "2026-12-04T10:03:24Z");
    let c = entry("c.txt");
    assert_eq!(c["type"], "file");
    assert_eq!(c["size"], 30);
    assert!(c["size"].is_u64());
    assert_eq!(c["url"], "c.txt");
    assert_eq!(c["modified"], "2026-12-04T10:01:54Z");
    // A link inside the root is described by its target; one leaving it
    // is not described at all.
    let inside = entry("zlink_in");
    assert_eq!(inside["type"], "symlink");
    assert_eq!(inside["size"], 10);
    assert_eq!(inside["modified"], "2026-12-04T10:02:24Z");
    let out = entry("zlink_out");
    assert_eq!(out["type"], "symlink");
    assert_eq!(out["size"], Value::Null);
    assert_eq!(out["modified"], Value::Null);
    assert_eq!(out["url"], "zlink_out");

    // Every sort applies to JSON too.
    for (query, expected) in ORDERS {
        let separator = if query.is_empty() { "?" } else { "&" };
        let resp = client.get(&format!("/s/{query}{separator}format=json"));
        let got = json_names(&json(&resp));
        let expected: Vec<&str> = expected.iter().map(|n| n.trim_end_matches('/')).collect();
        let got: Vec<&str> = got
            .iter()
            .map(String::as_str)
            .filter(|n| !n.starts_with("zlink"))
            .collect();
        assert_eq!(got, expected, "{query}");
    }
}

#[test]
fn accept_chooses_json_and_every_view_has_its_own_etag() {
    let root = sorting_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    let get = |client: &mut Client, target: &str, accept: Option<&str>| {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        exchange(client, "GET", target, &headers)
    };
    // (Accept, JSON?)
    let cases = [
        (None, false),
        (Some("application/json"), true),
        (Some("application/json, */*;q=0.1"), true),
        (Some("text/html, application/json"), true),
        (Some("application/json;q=0.5, text/html"), false),
        (Some("application/json;q=0.5, */*"), false),
        (Some("application/json;q=0"), false),
        (
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            false,
        ),
        (Some("*/*"), false),
    ];
    for (accept, is_json) in cases {
        let resp = get(&mut client, "/s/", accept);
        assert_eq!(resp.status, 200, "{accept:?}: {resp:?}");
        let ct = resp.content_type().unwrap();
        if is_json {
            assert_eq!(ct, "application/json", "{accept:?}");
            assert_eq!(json(&resp).len(), 7);
        } else {
            assert_eq!(ct, "text/html;charset=utf-8", "{accept:?}");
        }
        // Both say what they depend on, in one header.
        let vary = resp.header_all("vary");
        assert_eq!(vary.len(), 1, "{accept:?}: {resp:?}");
        assert!(vary[0].starts_with("Accept"), "{vary:?}");
    }
    // ?format wins over Accept.
    let resp = get(&mut client, "/s/?format=html", Some("application/json"));
    assert!(resp.content_type().unwrap().starts_with("text/html"));
    let resp = get(&mut client, "/s/?format=json", Some("text/html"));
    assert_eq!(resp.content_type().as_deref(), Some("application/json"));

    // Every view has its own ETag; the same view, the same tag.
    let mut tags = Vec::new();
    for (query, _) in ORDERS.iter().skip(1) {
        for format in ["html", "json"] {
            let resp = get(&mut client, &format!("/s/{query}&format={format}"), None);
            tags.push(etag(&resp));
        }
    }
    let mut unique = tags.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tags.len(), "{tags:?}");
    let html = get(&mut client, "/s/", None);
    let json_resp = get(&mut client, "/s/", Some("application/json"));
    assert_ne!(etag(&html), etag(&json_resp));
    assert_eq!(
        etag(&json_resp),
        etag(&get(&mut client, "/s/?format=json", None))
    );

    // A tag revalidates its own view only.
    let json_tag = etag(&json_resp);
    let revalidate = |client: &mut Client, accept: &str| {
        exchange(
            client,
            "GET",
            "/s/",
            &[("Accept", accept), ("If-None-Match", &json_tag)],
        )
    };
    let resp = revalidate(&mut client, "application/json");
    assert_eq!(resp.status, 304, "{resp:?}");
    assert_eq!(resp.header("vary"), Some("Accept"), "{resp:?}");
    let resp = revalidate(&mut client, "text/html");
    assert_eq!(resp.status, 200, "{resp:?}");
}

#[test]
fn a_large_json_listing_varies_by_accept_and_accept_encoding() {
    let root = DocRoot::new();
    for i in 0..40 {
        root.file(&format!("many/file-number-{i:03}.txt"), "x");
    }
    let server = Server::start(root.path(), &["--quiet"]);
    let plain = fetch(&server, "GET", "/many/", &[("Accept", "application/json")]);
    assert!(plain.body.len() > 1024, "{plain:?}");
    assert_eq!(plain.header_all("vary"), ["Accept, Accept-Encoding"]);
    let gzip = fetch(
        &server,
        "GET",
        "/many/",
        &[("Accept", "application/json"), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(gzip.header("content-encoding"), Some("gzip"), "{gzip:?}");
    assert_eq!(gzip.header_all("vary"), ["Accept, Accept-Encoding"]);
    assert_ne!(etag(&gzip), etag(&plain));
}

/// Standard base64, for checking the policy's hashes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = [0u8; 3];
        n[..chunk.len()].copy_from_slice(chunk);
        let triple = u32::from(n[0]) << 16 | u32::from(n[1]) << 8 | u32::from(n[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(triple >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in `html`.
fn inline(html: &str, tag: &str) -> String {
    html.split_once(&format!("<{tag}>"))
        .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
        .unwrap_or_else(|| panic!("no <{tag}>:\n{html}"))
        .0
        .to_owned()
}

#[test]
fn listings_have_a_strict_content_security_policy() {
    let root = sorting_site();
    root.file("page.html", "<p>a page</p>");
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/s/");
    let policy = resp
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP on a listing: {resp:?}"))
        .to_owned();
    let html = resp.body_text();
    let hash = |text: &str| {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
        format!("'sha256-{}'", base64(digest.as_ref()))
    };
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    let style = format!("style-src {}", hash(&inline(&html, "style")));
    let script = format!("script-src {}", hash(&inline(&html, "script")));
    for expected in [
        "default-src 'none'",
        style.as_str(),
        script.as_str(),
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
    ] {
        assert!(directives.contains(&expected), "{expected} not in {policy}");
    }
    // No inline handlers or style attributes the policy would block, and
    // nothing fetched from elsewhere.
    assert!(!html.contains(" style="), "{html}");
    assert!(!html.contains(" onclick="), "{html}");
    assert!(!html.contains("src=\""), "nothing loaded by src:\n{html}");
    for link in links(&html) {
        assert!(!link.href.contains("://"), "{link:?}");
    }
    // JSON listings too; files and error pages have none.
    let json_resp = server.get("/s/?format=json");
    assert_eq!(
        json_resp.header("content-security-policy"),
        Some(policy.as_str())
    );
    assert_eq!(
        server.get("/page.html").header("content-security-policy"),
        None
    );
    assert_eq!(
        server.get("/missing").header("content-security-policy"),
        None
    );
}

#[test]
fn the_page_has_its_hooks_viewport_summary_and_filter() {
    let root = sorting_site();
    let server = Server::start(root.path(), &["--quiet"]);
    let html = server.get("/s/").body_text();
    for needle in [
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "prefers-color-scheme:dark",
        "overflow-wrap:anywhere",
        "<table id=\"listing\">",
        "<thead>",
        "<tbody>",
        // Hidden until the script shows it: the page works without it.
        "<input type=\"search\" id=\"filter\"",
        "<span id=\"summary\">2 folders, 5 files, 150 B in total</span>",
        "<script>",
        "href=\"?sort=name&amp;order=asc&amp;format=json\"",
    ] {
        assert!(html.contains(needle), "{needle} not in:\n{html}");
    }
    let filter = html
        .split_once("id=\"filter\"")
        .and_then(|(_, rest)| rest.split_once('>'))
        .unwrap()
        .0;
    assert!(filter.ends_with(" hidden"), "{filter}");
    assert!(html.len() < 8 * 1024, "{} bytes", html.len());
}

#[test]
fn a_huge_directory_lists_its_first_10_000_entries() {
    let root = DocRoot::new();
    let dir = root.dir("huge");
    for i in 0..10_005 {
        std::fs::File::create(dir.join(format!("f{i:05}"))).unwrap();
    }
    let server = Server::start(root.path(), &["--quiet"]);
    let resp = server.get("/huge/");
    assert_eq!(resp.status, 200, "{resp:?}");
    let html = resp.body_text();
    assert_eq!(listing_rows(&html).len(), 10_000);
    assert!(
        html.contains("Only part of this folder is listed"),
        "no note"
    );
    let entries = json(&server.get("/huge/?format=json"));
    assert_eq!(entries.len(), 10_000);
    // Sorted after the cut: the first 10 000 the file system gave.
    let names = json_names(&entries);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn an_empty_folder_says_so() {
    let root = DocRoot::new();
    root.dir("empty");
    let server = Server::start(root.path(), &["--quiet"]);
    let html = server.get("/empty/").body_text();
    assert!(listing_rows(&html).is_empty());
    assert!(html.contains("This folder is empty."), "{html}");
    assert!(html.contains("0 folders, 0 files, 0 B in total"), "{html}");
    assert_eq!(server.get("/empty/?format=json").body, b"[\n]\n");
}
