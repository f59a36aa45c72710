//! Slow clients don't hold the server up: hundreds of connections dribbling
//! a request header get `408` at the header deadline, downloads whose
//! clients stop reading are dropped at the write deadline, and meanwhile a
//! fresh client is served at once.

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The tests in this file each load the machine; run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const SMALL: &str = "a small file, served while others are slow\n";

/// A fresh client's GET of /small.txt, timed from before the connect to the
/// last byte of the response; asserts it is a correct `200` within 1 s.
fn assert_fresh_client_served(server: &Server, context: &str) {
    let started = Instant::now();
    let mut client = server.client();
    client.send(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let resp = client.read_response();
    let took = started.elapsed();
    assert_eq!(resp.status, 200, "{context}: {resp:?}");
    assert_eq!(resp.body, SMALL.as_bytes(), "{context}: {resp:?}");
    assert!(
        took < Duration::from_secs(1),
        "{context}: a fresh client took {took:?} to be served"
    );
}

// ---------------------------------------------------------------------------
// Header dribblers
// ---------------------------------------------------------------------------

/// The header a dribbler sends, one byte at a time; it never ends (there
/// is no blank line), and is longer than a dribbler can send before the
/// test's deadline.
fn endless_header() -> Vec<u8> {
    let mut header = b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".to_vec();
    header.resize(header.len() + 1000, b'z');
    header
}

/// How a dribbler's connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A response starting with `HTTP/1.1 408` arrived.
    Timeout408,
    /// The server closed or reset the connection without a response.
    Closed,
}

struct Dribbler {
    stream: TcpStream,
    connected: Instant,
    sent: usize,
    received: Vec<u8>,
    /// How it ended, and how long after the connect that was seen.
    end: Option<(End, Duration)>,
}

impl Dribbler {
    fn connect(addr: SocketAddr) -> Dribbler {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        Dribbler {
            stream,
            connected: Instant::now(),
            sent: 0,
            received: Vec::new(),
            end: None,
        }
    }

    fn finish(&mut self, end: End) {
        self.end = Some((end, self.connected.elapsed()));
    }

    /// Reads what has arrived; decides how the connection ended once a
    /// status line's start or the end of the stream is seen.
    fn check(&mut self) {
        let mut buf = [0u8; 4096];
        for _ in 0..16 {
            match (&self.stream).read(&mut buf) {
                Ok(0) => {
                    let end = if self.received.is_empty() {
                        End::Closed
                    } else {
                        self.classify()
                    };
                    return self.finish(end);
                }
                Ok(n) => {
                    self.received.extend_from_slice(&buf[..n]);
                    if self.received.len() >= b"HTTP/1.1 408".len() {
                        let end = self.classify();
                        return self.finish(end);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_closed_error(&e) => {
                    let end = if self.received.is_empty() {
                        End::Closed
                    } else {
                        self.classify()
                    };
                    return self.finish(end);
                }
                Err(e) => panic!("dribbler read failed: {e}"),
            }
        }
    }

    fn classify(&self) -> End {
        assert!(
            self.received.starts_with(b"HTTP/1.1 408"),
            "a dribbler got something other than a 408: {:?}",
            String::from_utf8_lossy(&self.received)
        );
        End::Timeout408
    }

    /// Sends the next byte of the header.
    fn dribble(&mut self, header: &[u8]) {
        let Some(byte) = header.get(self.sent) else {
            return;
        };
        match (&self.stream).write(std::slice::from_ref(byte)) {
            Ok(n) => self.sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            // The server closed (after its 408, which `check` reads next).
            Err(e) if is_closed_error(&e) => {}
            Err(e) => panic!("dribbler write failed: {e}"),
        }
    }
}

#[test]
fn header_dribblers_get_408_at_the_deadline_and_do_not_block_others() {
    const DRIBBLERS: usize = 300;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
    const ROUND: Duration = Duration::from_millis(100);
    let _serial = serial();
    let root = DocRoot::new();
    root.file("small.txt", SMALL);
    let server = Server::start(
        root.path(),
        &["--quiet", "--workers", "2", "--header-timeout", "2"],
    );
    let addr = server.addr();

    let rounds = Arc::new(AtomicUsize::new(0));
    let dribbling = {
        let rounds = rounds.clone();
        thread::spawn(move || {
            let header = endless_header();
            let mut dribblers: Vec<Dribbler> =
                (0..DRIBBLERS).map(|_| Dribbler::connect(addr)).collect();
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut next_round = Instant::now();
            while dribblers.iter().any(|d| d.end.is_none()) && Instant::now() < deadline {
                for d in dribblers.iter_mut().filter(|d| d.end.is_none()) {
                    d.check();
                    if d.end.is_none() {
                        d.dribble(&header);
                    }
                }
                rounds.fetch_add(1, Ordering::SeqCst);
                // Pace the rounds: one byte per connection every ~100 ms.
                next_round += ROUND;
                thread::sleep(next_round.saturating_duration_since(Instant::now()));
            }
            dribblers
        })
    };

    // While every dribbler is mid-header, a fresh client is served at once.
    assert!(
        poll_until(Duration::from_secs(20), || rounds.load(Ordering::SeqCst)
            >= 3
            || dribbling.is_finished()),
        "the dribblers did not start"
    );
    assert_fresh_client_served(&server, "beside 300 header dribblers");

    let dribblers = dribbling.join().expect("dribbling thread");
    let mut got_408 = 0;
    let mut earliest = Duration::MAX;
    let mut latest = Duration::ZERO;
    for (i, d) in dribblers.iter().enumerate() {
        let (end, after) = d.end.unwrap_or_else(|| {
            panic!(
                "dribbler {i} still open {:?} after its connect ({} bytes sent); \
                 the header timeout is {HEADER_TIMEOUT:?}",
                d.connected.elapsed(),
                d.sent
            )
        });
        assert!(
            after >= Duration::from_millis(1500),
            "dribbler {i} ended ({end:?}) only {after:?} after its connect, \
             before the {HEADER_TIMEOUT:?} header timeout"
        );
        assert!(
            after <= HEADER_TIMEOUT + Duration::from_secs(10),
            "dribbler {i} ended ({end:?}) {after:?} after its connect, \
             long after the {HEADER_TIMEOUT:?} header timeout"
        );
        if end == End::Timeout408 {
            got_408 += 1;
        }
        earliest = earliest.min(after);
        latest = latest.max(after);
    }
    eprintln!(
        "{got_408} of {DRIBBLERS} dribblers got a 408, the others a close; \
         {earliest:?} to {latest:?} after their connects"
    );

    // The server is still fine afterwards.
    assert_fresh_client_served(&server, "after the dribblers timed out");
}

// ---------------------------------------------------------------------------
// Stalled downloads
// ---------------------------------------------------------------------------

/// Sockets the process `pid` holds open (its listener and connections).
fn socket_count(pid: u32) -> usize {
    let dir = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {dir}: {e}"));
    entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

#[test]
fn stalled_downloads_are_dropped_at_the_write_deadline() {
    const BIG: u64 = 64 * 1024 * 1024;
    const STALLED: usize = 4;
    let _serial = serial();
    let root = DocRoot::new();
    root.file("small.txt", SMALL);
    root.sparse_file("big.bin", BIG);
    let server = Server::start(
        root.path(),
        &["--quiet", "--workers", "2", "--write-timeout", "2"],
    );
    let pid = server.pid();
    let baseline = socket_count(pid);

    // Clients that ask for the big file and never read a byte of it.
    let requested = Instant::now();
    let mut stalled: Vec<Client> = (0..STALLED)
        .map(|_| {
            let mut client = server.client();
            client.send(get_request("/big.bin").as_bytes());
            client
        })
        .collect();
    assert!(
        poll_until(Duration::from_secs(10), || socket_count(pid)
            >= baseline + STALLED),
        "the server did not take the {STALLED} stalled connections"
    );

    assert_fresh_client_served(&server, "beside 4 stalled 64 MiB downloads");

    // The server gives up on them at the write deadline: its sockets close.
    assert!(
        poll_until(Duration::from_secs(20), || socket_count(pid) <= baseline),
        "the stalled connections are still open {:?} after their requests \
         ({} sockets, {baseline} before), with --write-timeout 2",
        requested.elapsed(),
        socket_count(pid)
    );
    let gave_up = requested.elapsed();
    eprintln!("the server dropped the stalled downloads {gave_up:?} after their requests");
    assert!(
        gave_up >= Duration::from_millis(1500),
        "the server dropped the stalled downloads after {gave_up:?}, before the write timeout"
    );

    // Each client now gets what was in flight, then the end of the stream:
    // far less than the whole file.
    let deadline = Instant::now() + Duration::from_secs(20);
    for (i, client) in stalled.iter_mut().enumerate() {
        let head = client
            .read_response_head()
            .unwrap_or_else(|e| panic!("stalled client {i}: response head: {e}"));
        assert_eq!(head.status, 200, "stalled client {i}: {head:?}");
        assert_eq!(
            head.content_length(),
            Some(BIG),
            "stalled client {i}: {head:?}"
        );
        let mut received = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            assert!(
                Instant::now() < deadline,
                "stalled client {i}: still reading ({received} bytes) at the deadline"
            );
            match client.read_some(&mut buf) {
                Ok(0) => break,
                Ok(n) => received += n as u64,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_closed_error(&e) => break,
                Err(e) => panic!("stalled client {i}: read failed after {received} bytes: {e}"),
            }
        }
        assert!(
            received < BIG,
            "stalled client {i} received the whole file: the server never gave up"
        );
        eprintln!("stalled client {i}: {received} of {BIG} body bytes before the close");
    }

    assert_fresh_client_served(&server, "after the stalled downloads were dropped");
}

#[test]
fn a_download_survives_the_server_being_stopped_and_continued() {
    // SIGSTOP/SIGCONT (Ctrl-Z and fg, a frozen cgroup) interrupt a
    // `sendfile` in the middle: it returns a short count with room left in
    // the socket and no wake-up to come. The server must notice and go on,
    // not wait for the write deadline with the download half sent.
    const BIG: u64 = 256 * 1024 * 1024;
    let _serial = serial();
    let root = DocRoot::new();
    root.sparse_file("big.bin", BIG);
    let server = Server::start(root.path(), &["--quiet", "--write-timeout", "60"]);
    let pid = libc::pid_t::try_from(server.pid()).expect("pid fits pid_t");
    let mut client = server.client();
    client.send(get_request("/big.bin").as_bytes());
    let head = client.read_response_head().expect("response head");
    assert_eq!(head.content_length(), Some(BIG), "{head:?}");

    let done = Arc::new(AtomicBool::new(false));
    let cycler = {
        let done = done.clone();
        thread::spawn(move || {
            let mut cycles = 0;
            // At most 2000 cycles of about 5 ms: 10 s.
            while !done.load(Ordering::SeqCst) && cycles < 2000 {
                // SAFETY: kill(2) has no memory-safety preconditions; the
                // pid is the server this test started, still running.
                unsafe { libc::kill(pid, libc::SIGSTOP) };
                thread::sleep(Duration::from_millis(2));
                // SAFETY: as above; always sent, so it never stays stopped.
                unsafe { libc::kill(pid, libc::SIGCONT) };
                thread::sleep(Duration::from_millis(3));
                cycles += 1;
            }
            cycles
        })
    };
    // A stall shows as a read that waits IO_TIMEOUT (10 s) for nothing.
    let mut received = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let outcome = loop {
        match client.read_some(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                received += n as u64;
                if received >= BIG {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    done.store(true, Ordering::SeqCst);
    let cycles = cycler.join().expect("stop/continue thread");
    eprintln!("{received} of {BIG} bytes with {cycles} stop/continue cycles of the server");
    outcome.unwrap_or_else(|e| panic!("download stalled after {received} of {BIG} bytes: {e}"));
    assert_eq!(received, BIG, "the download ended early");
    assert!(
        cycles > 0,
        "the server was never stopped during the download"
    );
}
