//! `--pid-file`: written at start-up, removed at exit.

mod common;

use common::*;
use std::fs;

#[test]
fn holds_the_pid_while_serving_and_is_removed_at_a_clean_exit() {
    let root = DocRoot::new();
    root.file("a.txt", "a\n");
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("server.pid");
    let mut server = Server::start(root.path(), &["--pid-file", pid_file.to_str().unwrap()]);
    // Written before the Serving line, so it is there now.
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap(),
        format!("{}\n", server.pid())
    );
    assert_eq!(server.get("/a.txt").status, 200);
    server.assert_exits_0_on_sigint("with a PID file");
    assert!(!pid_file.exists(), "the PID file outlived the server");
    assert!(
        fs::read_dir(dir.path()).unwrap().next().is_none(),
        "left a temporary file"
    );
}

#[test]
fn is_removed_after_a_second_signal_too() {
    let root = DocRoot::new();
    root.file("big.bin", pseudo_random(8 * 1024 * 1024, 1));
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("server.pid");
    let mut server = Server::start(root.path(), &["--pid-file", pid_file.to_str().unwrap()]);
    // A download the client never reads keeps the drain from finishing.
    let mut stalled = server.client();
    stalled.send(get_request("/big.bin").as_bytes());
    stalled.read_response_head().unwrap();
    server.send_signal(libc::SIGINT);
    assert!(server.wait_stderr(IO_TIMEOUT, "shutting down", 1));
    server.send_signal(libc::SIGINT);
    let status = server
        .wait_exit(IO_TIMEOUT)
        .expect("exit on the second signal");
    assert_eq!(status.code(), Some(130));
    assert!(!pid_file.exists(), "the PID file outlived the server");
}

#[test]
fn an_unwritable_pid_file_is_one_line_and_exit_1() {
    let root = DocRoot::new();
    let out = run_cli(
        &[
            "--port",
            "0",
            "--pid-file",
            "/nonexistent/dir/x.pid",
            root.path().to_str().unwrap(),
        ],
        CLI_TIMEOUT,
    );
    assert_eq!(out.code(), Some(1), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].starts_with("error: cannot write the PID file '/nonexistent/dir/x.pid'"),
        "{lines:?}"
    );
}

#[test]
fn a_pid_file_that_names_another_process_by_then_is_left_alone() {
    let root = DocRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("server.pid");
    let mut server = Server::start(root.path(), &["--pid-file", pid_file.to_str().unwrap()]);
    // As a newer process (an upgrade) would have written it.
    fs::write(&pid_file, "999999\n").unwrap();
    server.assert_exits_0_on_sigint("after its PID file was rewritten");
    assert_eq!(fs::read_to_string(&pid_file).unwrap(), "999999\n");
}
