//! Compression on the fly (`--compress`): brotli, zstd and gzip variants
//! negotiated by `Accept-Encoding`, each with its own ETag and length;
//! small files compressed on the first request, larger ones in the
//! background; types, sizes and flags that turn it off. Every encoded body
//! is decoded back and compared with the file.

mod common;

use common::*;
use std::fmt::Write as _;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

/// How long a variant compressed in the background may take to show up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Small enough to be compressed by the worker on the first request.
const SMALL: usize = 4 * 1024;
/// Large enough to be compressed by a background thread.
const LARGE: usize = 40 * 1024;

/// `len` bytes of JavaScript-like text: similar lines with varying
/// numbers, which compress the way real scripts do.
fn script(len: usize, seed: u64) -> Vec<u8> {
    let mut out = String::with_capacity(len + 128);
    let mut i = 0u64;
    while out.len() < len {
        let n = i.wrapping_mul(2_654_435_761).wrapping_add(seed) % 100_000;
        let _ = writeln!(
            out,
            "export const item{i} = {{ id: {i}, price: {n}, label: \"row {i}\", on: {} }};",
            n.is_multiple_of(3)
        );
        i += 1;
    }
    out.truncate(len);
    out.into_bytes()
}

/// `body` decoded from the coding `encoding` names (`None`: as it is).
fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some("zstd") => out = zstd::stream::decode_all(body).expect("valid zstd"),
        Some(other) => panic!("unexpected Content-Encoding {other:?}"),
    }
    out
}

/// The identity ETag with `-coding` before the closing quote.
fn variant_etag(identity: &str, coding: &str) -> String {
    format!("{}-{coding}\"", identity.trim_end_matches('"'))
}

fn varies(resp: &Response) -> bool {
    resp.header_all("vary")
        .iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"))
}

/// Asserts a `200` carrying `content` encoded with `coding` (`None`:
/// identity) under the matching ETag, with `Vary` and an exact length.
fn assert_variant(
    resp: &Response,
    coding: Option<&str>,
    content: &[u8],
    identity_tag: &str,
    what: &str,
) {
    assert_eq!(resp.status, 200, "{what}: {resp:?}");
    let encodings = resp.header_all("content-encoding");
    assert_eq!(
        encodings,
        coding.into_iter().collect::<Vec<_>>(),
        "{what}: {resp:?}"
    );
    assert!(varies(resp), "{what}: no Vary: Accept-Encoding: {resp:?}");
    assert_eq!(
        resp.content_length(),
        Some(resp.body.len() as u64),
        "{what}"
    );
    assert!(
        decode(coding, &resp.body) == content,
        "{what}: wrong content"
    );
    let expected = coding.map_or(identity_tag.to_string(), |c| variant_etag(identity_tag, c));
    assert_eq!(etag(resp), expected, "{what}");
}

/// Repeats a GET with `Accept-Encoding: ae` until the answer is encoded
/// (the background thread finished), at most [`READY_TIMEOUT`].
fn wait_encoded(server: &Server, path: &str, ae: &str) -> Response {
    let mut last = None;
    let ready = poll_until(READY_TIMEOUT, || {
        let resp = get_encoded(server, path, Some(ae));
        let done = resp.header("content-encoding").is_some();
        last = Some(resp);
        done
    });
    let last = last.expect("at least one request");
    assert!(
        ready,
        "{path} with {ae}: not encoded within {READY_TIMEOUT:?}: {last:?}"
    );
    last
}

/// A server on a root holding `files`, with `args`.
fn serve(files: &[(&str, &[u8])], args: &[&str]) -> (DocRoot, Server) {
    let root = DocRoot::new();
    for (name, content) in files {
        root.file(name, content);
    }
    let mut all = vec!["--quiet"];
    all.extend_from_slice(args);
    let server = Server::start(root.path(), &all);
    (root, server)
}

#[test]
fn small_files_are_compressed_on_the_first_request() {
    let js = script(SMALL, 1);
    let (_root, server) = serve(&[("app.js", &js)], &[]);
    let id_tag = etag(&get_encoded(&server, "/app.js", None));
    for coding in ["br", "zstd", "gzip"] {
        let resp = get_encoded(&server, "/app.js", Some(coding));
        assert_variant(&resp, Some(coding), &js, &id_tag, coding);
        assert!(
            resp.body.len() < js.len() / 2,
            "{coding}: barely compressed"
        );
        let ct = resp.content_type().unwrap_or_default();
        assert!(ct.starts_with("text/javascript"), "{coding}: {ct}");
    }
}

#[test]
fn large_files_are_compressed_in_the_background() {
    let js = script(LARGE, 2);
    let (_root, server) = serve(&[("big.js", &js)], &[]);
    let id_tag = etag(&get_encoded(&server, "/big.js", None));
    for coding in ["br", "zstd", "gzip"] {
        // Cold: answered at once as it is, while a thread compresses it.
        let first = get_encoded(&server, "/big.js", Some(coding));
        assert_variant(&first, None, &js, &id_tag, &format!("first {coding}"));
        let resp = wait_encoded(&server, "/big.js", coding);
        assert_variant(&resp, Some(coding), &js, &id_tag, coding);
        assert!(
            resp.body.len() < js.len() / 2,
            "{coding}: barely compressed"
        );
    }
}

#[test]
fn accept_encoding_q_values_and_refusals() {
    let js = script(SMALL, 3);
    let (_root, server) = serve(&[("app.js", &js)], &[]);
    let id_tag = etag(&get_encoded(&server, "/app.js", None));
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (Some("br;q=0, gzip"), Some("gzip")),
        (Some("gzip, deflate, br, zstd"), Some("br")),
        (Some("gzip, zstd"), Some("zstd")),
        (
            Some("gzip;q=0.5, zstd;q=0.8, br;q=0.2, identity;q=0.1"),
            Some("zstd"),
        ),
        (Some("br;q=0, *"), Some("zstd")),
        (Some("*"), Some("br")),
        (Some("gzip;q=0.5, identity"), None),
        (Some("*;q=0"), None),
        (Some("identity;q=0"), None),
        (Some("br;q=0, zstd;q=0, gzip;q=0"), None),
        (Some("deflate"), None),
        (Some(""), None),
        (None, None),
    ];
    for (ae, coding) in cases {
        let resp = get_encoded(&server, "/app.js", *ae);
        let what = format!("Accept-Encoding {ae:?}");
        assert_variant(&resp, *coding, &js, &id_tag, &what);
    }
}

/// A client that lists codings only below `q=1` and says nothing of
/// identity still prefers them to identity: it asked for nothing else, and
/// RFC 9110 §12.5.3 gives an unlisted identity no q-value to outrank them
/// (nginx, Apache and Caddy compress here).
#[test]
fn codings_below_q1_beat_an_unlisted_identity() {
    let js = script(SMALL, 3);
    let (_root, server) = serve(&[("app.js", &js)], &[]);
    let id_tag = etag(&get_encoded(&server, "/app.js", None));
    for (ae, coding) in [("gzip;q=0.5", "gzip"), ("gzip;q=0.5, zstd;q=0.8", "zstd")] {
        let resp = get_encoded(&server, "/app.js", Some(ae));
        assert_variant(&resp, Some(coding), &js, &id_tag, ae);
    }
}

#[test]
fn each_variant_has_its_own_etag() {
    let js = script(LARGE, 4);
    let (_root, server) = serve(&[("big.js", &js)], &[]);
    let id_tag = etag(&get_encoded(&server, "/big.js", None));
    let br = wait_encoded(&server, "/big.js", "br");
    let br_tag = variant_etag(&id_tag, "br");
    assert_variant(&br, Some("br"), &js, &id_tag, "br");

    let inm = [
        ("Accept-Encoding", "br"),
        ("If-None-Match", br_tag.as_str()),
    ];
    let resp = fetch(&server, "GET", "/big.js", &inm);
    assert_eq!(resp.status, 304, "{resp:?}");
    assert_eq!(resp.header("etag"), Some(br_tag.as_str()), "{resp:?}");
    assert!(varies(&resp), "304 without Vary: {resp:?}");

    // The brotli tag does not validate the gzip variant (which is made in
    // the background too: wait for it first).
    wait_encoded(&server, "/big.js", "gzip");
    let inm = [
        ("Accept-Encoding", "gzip"),
        ("If-None-Match", br_tag.as_str()),
    ];
    let resp = fetch(&server, "GET", "/big.js", &inm);
    assert_variant(&resp, Some("gzip"), &js, &id_tag, "gzip, br tag");

    // If-Range with the brotli tag: a range of the brotli bytes.
    let headers = [
        ("Accept-Encoding", "br"),
        ("Range", "bytes=10-59"),
        ("If-Range", br_tag.as_str()),
    ];
    let resp = fetch(&server, "GET", "/big.js", &headers);
    assert_eq!(resp.status, 206, "{resp:?}");
    assert_eq!(resp.header("content-encoding"), Some("br"), "{resp:?}");
    assert!(resp.body == br.body[10..60], "If-Range br: wrong bytes");

    // If-Range with the identity tag on a brotli request: all of brotli.
    let headers = [
        ("Accept-Encoding", "br"),
        ("Range", "bytes=10-59"),
        ("If-Range", id_tag.as_str()),
    ];
    let resp = fetch(&server, "GET", "/big.js", &headers);
    assert_variant(&resp, Some("br"), &js, &id_tag, "If-Range: identity tag");
}

#[test]
fn ranges_apply_to_the_encoded_bytes() {
    let js = script(LARGE, 5);
    let (_root, server) = serve(&[("big.js", &js)], &[]);
    let full = wait_encoded(&server, "/big.js", "br").body;
    let headers = [("Accept-Encoding", "br"), ("Range", "bytes=0-99")];
    let resp = fetch(&server, "GET", "/big.js", &headers);
    assert_eq!(resp.status, 206, "{resp:?}");
    assert_eq!(resp.header("content-encoding"), Some("br"), "{resp:?}");
    let expected = format!("bytes 0-99/{}", full.len());
    assert_eq!(
        resp.header("content-range"),
        Some(expected.as_str()),
        "{resp:?}"
    );
    assert_eq!(resp.content_length(), Some(100), "{resp:?}");
    assert!(resp.body == full[..100], "wrong bytes");
    assert!(varies(&resp), "{resp:?}");

    // Past the end of the brotli bytes (but within the file's): 416.
    let range = format!("bytes={}-", full.len());
    let headers = [("Accept-Encoding", "br"), ("Range", range.as_str())];
    let resp = fetch(&server, "GET", "/big.js", &headers);
    assert_eq!(resp.status, 416, "{resp:?}");
    let expected = format!("bytes */{}", full.len());
    assert_eq!(
        resp.header("content-range"),
        Some(expected.as_str()),
        "{resp:?}"
    );
}

#[test]
fn head_matches_get_for_each_coding() {
    let (small, large) = (script(SMALL, 6), script(LARGE, 7));
    let (_root, server) = serve(&[("app.js", &small), ("big.js", &large)], &[]);
    for coding in ["br", "zstd", "gzip"] {
        wait_encoded(&server, "/big.js", coding);
    }
    for path in ["/app.js", "/big.js"] {
        for ae in ["br", "zstd", "gzip", "identity"] {
            let what = format!("{path} {ae}");
            let get = get_encoded(&server, path, Some(ae));
            let mut client = server.client();
            let head = exchange(&mut client, "HEAD", path, &[("Accept-Encoding", ae)]);
            assert_eq!(head.status, 200, "{what}: {head:?}");
            assert_eq!(head.content_length(), Some(get.body.len() as u64), "{what}");
            for name in ["content-encoding", "etag", "vary", "content-type"] {
                assert_eq!(head.header(name), get.header(name), "{what}: {name}");
            }
            // No body came after the HEAD: the next response parses.
            let next = exchange(&mut client, "GET", path, &[("Accept-Encoding", ae)]);
            assert_eq!(next.body, get.body, "{what}: GET after HEAD");
        }
    }
}

#[test]
fn types_and_sizes_that_are_not_compressed() {
    let text = script(SMALL, 8);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&text);
    let short = script(500, 9);
    let files: &[(&str, &[u8])] = &[
        ("logo.png", &png),
        ("photo.jpg", &text),
        ("clip.mp4", &text),
        ("bundle.zip", &text),
        ("bundle.tar.gz", &text),
        ("font.woff", &text),
        ("font.woff2", &text),
        ("short.txt", &short),
        // Compressible types, for contrast.
        ("style.css", &text),
        ("data.json", &text),
        ("icon.svg", &text),
        ("module.wasm", &text),
        ("font.ttf", &text),
    ];
    let (_root, server) = serve(files, &[]);
    for (name, content) in files {
        let path = format!("/{name}");
        let resp = get_encoded(&server, &path, Some("br, gzip, zstd"));
        assert_eq!(resp.status, 200, "{name}: {resp:?}");
        let encoding = resp.header("content-encoding");
        assert!(decode(encoding, &resp.body) == *content, "{name}");
        let ext = name.rsplit('.').next();
        let compressed = matches!(ext, Some("css" | "json" | "svg" | "wasm" | "ttf"));
        assert_eq!(encoding, compressed.then_some("br"), "{name}: {resp:?}");
        assert_eq!(varies(&resp), compressed, "{name}: {resp:?}");
        assert_eq!(resp.header_all("vary").len(), compressed as usize, "{name}");
    }

    // Below the default 1 KiB minimum, but not below --compress-min-size 100.
    let (_root, server) = serve(&[("short.txt", &short)], &["--compress-min-size", "100"]);
    let id_tag = etag(&get_encoded(&server, "/short.txt", None));
    let resp = get_encoded(&server, "/short.txt", Some("gzip"));
    assert_variant(&resp, Some("gzip"), &short, &id_tag, "min size 100");
}

#[test]
fn a_changed_file_gets_a_fresh_variant() {
    let old = script(SMALL, 10);
    let new = script(SMALL, 11);
    assert_eq!(old.len(), new.len(), "same size: only the mtime tells");
    assert_ne!(old, new);
    let root = DocRoot::new();
    let path = root.file("live.js", &old);
    let epoch = SystemTime::UNIX_EPOCH;
    set_mtime(&path, epoch + Duration::from_secs(1_600_000_000));
    let server = Server::start(root.path(), &["--quiet"]);
    let old_tag = etag(&get_encoded(&server, "/live.js", None));
    let resp = get_encoded(&server, "/live.js", Some("br"));
    assert_variant(&resp, Some("br"), &old, &old_tag, "before the change");

    // Nothing asks the server while the file changes: it sees no half-way state.
    std::fs::write(&path, &new).unwrap();
    set_mtime(&path, epoch + Duration::from_secs(1_700_000_000));
    // Each worker trusts what it looked up for 1 s.
    let mut new_tag = old_tag.clone();
    let changed = poll_until(Duration::from_secs(10), || {
        let resp = get_encoded(&server, "/live.js", None);
        new_tag = etag(&resp);
        assert!(
            new_tag == old_tag || resp.body == new,
            "new ETag, old body: {resp:?}"
        );
        new_tag != old_tag
    });
    assert!(changed, "the identity ETag never changed");

    // A worker may still hold the old version for a moment; whatever it
    // sends must be consistent, and the new variant must come.
    let mut last = None;
    let fresh = poll_until(Duration::from_secs(10), || {
        let resp = get_encoded(&server, "/live.js", Some("br"));
        let tag = etag(&resp);
        let (content, id_tag) = if tag == variant_etag(&old_tag, "br") {
            (&old, &old_tag)
        } else {
            (&new, &new_tag)
        };
        assert_variant(&resp, Some("br"), content, id_tag, "after the change");
        last = Some(tag);
        content == &new
    });
    assert!(fresh, "still the old variant: {last:?}");
    assert_eq!(last, Some(variant_etag(&new_tag, "br")));
}

#[test]
fn a_sidecar_wins_over_compression_on_the_fly() {
    let js = script(SMALL, 12);
    let mut marked = js.clone();
    marked.extend_from_slice(b"\n// made by hand for app.js.gz\n");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &marked).unwrap();
    let sidecar = encoder.finish().unwrap();
    let files: &[(&str, &[u8])] = &[("app.js", &js), ("app.js.gz", &sidecar)];
    let (_root, server) = serve(files, &["--precompressed"]);
    let id_tag = etag(&get_encoded(&server, "/app.js", None));

    let resp = get_encoded(&server, "/app.js", Some("gzip"));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-encoding"), Some("gzip"), "{resp:?}");
    assert!(resp.body == sidecar, "gzip: not the sidecar's bytes");
    assert!(decode(Some("gzip"), &resp.body) == marked);
    assert_ne!(etag(&resp), variant_etag(&id_tag, "gzip"), "its own tag");
    assert!(varies(&resp), "{resp:?}");

    for coding in ["br", "zstd"] {
        let resp = get_encoded(&server, "/app.js", Some(coding));
        assert_variant(&resp, Some(coding), &js, &id_tag, coding);
    }
    // One negotiation over sidecars and codings made on the fly alike: a
    // preferred coding made on the fly beats a sidecar the client ranks
    // lower, and identity named above the sidecar's coding beats it.
    let ae = "gzip;q=0.5, zstd";
    let resp = get_encoded(&server, "/app.js", Some(ae));
    assert_variant(&resp, Some("zstd"), &js, &id_tag, ae);
    let ae = "gzip;q=0.5, identity";
    let resp = get_encoded(&server, "/app.js", Some(ae));
    assert_variant(&resp, None, &js, &id_tag, ae);
}

#[test]
fn a_variant_bigger_than_the_cache_is_served_as_identity() {
    // Random hex: every coding of it is far bigger than the 1 KiB cache.
    let mut keys = String::new();
    for (i, chunk) in pseudo_random(LARGE / 2, 13).chunks(16).enumerate() {
        let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(keys, "const k{i} = \"{hex}\";");
    }
    let keys = keys.into_bytes();
    // The same line over and over: its brotli variant fits the cache.
    let same = b"const same = 1;\n".repeat(LARGE / 16);
    let files: &[(&str, &[u8])] = &[("keys.js", &keys), ("same.js", &same)];
    let args = ["--workers", "1", "--compress-cache-size", "1K"];
    let (_root, server) = serve(files, &args);
    let id_tag = etag(&get_encoded(&server, "/keys.js", None));
    let check = |round: usize| {
        for coding in ["br", "zstd", "gzip"] {
            let resp = get_encoded(&server, "/keys.js", Some(coding));
            let what = format!("round {round} {coding}");
            assert_variant(&resp, None, &keys, &id_tag, &what);
        }
    };
    let same_tag = etag(&get_encoded(&server, "/same.js", None));
    let resp = wait_encoded(&server, "/same.js", "br");
    assert_variant(&resp, Some("br"), &same, &same_tag, "same.js br");
    // The first round queues keys.js's three jobs. One worker has one
    // compression thread, which takes jobs in order: once same.js's zstd
    // (queued after them) is ready, keys.js's variants were made and refused.
    check(0);
    let resp = wait_encoded(&server, "/same.js", "zstd");
    assert_variant(&resp, Some("zstd"), &same, &same_tag, "same.js zstd");
    // Refused without evicting anything: same.js's brotli is still cached
    // (asked under another path, which the worker has not cached itself).
    let resp = get_encoded(&server, "/./same.js", Some("br"));
    assert_variant(&resp, Some("br"), &same, &same_tag, "same.js br again");
    for round in 1..20 {
        check(round);
    }
}

#[test]
fn compress_off_sends_files_as_they_are() {
    let (small, large) = (script(SMALL, 14), script(LARGE, 15));
    let files: &[(&str, &[u8])] = &[("app.js", &small), ("big.js", &large)];
    let (_root, server) = serve(files, &["--compress", "off"]);
    for (name, content) in files {
        for _ in 0..3 {
            let resp = get_encoded(&server, &format!("/{name}"), Some("br, zstd, gzip"));
            assert_eq!(resp.status, 200, "{name}: {resp:?}");
            assert_eq!(resp.header("content-encoding"), None, "{name}: {resp:?}");
            assert!(resp.header("vary").is_none(), "{name}: {resp:?}");
            assert!(resp.body == *content, "{name}");
        }
    }
}

#[test]
fn directory_listings_are_compressed() {
    let root = DocRoot::new();
    let names: Vec<String> = (0..40)
        .map(|i| format!("chapter-{i:02}-of-the-book.txt"))
        .collect();
    for name in &names {
        root.file(&format!("book/{name}"), name);
    }
    root.file("tiny/a.txt", "a");
    let server = Server::start(root.path(), &["--quiet"]);

    let plain = get_encoded(&server, "/book/", None);
    assert_eq!(plain.status, 200, "{plain:?}");
    assert!(
        plain.body.len() > 1024,
        "listing too small to test: {}",
        plain.body.len()
    );
    let resp = get_encoded(&server, "/book/", Some("gzip"));
    assert_variant(&resp, Some("gzip"), &plain.body, &etag(&plain), "listing");
    assert!(etag(&resp).ends_with("-gzip\""), "{resp:?}");
    let html = String::from_utf8(decode(Some("gzip"), &resp.body)).unwrap();
    for name in &names {
        assert!(html.contains(name.as_str()), "{name} not listed");
    }

    // A listing below the minimum size is sent as it is (an HTML page is
    // always above 1 KiB, with its stylesheet; JSON of one entry is not).
    // It varies by Accept (HTML or JSON), not by Accept-Encoding.
    let resp = get_encoded(&server, "/tiny/?format=json", Some("gzip"));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert!(resp.body.len() < 1024, "{resp:?}");
    assert_eq!(resp.header("content-encoding"), None, "{resp:?}");
    assert_eq!(resp.header_all("vary"), ["Accept"], "{resp:?}");
}

/// The scheduler state (`R`, `S`, ...) of the thread of process `pid`
/// named `name`, from `/proc`.
fn thread_state(pid: u32, name: &str) -> Option<char> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // `pid (comm) state ...`: the state follows the last `)`.
            return stat[stat.rfind(')')? + 1..].trim_start().chars().next();
        }
    }
    None
}

#[test]
fn the_worker_keeps_serving_while_a_big_file_is_compressed() {
    // 16 MiB (the largest size compressed) of text: brotli 11 takes many
    // seconds over it, far longer than the measurements below.
    const HUGE: usize = 16 * 1024 * 1024;
    let block = script(4096, 16);
    let mut huge = Vec::with_capacity(HUGE + block.len() + 32);
    for n in 0.. {
        if huge.len() >= HUGE {
            break;
        }
        huge.extend_from_slice(format!("/* block {n:08} */\n").as_bytes());
        huge.extend_from_slice(&block);
    }
    huge.truncate(HUGE);
    let small = script(SMALL, 17);
    let files: &[(&str, &[u8])] = &[("huge.js", &huge), ("small.js", &small)];
    let (_root, server) = serve(files, &["--workers", "1", "--compress", "best"]);

    // The trigger: a HEAD (no body to leave unread on the worker's socket).
    let start = Instant::now();
    let trigger = fetch(&server, "HEAD", "/huge.js", &[("Accept-Encoding", "br")]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "the trigger waited {took:?}");
    assert_eq!(trigger.status, 200, "{trigger:?}");
    assert_eq!(trigger.header("content-encoding"), None, "{trigger:?}");
    assert_eq!(trigger.content_length(), Some(HUGE as u64), "{trigger:?}");

    // Each sample: connect, GET, read the whole response.
    let mut samples = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let resp = fetch(&server, "GET", "/small.js", &[("Accept-Encoding", "br")]);
        samples.push(start.elapsed());
        assert_eq!(resp.status, 200, "{resp:?}");
        assert!(decode(resp.header("content-encoding"), &resp.body) == small);
    }
    // The measurements above ran while brotli was still at work: the file
    // is not compressed yet, and the thread is running, not waiting.
    let after = fetch(&server, "HEAD", "/huge.js", &[("Accept-Encoding", "br")]);
    assert_eq!(
        after.header("content-encoding"),
        None,
        "done already: {after:?}"
    );
    let running = poll_until(Duration::from_secs(2), || {
        thread_state(server.pid(), "compress-0") == Some('R')
    });
    assert!(running, "compress-0 is not running");

    samples.sort();
    let (median, p90, max) = (samples[9], samples[17], samples[19]);
    eprintln!("small GETs while compressing: median {median:?}, p90 {p90:?}, max {max:?}");
    // All 20 were answered while the compression ran (checked above), so
    // none waited for it. How fast they were is a benchmark's question,
    // not a test's (a 50 ms bound here failed once on a loaded machine);
    // this only rules out waiting anywhere near the seconds the
    // compression takes.
    assert!(max < Duration::from_secs(1), "max {max:?}: {samples:?}");
}

#[test]
fn bad_compression_flags_exit_2() {
    let root = DocRoot::new();
    let dir = root.path().to_str().unwrap();
    for (flag, value) in [
        ("--compress", "nonsense"),
        ("--compress-min-size", "12Q"),
        ("--compress-cache-size", "lots"),
    ] {
        let out = run_cli(&["--port", "0", flag, value, dir], CLI_TIMEOUT);
        assert_eq!(out.code(), Some(2), "{flag} {value}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{flag} {value}: one line: {out:?}");
        assert!(
            lines[0].contains(flag) && lines[0].contains(value),
            "{out:?}"
        );
    }
}
