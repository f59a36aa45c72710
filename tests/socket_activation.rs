//! Socket activation: a listening socket passed in descriptor 3 with
//! `LISTEN_FDS`/`LISTEN_PID` (systemd, or a previous generation) is served
//! instead of binding.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The binary, run through `sh` so that `LISTEN_PID` can name the PID the
/// binary will have (`exec` keeps the shell's), with `fd` as descriptor 3.
fn activated(fd: RawFd, listen_fds: &str, pid: &str, root: &DocRoot) -> Command {
    activated_with(&[fd], &format!("LISTEN_FDS={listen_fds}"), pid, root)
}

/// As [`activated`], with `fds` as descriptors 3, 4, … and `vars` (like
/// `LISTEN_FDS=2 LISTEN_FDNAMES=http:admin`) in the environment.
fn activated_with(fds: &[RawFd], vars: &str, pid: &str, root: &DocRoot) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("LISTEN_PID={pid} {vars} exec \"$0\" \"$@\""))
        .args([BIN, "--workers", "2", "--port", "0"])
        .arg(root.path());
    let mut sources = [-1; 3];
    sources[..fds.len()].copy_from_slice(fds);
    let count = fds.len();
    // SAFETY: between fork and exec only fcntl(2) and dup2(2), which are
    // async-signal-safe, on descriptors that stay open in the parent for
    // the whole spawn; nothing is allocated.
    unsafe {
        command.pre_exec(move || {
            // Copies above the targets first (close-on-exec), so no source
            // is overwritten before it is copied; dup2 then clears
            // close-on-exec on each target.
            let mut copies = [-1; 3];
            for i in 0..count {
                copies[i] = libc::fcntl(sources[i], libc::F_DUPFD_CLOEXEC, 3 + count as RawFd);
                if copies[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, copy) in copies.iter().enumerate().take(count) {
                if libc::dup2(*copy, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command
}

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "alpha\n");
    root
}

#[test]
fn serves_the_inherited_socket_and_what_queued_on_it_before() {
    let root = site();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A client that connects and asks before the server exists: the kernel
    // queues it on the socket, and the server answers it once it starts.
    let mut early = Client::connect(addr);
    early.send(get_request("/a.txt").as_bytes());

    let mut server = Server::start_command(activated(listener.as_raw_fd(), "1", "$$", &root));
    assert_eq!(server.addr(), addr, "{}", server.serving_line());
    assert_eq!(early.read_response().body_text(), "alpha\n");
    assert_eq!(server.get("/a.txt").status, 200);
    assert!(
        server
            .stderr_lines()
            .iter()
            .any(|l| l.contains("the socket passed by LISTEN_FDS")),
        "{:?}",
        server.stderr_lines()
    );
    server.assert_exits_0_on_sigint("on an inherited socket");
}

#[test]
fn a_graceful_stop_leaves_the_socket_listening_for_the_next_process() {
    let root = site();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut first = Server::start_command(activated(listener.as_raw_fd(), "1", "$$", &root));
    assert_eq!(first.get("/a.txt").status, 200);
    first.assert_exits_0_on_sigint("on an inherited socket");

    // As systemd between two runs of the service: the socket still
    // listens, and a client that comes now waits in its queue.
    let mut between = Client::connect(addr);
    between.send(get_request("/a.txt").as_bytes());
    let second = Server::start_command(activated(listener.as_raw_fd(), "1", "$$", &root));
    assert_eq!(between.read_response().body_text(), "alpha\n");
    assert_eq!(second.get("/a.txt").status, 200);
}

#[test]
fn listen_fds_for_another_process_is_ignored() {
    let root = site();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Server::start_command(activated(listener.as_raw_fd(), "1", "1", &root));
    assert_ne!(server.addr(), listener.local_addr().unwrap());
    assert_eq!(server.get("/a.txt").status, 200);
}

#[test]
fn a_descriptor_that_is_not_a_listening_socket_is_one_line_and_exit_1() {
    let root = site();
    let file = std::fs::File::open(root.path().join("a.txt")).unwrap();
    let connected_to = TcpListener::bind("127.0.0.1:0").unwrap();
    let connected = std::net::TcpStream::connect(connected_to.local_addr().unwrap()).unwrap();
    let cases = [
        (
            file.as_raw_fd(),
            "1",
            "is not a listening TCP or Unix stream socket",
        ),
        (
            connected.as_raw_fd(),
            "1",
            "is not a listening TCP or Unix stream socket",
        ),
        (
            connected_to.as_raw_fd(),
            "34",
            "LISTEN_FDS=34: expected 1 to 33",
        ),
        // Two announced, one passed: descriptor 4 is not open.
        (
            connected_to.as_raw_fd(),
            "2",
            "descriptor 4 is not a listening TCP or Unix stream socket",
        ),
    ];
    for (fd, count, says) in cases {
        let mut command = activated(fd, count, "$$", &root);
        let out = command.output().expect("run the binary");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(says),
            "{stderr}"
        );
    }
}

#[test]
fn an_admin_socket_named_in_listen_fdnames_serves_health() {
    let root = site();
    let public = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin_addr = admin.local_addr().unwrap();
    // The admin socket first: the names say which is which, not the order.
    let fds = [admin.as_raw_fd(), public.as_raw_fd()];
    let vars = "LISTEN_FDS=2 LISTEN_FDNAMES=admin:web";
    let mut server = Server::start_command(activated_with(&fds, vars, "$$", &root));
    assert_eq!(server.addr(), public.local_addr().unwrap());
    assert_eq!(server.get("/a.txt").body_text(), "alpha\n");
    let health = Client::connect(admin_addr).get("/health");
    assert_eq!((health.status, health.body_text().as_str()), (200, "ok\n"));
    server.assert_exits_0_on_sigint("on two inherited sockets");
    // Both stay listening for the next process.
    let mut between = Client::connect(admin_addr);
    between.send(get_request("/health").as_bytes());
    let _next = Server::start_command(activated_with(&fds, vars, "$$", &root));
    assert_eq!(between.read_response().status, 200);
}

#[test]
fn several_public_sockets_tcp_and_unix_are_all_served_and_left_listening() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    // As systemd with two ListenStream= lines, one a path.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let unix = UnixListener::bind(&path).unwrap();
    let fds = [tcp.as_raw_fd(), unix.as_raw_fd()];
    let vars = "LISTEN_FDS=2 LISTEN_FDNAMES=web:web";
    let mut server = Server::start_command(activated_with(&fds, vars, "$$", &root));
    let listed = format!(
        "at http://{}/ and unix:{} with",
        tcp.local_addr().unwrap(),
        path.display()
    );
    assert!(
        server.serving_line().contains(&listed),
        "{}",
        server.serving_line()
    );
    assert_eq!(server.get("/a.txt").body_text(), "alpha\n");
    assert_eq!(unix_get(&path, "/a.txt"), (200, b"alpha\n".to_vec()));
    assert!(
        server.stderr_lines().iter().any(|l| l.contains(&format!(
            "the sockets passed by LISTEN_FDS ({}, unix:{})",
            tcp.local_addr().unwrap(),
            path.display()
        ))),
        "{:?}",
        server.stderr_lines()
    );
    server.assert_exits_0_on_sigint("on inherited TCP and Unix sockets");
    // systemd's socket file stays, and still takes connections for the
    // next process.
    let mut between = unix_connect(&path);
    let request = raw_request("GET", "/a.txt", &[("Connection", "close")]);
    between.write_all(request.as_bytes()).unwrap();
    let _next = Server::start_command(activated_with(&fds, vars, "$$", &root));
    let mut answer = Vec::new();
    between.read_to_end(&mut answer).unwrap();
    assert!(answer.ends_with(b"alpha\n"), "{answer:?}");
}

#[test]
fn two_admin_sockets_or_only_an_admin_one_are_refused() {
    let root = site();
    let one = TcpListener::bind("127.0.0.1:0").unwrap();
    let two = TcpListener::bind("127.0.0.1:0").unwrap();
    let fds = [one.as_raw_fd(), two.as_raw_fd()];
    let cases = [
        (
            &fds[..],
            "LISTEN_FDS=2 LISTEN_FDNAMES=admin:admin",
            "two sockets named 'admin'",
        ),
        (
            &fds[..1],
            "LISTEN_FDS=1 LISTEN_FDNAMES=admin",
            "the public one is missing",
        ),
    ];
    for (fds, vars, says) in cases {
        let out = activated_with(fds, vars, "$$", &root)
            .output()
            .expect("run the binary");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{vars}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{vars}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{vars}: {stderr}");
    }
}
