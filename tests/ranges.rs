//! Range requests: `206 Partial Content`, `multipart/byteranges`, `416`,
//! ignored and declined ranges, `If-Range`, HEAD, and offsets past 2 GiB.

mod common;

use common::*;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, SystemTime};

/// Size of the small file (served from memory: under 32 KiB).
const SMALL_LEN: usize = 10_000;
/// Size of the large file (served with sendfile).
const LARGE_LEN: usize = 4 * 1024 * 1024 + 123;

/// 2020-01-02 03:04:05 UTC, a Thursday, and the second before it.
const MTIME_SECS: u64 = 1_577_934_245;
const MTIME_HTTP: &str = "Thu, 02 Jan 2020 03:04:05 GMT";
const BEFORE_HTTP: &str = "Thu, 02 Jan 2020 03:04:04 GMT";

/// The sparse file: 2 GiB, with known bytes near the end.
const SPARSE_LEN: u64 = 2 << 30;
const SPARSE_MARK_AT: u64 = 2_147_483_100;
const SPARSE_TAIL: &[u8] = b"THE-END";

fn small_body() -> Vec<u8> {
    pseudo_random(SMALL_LEN, 11)
}

fn large_body() -> Vec<u8> {
    pseudo_random(LARGE_LEN, 12)
}

/// `/small.txt` and `/large.bin`, both with a fixed mtime.
fn site() -> DocRoot {
    let root = DocRoot::new();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS);
    set_mtime(&root.file("small.txt", small_body()), mtime);
    set_mtime(&root.file("large.bin", large_body()), mtime);
    root
}

/// The two files with their content and media type.
fn files() -> [(&'static str, Vec<u8>, &'static str); 2] {
    [
        ("/small.txt", small_body(), "text/plain;charset=utf-8"),
        ("/large.bin", large_body(), "application/octet-stream"),
    ]
}

/// A GET with `Range: range` on a fresh connection.
fn get_range(server: &Server, path: &str, range: &str) -> Response {
    fetch(server, "GET", path, &[("Range", range)])
}

/// Asserts a single-part `206` carrying bytes `first..=last` of `content`.
fn assert_partial(resp: &Response, content: &[u8], first: u64, last: u64, what: &str) {
    let len = content.len() as u64;
    assert_eq!(resp.status, 206, "{what}: {resp:?}");
    assert_eq!(
        resp.header("content-range"),
        Some(format!("bytes {first}-{last}/{len}").as_str()),
        "{what}: {resp:?}"
    );
    assert_eq!(
        resp.content_length(),
        Some(last - first + 1),
        "{what}: {resp:?}"
    );
    let expected = &content[first as usize..=last as usize];
    assert!(
        resp.body == expected,
        "{what}: wrong bytes (got {} bytes, first difference at {:?})",
        resp.body.len(),
        resp.body.iter().zip(expected).position(|(a, b)| a != b)
    );
}

/// Asserts a `200` with the whole of `content`.
fn assert_whole(resp: &Response, content: &[u8], what: &str) {
    assert_eq!(resp.status, 200, "{what}: {resp:?}");
    assert_eq!(resp.header("content-range"), None, "{what}: {resp:?}");
    assert_eq!(
        resp.content_length(),
        Some(content.len() as u64),
        "{what}: {resp:?}"
    );
    assert!(resp.body == content, "{what}: body differs from the file");
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
struct Part {
    content_type: Option<String>,
    /// `(first, last, complete length)` from its Content-Range.
    range: (u64, u64, u64),
    bytes: Vec<u8>,
}

/// The boundary of a `multipart/byteranges` Content-Type.
fn boundary_of(resp: &Response) -> String {
    let ct = resp
        .header("content-type")
        .unwrap_or_else(|| panic!("multipart without Content-Type: {resp:?}"));
    let (media, params) = ct
        .split_once(';')
        .unwrap_or_else(|| panic!("no boundary parameter in {ct:?}"));
    assert!(
        media.trim().eq_ignore_ascii_case("multipart/byteranges"),
        "not multipart/byteranges: {ct:?}"
    );
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .unwrap_or_else(|| panic!("no boundary parameter in {ct:?}"))
        .trim_matches('"')
        .to_string();
    assert!(
        !boundary.is_empty() && boundary.len() <= 70,
        "bad boundary {boundary:?}"
    );
    boundary
}

/// `bytes a-b/len` → `(a, b, len)`.
fn parse_content_range(value: &str) -> (u64, u64, u64) {
    let parse = || -> Option<(u64, u64, u64)> {
        let rest = value.strip_prefix("bytes ")?;
        let (span, len) = rest.split_once('/')?;
        let (a, b) = span.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?, len.parse().ok()?))
    };
    parse().unwrap_or_else(|| panic!("bad Content-Range {value:?}"))
}

/// Splits a `multipart/byteranges` body (RFC 9110 §14.6, RFC 2046 §5.1)
/// into its parts. Each part's length comes from its Content-Range, and the
/// next delimiter must follow right after its bytes.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let first = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    // An optional preamble ends with CRLF before the first delimiter.
    let mut pos = if body.starts_with(first.as_bytes()) {
        first.len()
    } else {
        find(body, delimiter.as_bytes()).expect("no first boundary") + delimiter.len()
    };
    let mut parts = Vec::new();
    for _ in 0..1000 {
        // After a delimiter: `--` closes the body, CRLF starts a part.
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            let epilogue = &rest[2..];
            assert!(
                epilogue.is_empty() || epilogue.starts_with(b"\r\n"),
                "junk after the close delimiter: {:?}",
                String::from_utf8_lossy(epilogue)
            );
            return parts;
        }
        assert!(
            rest.starts_with(b"\r\n"),
            "no CRLF after a boundary at {pos}: {:?}",
            String::from_utf8_lossy(&rest[..rest.len().min(80)])
        );
        pos += 2;
        // Part headers, up to an empty line.
        let head_end = find(&body[pos..], b"\r\n\r\n").expect("part headers never end");
        let head = std::str::from_utf8(&body[pos..pos + head_end]).expect("ASCII part headers");
        pos += head_end + 4;
        let mut content_type = None;
        let mut range = None;
        for line in head.split("\r\n") {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad part header line {line:?}"));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_ascii_lowercase().replace(' ', ""));
            } else if name.eq_ignore_ascii_case("content-range") {
                range = Some(parse_content_range(value));
            }
        }
        let range = range.unwrap_or_else(|| panic!("part without Content-Range: {head:?}"));
        let len = (range.1 - range.0 + 1) as usize;
        assert!(pos + len <= body.len(), "part {range:?} runs past the body");
        let bytes = body[pos..pos + len].to_vec();
        pos += len;
        assert!(
            body[pos..].starts_with(delimiter.as_bytes()),
            "part {range:?} not followed by a delimiter"
        );
        pos += delimiter.len();
        parts.push(Part {
            content_type,
            range,
            bytes,
        });
    }
    panic!("more than 1000 parts");
}

/// Asserts a multipart `206` whose parts are exactly `expected` (first,
/// last) ranges of `content`, in this order, each with `media_type`.
fn assert_multipart(
    resp: &Response,
    content: &[u8],
    media_type: &str,
    expected: &[(u64, u64)],
    what: &str,
) {
    assert_eq!(resp.status, 206, "{what}: {resp:?}");
    assert_eq!(
        resp.header("content-range"),
        None,
        "{what}: multipart with a top-level Content-Range: {resp:?}"
    );
    assert_eq!(
        resp.content_length(),
        Some(resp.body.len() as u64),
        "{what}"
    );
    let boundary = boundary_of(resp);
    let parts = parse_multipart(&resp.body, &boundary);
    let got: Vec<(u64, u64)> = parts.iter().map(|p| (p.range.0, p.range.1)).collect();
    assert_eq!(got, expected, "{what}: part ranges");
    for part in &parts {
        let (first, last, len) = part.range;
        assert_eq!(len, content.len() as u64, "{what}: part {part:?}");
        assert_eq!(
            part.content_type.as_deref(),
            Some(media_type),
            "{what}: part {first}-{last}"
        );
        assert!(
            part.bytes == content[first as usize..=last as usize],
            "{what}: part {first}-{last} has the wrong bytes"
        );
    }
}

#[test]
fn single_ranges_give_exact_bytes() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, media_type) in files() {
        let len = content.len() as u64;
        let last = len - 1;
        let etag = fetch(&server, "HEAD", path, &[])
            .header("etag")
            .expect("ETag")
            .to_string();
        let cases: Vec<(String, u64, u64)> = vec![
            ("bytes=0-0".into(), 0, 0),
            ("bytes=0-9".into(), 0, 9),
            ("bytes=10-19".into(), 10, 19),
            ("bytes=1234-5678".into(), 1234, 5678),
            (format!("bytes={last}-{last}"), last, last),
            ("bytes=5-".into(), 5, last),
            (format!("bytes={last}-"), last, last),
            ("bytes=0-".into(), 0, last),
            ("bytes=-7".into(), len - 7, last),
            ("bytes=-1".into(), last, last),
            // Past the end: clamped to the file.
            (format!("bytes=100-{}", len + 1000), 100, last),
            ("bytes=100-99999999999".into(), 100, last),
            (format!("bytes=-{}", len + 50), 0, last),
            // Whitespace and case as RFC 9110 allows.
            ("Bytes=3-4".into(), 3, 4),
            ("bytes= 3-4".into(), 3, 4),
        ];
        for (range, first, last) in cases {
            let what = format!("GET {path} Range: {range}");
            let resp = get_range(&server, path, &range);
            assert_partial(&resp, &content, first, last, &what);
            assert_eq!(resp.content_type().as_deref(), Some(media_type), "{what}");
            assert_eq!(resp.header("etag"), Some(etag.as_str()), "{what}");
            assert_eq!(resp.header("accept-ranges"), Some("bytes"), "{what}");
            assert_eq!(resp.header("last-modified"), Some(MTIME_HTTP), "{what}");
        }
        // A range well inside the large file, across many pages.
        if len > 3_000_000 {
            let resp = get_range(&server, path, "bytes=1000001-3000000");
            assert_partial(&resp, &content, 1_000_001, 3_000_000, "middle of large");
        }
    }
}

#[test]
fn several_ranges_give_multipart_byteranges() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, media_type) in files() {
        let len = content.len() as u64;
        let cases: Vec<(String, Vec<(u64, u64)>)> = vec![
            ("bytes=0-9,20-29".into(), vec![(0, 9), (20, 29)]),
            (
                "bytes=0-0, 100-199, -5".into(),
                vec![(0, 0), (100, 199), (len - 5, len - 1)],
            ),
            (
                format!("bytes=1000-1999,{}-", len - 100),
                vec![(1000, 1999), (len - 100, len - 1)],
            ),
            // Unsatisfiable members are dropped, the rest is served.
            (format!("bytes=0-1,{}-{}", len + 10, len + 20), vec![(0, 1)]),
            (format!("bytes=0-1,4-5,{}-", len), vec![(0, 1), (4, 5)]),
        ];
        for (range, expected) in cases {
            let what = format!("GET {path} Range: {range}");
            let resp = get_range(&server, path, &range);
            if expected.len() == 1 {
                let (first, last) = expected[0];
                assert_partial(&resp, &content, first, last, &what);
            } else {
                assert_multipart(&resp, &content, media_type, &expected, &what);
            }
        }
        if len > 3_000_000 {
            let range = "bytes=0-99999,1000000-2999999,4000000-";
            let expected = [(0, 99_999), (1_000_000, 2_999_999), (4_000_000, len - 1)];
            let resp = get_range(&server, path, range);
            assert_multipart(&resp, &content, media_type, &expected, range);
        }
    }
}

#[test]
fn overlapping_and_adjacent_ranges_are_coalesced() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, media_type) in files() {
        // Into one range: a plain single-part 206.
        for range in [
            "bytes=0-9,5-19",
            "bytes=0-9,10-19",
            "bytes=10-19,0-9",
            "bytes=0-19,5-9",
            "bytes=0-4,5-9,10-14,15-19",
        ] {
            let resp = get_range(&server, path, range);
            assert_partial(&resp, &content, 0, 19, &format!("{path} {range}"));
            assert_eq!(resp.content_type().as_deref(), Some(media_type));
        }
        // Into two parts.
        for range in [
            "bytes=0-9,10-19,100-109",
            "bytes=100-109,0-9,10-19",
            "bytes=0-14,5-19,100-105,104-109",
        ] {
            let what = format!("{path} {range}");
            let resp = get_range(&server, path, range);
            assert_multipart(&resp, &content, media_type, &[(0, 19), (100, 109)], &what);
        }
    }
}

#[test]
fn too_many_or_amplifying_ranges_get_the_whole_file() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, media_type) in files() {
        // 100 disjoint ranges are served; 101 are not.
        let spans = |n: u64| -> Vec<(u64, u64)> { (0..n).map(|i| (i * 10, i * 10 + 1)).collect() };
        let header = |spans: &[(u64, u64)]| {
            let list: Vec<String> = spans.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            format!("bytes={}", list.join(","))
        };
        let hundred = spans(100);
        let resp = get_range(&server, path, &header(&hundred));
        assert_multipart(&resp, &content, media_type, &hundred, "100 ranges");
        let resp = get_range(&server, path, &header(&spans(101)));
        assert_whole(&resp, &content, &format!("{path}: 101 ranges"));

        // Ranges that add up to more than the file.
        let len = content.len() as u64;
        let overlapping: Vec<String> = (0..20).map(|i| format!("{i}-{}", len / 2 + i)).collect();
        let overlapping = format!("bytes={}", overlapping.join(","));
        for range in ["bytes=0-,0-", "bytes=-1,0-", overlapping.as_str()] {
            let resp = get_range(&server, path, range);
            let shown = &range[..range.len().min(40)];
            assert_whole(&resp, &content, &format!("{path}: {shown}"));
        }
    }
}

#[test]
fn unsatisfiable_ranges_get_416() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, _) in files() {
        let len = content.len();
        for range in [
            format!("bytes={len}-"),
            format!("bytes={len}-{}", len + 10),
            format!("bytes={}-", len + 1000),
            format!("bytes={len}-,{}-{}", len + 5, len + 6),
            "bytes=-0".to_string(),
        ] {
            let what = format!("GET {path} Range: {range}");
            let resp = get_range(&server, path, &range);
            assert_eq!(resp.status, 416, "{what}: {resp:?}");
            assert_eq!(
                resp.header("content-range"),
                Some(format!("bytes */{len}").as_str()),
                "{what}: {resp:?}"
            );
            assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
            let head = fetch(&server, "HEAD", path, &[("Range", &range)]);
            assert_eq!(head.status, 416, "HEAD {what}: {head:?}");
            assert_eq!(
                head.header("content-range"),
                Some(format!("bytes */{len}").as_str())
            );
        }
    }
}

#[test]
fn invalid_ranges_are_ignored() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, _) in files() {
        for range in [
            "bytes=5-2",
            "bytes=abc",
            "items=0-1",
            "bytes=",
            "bytes=-",
            "bytes=1",
            "bytes=x-5",
            "bytes=0-1,5-2",
            "bytes=0-1;4-5",
            "0-1",
        ] {
            let resp = get_range(&server, path, range);
            assert_whole(&resp, &content, &format!("{path} Range: {range}"));
            assert_eq!(resp.header("accept-ranges"), Some("bytes"));
        }
    }
}

#[test]
fn if_range_decides_between_part_and_whole() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, _) in files() {
        let etag = fetch(&server, "HEAD", path, &[])
            .header("etag")
            .expect("ETag")
            .to_string();
        let weak = format!("W/{etag}");
        let partial: [&str; 3] = [&etag, MTIME_HTTP, &format!(" {etag} ")];
        for if_range in partial {
            let headers = [("Range", "bytes=10-29"), ("If-Range", if_range)];
            let resp = fetch(&server, "GET", path, &headers);
            assert_partial(&resp, &content, 10, 29, &format!("{path} {headers:?}"));
        }
        // Another entity-tag, a weak one (never matches for If-Range),
        // another date or no date at all: the whole file.
        let whole: [&str; 5] = [
            "\"other\"",
            &weak,
            BEFORE_HTTP,
            "Fri, 01 Jan 2100 00:00:00 GMT",
            "x",
        ];
        for if_range in whole {
            let headers = [("Range", "bytes=10-29"), ("If-Range", if_range)];
            let resp = fetch(&server, "GET", path, &headers);
            assert_whole(&resp, &content, &format!("{path} {headers:?}"));
        }
        // If-Range holds for a multipart request too.
        let headers = [("Range", "bytes=0-1,10-11"), ("If-Range", etag.as_str())];
        let resp = fetch(&server, "GET", path, &headers);
        assert_eq!(resp.status, 206, "{headers:?}: {resp:?}");
        // Without Range, If-Range means nothing.
        let resp = fetch(&server, "GET", path, &[("If-Range", &etag)]);
        assert_whole(&resp, &content, "If-Range without Range");
    }
}

#[test]
fn head_with_range_matches_get_without_a_body() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for (path, content, _) in files() {
        let len = content.len();
        for range in [
            "bytes=10-29".to_string(),
            "bytes=-100".to_string(),
            "bytes=0-1,10-11,100-".to_string(),
            format!("bytes={len}-"),
            "bytes=5-2".to_string(),
        ] {
            let get = get_range(&server, path, &range);
            // HEAD then GET on one connection: the GET must parse right
            // after the HEAD's head, so the HEAD sent no body.
            let mut client = server.client();
            let mut batch = raw_request("HEAD", path, &[("Range", &range)]);
            batch += &raw_request("GET", path, &[("Range", "bytes=0-3")]);
            client.send(batch.as_bytes());
            let head = client.read_head_response();
            let after = client.read_response();
            let what = format!("HEAD {path} Range: {range}");
            assert_eq!(head.status, get.status, "{what}: {head:?}");
            assert_eq!(head.content_length(), get.content_length(), "{what}");
            assert_eq!(
                head.header("content-range"),
                get.header("content-range"),
                "{what}"
            );
            assert_eq!(head.header("etag"), get.header("etag"), "{what}");
            let multipart = |r: &Response| {
                r.content_type()
                    .is_some_and(|t| t.starts_with("multipart/byteranges;boundary="))
            };
            assert_eq!(multipart(&head), multipart(&get), "{what}: {head:?}");
            if !multipart(&get) {
                assert_eq!(head.content_type(), get.content_type(), "{what}");
            }
            assert_partial(&after, &content, 0, 3, &format!("GET after {what}"));
        }
    }
}

#[test]
fn pipelined_range_responses_are_framed() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let (small, large) = (small_body(), large_body());
    let len = small.len();
    let mut batch = String::new();
    batch += &raw_request("GET", "/large.bin", &[("Range", "bytes=0-9,100-199")]);
    batch += &raw_request("GET", "/small.txt", &[("Range", &format!("bytes={len}-"))]);
    batch += &raw_request("GET", "/small.txt", &[("Range", "bytes=0-0,2-2,4-4")]);
    batch += &raw_request("GET", "/large.bin", &[("Range", "bytes=-65536")]);
    batch += &raw_request("GET", "/small.txt", &[]);
    let mut client = server.client();
    client.send(batch.as_bytes());
    let octets = "application/octet-stream";
    let text = "text/plain;charset=utf-8";
    let r = client.read_response();
    assert_multipart(&r, &large, octets, &[(0, 9), (100, 199)], "pipelined 1");
    let r = client.read_response();
    assert_eq!(r.status, 416, "pipelined 2: {r:?}");
    let r = client.read_response();
    assert_multipart(&r, &small, text, &[(0, 0), (2, 2), (4, 4)], "pipelined 3");
    let r = client.read_response();
    let last = large.len() as u64 - 1;
    assert_partial(&r, &large, last + 1 - 65536, last, "pipelined 4");
    let r = client.read_response();
    assert_whole(&r, &small, "pipelined 5");
}

#[test]
fn ranges_past_two_gibibytes_in_a_sparse_file() {
    let root = DocRoot::new();
    let path = root.path().join("sparse.bin");
    let file = File::create(&path).unwrap();
    file.set_len(SPARSE_LEN).unwrap();
    file.write_at(b"HEAD", 0).unwrap();
    file.write_at(SPARSE_TAIL, SPARSE_MARK_AT).unwrap();
    file.write_at(b"LAST", SPARSE_LEN - 4).unwrap();
    drop(file);
    // What the file holds from `start`, `n` bytes long.
    let expected = |start: u64, n: usize| -> Vec<u8> {
        let mut out = vec![0u8; n];
        let marks: [(u64, &[u8]); 3] = [
            (0, b"HEAD"),
            (SPARSE_MARK_AT, SPARSE_TAIL),
            (SPARSE_LEN - 4, b"LAST"),
        ];
        for (at, bytes) in marks {
            for (i, b) in bytes.iter().enumerate() {
                let pos = at + i as u64;
                if pos >= start && pos < start + n as u64 {
                    out[(pos - start) as usize] = *b;
                }
            }
        }
        out
    };

    let server = Server::start(root.path(), &["--quiet"]);
    let head = fetch(&server, "HEAD", "/sparse.bin", &[]);
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.content_length(), Some(SPARSE_LEN), "{head:?}");
    assert_eq!(head.header("accept-ranges"), Some("bytes"));

    let total = SPARSE_LEN;
    for (range, first, last) in [
        ("bytes=2147483000-2147483647", 2_147_483_000u64, total - 1),
        ("bytes=2147483000-", 2_147_483_000, total - 1),
        ("bytes=-10", total - 10, total - 1),
        (
            "bytes=2147483100-2147483106",
            SPARSE_MARK_AT,
            SPARSE_MARK_AT + 6,
        ),
        ("bytes=2147483647-99999999999", total - 1, total - 1),
    ] {
        let resp = get_range(&server, "/sparse.bin", range);
        assert_eq!(resp.status, 206, "{range}: {resp:?}");
        assert_eq!(
            resp.header("content-range"),
            Some(format!("bytes {first}-{last}/{total}").as_str()),
            "{range}"
        );
        let n = (last - first + 1) as usize;
        assert_eq!(resp.content_length(), Some(n as u64), "{range}");
        assert!(
            resp.body == expected(first, n),
            "{range}: wrong bytes {:?}",
            String::from_utf8_lossy(&resp.body[..resp.body.len().min(64)])
        );
    }
    let resp = get_range(&server, "/sparse.bin", &format!("bytes={total}-"));
    assert_eq!(resp.status, 416, "{resp:?}");
    assert_eq!(
        resp.header("content-range"),
        Some(format!("bytes */{total}").as_str())
    );

    // A multipart answer that spans the whole file.
    let resp = get_range(&server, "/sparse.bin", "bytes=0-3,2147483100-2147483106,-4");
    assert_eq!(resp.status, 206, "{resp:?}");
    let parts = parse_multipart(&resp.body, &boundary_of(&resp));
    let got: Vec<(u64, u64, u64, Vec<u8>)> = parts
        .into_iter()
        .map(|p| (p.range.0, p.range.1, p.range.2, p.bytes))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 3, total, b"HEAD".to_vec()),
            (
                SPARSE_MARK_AT,
                SPARSE_MARK_AT + 6,
                total,
                SPARSE_TAIL.to_vec()
            ),
            (total - 4, total - 1, total, b"LAST".to_vec()),
        ]
    );
}
