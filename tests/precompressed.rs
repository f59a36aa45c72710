//! `--precompressed`: `FILE.br` and `FILE.gz` served in place of `FILE` by
//! `Accept-Encoding`, with their own validators, ranges and conditionals.
//! The server never decompresses, so the sidecars hold arbitrary bytes.

mod common;

use common::*;
use std::time::{Duration, SystemTime};

const JS: &[u8] = b"console.log('identity: the original app.js');\n";
const JS_GZ: &[u8] = b"\x1f\x8b(pretend gzip bytes of app.js)";
const JS_BR: &[u8] = b"\x0b\x02(pretend brotli bytes)";
const JS_TYPE: &str = "text/javascript;charset=utf-8";

/// Length of the large file and its sidecars (served with sendfile).
const BIG_LEN: usize = 200 * 1024 + 3;

/// 2020-01-02 03:04:05 UTC.
const MTIME_SECS: u64 = 1_577_934_245;

fn big() -> Vec<u8> {
    pseudo_random(BIG_LEN, 21)
}
fn big_gz() -> Vec<u8> {
    pseudo_random(BIG_LEN - 1000, 22)
}
fn big_br() -> Vec<u8> {
    pseudo_random(BIG_LEN - 2000, 23)
}

/// `app.js` with both sidecars, `lib.js` with only `.gz`, `plain.js` with
/// none, `big.css` (large) with both.
fn site() -> DocRoot {
    let root = DocRoot::new();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS);
    for (name, body) in [
        ("app.js", JS.to_vec()),
        ("app.js.gz", JS_GZ.to_vec()),
        ("app.js.br", JS_BR.to_vec()),
        ("lib.js", JS.to_vec()),
        ("lib.js.gz", JS_GZ.to_vec()),
        ("plain.js", JS.to_vec()),
        ("big.css", big()),
        ("big.css.gz", big_gz()),
        ("big.css.br", big_br()),
    ] {
        set_mtime(&root.file(name, body), mtime);
    }
    root
}

/// Which representation a response carries.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Coding {
    Identity,
    Gzip,
    Brotli,
}

/// Asserts a `200` carrying `coding`'s body with the right headers;
/// `varies`: whether `Vary: Accept-Encoding` must be present.
fn assert_coding(
    resp: &Response,
    coding: Coding,
    bodies: [&[u8]; 3],
    content_type: &str,
    varies: bool,
    what: &str,
) {
    let (body, encoding) = match coding {
        Coding::Identity => (bodies[0], None),
        Coding::Gzip => (bodies[1], Some("gzip")),
        Coding::Brotli => (bodies[2], Some("br")),
    };
    assert_eq!(resp.status, 200, "{what}: {resp:?}");
    assert_eq!(
        resp.header_all("content-encoding"),
        encoding.into_iter().collect::<Vec<_>>(),
        "{what}: {resp:?}"
    );
    assert_eq!(
        resp.content_type().as_deref(),
        Some(content_type),
        "{what}: {resp:?}"
    );
    assert_eq!(
        resp.content_length(),
        Some(body.len() as u64),
        "{what}: {resp:?}"
    );
    assert!(
        resp.body == body,
        "{what}: body is not {coding:?}: {resp:?}"
    );
    let vary = resp.header_all("vary");
    if varies {
        assert!(
            vary.iter()
                .flat_map(|v| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding")),
            "{what}: no Vary: Accept-Encoding: {resp:?}"
        );
    } else {
        assert!(vary.is_empty(), "{what}: unexpected Vary: {resp:?}");
    }
    assert_eq!(resp.header("accept-ranges"), Some("bytes"), "{what}");
}

const APP: [&[u8]; 3] = [JS, JS_GZ, JS_BR];

#[test]
fn accept_encoding_picks_the_sidecar() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--precompressed"]);
    use Coding::*;
    let cases: [(Option<&str>, Coding); 18] = [
        (Some("br"), Brotli),
        (Some("gzip"), Gzip),
        (Some("gzip, br"), Brotli),
        (Some("br, gzip"), Brotli),
        (Some("gzip, deflate, br, zstd"), Brotli),
        (Some("br;q=0, gzip"), Gzip),
        (Some("gzip;q=0.5, br;q=0.4"), Gzip),
        (Some("br;q=0.4, gzip;q=0.5"), Gzip),
        (Some("gzip;q=0.5, br;q=0.5"), Brotli),
        (Some("GZIP"), Gzip),
        (Some("*"), Brotli),
        (Some("*;q=0.1, gzip;q=0.2"), Gzip),
        (Some("br;q=0, gzip;q=0"), Identity),
        (Some("identity"), Identity),
        (Some("deflate"), Identity),
        (Some(""), Identity),
        (Some("gzip;q=0, *"), Brotli),
        (None, Identity),
    ];
    let mut tags = std::collections::HashMap::new();
    for (ae, coding) in cases {
        let what = format!("/app.js Accept-Encoding: {ae:?}");
        let resp = get_encoded(&server, "/app.js", ae);
        assert_coding(&resp, coding, APP, JS_TYPE, true, &what);
        let tag = etag(&resp);
        let previous = tags.insert(coding as u8, tag.clone());
        if let Some(previous) = previous {
            assert_eq!(previous, tag, "{what}: ETag of {coding:?} not stable");
        }
    }
    // Three representations, three entity-tags.
    let mut distinct: Vec<String> = tags.into_values().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "ETags not distinct: {distinct:?}");
}

#[test]
fn only_a_gzip_sidecar() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--precompressed"]);
    use Coding::*;
    for (ae, coding) in [
        (Some("br, gzip"), Gzip),
        (Some("gzip"), Gzip),
        (Some("br"), Identity),
        (Some("br, gzip;q=0"), Identity),
        (None, Identity),
    ] {
        let resp = get_encoded(&server, "/lib.js", ae);
        let what = format!("/lib.js Accept-Encoding: {ae:?}");
        assert_coding(&resp, coding, APP, JS_TYPE, true, &what);
    }
}

#[test]
fn a_file_without_sidecars_has_no_vary() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--precompressed"]);
    for ae in [Some("br, gzip"), Some("gzip"), None] {
        let resp = get_encoded(&server, "/plain.js", ae);
        let what = format!("/plain.js Accept-Encoding: {ae:?}");
        assert_coding(&resp, Coding::Identity, APP, JS_TYPE, false, &what);
    }
}

#[test]
fn sidecars_are_ignored_without_the_flag() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for ae in [Some("br"), Some("gzip"), Some("gzip, br"), None] {
        let resp = get_encoded(&server, "/app.js", ae);
        let what = format!("no --precompressed, Accept-Encoding: {ae:?}");
        assert_coding(&resp, Coding::Identity, APP, JS_TYPE, false, &what);
        let partial = fetch(
            &server,
            "GET",
            "/app.js",
            &[("Accept-Encoding", "br"), ("Range", "bytes=0-3")],
        );
        assert_eq!(partial.status, 206, "{partial:?}");
        assert_eq!(partial.body, &JS[..4], "{partial:?}");
        assert_eq!(partial.header("content-encoding"), None);
    }
}

#[test]
fn head_shows_the_chosen_representation() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--precompressed"]);
    for (ae, encoding, body) in [("br", Some("br"), JS_BR), ("gzip", Some("gzip"), JS_GZ)]
        .into_iter()
        .chain([("identity", None, JS)])
    {
        let get = get_encoded(&server, "/app.js", Some(ae));
        let head = fetch(&server, "HEAD", "/app.js", &[("Accept-Encoding", ae)]);
        assert_eq!(head.status, 200, "{head:?}");
        assert_eq!(head.header("content-encoding"), encoding, "{head:?}");
        assert_eq!(head.content_length(), Some(body.len() as u64), "{head:?}");
        assert_eq!(head.header("etag"), get.header("etag"), "HEAD {ae}");
        assert_eq!(head.header("vary"), get.header("vary"), "HEAD {ae}");
        assert_eq!(head.content_type().as_deref(), Some(JS_TYPE));
    }
}

#[test]
fn ranges_apply_to_the_encoded_representation() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--precompressed"]);
    let (big, big_gz, big_br) = (big(), big_gz(), big_br());
    let cases: [(&str, &str, Option<&str>, &[u8]); 6] = [
        ("/app.js", "gzip", Some("gzip"), JS_GZ),
        ("/app.js", "br", Some("br"), JS_BR),
        ("/app.js", "identity", None, JS),
        ("/big.css", "gzip", Some("gzip"), &big_gz),
        ("/big.css", "br, gzip", Some("br"), &big_br),
        ("/big.css", "br;q=0, gzip;q=0", None, &big),
    ];
    for (path, ae, encoding, content) in cases {
        let len = content.len();
        for (range, first, last) in [
            ("bytes=0-3".to_string(), 0, 3),
            ("bytes=-5".to_string(), len - 5, len - 1),
            (format!("bytes=7-{}", len + 100), 7, len - 1),
        ] {
            let what = format!("{path} Accept-Encoding: {ae} Range: {range}");
            let headers = [("Accept-Encoding", ae), ("Range", range.as_str())];
            let resp = fetch(&server, "GET", path, &headers);
            assert_eq!(resp.status, 206, "{what}: {resp:?}");
            assert_eq!(
                resp.header("content-range"),
                Some(format!("bytes {first}-{last}/{len}").as_str()),
                "{what}: {resp:?}"
            );
            assert_eq!(resp.header("content-encoding"), encoding, "{what}");
            assert_eq!(
                resp.content_length(),
                Some((last - first + 1) as u64),
                "{what}"
            );
            assert!(resp.body == content[first..=last], "{what}: wrong bytes");
            assert_eq!(resp.header("vary"), Some("Accept-Encoding"), "{what}");
        }
        // Past the end of the encoded representation: 416 with its length.
        let range = format!("bytes={len}-");
        let what = format!("{path} Accept-Encoding: {ae} Range: {range}");
        let headers = [("Accept-Encoding", ae), ("Range", range.as_str())];
        let resp = fetch(&server, "GET", path, &headers);
        assert_eq!(resp.status, 416, "{what}: {resp:?}");
        assert_eq!(
            resp.header("content-range"),
            Some(format!("bytes */{len}").as_str()),
            "{what}"
        );
    }

    // If-Range compares with the encoded representation's ETag.
    let gz_tag = etag(&get_encoded(&server, "/app.js", Some("gzip")));
    let id_tag = etag(&get_encoded(&server, "/app.js", None));
    let headers = [
        ("Accept-Encoding", "gzip"),
        ("Range", "bytes=0-3"),
        ("If-Range", gz_tag.as_str()),
    ];
    let resp = fetch(&server, "GET", "/app.js", &headers);
    assert_eq!(resp.status, 206, "{headers:?}: {resp:?}");
    assert_eq!(resp.body, &JS_GZ[..4]);
    let headers = [
        ("Accept-Encoding", "gzip"),
        ("Range", "bytes=0-3"),
        ("If-Range", id_tag.as_str()),
    ];
    let resp = fetch(&server, "GET", "/app.js", &headers);
    assert_coding(
        &resp,
        Coding::Gzip,
        APP,
        JS_TYPE,
        true,
        "If-Range: identity tag",
    );
}

#[test]
fn conditionals_apply_to_the_encoded_representation() {
    let root = site();
    let server = Server::start(
        root.path(),
        &[
            "--quiet",
            "--precompressed",
            "--cache-control",
            "max-age=60",
        ],
    );
    for path in ["/app.js", "/big.css"] {
        let gz_tag = etag(&get_encoded(&server, path, Some("gzip")));
        let br_tag = etag(&get_encoded(&server, path, Some("br")));
        let id_tag = etag(&get_encoded(&server, path, None));

        for (ae, tag) in [
            (Some("gzip"), &gz_tag),
            (Some("br"), &br_tag),
            (Some("gzip, br"), &br_tag),
            (None, &id_tag),
            (Some("identity"), &id_tag),
        ] {
            let mut headers = vec![("If-None-Match", tag.as_str())];
            headers.extend(ae.map(|ae| ("Accept-Encoding", ae)));
            for method in ["GET", "HEAD"] {
                let what = format!("{method} {path} {headers:?}");
                let resp = fetch(&server, method, path, &headers);
                assert_eq!(resp.status, 304, "{what}: {resp:?}");
                assert_eq!(resp.header("etag"), Some(tag.as_str()), "{what}");
                assert_eq!(resp.header("vary"), Some("Accept-Encoding"), "{what}");
                assert_eq!(resp.header("cache-control"), Some("max-age=60"), "{what}");
                assert!(resp.header("last-modified").is_some(), "{what}: {resp:?}");
                assert!(resp.header("date").is_some(), "{what}: {resp:?}");
                assert_eq!(resp.header("content-length"), None, "{what}: {resp:?}");
                assert_eq!(resp.header("content-type"), None, "{what}: {resp:?}");
            }
        }

        // The ETag of one representation does not validate another.
        for (ae, tag, coding) in [
            (Some("br"), &gz_tag, Coding::Brotli),
            (None, &gz_tag, Coding::Identity),
            (Some("gzip"), &id_tag, Coding::Gzip),
        ] {
            let mut headers = vec![("If-None-Match", tag.as_str())];
            headers.extend(ae.map(|ae| ("Accept-Encoding", ae)));
            let resp = fetch(&server, "GET", path, &headers);
            let what = format!("GET {path} {headers:?}");
            assert_eq!(resp.status, 200, "{what}: {resp:?}");
            let expected = match coding {
                Coding::Identity => None,
                Coding::Gzip => Some("gzip"),
                Coding::Brotli => Some("br"),
            };
            assert_eq!(resp.header("content-encoding"), expected, "{what}");
            assert_eq!(resp.header("cache-control"), Some("max-age=60"), "{what}");
        }

        // If-Match too: strong comparison against the chosen representation.
        let headers = [("Accept-Encoding", "gzip"), ("If-Match", gz_tag.as_str())];
        assert_eq!(fetch(&server, "GET", path, &headers).status, 200);
        let headers = [("Accept-Encoding", "gzip"), ("If-Match", id_tag.as_str())];
        assert_eq!(fetch(&server, "GET", path, &headers).status, 412);
    }
}
