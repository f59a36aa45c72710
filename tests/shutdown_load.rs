//! Graceful shutdown under load: with 1 000 idle keep-alive connections and
//! 4 large downloads in flight, SIGINT closes the idle connections and the
//! listener at once, lets every download finish byte for byte, and the
//! process exits 0.

mod common;

use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const IDLE: usize = 1000;
const DOWNLOADS: usize = 4;
const BIG: usize = 32 * 1024 * 1024;
/// Bytes of each download read before the signal.
const BEFORE_SIGNAL: usize = 1024 * 1024;
/// Read size (and pace: a short pause after each) once the signal is sent.
const CHUNK: usize = 256 * 1024;

/// FNV-1a over 64-bit little-endian words (the length is a multiple of 8
/// wherever it is used here), so hashing 32 MiB stays quick in debug builds.
fn checksum(state: u64, bytes: &[u8]) -> u64 {
    assert_eq!(bytes.len() % 8, 0);
    bytes.chunks_exact(8).fold(state, |h, word| {
        (h ^ u64::from_le_bytes(word.try_into().unwrap())).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

const CHECKSUM_START: u64 = 0xcbf2_9ce4_8422_2325;

/// What one download thread saw.
struct Download {
    received: usize,
    checksum: u64,
    /// Offset of the first byte that differs from the file, if any.
    first_mismatch: Option<usize>,
    /// The server closed the connection after the body (it is draining).
    closed_after: bool,
}

/// Downloads /big.bin: reads the head and [`BEFORE_SIGNAL`] bytes, reports
/// on `started`, waits for `go`, then reads the rest in [`CHUNK`]s with a
/// short pause after each.
fn download(
    addr: SocketAddr,
    data: Arc<Vec<u8>>,
    started: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
) -> Download {
    let mut client = Client::connect(addr);
    client.send(get_request("/big.bin").as_bytes());
    let head = client
        .read_response_head()
        .expect("download: response head");
    assert_eq!(head.status, 200, "download: {head:?}");
    assert_eq!(
        head.content_length(),
        Some(BIG as u64),
        "download: {head:?}"
    );

    let mut buf = vec![0u8; CHUNK];
    let mut got = Download {
        received: 0,
        checksum: CHECKSUM_START,
        first_mismatch: None,
        closed_after: false,
    };
    let mut take = |client: &mut Client, len: usize, got: &mut Download| {
        client
            .read_exact(&mut buf[..len])
            .unwrap_or_else(|e| panic!("download cut short after {} bytes: {e}", got.received));
        let expected = &data[got.received..got.received + len];
        if got.first_mismatch.is_none() && buf[..len] != *expected {
            let at = buf[..len].iter().zip(expected).position(|(a, b)| a != b);
            got.first_mismatch = Some(got.received + at.unwrap_or(0));
        }
        got.checksum = checksum(got.checksum, &buf[..len]);
        got.received += len;
    };
    while got.received < BEFORE_SIGNAL {
        take(
            &mut client,
            CHUNK.min(BEFORE_SIGNAL - got.received),
            &mut got,
        );
    }
    started.send(()).expect("report the start");
    go.recv_timeout(Duration::from_secs(30))
        .expect("no go from the test");
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.received < BIG {
        assert!(
            Instant::now() < deadline,
            "download too slow: {} of {BIG} bytes at the deadline",
            got.received
        );
        take(&mut client, CHUNK.min(BIG - got.received), &mut got);
        thread::sleep(Duration::from_millis(1));
    }
    got.closed_after = client.wait_closed(Duration::from_secs(10));
    got
}

#[test]
fn sigint_under_load_closes_idle_connections_and_finishes_downloads() {
    if !raise_fd_limit(IDLE as u64 + 500) {
        return;
    }
    let root = DocRoot::new();
    root.file("a.txt", "idle connection's first answer\n");
    let data = Arc::new(pseudo_random(BIG, 4242));
    root.file("big.bin", data.as_slice());
    let expected_checksum = checksum(CHECKSUM_START, &data);
    let mut server = Server::start(
        root.path(),
        &[
            "--quiet",
            "--workers",
            "2",
            "--keepalive-timeout",
            "120",
            "--write-timeout",
            "60",
            "--shutdown-timeout",
            "30",
        ],
    );
    let addr = server.addr();

    // 1 000 idle keep-alive connections, opened in batches of 100.
    let setup_deadline = Instant::now() + Duration::from_secs(60);
    let mut idle = open_idle(&server, "/a.txt", IDLE, 100, setup_deadline, |i, resp| {
        assert_eq!(resp.status, 200, "idle connection {i}: {resp:?}");
        assert!(
            !resp.connection_has("close"),
            "idle connection {i}: {resp:?}"
        );
    });

    // 4 downloads, each with its first MiB read and the rest in flight.
    let (started_tx, started_rx) = mpsc::channel();
    let mut go = Vec::new();
    let mut downloads = Vec::new();
    for _ in 0..DOWNLOADS {
        let (go_tx, go_rx) = mpsc::channel();
        let (data, started) = (data.clone(), started_tx.clone());
        downloads.push(thread::spawn(move || download(addr, data, started, go_rx)));
        go.push(go_tx);
    }
    let started_deadline = Instant::now() + Duration::from_secs(30);
    for n in 0..DOWNLOADS {
        let left = started_deadline.saturating_duration_since(Instant::now());
        started_rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("only {n} of {DOWNLOADS} downloads started: {e}"));
    }

    let signalled = Instant::now();
    server.send_signal(libc::SIGINT);

    // While the downloads are held, every idle connection is closed...
    let idle_deadline = Instant::now() + Duration::from_secs(15);
    for (i, client) in idle.iter_mut().enumerate() {
        let left = idle_deadline.saturating_duration_since(Instant::now());
        assert!(
            client.wait_closed(left),
            "idle connection {i} still open {:?} after SIGINT",
            signalled.elapsed()
        );
    }
    eprintln!(
        "{IDLE} idle connections closed within {:?} of SIGINT",
        signalled.elapsed()
    );
    // ... new connections are refused ...
    assert!(
        wait_connect_refused(addr, Duration::from_secs(10)),
        "new connections still accepted {:?} after SIGINT",
        signalled.elapsed()
    );
    // ... and the server waits for the downloads.
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "the server exited with {DOWNLOADS} downloads in flight"
    );

    for go_tx in &go {
        go_tx.send(()).expect("release a download");
    }
    for (i, handle) in downloads.into_iter().enumerate() {
        let got = handle
            .join()
            .unwrap_or_else(|_| panic!("download {i} failed (see its panic above)"));
        assert_eq!(got.received, BIG, "download {i}: length");
        assert_eq!(
            got.first_mismatch, None,
            "download {i}: bytes differ from the file"
        );
        assert_eq!(got.checksum, expected_checksum, "download {i}: checksum");
        assert!(
            got.closed_after,
            "download {i}: connection not closed after the body during shutdown"
        );
    }

    let status = server
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| {
            panic!(
                "the server did not exit {:?} after SIGINT",
                signalled.elapsed()
            )
        });
    assert_eq!(status.code(), Some(0), "{status:?}");
    eprintln!(
        "the server exited 0, {:?} after SIGINT",
        signalled.elapsed()
    );
}
