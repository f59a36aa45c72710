//! `--auth`: HTTP Basic authentication on the public listener: users in
//! both forms, every way to fail (`401` with a challenge), the connection
//! after a failure, the access log, the admin listener, CORS preflights
//! and the start-up warning. (The values it refuses are in `cli.rs`.)

mod common;

use common::*;
use std::time::Duration;

const A_TXT: &str = "0123456789abcdef\n";
const CHALLENGE: &str = "Basic realm=\"simple-web-server\", charset=\"UTF-8\"";
const LOG_WAIT: Duration = Duration::from_secs(5);

/// `bob`'s password is `pa:ss`, given as its SHA-256 digest.
const BOB: &str = "bob:sha256:1507e7f82a2b0181d415933d5c8a9ea43972e705486fcbe936a742f6ab4e17fe";

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", A_TXT);
    root
}

/// Two users: `alice` with a password on the command line, `bob` by digest.
fn start(root: &DocRoot, more: &[&str]) -> Server {
    let mut args = vec!["--auth", "alice:s3cr3t:x", "--auth", BOB];
    args.extend_from_slice(more);
    Server::start(root.path(), &args)
}

/// Standard base64, padded (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b));
        let n = n << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An `Authorization` value for `user:password`.
fn basic(user_password: &str) -> String {
    format!("Basic {}", base64(user_password.as_bytes()))
}

fn assert_challenged(resp: &Response, what: &str) {
    assert_eq!(resp.status, 401, "{what}: {resp:?}");
    assert_eq!(
        resp.header_all("www-authenticate"),
        [CHALLENGE],
        "{what}: {resp:?}"
    );
}

#[test]
fn the_test_encoder_is_base64() {
    assert_eq!(base64(b"alice:s3cr3t:x"), "YWxpY2U6czNjcjN0Ong=");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
}

#[test]
fn known_users_get_in_in_either_form() {
    let root = site();
    let server = start(&root, &["--quiet"]);
    let mut client = server.client();
    for credentials in ["alice:s3cr3t:x", "bob:pa:ss"] {
        let authorization = basic(credentials);
        let resp = exchange(
            &mut client,
            "GET",
            "/a.txt",
            &[("Authorization", &authorization)],
        );
        assert_eq!(resp.status, 200, "{credentials}: {resp:?}");
        assert_eq!(resp.body_text(), A_TXT);
        assert_eq!(resp.header("www-authenticate"), None, "{resp:?}");
    }
    // The scheme in any case, more than one space.
    let token = base64(b"bob:pa:ss");
    for authorization in [format!("basic {token}"), format!("BASIC   {token}")] {
        let resp = exchange(
            &mut client,
            "GET",
            "/a.txt",
            &[("Authorization", &authorization)],
        );
        assert_eq!(resp.status, 200, "{authorization}: {resp:?}");
    }
}

#[test]
fn every_way_to_fail_is_a_401_with_the_challenge_and_the_connection_goes_on() {
    let root = site();
    let server = start(&root, &["--quiet"]);
    let wrong_password = basic("alice:s3cr3t");
    let unknown_user = basic("carol:s3cr3t:x");
    let other_users_password = basic("bob:s3cr3t:x");
    let no_colon = format!("Basic {}", base64(b"alice"));
    let cases: [(&str, Option<&str>); 9] = [
        ("missing", None),
        ("wrong password", Some(&wrong_password)),
        ("unknown user", Some(&unknown_user)),
        ("another user's password", Some(&other_users_password)),
        ("no colon", Some(&no_colon)),
        ("not Basic", Some("Bearer YWxpY2U6czNjcjN0Ong=")),
        ("bad base64", Some("Basic YWxp!2U6czNjcjN0Ong=")),
        ("no credentials", Some("Basic")),
        ("empty", Some("")),
    ];
    let mut client = server.client();
    for (what, authorization) in cases {
        let headers: Vec<(&str, &str)> = authorization
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        let resp = exchange(&mut client, "GET", "/a.txt", &headers);
        assert_challenged(&resp, what);
        assert_error_body(&resp);
        assert!(resp.body_text().contains("401 Unauthorized"), "{resp:?}");
        assert!(!resp.connection_has("close"), "{what}: {resp:?}");
    }
    // The same connection, with good credentials at last.
    let good = basic("alice:s3cr3t:x");
    let resp = exchange(&mut client, "GET", "/a.txt", &[("Authorization", &good)]);
    assert_eq!(resp.status, 200, "{resp:?}");
}

#[test]
fn every_method_and_path_asks_head_without_a_body_and_a_body_is_skipped() {
    let root = site();
    let server = start(&root, &["--quiet"]);
    let mut client = server.client();
    for (method, path) in [
        ("GET", "/missing"),
        ("GET", "/"),
        ("OPTIONS", "*"),
        ("DELETE", "/a.txt"),
        ("BREW", "/pot"),
    ] {
        assert_challenged(&exchange(&mut client, method, path, &[]), method);
    }
    let resp = exchange(&mut client, "HEAD", "/a.txt", &[]);
    assert_challenged(&resp, "HEAD");
    assert!(resp.body.is_empty(), "{resp:?}");
    // A body, sent with the request, is read past as after a 405.
    client.send(b"POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    assert_challenged(&client.read_response(), "POST with a body");
    client.send(b"POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_challenged(&client.read_response(), "POST with a chunked body");
    // Nothing of those was taken for a request, and the connection is open.
    let good = basic("bob:pa:ss");
    let resp = exchange(&mut client, "GET", "/a.txt", &[("Authorization", &good)]);
    assert_eq!(resp.status, 200, "{resp:?}");
}

#[test]
fn ten_wrong_guesses_close_the_connection_and_asking_without_is_no_guess() {
    let root = site();
    let server = start(&root, &["--quiet"]);
    let mut client = server.client();
    // A browser's first request carries nothing: that is not a guess.
    for _ in 0..12 {
        assert_challenged(&exchange(&mut client, "GET", "/a.txt", &[]), "none");
    }
    for guess in 1..=10 {
        let authorization = basic(&format!("alice:guess{guess}"));
        let resp = exchange(
            &mut client,
            "GET",
            "/a.txt",
            &[("Authorization", &authorization)],
        );
        assert_challenged(&resp, &format!("guess {guess}"));
        assert_eq!(
            resp.connection_has("close"),
            guess == 10,
            "guess {guess}: {resp:?}"
        );
    }
    assert!(client.wait_closed(Duration::from_secs(5)), "still open");
    // A new connection starts afresh.
    let good = basic("alice:s3cr3t:x");
    assert_eq!(
        fetch(&server, "GET", "/a.txt", &[("Authorization", &good)]).status,
        200
    );
}

#[test]
fn the_log_shows_the_user_and_never_the_password() {
    let root = site();
    let server = start(&root, &[]);
    let good = basic("alice:s3cr3t:x");
    let bad = basic("bob:hunter2");
    assert_eq!(
        fetch(&server, "GET", "/a.txt?ok", &[("Authorization", &good)]).status,
        200
    );
    assert_eq!(
        fetch(&server, "GET", "/a.txt?bad", &[("Authorization", &bad)]).status,
        401
    );
    let ok = server
        .wait_stdout_line(LOG_WAIT, |l| l.contains("/a.txt?ok"))
        .expect("a line for the request let in");
    assert!(ok.starts_with("127.0.0.1 - alice ["), "{ok}");
    assert!(ok.ends_with("\" 200 17"), "{ok}");
    let denied = server
        .wait_stdout_line(LOG_WAIT, |l| l.contains("/a.txt?bad"))
        .expect("a line for the request denied");
    assert!(denied.starts_with("127.0.0.1 - - ["), "{denied}");
    assert!(denied.contains("\" 401 "), "{denied}");
    let everything = [server.stdout_lines(), server.stderr_lines()]
        .concat()
        .join("\n");
    for secret in ["s3cr3t", "hunter2", "pa:ss", &good[6..], &bad[6..]] {
        assert!(!everything.contains(secret), "{secret:?} in {everything}");
    }
}

#[test]
fn json_lines_have_a_user_key() {
    let root = site();
    let server = start(&root, &["--log-format", "json"]);
    let good = basic("bob:pa:ss");
    assert_eq!(
        fetch(&server, "GET", "/a.txt?ok", &[("Authorization", &good)]).status,
        200
    );
    assert_eq!(fetch(&server, "GET", "/a.txt?none", &[]).status, 401);
    let line = |needle: &str| {
        let line = server
            .wait_stdout_line(LOG_WAIT, |l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}"));
        serde_json::from_str::<serde_json::Value>(&line).expect(&line)
    };
    assert_eq!(line("/a.txt?ok")["user"], "bob");
    assert!(line("/a.txt?none")["user"].is_null());
}

#[test]
fn the_admin_listener_asks_for_nothing() {
    let root = site();
    let server = start(&root, &["--quiet", "--admin", "127.0.0.1:0"]);
    let mut admin = Client::connect(server.admin_addr());
    for path in ["/health", "/metrics"] {
        let resp = exchange(&mut admin, "GET", path, &[]);
        assert_eq!(resp.status, 200, "{path}: {resp:?}");
        assert_eq!(resp.header("www-authenticate"), None, "{resp:?}");
    }
    assert_challenged(&server.get("/a.txt"), "the public listener beside it");
}

#[test]
fn a_cors_preflight_needs_no_credentials_and_a_401_is_readable_cross_origin() {
    let root = site();
    let server = start(&root, &["--quiet", "--cors=https://app.example"]);
    let mut client = server.client();
    let resp = exchange(
        &mut client,
        "OPTIONS",
        "/a.txt",
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
    );
    assert_eq!(resp.status, 204, "{resp:?}");
    assert_eq!(
        resp.header("access-control-allow-headers"),
        Some("authorization")
    );
    // A plain OPTIONS is no preflight: it asks like any request.
    assert_challenged(&exchange(&mut client, "OPTIONS", "/a.txt", &[]), "OPTIONS");
    let resp = exchange(
        &mut client,
        "GET",
        "/a.txt",
        &[("Origin", "https://app.example")],
    );
    assert_challenged(&resp, "cross-origin GET");
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[test]
fn plain_http_beyond_loopback_is_warned_about() {
    let root = site();
    let warning = "--auth over plain HTTP";
    let server = start(&root, &["--quiet", "--bind", "0.0.0.0"]);
    assert_eq!(
        server.stderr_count(warning),
        1,
        "{:?}",
        server.stderr_lines()
    );
    let server = start(&root, &["--quiet"]);
    assert_eq!(
        server.stderr_count(warning),
        0,
        "{:?}",
        server.stderr_lines()
    );
}
