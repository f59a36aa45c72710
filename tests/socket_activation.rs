//! Socket activation: a listening socket passed in descriptor 3 with
//! `LISTEN_FDS`/`LISTEN_PID` (systemd, or a previous generation) is served
//! instead of binding.

mod common;

use common::*;
use std::net::TcpListener;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The binary, run through `sh` so that `LISTEN_PID` can name the PID the
/// binary will have (`exec` keeps the shell's), with `fd` as descriptor 3.
fn activated(fd: RawFd, listen_fds: &str, pid: &str, root: &DocRoot) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(
            "LISTEN_PID={pid} LISTEN_FDS={listen_fds} exec \"$0\" \"$@\""
        ))
        .args([BIN, "--workers", "2", "--port", "0"])
        .arg(root.path());
    // SAFETY: between fork and exec only dup2(2) and fcntl(2), which are
    // async-signal-safe; `fd` stays open in the parent for the whole spawn.
    unsafe {
        command.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec set: clear it instead.
            let rc = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
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
        (file.as_raw_fd(), "1", "is not a listening TCP socket"),
        (connected.as_raw_fd(), "1", "is not a listening TCP socket"),
        (connected_to.as_raw_fd(), "2", "LISTEN_FDS=2: expected 1"),
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
