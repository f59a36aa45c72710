//! The access log on stdout (Common Log Format) and `--quiet`.

mod common;

use common::*;
use std::time::Duration;

const LOG_WAIT: Duration = Duration::from_secs(5);

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "0123456789abcdef\n");
    root
}

/// Checks `[dd/Mon/yyyy:hh:mm:ss +zzzz]` right after `127.0.0.1 - - `.
fn assert_clf_prefix(line: &str) {
    let rest = line
        .strip_prefix("127.0.0.1 - - [")
        .unwrap_or_else(|| panic!("bad log line start: {line:?}"));
    let end = rest
        .find("] \"")
        .unwrap_or_else(|| panic!("no timestamp end: {line:?}"));
    let ts = &rest[..end];
    let b = ts.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 26
        && digits(0..2)
        && b[2] == b'/'
        && b[3..6].iter().all(u8::is_ascii_alphabetic)
        && b[6] == b'/'
        && digits(7..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17)
        && b[17] == b':'
        && digits(18..20)
        && b[20] == b' '
        && (b[21] == b'+' || b[21] == b'-')
        && digits(22..26);
    assert!(ok, "bad timestamp {ts:?} in {line:?}");
}

#[test]
fn get_is_logged_in_common_log_format() {
    let root = site();
    let server = Server::start(root.path(), &[]);
    let resp = server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    let want = "\"GET /a.txt HTTP/1.1\" 200 17";
    let line = server
        .wait_stdout_line(LOG_WAIT, |l| l.contains(want))
        .unwrap_or_else(|| {
            panic!(
                "no access-log line with {want:?}; stdout {:?}",
                server.stdout_lines()
            )
        });
    assert_clf_prefix(&line);
    assert!(line.ends_with(want), "{line:?}");
}

#[test]
fn errors_and_head_are_logged() {
    let root = site();
    let server = Server::start(root.path(), &[]);
    let mut client = server.client();
    let missing = client.get("/missing.txt");
    assert_eq!(missing.status, 404, "{missing:?}");
    let head = client.head("/a.txt");
    assert_eq!(head.status, 200, "{head:?}");

    let want_404 = format!("\"GET /missing.txt HTTP/1.1\" 404 {}", missing.body.len());
    let line = server
        .wait_stdout_line(LOG_WAIT, |l| l.contains(&want_404))
        .unwrap_or_else(|| panic!("no {want_404:?}; stdout {:?}", server.stdout_lines()));
    assert_clf_prefix(&line);

    let line = server
        .wait_stdout_line(LOG_WAIT, |l| l.contains("\"HEAD /a.txt HTTP/1.1\" 200 "))
        .unwrap_or_else(|| panic!("no HEAD line; stdout {:?}", server.stdout_lines()));
    assert_clf_prefix(&line);
    assert!(
        line.ends_with(" 200 0") || line.ends_with(" 200 -"),
        "HEAD sends no body bytes: {line:?}"
    );
}

#[test]
fn quiet_writes_no_access_log() {
    let root = site();
    root.file("b.txt", "b");
    let mut server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    assert_eq!(client.get("/a.txt").status, 200);
    assert_eq!(client.get("/b.txt").status, 200);
    drop(client);
    // Stop the server so that everything it would write has been written.
    server.send_signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "server did not exit after SIGTERM");
    assert!(server.wait_output_closed(Duration::from_secs(5)));
    let lines = server.stdout_lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("/a.txt") || l.contains("/b.txt")),
        "--quiet still logged: {lines:?}"
    );
}

#[test]
fn quotes_in_the_target_are_escaped() {
    let root = site();
    let server = Server::start(root.path(), &[]);
    let mut client = server.client();
    client.send(b"GET /a\"b HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.read_response().status, 404);
    let line = server
        .wait_stdout_line(LOG_WAIT, |l| l.contains("/a\\\"b"))
        .expect("no access-log line with the escaped target");
    assert!(line.contains("\"GET /a\\\"b HTTP/1.1\" 404"), "{line}");
}
