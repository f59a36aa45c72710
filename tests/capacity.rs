//! Many connections at once: 2 000 idle keep-alive connections don't keep a
//! newcomer waiting, and at `--max-connections` the longest-idle keep-alive
//! connection is closed to make room for a new client (never a request in
//! progress).

mod common;

use common::*;
use std::io::ErrorKind;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The tests in this file each load the machine; run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const BODY: &str = "capacity test body\n";

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", BODY);
    root
}

/// Asserts `resp` is a keep-alive `200` carrying [`BODY`].
fn assert_ok(resp: &Response, what: &str) {
    assert_eq!(resp.status, 200, "{what}: {resp:?}");
    assert_eq!(resp.body, BODY.as_bytes(), "{what}: {resp:?}");
    assert!(!resp.connection_has("close"), "{what}: {resp:?}");
}

/// A fresh client's GET, timed from before the connect to the last byte of
/// the response.
fn timed_get(server: &Server) -> (Client, Response, Duration) {
    let started = Instant::now();
    let mut client = server.client();
    let resp = client.get("/a.txt");
    (client, resp, started.elapsed())
}

/// What a connection looks like right now, without waiting or consuming.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Open, nothing to read.
    Quiet,
    /// Closed or reset by the server.
    Closed,
    /// Unexpected bytes arrived.
    Data,
}

fn peek(client: &Client) -> Seen {
    let stream = client.stream();
    stream.set_nonblocking(true).expect("set_nonblocking");
    let mut byte = [0u8; 1];
    let peeked = stream.peek(&mut byte);
    stream.set_nonblocking(false).expect("set_nonblocking");
    match peeked {
        Ok(0) => Seen::Closed,
        Ok(_) => Seen::Data,
        Err(e) if e.kind() == ErrorKind::WouldBlock => Seen::Quiet,
        Err(e) if is_closed_error(&e) => Seen::Closed,
        Err(e) => panic!("peek failed: {e}"),
    }
}

#[test]
fn two_thousand_idle_connections_do_not_delay_a_new_client() {
    const IDLE: usize = 2000;
    let _serial = serial();
    if !raise_fd_limit(4500) {
        return;
    }
    let root = site();
    let server = Server::start(
        root.path(),
        &[
            "--quiet",
            "--workers",
            "2",
            "--keepalive-timeout",
            "120",
            "--header-timeout",
            "30",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut idle = open_idle_checked(&server, IDLE, 100, deadline);

    let (_fresh, resp, took) = timed_get(&server);
    assert_ok(&resp, "fresh client");
    assert!(
        took < Duration::from_secs(1),
        "a fresh client took {took:?} to be served beside {IDLE} idle connections"
    );

    // Every idle connection is still open and usable.
    let request = get_request("/a.txt");
    for (b, chunk) in idle.chunks_mut(200).enumerate() {
        assert!(
            Instant::now() < deadline,
            "reusing the connections too slow"
        );
        for client in chunk.iter_mut() {
            client.send(request.as_bytes());
        }
        for (i, client) in chunk.iter_mut().enumerate() {
            let resp = client.try_read_response(false).unwrap_or_else(|e| {
                panic!("second request on idle connection {}: {e}", b * 200 + i)
            });
            assert_ok(
                &resp,
                &format!("second response on idle connection {}", b * 200 + i),
            );
        }
    }
}

#[test]
fn at_the_limit_the_longest_idle_connection_makes_room() {
    const LIMIT: usize = 50;
    let _serial = serial();
    let root = site();
    let server = Server::start(
        root.path(),
        &[
            "--quiet",
            "--workers",
            "2",
            "--max-connections",
            "50",
            "--keepalive-timeout",
            "120",
            "--header-timeout",
            "30",
        ],
    );
    // One at a time, so that connection 0 is the longest idle, then 1, ...
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut idle = open_idle_checked(&server, LIMIT, 1, deadline);

    // Phase 1: the server is full of idle keep-alive connections. A new
    // client gets in because the longest-idle one (the first) is closed.
    let (mut newcomer, resp, took) = timed_get(&server);
    assert_ok(&resp, "the 51st client");
    assert!(
        took < Duration::from_secs(5),
        "the 51st client took {took:?} to be served at --max-connections {LIMIT}"
    );
    assert!(
        idle[0].wait_closed(Duration::from_secs(5)),
        "the longest-idle connection was not closed to admit the 51st client"
    );
    let closed: Vec<usize> = (1..LIMIT)
        .filter(|&i| peek(&idle[i]) != Seen::Quiet)
        .collect();
    assert!(
        closed.is_empty(),
        "admitting one client closed more than the longest-idle connection: also {closed:?}"
    );

    // Phase 2: the four longest-idle connections left (1 to 4, on both
    // workers) are now in the middle of a request. They must survive;
    // another idle connection makes room.
    const MID: std::ops::RangeInclusive<usize> = 1..=4;
    for i in MID {
        idle[i].send(b"GET /a.txt HTTP/1.1\r\nHo");
    }
    let (_second_newcomer, resp, took) = timed_get(&server);
    assert_ok(&resp, "the 52nd client");
    assert!(
        took < Duration::from_secs(5),
        "the 52nd client took {took:?} to be served at --max-connections {LIMIT}"
    );
    // The eviction that admitted the 52nd client has happened by now (it
    // was admitted only once a connection closed); wait for its FIN.
    let closed = || -> Vec<usize> {
        (1..LIMIT)
            .filter(|&i| peek(&idle[i]) != Seen::Quiet)
            .collect()
    };
    poll_until(Duration::from_secs(5), || !closed().is_empty());
    let closed = closed();
    assert!(
        !closed.iter().any(|i| MID.contains(i)),
        "a connection in the middle of a request was closed (or answered) to admit \
         the 52nd client: {closed:?} (connections {MID:?} were mid-request)"
    );
    assert_eq!(
        closed.len(),
        1,
        "expected exactly one idle connection closed to admit the 52nd client, got {closed:?}"
    );
    // The longest idle is 5; each worker's own longest idle is 5 or 6 (the
    // connections alternate between the two workers), and the acceptor may
    // pick either worker while the mid-request ones still count as idle.
    let evicted = closed[0];
    assert!(
        (5..=7).contains(&evicted),
        "the connection closed for the 52nd client ({evicted}) is not among the longest idle"
    );
    assert!(idle[evicted].wait_closed(Duration::from_secs(5)));

    // The interrupted requests complete normally.
    for i in MID {
        idle[i].send(b"st: localhost\r\n\r\n");
        let resp = idle[i].read_response();
        assert_ok(
            &resp,
            &format!("connection {i}'s request, finished after the eviction"),
        );
    }

    // The rest are all still usable (and the newcomer too).
    for (i, client) in idle.iter_mut().enumerate().skip(*MID.end() + 1) {
        if i == evicted {
            continue;
        }
        let resp = client.get("/a.txt");
        assert_ok(&resp, &format!("idle connection {i} after the evictions"));
    }
    assert_ok(&newcomer.get("/a.txt"), "the 51st client's second request");
}

/// [`open_idle`] on `/a.txt`, each first response a keep-alive `200` with
/// [`BODY`].
fn open_idle_checked(
    server: &Server,
    count: usize,
    batch: usize,
    deadline: Instant,
) -> Vec<Client> {
    open_idle(server, "/a.txt", count, batch, deadline, |i, resp| {
        assert_ok(resp, &format!("first response on idle connection {i}"))
    })
}
