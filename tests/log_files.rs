//! `--access-log FILE`, `--log-format common|combined|json`, and SIGHUP
//! reopening the file after it was moved (logrotate's `postrotate`).

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

const LOG_WAIT: Duration = Duration::from_secs(5);

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "0123456789abcdef\n");
    root
}

/// The lines of `path` once it has at least `count` (polled, bounded).
fn wait_lines(path: &Path, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let found = poll_until(LOG_WAIT, || {
        lines = fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.len() >= count
    });
    assert!(
        found,
        "{path:?} has {} lines, wanted {count}: {lines:?}",
        lines.len()
    );
    lines
}

#[test]
fn combined_lines_go_to_the_file_and_not_to_stdout() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let server = Server::start(
        root.path(),
        &[
            "--access-log",
            log.to_str().unwrap(),
            "--log-format",
            "combined",
        ],
    );
    let resp = fetch(
        &server,
        "GET",
        "/a.txt",
        &[
            ("Referer", "http://example.org/page"),
            ("User-Agent", "tester \"1.0\""),
        ],
    );
    assert_eq!(resp.status, 200);
    assert_eq!(fetch(&server, "GET", "/missing", &[]).status, 404);
    let lines = wait_lines(&log, 2);
    // Two connections, maybe two workers: the lines may come in either
    // order (each is written once its response is out).
    let (ok, missing): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l.contains(" 200 "));
    let (ok, missing) = (ok[0], missing[0]);
    assert!(
        ok.starts_with("127.0.0.1 - - [")
            && ok.ends_with(
                "\"GET /a.txt HTTP/1.1\" 200 17 \"http://example.org/page\" \"tester \\\"1.0\\\"\""
            ),
        "{lines:?}"
    );
    assert!(
        missing.contains("\"GET /missing HTTP/1.1\" 404 "),
        "{lines:?}"
    );
    assert!(missing.ends_with(" \"-\" \"-\""), "{lines:?}");
    assert!(
        server.stdout_lines().is_empty(),
        "{:?}",
        server.stdout_lines()
    );
}

#[test]
fn json_lines_parse_back_with_every_field() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.json");
    let server = Server::start(
        root.path(),
        &[
            "--access-log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
        ],
    );
    fetch(
        &server,
        "GET",
        "/a.txt?x=\"q\"",
        &[("User-Agent", "t\u{e9}st/1"), ("Referer", "http://r/")],
    );
    let mut bad = server.client();
    bad.send(b"GET /x\x01y HTTP/1.1\r\n\r\n");
    assert_eq!(bad.read_response().status, 400);
    let lines = wait_lines(&log, 2);
    // Two connections, maybe two workers: the lines may come in either
    // order (each is written once its response is out).
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).expect(line))
        .collect();
    let (ok, bad): (Vec<_>, Vec<_>) = parsed.into_iter().partition(|l| l["status"] == 200);
    let (ok, bad) = (&ok[0], &bad[0]);
    assert_eq!(ok["client"], "127.0.0.1");
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["target"], "/a.txt?x=\"q\"");
    assert_eq!(ok["protocol"], "HTTP/1.1");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["bytes"], 17);
    assert_eq!(ok["referer"], "http://r/");
    assert_eq!(ok["user_agent"], "t\u{e9}st/1");
    assert!(ok["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{ok}");
    let time = ok["time"].as_str().unwrap();
    assert!(
        time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );

    assert_eq!(bad["status"], 400);
    assert!(
        bad["method"].is_null() && bad["user_agent"].is_null(),
        "{bad}"
    );
    assert_eq!(bad["request"], "GET /x\u{1}y HTTP/1.1");
}

#[test]
fn sighup_reopens_the_file_after_it_was_moved() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let rotated = dir.path().join("access.log.1");
    let mut server = Server::start(root.path(), &["--access-log", log.to_str().unwrap()]);
    assert_eq!(server.get("/a.txt").status, 200);
    wait_lines(&log, 1);

    fs::rename(&log, &rotated).unwrap();
    // Until the reopen, lines still go to the moved file.
    assert_eq!(server.get("/a.txt?before").status, 200);
    wait_lines(&rotated, 2);
    server.send_signal(libc::SIGHUP);
    assert!(
        server.wait_stderr(LOG_WAIT, "reopened the access log", 1),
        "{:?}",
        server.stderr_lines()
    );
    assert_eq!(server.get("/a.txt?after").status, 200);
    let lines = wait_lines(&log, 1);
    assert!(lines[0].contains("GET /a.txt?after "), "{lines:?}");
    assert_eq!(fs::read_to_string(&rotated).unwrap().lines().count(), 2);
    server.assert_exits_0_on_sigint("after reopening the log");
}

#[test]
fn bad_log_flags_are_one_line_and_the_right_exit_code() {
    let root = site();
    let root = root.path().to_str().unwrap();
    let cases: [(&[&str], i32, &str); 3] = [
        (&["--log-format", "xml"], 2, "common, combined or json"),
        (&["--quiet", "--access-log", "/tmp/x.log"], 2, "--quiet"),
        (
            &["--access-log", "/nonexistent/dir/a.log"],
            1,
            "/nonexistent/dir/a.log",
        ),
    ];
    for (args, code, says) in cases {
        let mut all = vec!["--port", "0", root];
        all.extend_from_slice(args);
        let out = run_cli(&all, CLI_TIMEOUT);
        assert_eq!(out.code(), Some(code), "{args:?}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {out:?}");
        assert!(lines[0].contains(says), "{args:?}: {lines:?}");
    }
}

#[test]
fn a_log_that_cannot_be_written_is_reported_once_and_serving_goes_on() {
    let root = site();
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    let server = Server::start(root.path(), &["--access-log", "/dev/full"]);
    for _ in 0..3 {
        assert_eq!(server.get("/a.txt").status, 200);
    }
    let warned = "cannot write the access log";
    assert!(
        server.wait_stderr(LOG_WAIT, warned, 1),
        "{:?}",
        server.stderr_lines()
    );
    assert_eq!(server.get("/a.txt").status, 200);
    assert_eq!(
        server.stderr_count(warned),
        1,
        "{:?}",
        server.stderr_lines()
    );
}

#[test]
fn a_long_target_is_logged_whole() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let server = Server::start(root.path(), &["--access-log", log.to_str().unwrap()]);
    let target = format!("/{}/../a.txt", "d".repeat(300));
    assert_eq!(fetch(&server, "GET", &target, &[]).status, 200);
    let lines = wait_lines(&log, 1);
    assert!(
        lines[0].contains(&format!("\"GET {target} HTTP/1.1\"")),
        "{lines:?}"
    );
}
