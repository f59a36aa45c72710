//! Validators and conditional requests: `ETag`, `Last-Modified`,
//! `If-None-Match`, `If-Modified-Since`, `If-Match`, `If-Unmodified-Since`,
//! `304 Not Modified`, `412 Precondition Failed` and `--cache-control`.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// 2020-01-02 03:04:05 UTC, a Thursday. The test files get this mtime plus
/// a fraction of a second: HTTP dates have whole seconds, so the server
/// must compare at that resolution.
const MTIME_SECS: u64 = 1_577_934_245;
const MTIME_NANOS: u32 = 600_000_000;
const MTIME_HTTP: &str = "Thu, 02 Jan 2020 03:04:05 GMT";
/// The same instant in the two obsolete formats recipients must accept.
const MTIME_RFC850: &str = "Thursday, 02-Jan-20 03:04:05 GMT";
const MTIME_ASCTIME: &str = "Thu Jan  2 03:04:05 2020";
/// One second before and after `MTIME_HTTP`, and far away on either side.
const BEFORE_HTTP: &str = "Thu, 02 Jan 2020 03:04:04 GMT";
const AFTER_HTTP: &str = "Thu, 02 Jan 2020 03:04:06 GMT";
const ANCIENT_HTTP: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const FUTURE_HTTP: &str = "Fri, 01 Jan 2100 00:00:00 GMT";

/// 2021-03-04 05:06:07 UTC, a Thursday: the mtime after a change.
const NEW_MTIME_SECS: u64 = 1_614_834_367;
const NEW_MTIME_HTTP: &str = "Thu, 04 Mar 2021 05:06:07 GMT";
/// 2022-05-06 07:08:09 UTC, a Friday: the mtime after a second change.
const NEWER_MTIME_SECS: u64 = 1_651_820_889;
const NEWER_MTIME_HTTP: &str = "Fri, 06 May 2022 07:08:09 GMT";

/// Content of the small file (served from memory).
const SMALL: &[u8] = b"conditional requests, small file\n";
/// Size of the large file (served with sendfile).
const LARGE_LEN: usize = 300 * 1024 + 7;

fn mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(MTIME_SECS, MTIME_NANOS)
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// A root with `/a.txt` (small) and `/big.bin` (large), both with [`mtime`].
fn site() -> DocRoot {
    let root = DocRoot::new();
    let small = root.file("a.txt", SMALL);
    let large = root.file("big.bin", pseudo_random(LARGE_LEN, 7));
    set_mtime(&small, mtime());
    set_mtime(&large, mtime());
    root
}

/// The ETag of `path`, checked to be a strong, quoted entity-tag.
fn etag_of(resp: &Response) -> String {
    let etag = resp
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {resp:?}"))
        .to_string();
    assert!(
        etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"'),
        "ETag is not a strong quoted entity-tag: {etag:?}"
    );
    assert!(
        !etag[1..etag.len() - 1].contains('"'),
        "ETag has inner quotes: {etag:?}"
    );
    etag
}

/// What every `304` must look like: no body framing, no Content-Type, the
/// validators and a Date kept.
fn assert_not_modified(resp: &Response, etag: &str, what: &str) {
    assert_eq!(resp.status, 304, "{what}: {resp:?}");
    assert_eq!(resp.header("etag"), Some(etag), "{what}: {resp:?}");
    assert_eq!(
        resp.header("last-modified"),
        Some(MTIME_HTTP),
        "{what}: {resp:?}"
    );
    let date = resp
        .header("date")
        .unwrap_or_else(|| panic!("{what}: 304 without Date: {resp:?}"));
    assert!(is_http_date(date), "{what}: bad Date {date:?}");
    assert_eq!(
        resp.header("content-length"),
        None,
        "{what}: 304 with Content-Length: {resp:?}"
    );
    assert_eq!(
        resp.header("transfer-encoding"),
        None,
        "{what}: 304 with Transfer-Encoding: {resp:?}"
    );
    assert_eq!(
        resp.header("content-type"),
        None,
        "{what}: 304 with Content-Type: {resp:?}"
    );
}

/// A `200` with the whole of `body`.
fn assert_full(resp: &Response, body: &[u8], what: &str) {
    assert_eq!(resp.status, 200, "{what}: {resp:?}");
    assert_eq!(
        resp.content_length(),
        Some(body.len() as u64),
        "{what}: {resp:?}"
    );
    assert!(resp.body == body, "{what}: body differs: {resp:?}");
}

#[test]
fn file_responses_carry_validators() {
    let root = site();
    let large = pseudo_random(LARGE_LEN, 7);
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, body) in [("/a.txt", SMALL), ("/big.bin", &large[..])] {
        let get = fetch(&server, "GET", path, &[]);
        assert_full(&get, body, path);
        let etag = etag_of(&get);
        assert!(!etag.starts_with("W/"), "weak ETag {etag:?}");
        assert_eq!(get.header("last-modified"), Some(MTIME_HTTP), "{get:?}");
        assert_eq!(get.header("accept-ranges"), Some("bytes"), "{get:?}");
        assert_eq!(get.header("cache-control"), None, "{get:?}");

        // HEAD: the same validators; the ETag is stable between requests.
        let head = fetch(&server, "HEAD", path, &[]);
        assert_eq!(head.status, 200, "{head:?}");
        assert_eq!(head.header("etag"), Some(etag.as_str()), "{head:?}");
        assert_eq!(head.header("last-modified"), Some(MTIME_HTTP), "{head:?}");
        assert_eq!(head.header("accept-ranges"), Some("bytes"), "{head:?}");
        assert_eq!(head.content_length(), Some(body.len() as u64), "{head:?}");
    }
    let small_tag = etag_of(&fetch(&server, "GET", "/a.txt", &[]));
    let large_tag = etag_of(&fetch(&server, "GET", "/big.bin", &[]));
    assert_ne!(small_tag, large_tag, "two files share an ETag");
}

#[test]
fn if_none_match_with_the_etag_is_not_modified() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for path in ["/a.txt", "/big.bin"] {
        let etag = etag_of(&fetch(&server, "GET", path, &[]));
        let weak = format!("W/{etag}");
        let listed = format!("\"x\", {etag}");
        let listed_tight = format!("\"x\",\"y\",{etag}");
        let cases: [&str; 5] = [&etag, &listed, &listed_tight, &weak, "*"];
        for value in cases {
            for method in ["GET", "HEAD"] {
                let resp = fetch(&server, method, path, &[("If-None-Match", value)]);
                let what = format!("{method} {path} If-None-Match: {value}");
                assert_not_modified(&resp, &etag, &what);
            }
        }
    }
}

#[test]
fn if_none_match_without_a_match_is_ok() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let etag = etag_of(&fetch(&server, "GET", "/a.txt", &[]));
    // The same opaque tag with a character changed, and without quotes.
    let inner = &etag[1..etag.len() - 1];
    let altered = format!("\"{inner}0\"");
    let cases: [&str; 4] = ["\"x\"", "\"x\", \"y\"", &altered, "W/\"nope\""];
    for value in cases {
        let what = format!("GET If-None-Match: {value}");
        let resp = fetch(&server, "GET", "/a.txt", &[("If-None-Match", value)]);
        assert_full(&resp, SMALL, &what);
        assert_eq!(resp.header("etag"), Some(etag.as_str()), "{what}");
        let head = fetch(&server, "HEAD", "/a.txt", &[("If-None-Match", value)]);
        assert_eq!(head.status, 200, "HEAD {what}: {head:?}");
    }
}

#[test]
fn if_modified_since_compares_whole_seconds() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for path in ["/a.txt", "/big.bin"] {
        let etag = etag_of(&fetch(&server, "GET", path, &[]));
        // Equal (in every date format) or later: not modified.
        for date in [
            MTIME_HTTP,
            MTIME_RFC850,
            MTIME_ASCTIME,
            AFTER_HTTP,
            FUTURE_HTTP,
        ] {
            for method in ["GET", "HEAD"] {
                let resp = fetch(&server, method, path, &[("If-Modified-Since", date)]);
                let what = format!("{method} {path} If-Modified-Since: {date}");
                assert_not_modified(&resp, &etag, &what);
            }
        }
        // Earlier, or not a date at all: the full response.
        for date in [
            BEFORE_HTTP,
            ANCIENT_HTTP,
            "yesterday",
            "Thu, 02 Jan 2020 03:04:05",
            "Thu, 32 Jan 2020 03:04:05 GMT",
            "",
        ] {
            let resp = fetch(&server, "GET", path, &[("If-Modified-Since", date)]);
            let what = format!("GET {path} If-Modified-Since: {date:?}");
            assert_eq!(resp.status, 200, "{what}: {resp:?}");
            assert_eq!(resp.header("etag"), Some(etag.as_str()), "{what}");
            assert_eq!(
                resp.content_length(),
                Some(resp.body.len() as u64),
                "{what}"
            );
            assert!(!resp.body.is_empty(), "{what}");
        }
    }
}

#[test]
fn if_none_match_takes_precedence_over_if_modified_since() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let etag = etag_of(&fetch(&server, "GET", "/a.txt", &[]));

    // A non-matching If-None-Match wins over an If-Modified-Since that
    // alone would give 304.
    for date in [MTIME_HTTP, FUTURE_HTTP] {
        let headers = [("If-None-Match", "\"other\""), ("If-Modified-Since", date)];
        let resp = fetch(&server, "GET", "/a.txt", &headers);
        assert_full(&resp, SMALL, &format!("{headers:?}"));
    }
    // A matching one wins over an If-Modified-Since that alone would give 200.
    for date in [ANCIENT_HTTP, BEFORE_HTTP] {
        let headers = [("If-Modified-Since", date), ("If-None-Match", &etag)];
        let resp = fetch(&server, "GET", "/a.txt", &headers);
        assert_not_modified(&resp, &etag, &format!("{headers:?}"));
    }
}

#[test]
fn if_match_and_if_unmodified_since() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for path in ["/a.txt", "/big.bin"] {
        let etag_owned = etag_of(&fetch(&server, "GET", path, &[]));
        let etag = etag_owned.as_str();
        let weak = format!("W/{etag}");
        let listed = format!("\"x\", {etag}");
        type Case<'a> = (Vec<(&'a str, &'a str)>, u16);
        let cases: Vec<Case> = vec![
            // If-Match: strong comparison; `*` matches any current file.
            (vec![("If-Match", etag)], 200),
            (vec![("If-Match", &listed)], 200),
            (vec![("If-Match", "*")], 200),
            (vec![("If-Match", "\"x\"")], 412),
            (vec![("If-Match", "\"x\", \"y\"")], 412),
            (vec![("If-Match", &weak)], 412),
            // If-Unmodified-Since: fails only when the file is newer.
            (vec![("If-Unmodified-Since", BEFORE_HTTP)], 412),
            (vec![("If-Unmodified-Since", ANCIENT_HTTP)], 412),
            (vec![("If-Unmodified-Since", MTIME_HTTP)], 200),
            (vec![("If-Unmodified-Since", FUTURE_HTTP)], 200),
            (vec![("If-Unmodified-Since", "garbage")], 200),
            // ... and is not looked at when If-Match is present.
            (
                vec![("If-Match", etag), ("If-Unmodified-Since", ANCIENT_HTTP)],
                200,
            ),
            (
                vec![("If-Match", "\"x\""), ("If-Unmodified-Since", FUTURE_HTTP)],
                412,
            ),
            // A failed If-Match beats a matching If-None-Match.
            (vec![("If-Match", "\"x\""), ("If-None-Match", etag)], 412),
            // A passed one lets If-None-Match decide.
            (vec![("If-Match", etag), ("If-None-Match", etag)], 304),
        ];
        for (headers, expected) in &cases {
            for method in ["GET", "HEAD"] {
                let resp = fetch(&server, method, path, headers);
                let what = format!("{method} {path} {headers:?}");
                assert_eq!(resp.status, *expected, "{what}: {resp:?}");
                match (expected, method) {
                    (200, "GET") => {
                        assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
                        assert_eq!(resp.header("etag"), Some(etag), "{what}");
                    }
                    (412, "GET") => assert_error_body(&resp),
                    (304, _) => assert_not_modified(&resp, etag, &what),
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn not_modified_has_no_body_on_a_pipelined_connection() {
    let root = site();
    let large = pseudo_random(LARGE_LEN, 7);
    let server = Server::start(root.path(), &["--quiet"]);
    let small_tag = etag_of(&fetch(&server, "GET", "/a.txt", &[]));
    let large_tag = etag_of(&fetch(&server, "GET", "/big.bin", &[]));

    // Five requests in one write: each response must start right after the
    // head of a 304 (no stray body bytes, no Content-Length to skip).
    let mut batch = String::new();
    batch += &raw_request("GET", "/a.txt", &[("If-None-Match", &small_tag)]);
    batch += &raw_request("HEAD", "/big.bin", &[("If-None-Match", &large_tag)]);
    batch += &raw_request("GET", "/big.bin", &[("If-Modified-Since", MTIME_HTTP)]);
    batch += &raw_request("GET", "/a.txt", &[]);
    batch += &raw_request("GET", "/big.bin", &[("If-None-Match", "\"nope\"")]);
    let mut client = server.client();
    client.send(batch.as_bytes());

    let first = client.read_response();
    assert_not_modified(&first, &small_tag, "pipelined GET 1");
    let second = client.read_head_response();
    assert_not_modified(&second, &large_tag, "pipelined HEAD 2");
    let third = client.read_response();
    assert_not_modified(&third, &large_tag, "pipelined GET 3");
    let fourth = client.read_response();
    assert_full(&fourth, SMALL, "pipelined GET 4");
    let fifth = client.read_response();
    assert_full(&fifth, &large, "pipelined GET 5");

    // The connection is still good for one more request.
    let again = exchange(&mut client, "GET", "/a.txt", &[("If-None-Match", "*")]);
    assert_not_modified(&again, &small_tag, "GET after the batch");
}

/// GETs `path` on fresh connections until `done` holds for a response
/// (the server trusts its cached metadata for up to a second per worker).
fn poll_response(server: &Server, path: &str, done: impl Fn(&Response) -> bool) -> Response {
    let mut last = None;
    let ok = poll_until(Duration::from_secs(5), || {
        let resp = fetch(server, "GET", path, &[]);
        let hit = done(&resp);
        last = Some(resp);
        hit
    });
    let last = last.expect("at least one response");
    assert!(ok, "the change did not show within 5 s; last: {last:?}");
    last
}

fn rewrite(path: &Path, contents: &[u8], secs: u64) {
    std::fs::write(path, contents).unwrap();
    set_mtime(path, at(secs));
}

#[test]
fn a_changed_file_gets_a_new_etag() {
    let root = site();
    let path = root.path().join("a.txt");
    // One worker: each worker caches a file for up to a second, and a new
    // connection may land on either, so with two a stale answer could
    // follow a fresh one.
    let server = Server::start(root.path(), &["--quiet", "--workers", "1"]);
    let old = fetch(&server, "GET", "/a.txt", &[]);
    assert_full(&old, SMALL, "before the change");
    let old_tag = etag_of(&old);

    // New content of another size, and another mtime.
    let new_body = b"the file was changed and is longer now\n".to_vec();
    assert_ne!(new_body.len(), SMALL.len());
    rewrite(&path, &new_body, NEW_MTIME_SECS);
    let new = poll_response(&server, "/a.txt", |r| {
        r.status == 200 && r.body == new_body && r.header("last-modified") == Some(NEW_MTIME_HTTP)
    });
    let new_tag = etag_of(&new);
    assert_ne!(new_tag, old_tag, "the ETag did not change with the file");

    // Validators are checked against the file as it is now. Each worker
    // may still hold the old metadata for a moment: poll.
    let new_seen = poll_until(Duration::from_secs(5), || {
        let old_inm = fetch(&server, "GET", "/a.txt", &[("If-None-Match", &old_tag)]);
        let new_inm = fetch(&server, "GET", "/a.txt", &[("If-None-Match", &new_tag)]);
        old_inm.status == 200 && old_inm.body == new_body && new_inm.status == 304
    });
    assert!(new_seen, "old/new ETag not evaluated against the new file");
    let resp = fetch(&server, "GET", "/a.txt", &[("If-Match", &old_tag)]);
    assert_eq!(resp.status, 412, "If-Match with the old ETag: {resp:?}");
    let resp = fetch(
        &server,
        "GET",
        "/a.txt",
        &[("If-Modified-Since", MTIME_HTTP)],
    );
    assert_eq!(
        resp.status, 200,
        "If-Modified-Since the old mtime: {resp:?}"
    );

    // Only the mtime changes (same size, same content): a new ETag too.
    set_mtime(&path, at(NEWER_MTIME_SECS));
    let newer = poll_response(&server, "/a.txt", |r| {
        r.header("last-modified") == Some(NEWER_MTIME_HTTP)
    });
    assert_eq!(newer.body, new_body);
    let newer_tag = etag_of(&newer);
    assert_ne!(newer_tag, new_tag, "the ETag ignores the mtime");
    assert_ne!(newer_tag, old_tag);
}

#[test]
fn cache_control_is_sent_when_configured() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--cache-control", "max-age=60"]);
    for path in ["/a.txt", "/big.bin"] {
        let get = fetch(&server, "GET", path, &[]);
        assert_eq!(get.status, 200, "{get:?}");
        assert_eq!(get.header_all("cache-control"), ["max-age=60"], "{get:?}");
        let etag = etag_of(&get);

        let head = fetch(&server, "HEAD", path, &[]);
        assert_eq!(head.header_all("cache-control"), ["max-age=60"], "{head:?}");

        let partial = fetch(&server, "GET", path, &[("Range", "bytes=0-3")]);
        assert_eq!(partial.status, 206, "{partial:?}");
        assert_eq!(partial.header("cache-control"), Some("max-age=60"));

        for headers in [
            [("If-None-Match", etag.as_str())],
            [("If-Modified-Since", MTIME_HTTP)],
        ] {
            let resp = fetch(&server, "GET", path, &headers);
            let what = format!("GET {path} {headers:?}");
            assert_not_modified(&resp, &etag, &what);
            assert_eq!(
                resp.header_all("cache-control"),
                ["max-age=60"],
                "{what}: {resp:?}"
            );
        }
    }
}

#[test]
fn no_cache_control_without_the_flag() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let get = fetch(&server, "GET", "/a.txt", &[]);
    assert_eq!(get.header("cache-control"), None, "{get:?}");
    let etag = etag_of(&get);
    let resp = fetch(&server, "GET", "/a.txt", &[("If-None-Match", &etag)]);
    assert_not_modified(&resp, &etag, "304 without --cache-control");
    assert_eq!(resp.header("cache-control"), None, "{resp:?}");
}

#[test]
fn cache_control_with_control_characters_is_a_usage_error() {
    let root = DocRoot::new();
    let root_arg = root.path().to_str().unwrap();
    // Were a value accepted, the server must not take a fixed port.
    let run = |value: &str| {
        let args = [
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--cache-control",
            value,
            root_arg,
        ];
        run_cli(&args, CLI_TIMEOUT)
    };
    for bad in [
        "a\u{1}b",
        "max-age=60\nX-Injected: 1",
        "max-age=60\r\nX-Injected: 1",
        "max-age=\u{7f}60",
        "max-age=\u{1b}[31m60",
    ] {
        let out = run(bad);
        assert_eq!(out.code(), Some(2), "--cache-control {bad:?}: {out:?}");
        assert!(
            !out.stderr.contains("Serving "),
            "--cache-control {bad:?} started the server: {out:?}"
        );
    }
    // The one-line message names the flag. (Only checked for a value without
    // a line break: the server prints the first line of the message, which
    // a newline inside the echoed value cuts short.)
    let out = run("a\u{1}b");
    assert!(
        out.stderr.contains("cache-control"),
        "the error does not name the flag: {out:?}"
    );
}
