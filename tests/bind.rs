//! Where the server listens (`--bind`, repeatable): several addresses on
//! one port, host names, an IPv6 socket that takes IPv4 too, and Unix
//! sockets (`--bind unix:PATH`, `--unix-socket-mode`) behind a local proxy.
//! Every test binds loopback addresses only; dual-stack is tried on the
//! IPv4-mapped loopback address (`::ffff:127.0.0.1`), which an IPv6 socket
//! can bind only when it takes IPv4 connections.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "alpha\n");
    root
}

#[test]
fn two_addresses_answer_on_one_port_and_the_start_line_lists_both() {
    if !ipv6_loopback() {
        return;
    }
    let root = site();
    let server = Server::start(root.path(), &["-b", "127.0.0.1", "-b", "::1"]);
    let addrs = server.addrs();
    assert_eq!(addrs.len(), 2, "{}", server.serving_line());
    let port = addrs[0].port();
    assert_eq!(
        addrs,
        [
            SocketAddr::from(([127, 0, 0, 1], port)),
            format!("[::1]:{port}").parse().unwrap()
        ]
    );
    assert!(
        server.serving_line().contains(&format!(
            " at http://127.0.0.1:{port}/ and http://[::1]:{port}/ with 2 workers"
        )),
        "{}",
        server.serving_line()
    );
    for (addr, target) in addrs.iter().zip(["/a.txt?v4", "/a.txt?v6"]) {
        let resp = Client::connect(*addr).get(target);
        assert_eq!(resp.body_text(), "alpha\n", "{addr}");
    }
    assert!(logged(&server, "/a.txt?v4").starts_with("127.0.0.1 - - ["));
    assert!(logged(&server, "/a.txt?v6").starts_with("::1 - - ["));
}

#[test]
fn a_host_name_binds_every_address_it_resolves_to() {
    let root = site();
    let server = Server::start(root.path(), &["-b", "localhost"]);
    let addrs = server.addrs();
    let port = addrs[0].port();
    let resolved: BTreeSet<SocketAddr> = ("localhost", port).to_socket_addrs().unwrap().collect();
    let listed: BTreeSet<SocketAddr> = addrs.iter().copied().collect();
    assert_eq!(listed, resolved, "{}", server.serving_line());
    assert_eq!(listed.len(), addrs.len(), "each address once");
    for addr in addrs {
        assert_eq!(Client::connect(addr).get("/a.txt").status, 200, "{addr}");
    }
}

#[test]
fn an_ipv6_socket_takes_ipv4_clients_too() {
    let root = site();
    let server = Server::start(root.path(), &["-b", "::ffff:127.0.0.1"]);
    let port = server.addr().port();
    assert!(
        server
            .serving_line()
            .contains(&format!(" at http://[::ffff:127.0.0.1]:{port}/ ")),
        "{}",
        server.serving_line()
    );
    // A plain IPv4 client, on an IPv6 socket: it exists only because the
    // socket is not IPv6-only.
    let resp = Client::connect(SocketAddr::from(([127, 0, 0, 1], port))).get("/a.txt?mapped");
    assert_eq!(resp.body_text(), "alpha\n");
    // The log names the client as the IPv4 address it is.
    assert!(logged(&server, "/a.txt?mapped").starts_with("127.0.0.1 - - ["));
}

#[test]
fn a_unix_socket_serves_curl_and_a_raw_client_and_logs_unix() {
    let root = site();
    let big = pseudo_random(3 * 1024 * 1024 + 17, 11);
    root.file("big.bin", &big);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    let bind = format!("unix:{}", path.display());
    let server = Server::start(root.path(), &["-b", "127.0.0.1", "-b", &bind]);
    let port = server.addr().port();
    assert!(
        server.serving_line().contains(&format!(
            " at http://127.0.0.1:{port}/ and unix:{} with 2 workers",
            path.display()
        )),
        "{}",
        server.serving_line()
    );
    // Any local user may connect by default, as to a loopback port.
    assert_eq!(mode(&path), 0o666);

    let out = curl(&path, &["http://localhost/a.txt?curl"]);
    assert_eq!(out, b"alpha\n");
    assert!(logged(&server, "/a.txt?curl").starts_with("unix - - ["));
    // A large file goes out by sendfile, in pieces, as over TCP.
    assert!(curl(&path, &["http://localhost/big.bin"]) == big);

    // Keep-alive: two requests on one connection, then a clean close.
    let mut client = RawClient::new(unix_connect(&path));
    for target in ["/a.txt?raw1", "/a.txt?raw2"] {
        let answer = client.get(target, false).unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, &b"alpha\n"[..])
        );
        assert!(!answer.close);
    }
    let answer = client.get("/a.txt?raw3", true).unwrap();
    assert!(answer.close);
    assert!(client.at_end());
    assert!(logged(&server, "/a.txt?raw2").starts_with("unix - - ["));
}

#[test]
fn unix_socket_mode_sets_the_permissions() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    for (mode_arg, expected) in [("600", 0o600), ("0660", 0o660), ("777", 0o777)] {
        let path = dir.path().join(format!("{mode_arg}.sock"));
        let bind = format!("unix:{}", path.display());
        let mut server = Server::start(root.path(), &["-b", &bind, "--unix-socket-mode", mode_arg]);
        assert_eq!(mode(&path), expected, "--unix-socket-mode {mode_arg}");
        assert_eq!(unix_get(&path, "/a.txt").0, 200);
        server.assert_exits_0_on_sigint("with a Unix socket");
    }
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    // A server that died without cleaning up: the file, and nobody on it.
    drop(UnixListener::bind(&path).unwrap());
    assert!(UnixStream::connect(&path).is_err());
    let bind = format!("unix:{}", path.display());
    let server = Server::start(root.path(), &["-b", &bind]);
    assert_eq!(unix_get(&path, "/a.txt"), (200, b"alpha\n".to_vec()));
    assert_eq!(server.stderr_count("removing a stale socket file"), 1);
}

#[test]
fn a_live_socket_or_another_file_at_the_path_is_refused() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.sock");
    let _listening = UnixListener::bind(&live).unwrap();
    let file = dir.path().join("notes.txt");
    fs::write(&file, "keep me\n").unwrap();
    let cases = [
        (&live, "a server is listening there"),
        (&file, "the path exists and is not a socket"),
    ];
    for (path, says) in cases {
        let bind = format!("unix:{}", path.display());
        let args = ["-b", &bind, "--port", "0", root.path().to_str().unwrap()];
        let out = run_cli(&args, CLI_TIMEOUT);
        assert_eq!(out.code(), Some(1), "{out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{out:?}");
        assert_eq!(
            lines[0],
            format!("error: cannot listen on unix:{}: {says}", path.display())
        );
    }
    // Neither was touched.
    assert!(UnixStream::connect(&live).is_ok());
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep me\n");
}

#[test]
fn a_failed_start_leaves_no_socket_file() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let bind = format!("unix:{}", path.display());
    // The Unix socket binds first, then the TCP port is taken.
    let args = ["-b", &bind, "-b", "127.0.0.1", "--port", &port];
    let mut args: Vec<&str> = args.to_vec();
    args.push(root.path().to_str().unwrap());
    let out = run_cli(&args, CLI_TIMEOUT);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{out:?}"
    );
    assert!(!path.exists(), "the socket file was left behind");
}

#[test]
fn the_socket_file_is_removed_at_shutdown() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    let bind = format!("unix:{}", path.display());
    let mut server = Server::start(root.path(), &["-b", &bind, "-b", "127.0.0.1"]);
    assert_eq!(unix_get(&path, "/a.txt").0, 200);
    server.assert_exits_0_on_sigint("with a Unix socket");
    assert!(!path.exists(), "the socket file outlived the server");
}

#[test]
fn an_upgrade_keeps_every_listener_and_fails_no_request() {
    if !ipv6_loopback() {
        return;
    }
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    let pid_file = dir.path().join("server.pid");
    let bind = format!("unix:{}", path.display());
    let args = [
        "-b",
        "127.0.0.1",
        "-b",
        "::1",
        "-b",
        &bind,
        "-q",
        "--pid-file",
        pid_file.to_str().unwrap(),
    ];
    let mut server = Server::start(root.path(), &args);
    let old = server.pid();
    let (v4, v6) = (server.addrs()[0], server.addrs()[1]);

    let mut clients = Loopers::default();
    for _ in 0..4 {
        clients.spawn(move || tcp_with_timeout(v4));
        clients.spawn(move || tcp_with_timeout(v6));
        let path = path.clone();
        clients.spawn(move || unix_with_timeout(&path));
    }
    clients.wait_answered(300);

    server.send_signal(libc::SIGUSR2);
    let new = wait_new_generation(&pid_file, old);
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("the old generation exits after its drain");
    assert_eq!(status.code(), Some(0), "{:?}", server.stderr_lines());
    // The old generation left the socket file to the new one.
    assert!(path.exists(), "the hand-over removed the socket file");
    assert!(server.stderr_lines().iter().any(|l| l.contains(&format!(
        "the sockets passed by LISTEN_FDS ({v4}, {v6}, unix:{})",
        path.display()
    ))));

    // The clients go on, answered by the new generation alone.
    clients.wait_answered(300);
    clients.finish();

    // The new generation owns the socket file now: it goes when it stops.
    assert_eq!(unix_get(&path, "/a.txt").0, 200);
    new.signal(libc::SIGTERM);
    assert!(poll_until(Duration::from_secs(10), || !new.running()));
    assert!(!path.exists(), "the new generation left the socket file");
}

/// Runs `curl` on the Unix socket at `path`; its output.
fn curl(path: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail",
            "--max-time",
            "10",
            "--unix-socket",
        ])
        .arg(path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl ({e}); scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
