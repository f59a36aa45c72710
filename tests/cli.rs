//! Command line: usage errors, start-up failures, `--help`, `--version`
//! and the `Serving` line.

mod common;

use common::*;
use std::net::{SocketAddr, TcpListener};
use std::process::Command;

/// Runs with `args` followed by a valid root; expects a usage error.
fn usage_error(args: &[&str]) -> CliOutput {
    let root = DocRoot::new();
    let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    full.push(root.path().to_str().unwrap().to_string());
    let out = run_cli(&full, CLI_TIMEOUT);
    assert_eq!(out.code(), Some(2), "args {args:?}: {out:?}");
    assert!(
        !out.stderr.trim().is_empty(),
        "usage error with empty stderr: {out:?}"
    );
    assert!(
        !out.stderr.contains("Serving "),
        "usage error but the server started: {out:?}"
    );
    out
}

#[test]
fn workers_zero_is_a_one_line_usage_error() {
    let out = usage_error(&["--workers", "0"]);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one line: {out:?}");
    assert!(lines[0].contains("workers"), "{out:?}");
}

#[test]
fn workers_too_many_is_a_one_line_usage_error() {
    let out = usage_error(&["--workers", "100000"]);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one line: {out:?}");
    assert!(lines[0].contains("workers"), "{out:?}");
    assert!(lines[0].contains("100000"), "{out:?}");
}

#[test]
fn port_not_a_number_is_a_usage_error() {
    let out = usage_error(&["--port", "notanumber"]);
    assert!(
        out.stderr.contains("notanumber") || out.stderr.contains("port"),
        "{out:?}"
    );
}

#[test]
fn a_negative_number_is_an_invalid_value_not_an_unknown_flag() {
    let out = usage_error(&["--header-timeout", "-1"]);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains("invalid value '-1' for '--header-timeout"),
        "{out:?}"
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = usage_error(&["--frobnicate"]);
    assert!(out.stderr.contains("--frobnicate"), "{out:?}");
}

#[test]
fn missing_root_exits_1_naming_the_path() {
    let dir = DocRoot::new();
    let missing = dir.parent().join("no-such-dir");
    let out = run_cli(
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            missing.to_str().unwrap(),
        ],
        CLI_TIMEOUT,
    );
    assert_eq!(out.code(), Some(1), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one line: {out:?}");
    assert!(lines[0].contains(missing.to_str().unwrap()), "{out:?}");
}

#[test]
fn root_that_is_a_file_exits_1_naming_the_path() {
    let dir = DocRoot::new();
    let file = dir.file("plain.txt", "not a directory");
    let out = run_cli(
        &["--bind", "127.0.0.1", "--port", "0", file.to_str().unwrap()],
        CLI_TIMEOUT,
    );
    assert_eq!(out.code(), Some(1), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one line: {out:?}");
    assert!(lines[0].contains(file.to_str().unwrap()), "{out:?}");
}

#[test]
fn port_in_use_exits_1() {
    let root = DocRoot::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run_cli(
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--workers",
            "1",
            root.path().to_str().unwrap(),
        ],
        CLI_TIMEOUT,
    );
    drop(taken);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one line: {out:?}");
    let line = lines[0].to_ascii_lowercase();
    assert!(
        line.contains(&port) || line.contains("in use"),
        "message should name the port or say it is in use: {out:?}"
    );
}

#[test]
fn version_prints_name_and_version() {
    let out = run_cli(&["--version"], CLI_TIMEOUT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let text = out.stdout.trim();
    assert!(text.starts_with("simple-web-server"), "{out:?}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{out:?}");
}

#[test]
fn help_exits_0_and_lists_flags() {
    let out = run_cli(&["--help"], CLI_TIMEOUT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    for flag in [
        "--port",
        "--bind",
        "unix:PATH",
        "--unix-socket-mode",
        "--workers",
        "--shutdown-timeout",
    ] {
        assert!(out.stdout.contains(flag), "--help lacks {flag}: {out:?}");
    }
}

#[test]
fn serving_line_shows_real_port_and_worker_count() {
    let root = DocRoot::new();
    root.file("a.txt", "hello");
    let server = Server::start(root.path(), &["--workers", "3"]);
    let line = server.serving_line();
    let addr = server.addr();
    assert_ne!(addr.port(), 0, "{line}");
    assert!(line.starts_with("Serving "), "{line}");
    assert!(
        line.ends_with(&format!(
            " at http://127.0.0.1:{}/ with 3 workers",
            addr.port()
        )),
        "{line}"
    );
    assert!(
        line.contains("www"),
        "the line should name the root: {line}"
    );
    let resp = server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, b"hello");
    // Exactly one line on start.
    let lines = server.stderr_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
}

#[test]
fn serving_line_says_one_worker_in_the_singular() {
    let root = DocRoot::new();
    let server = Server::start(root.path(), &["--workers", "1"]);
    let line = server.serving_line();
    assert!(line.ends_with("/ with 1 worker"), "{line}");
}

#[test]
fn bind_ipv6_loopback() {
    if !ipv6_loopback() {
        return;
    }
    let root = DocRoot::new();
    root.file("a.txt", "over six");
    let server = Server::start(root.path(), &["--bind", "::1"]);
    let line = server.serving_line();
    assert!(line.contains(" at http://[::1]:"), "{line}");
    let addr = server.addr();
    assert!(matches!(addr, SocketAddr::V6(_)), "{line}");
    let resp = server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, b"over six");
}

#[test]
fn bad_bind_and_unix_socket_mode_values_are_one_line_usage_errors() {
    let cases = [
        (
            &["-b", "unix:"][..],
            "invalid value 'unix:' for '--bind <ADDR>'",
        ),
        (
            &["-b", "127.0.0.1:8000"],
            "'--bind <ADDR>': expected an IP address",
        ),
        (
            &["-b", "no such host"],
            "'--bind <ADDR>': expected an IP address",
        ),
        (
            &["--unix-socket-mode", "rw"],
            "invalid value 'rw' for '--unix-socket-mode <MODE>'",
        ),
        (
            &["--unix-socket-mode", "1777"],
            "invalid --unix-socket-mode value '1777': expected an octal mode",
        ),
    ];
    for (args, says) in cases {
        let mut full = vec!["--port", "0"];
        full.extend_from_slice(args);
        let out = usage_error(&full);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {out:?}");
        assert!(lines[0].contains(says), "{args:?}: {out:?}");
    }
}

#[test]
fn a_bind_name_that_does_not_resolve_is_a_one_line_usage_error() {
    let root = DocRoot::new();
    // `.invalid` never resolves (RFC 2606); one short try of the resolver
    // (glibc's RES_OPTIONS) bounds the wait where no DNS answers at all.
    let out = Command::new(BIN)
        .args(["-b", "127.0.0.1", "-b", "nosuch.invalid", "--port", "0"])
        .arg(root.path())
        .env("RES_OPTIONS", "timeout:1 attempts:1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot resolve --bind host 'nosuch.invalid': "),
        "{stderr}"
    );
}

#[test]
fn timeouts_out_of_range_are_one_line_usage_errors() {
    for (flag, value) in [
        ("--keepalive-timeout", "18446744073709551615"),
        ("--header-timeout", "0"),
        ("--write-timeout", "86401"),
        ("--shutdown-timeout", "999999999"),
    ] {
        let out = usage_error(&["--port", "0", flag, value]);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{flag} {value}: {out:?}");
        assert!(lines[0].contains(flag), "{out:?}");
    }
}

#[test]
fn acceptor_nice_out_of_range_is_a_one_line_usage_error() {
    for value in ["20", "ten"] {
        let out = usage_error(&["--port", "0", "--acceptor-nice", value]);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "--acceptor-nice {value}: {out:?}");
        assert!(lines[0].contains("acceptor-nice"), "{out:?}");
    }
}

#[test]
fn an_index_that_is_not_a_file_name_is_a_one_line_usage_error() {
    for value in ["", ".", "..", "a/b", "/index.html", "sub/"] {
        let out = usage_error(&["--port", "0", "--index", "index.html", "--index", value]);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "--index {value:?}: {out:?}");
        assert!(
            lines[0].contains(&format!("invalid --index value '{value}'")),
            "{out:?}"
        );
        assert!(lines[0].contains("a file name"), "{out:?}");
    }
}

#[test]
fn bad_header_cors_and_auth_values_are_one_line_usage_errors() {
    // Each: the arguments, what the line must say, what it must not.
    let cases: [(&[&str], &str, &str); 22] = [
        (&["--header", "X-Frame-Options"], "'Name: value'", ""),
        (&["--header", "X Frame: DENY"], "field name", ""),
        (&["--header", "X-A:"], "printable ASCII", ""),
        (
            &["--header", "X-A: a\r\nX-Injected: 1"],
            "X-A: a\\r\\nX-Injected",
            "",
        ),
        (&["--header", "X-A: caf\u{e9}"], "printable ASCII", ""),
        (
            &["--header", "Content-Length: 5"],
            "Content-Length is its own",
            "",
        ),
        (
            &["--header", "transfer-encoding: chunked"],
            "Transfer-Encoding",
            "",
        ),
        (&["--header", "Server: x"], "Server is its own", ""),
        (&["--header", "Vary: Cookie"], "Vary is its own", ""),
        (
            &["--header", "Cache-Control: no-store"],
            "--cache-control",
            "",
        ),
        (
            &["--header", "Access-Control-Allow-Origin: *"],
            "--cors",
            "",
        ),
        (&["--cors=https://example.com/"], "--cors", ""),
        (&["--cors=example.com"], "--cors", ""),
        (&["--cors=HTTPS://EXAMPLE.COM"], "lower case", ""),
        (&["--cors="], "--cors", ""),
        (&["--auth", "alice"], "--auth", "alice"),
        (&["--auth", "alice:"], "'alice:…'", ""),
        (&["--auth", ":s3cr3t"], "--auth", "s3cr3t"),
        (&["--auth", "a\u{7}b:s3cr3t"], "--auth", "s3cr3t"),
        (&["--auth", "bob:sha256:abc123"], "64 hex digits", "abc123"),
        (
            &["--auth", "a:s3cr3t", "--auth", "a:other"],
            "each user once",
            "s3cr3t",
        ),
        (&["--auth", "bob:sha256:"], "--auth", ""),
    ];
    for (args, says, never) in cases {
        let out = usage_error(args);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {out:?}");
        assert!(lines[0].contains(says), "{args:?}: {lines:?}");
        assert!(
            never.is_empty() || !lines[0].contains(never),
            "{args:?}: {lines:?}"
        );
    }
}

#[test]
fn header_cors_and_auth_are_in_the_help() {
    let out = run_cli(&["--help"], CLI_TIMEOUT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    for flag in [
        "--header <NAME: VALUE>",
        "--cors[=<ORIGIN>]",
        "--auth <USER:PASSWORD>",
    ] {
        assert!(out.stdout.contains(flag), "{flag}: {out:?}");
    }
}

/// Starts the server with its open-file limit set to `soft`/`hard` and
/// returns the stderr line that mentions the limit (then stops it).
fn open_file_limit_line(soft: libc::rlim_t, hard: libc::rlim_t) -> Option<String> {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    let root = DocRoot::new();
    let mut command = Command::new(BIN);
    command
        .args([
            "--quiet",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            "2",
        ])
        .arg(root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe, and the closure touches
    // nothing but its own copies of two integers.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("spawn the server");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + CLI_TIMEOUT;
    let mut found = None;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("open-file limit") => {
                found = Some(line);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    found
}

#[test]
fn a_low_soft_open_file_limit_is_raised_and_logged() {
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `hard` is a valid, writable rlimit.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) },
        0
    );
    if hard.rlim_max < 12_000 {
        cannot_run(&format!(
            "the hard open-file limit ({}) is below the 12 000 this test needs",
            hard.rlim_max
        ));
        return;
    }
    let line = open_file_limit_line(1024, hard.rlim_max).expect("no log line about the limit");
    assert!(
        line.contains(&format!(
            "raised the open-file limit from 1024 to {}",
            hard.rlim_max
        )),
        "{line}"
    );
}

#[test]
fn a_low_hard_open_file_limit_caps_connections_and_says_so() {
    let line = open_file_limit_line(1024, 1024).expect("no log line about the limit");
    // 1024, less 64 spare, less a quarter for the file caches.
    assert!(line.contains("allows only 704 connections"), "{line}");
}
