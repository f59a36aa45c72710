//! Load benchmark over loopback: `cargo bench` (or `cargo bench --bench load`).
//!
//! Starts the server in-process (127.0.0.1, port 0, 2 workers, no access log)
//! on a generated docroot, then runs bounded runs (time and request count) in
//! several modes with a small mio-driven load generator: a few client threads,
//! each driving many connections non-blockingly, one request in flight per
//! connection, responses framed by `Content-Length`.
//!
//! Environment:
//! - `BENCH_SECS` — seconds per mode (default 3)
//! - `BENCH_MAX_REQUESTS` — request bound per mode (default: per mode, see `MODES`)
//! - `BENCH_THREADS` — client threads (default 2)
//! - `BENCH_WORKERS` — server workers (default 2)
//!
//! Any non-flag argument selects the modes whose name contains it
//! (`cargo bench --bench load -- 10MiB`); flags such as `--bench` are ignored.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use simple_web_server::{Config, Server};

/// One benchmark configuration.
struct Mode {
    name: &'static str,
    path: &'static str,
    body_len: usize,
    conns: usize,
    keep_alive: bool,
    max_requests: u64,
}

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// The files of the docroot: name and size.
const FILES: [(&str, usize); 3] = [
    ("1k.bin", KIB),
    ("100k.bin", 100 * KIB),
    ("10m.bin", 10 * MIB),
];

const MODES: [Mode; 5] = [
    Mode {
        name: "keep-alive 1KiB",
        path: "/1k.bin",
        body_len: KIB,
        conns: 50,
        keep_alive: true,
        max_requests: 2_000_000,
    },
    Mode {
        name: "keep-alive 1KiB c1000",
        path: "/1k.bin",
        body_len: KIB,
        conns: 1000,
        keep_alive: true,
        max_requests: 2_000_000,
    },
    Mode {
        name: "close 1KiB",
        path: "/1k.bin",
        body_len: KIB,
        conns: 50,
        keep_alive: false,
        // Each request uses an ephemeral port; stay well below the range.
        max_requests: 200_000,
    },
    Mode {
        name: "keep-alive 100KiB",
        path: "/100k.bin",
        body_len: 100 * KIB,
        conns: 50,
        keep_alive: true,
        max_requests: 1_000_000,
    },
    Mode {
        name: "keep-alive 10MiB",
        path: "/10m.bin",
        body_len: 10 * MIB,
        conns: 8,
        keep_alive: true,
        max_requests: 20_000,
    },
];

/// A request that gets no complete response within this time is an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often slots are checked for timeouts and reconnection.
const TICK: Duration = Duration::from_millis(100);
/// A mode stops early once this many errors are seen.
const MAX_ERRORS: u64 = 10_000;
/// Bytes read per `read` call (body bytes are discarded).
const SCRATCH: usize = 256 * KIB;
/// A response head longer than this is an error.
const MAX_HEAD: usize = 16 * KIB;

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let secs = env_f64("BENCH_SECS", 3.0);
    let max_requests_override = env_u64("BENCH_MAX_REQUESTS");
    let threads = env_u64("BENCH_THREADS").unwrap_or(2).max(1) as usize;
    let workers = env_u64("BENCH_WORKERS").unwrap_or(2).max(1) as usize;
    let duration = Duration::from_secs_f64(secs);

    let docroot = DocRoot::create().expect("cannot create the docroot");
    let mut config = Config::new(docroot.path());
    config.port = 0;
    config.workers = workers;
    config.access_log = false;
    let server = Server::bind(config).expect("cannot start the server");
    let addr = server.local_addr().expect("a TCP address");
    let shutdown = server.shutdown_handle();
    let server_thread = std::thread::spawn(move || server.run());

    for (name, len) in FILES {
        if let Err(err) = check_file(addr, name, &docroot.content(len)) {
            panic!("sanity check of /{name} failed: {err}");
        }
    }

    println!(
        "simple-web-server load benchmark: server at {addr} with {workers} workers; \
         {threads} client threads; {secs} s per mode"
    );
    let mut rows = Vec::new();
    for mode in &MODES {
        if !filters.is_empty() && !filters.iter().any(|f| mode.name.contains(f.as_str())) {
            continue;
        }
        let max_requests = max_requests_override.unwrap_or(mode.max_requests);
        let report = run_mode(addr, mode, threads, duration, max_requests);
        println!("  ran {:<21} {:>8} requests", mode.name, report.completed);
        rows.push((mode, report));
    }

    shutdown.shutdown();
    let summary = server_thread
        .join()
        .expect("server thread panicked")
        .expect("server failed");
    drop(docroot);

    print_table(&rows);
    println!(
        "server: {} requests answered, {:.1} MiB sent, {} connections abandoned at shutdown",
        summary.requests,
        summary.bytes_sent as f64 / MIB as f64,
        summary.abandoned
    );
    for (mode, report) in &rows {
        if let Some(err) = &report.first_error {
            println!("{}: {} errors; first: {err}", mode.name, report.errors);
        }
    }
}

fn env_f64(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .unwrap_or_else(|| panic!("{name} must be a positive number, not {value:?}")),
        Err(_) => default,
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}")),
    )
}

/// A unique temporary directory with the benchmark files, removed on drop.
struct DocRoot {
    path: PathBuf,
}

impl DocRoot {
    fn create() -> io::Result<DocRoot> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "simple-web-server-bench-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&path)?;
        let root = DocRoot { path };
        for (name, len) in FILES {
            std::fs::write(root.path.join(name), root.content(len))?;
        }
        Ok(root)
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// The content of a file of `len` bytes: a non-repeating-looking pattern.
    fn content(&self, len: usize) -> Vec<u8> {
        let mut state: u32 = 0x9e37_79b9;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    }
}

impl Drop for DocRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One blocking GET of the whole file, compared byte for byte.
fn check_file(addr: SocketAddr, name: &str, expected: &[u8]) -> Result<(), String> {
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(REQUEST_TIMEOUT))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /{name} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let head = parse_head(&raw)?.ok_or("incomplete response head")?;
    if head.status != 200 {
        return Err(format!("status {}", head.status));
    }
    let body = &raw[head.len..];
    if head.content_length != Some(expected.len()) || body != expected {
        return Err(format!(
            "body mismatch: Content-Length {:?}, {} bytes received, {} expected",
            head.content_length,
            body.len(),
            expected.len()
        ));
    }
    Ok(())
}

/// The parts of a response head the load generator needs.
struct Head {
    len: usize,
    status: u16,
    content_length: Option<usize>,
    close: bool,
}

/// `Ok(None)` while the head is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(format!("bad response head: {err}")),
    };
    let mut content_length = None;
    let mut close = false;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or("bad Content-Length")?;
            content_length = Some(value);
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = header
                .value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    Ok(Some(Head {
        len,
        status: response.code.unwrap_or(0),
        content_length,
        close,
    }))
}

/// What one client thread (or a whole mode, merged) measured.
#[derive(Default)]
struct Report {
    completed: u64,
    bytes: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Report {
    fn merge(&mut self, other: Report) {
        self.completed += other.completed;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    /// The latency at quantile `q`, in milliseconds.
    fn percentile_ms(&self, q: f64) -> Option<f64> {
        let n = self.latencies_us.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        Some(f64::from(self.latencies_us[rank - 1]) / 1000.0)
    }
}

fn run_mode(
    addr: SocketAddr,
    mode: &'static Mode,
    threads: usize,
    duration: Duration,
    max_requests: u64,
) -> Report {
    let threads = threads.min(mode.conns);
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            // Spread connections and the request bound over the threads.
            let conns = mode.conns / threads + usize::from(t < mode.conns % threads);
            let budget = max_requests / threads as u64
                + u64::from((t as u64) < max_requests % threads as u64);
            std::thread::spawn(move || Client::new(addr, mode, conns, budget, deadline).run(start))
        })
        .collect();
    let mut report = Report::default();
    for handle in handles {
        report.merge(handle.join().expect("client thread panicked"));
    }
    report.latencies_us.sort_unstable();
    report
}

/// Where a connection is in its current exchange.
enum Phase {
    /// Sending the request (the first write also waits out the connect).
    Writing { written: usize },
    /// Reading the response head.
    Head,
    /// Reading the body; `close` if the server announced `Connection: close`.
    Body { remaining: usize, close: bool },
    /// Response complete; waiting for the server to close.
    Draining,
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    head: Vec<u8>,
    started: Instant,
}

/// What `Conn::advance` stopped at.
enum Step {
    /// Nothing more to do until the next event.
    Wait,
    /// A full response arrived.
    Response {
        latency: Duration,
        close: bool,
    },
    /// The server closed the connection after a complete response.
    Closed,
    Fail(String),
}

impl Conn {
    fn advance(
        &mut self,
        request: &[u8],
        expected_len: usize,
        scratch: &mut [u8],
        bytes: &mut u64,
    ) -> Step {
        loop {
            match &mut self.phase {
                Phase::Writing { written } => match self.stream.write(&request[*written..]) {
                    Ok(n) => {
                        *written += n;
                        if *written == request.len() {
                            self.phase = Phase::Head;
                        }
                    }
                    Err(err) if would_block(&err) || err.kind() == io::ErrorKind::NotConnected => {
                        return Step::Wait;
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Step::Fail(format!("write: {err}")),
                },
                Phase::Head => {
                    let n = match self.stream.read(scratch) {
                        Ok(0) => return Step::Fail("closed before the response".into()),
                        Ok(n) => n,
                        Err(err) if would_block(&err) => return Step::Wait,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                        Err(err) => return Step::Fail(format!("read: {err}")),
                    };
                    *bytes += n as u64;
                    self.head.extend_from_slice(&scratch[..n]);
                    let head = match parse_head(&self.head) {
                        Ok(Some(head)) => head,
                        Ok(None) if self.head.len() > MAX_HEAD => {
                            return Step::Fail("response head too long".into());
                        }
                        Ok(None) => continue,
                        Err(err) => return Step::Fail(err),
                    };
                    if head.status != 200 {
                        return Step::Fail(format!("status {}", head.status));
                    }
                    let Some(length) = head.content_length else {
                        return Step::Fail("no Content-Length".into());
                    };
                    if length != expected_len {
                        return Step::Fail(format!(
                            "Content-Length {length}, expected {expected_len}"
                        ));
                    }
                    let extra = self.head.len() - head.len;
                    if extra > length {
                        return Step::Fail("bytes beyond the response".into());
                    }
                    self.head.clear();
                    self.phase = Phase::Body {
                        remaining: length - extra,
                        close: head.close,
                    };
                }
                Phase::Body {
                    remaining: 0,
                    close,
                } => {
                    let close = *close;
                    return Step::Response {
                        latency: self.started.elapsed(),
                        close,
                    };
                }
                Phase::Body { remaining, .. } => match self.stream.read(scratch) {
                    Ok(0) => return Step::Fail("closed in the middle of the body".into()),
                    Ok(n) if n > *remaining => {
                        return Step::Fail("bytes beyond the response".into());
                    }
                    Ok(n) => {
                        *bytes += n as u64;
                        *remaining -= n;
                    }
                    Err(err) if would_block(&err) => return Step::Wait,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Step::Fail(format!("read: {err}")),
                },
                Phase::Draining => match self.stream.read(scratch) {
                    Ok(0) => return Step::Closed,
                    Ok(_) => return Step::Fail("bytes after a closing response".into()),
                    Err(err) if would_block(&err) => return Step::Wait,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    // A reset after the whole response is still a served request.
                    Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {
                        return Step::Closed;
                    }
                    Err(err) => return Step::Fail(format!("read: {err}")),
                },
            }
        }
    }

    fn start_request(&mut self, now: Instant) {
        self.phase = Phase::Writing { written: 0 };
        self.started = now;
    }
}

fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// One client thread: its own poll and its share of the connections.
struct Client {
    addr: SocketAddr,
    mode: &'static Mode,
    request: Vec<u8>,
    poll: Poll,
    slots: Vec<Option<Conn>>,
    scratch: Vec<u8>,
    report: Report,
    /// Requests this thread may still start.
    budget: u64,
    deadline: Instant,
}

impl Client {
    fn new(
        addr: SocketAddr,
        mode: &'static Mode,
        conns: usize,
        budget: u64,
        deadline: Instant,
    ) -> Client {
        let connection = if mode.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: sws-bench\r\nConnection: {connection}\r\n\r\n",
            mode.path
        );
        Client {
            addr,
            mode,
            request: request.into_bytes(),
            poll: Poll::new().expect("cannot create a poll"),
            slots: (0..conns).map(|_| None).collect(),
            scratch: vec![0; SCRATCH],
            report: Report::default(),
            budget,
            deadline,
        }
    }

    fn may_start(&self, now: Instant) -> bool {
        self.budget > 0 && now < self.deadline && self.report.errors < MAX_ERRORS
    }

    fn run(mut self, start: Instant) -> Report {
        let mut events = Events::with_capacity(256);
        let mut next_tick = Instant::now();
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                break;
            }
            if now >= next_tick {
                self.tick(now);
                next_tick = now + TICK;
            }
            if !self.may_start(now) && self.slots.iter().all(Option::is_none) {
                break;
            }
            let timeout = next_tick.min(self.deadline).saturating_duration_since(now);
            if let Err(err) = self.poll.poll(&mut events, Some(timeout)) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                panic!("poll failed: {err}");
            }
            for event in events.iter() {
                self.drive(event.token().0);
            }
        }
        // Requests still in flight at the deadline are neither counted nor errors.
        self.report.elapsed = Instant::now().min(self.deadline) - start;
        self.report
    }

    /// Times out stuck requests and (re)opens empty slots.
    fn tick(&mut self, now: Instant) {
        for slot in 0..self.slots.len() {
            let stuck = self.slots[slot]
                .as_ref()
                .is_some_and(|conn| now.duration_since(conn.started) > REQUEST_TIMEOUT);
            if stuck {
                self.fail(slot, "timed out".into());
            }
            if self.slots[slot].is_none() && self.may_start(now) {
                self.open(slot, now);
            }
        }
    }

    /// Connects a new connection in `slot` and starts a request on it.
    fn open(&mut self, slot: usize, now: Instant) {
        let mut stream = match TcpStream::connect(self.addr) {
            Ok(stream) => stream,
            Err(err) => {
                // Left empty; the next tick tries again.
                self.error(format!("connect: {err}"));
                return;
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            self.error(format!("set_nodelay: {err}"));
            return;
        }
        if let Err(err) = self.poll.registry().register(
            &mut stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.error(format!("register: {err}"));
            return;
        }
        self.budget -= 1;
        self.slots[slot] = Some(Conn {
            stream,
            phase: Phase::Writing { written: 0 },
            head: Vec::new(),
            started: now,
        });
        // The first event (writable once connected) drives the write.
    }

    fn drive(&mut self, slot: usize) {
        loop {
            let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            match conn.advance(
                &self.request,
                self.mode.body_len,
                &mut self.scratch,
                &mut self.report.bytes,
            ) {
                Step::Wait => return,
                Step::Response { latency, close } => {
                    let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
                    self.report.latencies_us.push(micros);
                    self.report.completed += 1;
                    if close || !self.mode.keep_alive {
                        conn.phase = Phase::Draining;
                        continue;
                    }
                    let now = Instant::now();
                    if self.budget > 0 && now < self.deadline && self.report.errors < MAX_ERRORS {
                        self.budget -= 1;
                        conn.start_request(now);
                    } else {
                        self.slots[slot] = None;
                        return;
                    }
                }
                Step::Closed => {
                    self.slots[slot] = None;
                    let now = Instant::now();
                    if self.may_start(now) {
                        self.open(slot, now);
                    }
                    return;
                }
                Step::Fail(message) => {
                    self.fail(slot, message);
                    let now = Instant::now();
                    if self.may_start(now) {
                        self.open(slot, now);
                    }
                    return;
                }
            }
        }
    }

    fn fail(&mut self, slot: usize, message: String) {
        self.slots[slot] = None;
        self.error(message);
    }

    fn error(&mut self, message: String) {
        self.report.errors += 1;
        if self.report.first_error.is_none() {
            self.report.first_error = Some(message);
        }
    }
}

fn print_table(rows: &[(&Mode, Report)]) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| {:<21} | {:>5} | {:>9} | {:>10} | {:>9} | {:>9} | {:>9} | {:>9} | {:>6} |",
        "mode", "conns", "requests", "req/s", "MiB/s", "p50 ms", "p99 ms", "p99.9 ms", "errors"
    );
    let _ = writeln!(
        out,
        "|{:-<23}|{:->7}|{:->11}|{:->12}|{:->11}|{:->11}|{:->11}|{:->11}|{:->8}|",
        ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
    for (mode, report) in rows {
        let secs = report.elapsed.as_secs_f64().max(f64::EPSILON);
        let ms = |q| {
            report
                .percentile_ms(q)
                .map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
        };
        let _ = writeln!(
            out,
            "| {:<21} | {:>5} | {:>9} | {:>10.0} | {:>9.1} | {:>9} | {:>9} | {:>9} | {:>6} |",
            mode.name,
            mode.conns,
            report.completed,
            report.completed as f64 / secs,
            report.bytes as f64 / MIB as f64 / secs,
            ms(0.50),
            ms(0.99),
            ms(0.999),
            report.errors
        );
    }
    print!("{out}");
}
