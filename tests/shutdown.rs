//! Graceful shutdown on SIGINT / SIGTERM.

mod common;

use common::*;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const BIG: usize = 64 * 1024 * 1024;

fn big_site() -> (DocRoot, Vec<u8>) {
    let root = DocRoot::new();
    let data = pseudo_random(BIG, 2026);
    root.file("big.bin", &data);
    root.file("a.txt", "small\n");
    (root, data)
}

/// Starts a download of /big.bin and reads only its header section, so the
/// server is left blocked writing the body.
fn stalled_download(server: &Server) -> Client {
    let mut client = server.client();
    client.send(get_request("/big.bin").as_bytes());
    let head = client.read_response_head().expect("response head");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.content_length(), Some(BIG as u64), "{head:?}");
    client
}

#[test]
fn sigint_drains_in_flight_downloads_and_exits_0() {
    let (root, data) = big_site();
    let mut server = Server::start(root.path(), &["--quiet"]);
    let addr = server.addr();

    // An idle keep-alive connection: one request answered, then waiting.
    let mut idle = server.client();
    let resp = idle.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");

    // A slow download, still in flight when the signal arrives: it reads
    // the first MiB, then waits for `go` before reading the rest slowly.
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let downloader = thread::spawn(move || {
        let mut client = Client::connect(addr);
        client.send(get_request("/big.bin").as_bytes());
        let head = client.read_response_head().expect("response head");
        assert_eq!(head.status, 200, "{head:?}");
        let len = head.content_length().expect("Content-Length") as usize;
        let mut body = vec![0u8; len];
        let first = 1024 * 1024;
        client.read_exact(&mut body[..first]).expect("first MiB");
        started_tx.send(()).unwrap();
        go_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("no go from the test");
        let mut got = first;
        let deadline = Instant::now() + Duration::from_secs(60);
        while got < len {
            assert!(
                Instant::now() < deadline,
                "download too slow: {got} of {len}"
            );
            let end = (got + 32 * 1024).min(len);
            match client.read_some(&mut body[got..end]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => panic!("download failed after {got} bytes: {e}"),
            }
            thread::sleep(Duration::from_millis(1));
        }
        body.truncate(got);
        body
    });
    started_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("download did not start");

    server.send_signal(libc::SIGINT);

    assert!(
        wait_connect_refused(addr, Duration::from_secs(10)),
        "new connections still accepted after SIGINT"
    );
    assert!(
        idle.wait_closed(Duration::from_secs(10)),
        "idle keep-alive connection not closed during shutdown"
    );
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "server exited with a download in flight"
    );
    go_tx.send(()).unwrap();

    let body = downloader.join().expect("downloader thread");
    assert_eq!(body.len(), data.len(), "download cut short by shutdown");
    assert!(body == data, "downloaded bytes differ from the file");

    assert_clean_exit(&mut server, Duration::from_secs(20), "draining");
}

#[test]
fn shutdown_timeout_abandons_stalled_downloads_with_exit_1() {
    let (root, _data) = big_site();
    let mut server = Server::start(root.path(), &["--quiet", "--shutdown-timeout", "1"]);
    let stalled = stalled_download(&server);
    let signalled = Instant::now();
    server.send_signal(libc::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("server did not give up after --shutdown-timeout 1");
    assert_eq!(status.code(), Some(1), "{status:?}");
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(500),
        "exited after {took:?}, before the shutdown timeout"
    );
    drop(stalled);
}

#[test]
fn second_sigint_exits_at_once_with_130() {
    let (root, _data) = big_site();
    let mut server = Server::start(root.path(), &["--quiet", "--shutdown-timeout", "30"]);
    let addr = server.addr();
    let stalled = stalled_download(&server);
    server.send_signal(libc::SIGINT);
    // The listener closing shows the first signal was handled.
    assert!(
        wait_connect_refused(addr, Duration::from_secs(10)),
        "new connections still accepted after SIGINT"
    );
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "server exited without draining the stalled download"
    );
    server.send_signal(libc::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("server did not exit on the second SIGINT");
    assert_eq!(status.code(), Some(130), "{status:?}");
    drop(stalled);
}

#[test]
fn sigterm_behaves_like_sigint() {
    let root = DocRoot::new();
    root.file("a.txt", "small\n");
    let mut server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    client.send(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let resp = client.read_response();
    assert_eq!(resp.status, 200, "{resp:?}");
    drop(client);
    server.send_signal(libc::SIGTERM);
    assert_clean_exit(&mut server, Duration::from_secs(10), "SIGTERM");
}

/// At SIGINT a keep-alive connection idle for longer than the drain grace
/// (1 s) is closed at once, as its keep-alive timeout would close it; one
/// that has only just gone idle keeps its grace, and the request its client
/// sends next is still answered, with `Connection: close`. With one grace
/// for all, the long-idle connection would close only when the fresh one's
/// grace ran out, and the fresh one's request would find it closed.
#[test]
fn sigint_closes_long_idle_connections_at_once_and_spares_fresh_ones() {
    let root = DocRoot::new();
    root.file("a.txt", "small\n");
    let mut server = Server::start(root.path(), &["--quiet"]);

    let mut long_idle = server.client();
    assert_eq!(long_idle.get("/a.txt").status, 200);
    // Longer than the grace: the premise of the test, not a wait for
    // anything to become ready.
    thread::sleep(Duration::from_millis(1300));
    let mut fresh = server.client();
    assert_eq!(fresh.get("/a.txt").status, 200);

    server.send_signal(libc::SIGINT);
    assert!(
        long_idle.wait_closed(Duration::from_secs(10)),
        "a connection idle for longer than the grace was not closed"
    );
    let resp = fresh.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body_text(), "small\n");
    assert!(resp.connection_has("close"), "{resp:?}");
    assert!(
        fresh.wait_closed(Duration::from_secs(10)),
        "the fresh connection was not closed after its last answer"
    );
    assert_clean_exit(
        &mut server,
        Duration::from_secs(10),
        "closing idle connections",
    );
}

#[test]
fn idle_server_exits_0_on_sigint() {
    let root = DocRoot::new();
    let mut server = Server::start(root.path(), &["--quiet"]);
    server.assert_exits_0_on_sigint("while idle");
}

/// The server exits 0 within `timeout` (after `what`), closes its output,
/// and has logged a summary mentioning the requests it served.
fn assert_clean_exit(server: &mut Server, timeout: Duration, what: &str) {
    let status = server
        .wait_exit(timeout)
        .unwrap_or_else(|| panic!("server did not exit after {what}"));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(server.wait_output_closed(Duration::from_secs(5)));
    let stderr = server.stderr_lines();
    assert!(
        stderr.iter().any(|l| l.contains("requests")),
        "no shutdown summary mentioning requests: {stderr:?}"
    );
}
