#![allow(dead_code)]
//! Shared helpers for the integration tests: a handle on a running server
//! process, a tiny raw-TCP HTTP/1.1 client and a document-root builder.
//!
//! Everything here is bounded in time: sockets carry read and write
//! timeouts, waits poll a condition until a deadline.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

pub mod tls;

mod generations;
#[allow(unused_imports)]
pub use generations::*;

/// The server binary built by Cargo for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_simple-web-server");

/// Read and write timeout on every test socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server may take to print its `Serving` line.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a command-line run that should exit by itself may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest status or header line the client accepts.
const MAX_LINE: u64 = 64 * 1024;

/// Largest header section the client accepts.
const MAX_HEAD: usize = 256 * 1024;

/// Largest body the client accepts.
const MAX_BODY: u64 = 512 * 1024 * 1024;

/// Pause between two checks of a polled condition.
const POLL: Duration = Duration::from_millis(10);

// ---------------------------------------------------------------------------
// Output capture
// ---------------------------------------------------------------------------

/// Lines read from one pipe of the child, filled by a background thread.
pub struct Captured {
    lines: Mutex<Vec<String>>,
    done: AtomicBool,
}

impl Captured {
    fn new() -> Arc<Captured> {
        Arc::new(Captured {
            lines: Mutex::new(Vec::new()),
            done: AtomicBool::new(false),
        })
    }

    /// A copy of the lines read so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Whether the pipe reached end of file (the child closed it).
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }
}

/// Reads `pipe` line by line into `sink` until end of file, also sending
/// each line to `tx` when given.
fn spawn_reader<R: Read + Send + 'static>(
    pipe: R,
    sink: Arc<Captured>,
    tx: Option<mpsc::Sender<String>>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    sink.lines.lock().unwrap().push(line.clone());
                    if let Some(tx) = &tx {
                        let _ = tx.send(line);
                    }
                }
            }
        }
        sink.done.store(true, Ordering::SeqCst);
    });
}

/// For a test that cannot run on this machine: fails it, saying why,
/// unless `SWS_TEST_ALLOW_SKIPS=1` lets it skip, which it says on stderr
/// past the harness's capture (a test never skips silently). The caller
/// returns at once after it.
pub fn cannot_run(why: &str) {
    if std::env::var_os("SWS_TEST_ALLOW_SKIPS").is_none_or(|v| v != "1") {
        panic!("cannot run here: {why} (SWS_TEST_ALLOW_SKIPS=1 skips this test)");
    }
    // Not eprintln!, which the harness captures and drops for a test that
    // passes.
    let _ = writeln!(io::stderr(), "SKIPPED (SWS_TEST_ALLOW_SKIPS=1): {why}");
}

/// Whether this machine has the IPv6 loopback (`::1`) that the IPv6 tests
/// need; see [`cannot_run`] for where it has none.
pub fn ipv6_loopback() -> bool {
    match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(err) => {
            cannot_run(&format!("no IPv6 loopback, ::1 ({err})"));
            false
        }
    }
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Polls `child.try_wait()` until it exits or `timeout` passes.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(e) => panic!("try_wait failed: {e}"),
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------
// Running the binary to completion (command-line tests)
// ---------------------------------------------------------------------------

/// The result of a run that exited by itself.
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The non-blank lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

impl std::fmt::Debug for CliOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs the binary with `args` (nothing added) and waits for it to exit.
/// Panics, after killing it, if it is still running after `timeout`.
pub fn run_cli<S: AsRef<std::ffi::OsStr>>(args: &[S], timeout: Duration) -> CliOutput {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the server binary");
    let out = Captured::new();
    let err = Captured::new();
    spawn_reader(child.stdout.take().unwrap(), out.clone(), None);
    spawn_reader(child.stderr.take().unwrap(), err.clone(), None);
    let status = match wait_child(&mut child, timeout) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "binary still running after {timeout:?}; stdout {:?}; stderr {:?}",
                out.lines(),
                err.lines()
            );
        }
    };
    // The pipes close when the process exits (nothing else holds them).
    poll_until(Duration::from_secs(5), || out.is_done() && err.is_done());
    let join = |c: &Captured| c.lines().iter().map(|l| format!("{l}\n")).collect();
    CliOutput {
        status,
        stdout: join(&out),
        stderr: join(&err),
    }
}

// ---------------------------------------------------------------------------
// A running server
// ---------------------------------------------------------------------------

/// A server process started for one test. Killed on drop if still running.
pub struct Server {
    child: Child,
    /// The first TCP address of the `Serving` line; `None` when it lists
    /// Unix sockets only.
    addr: Option<SocketAddr>,
    serving_line: String,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
}

fn has_flag(args: &[&str], names: &[&str]) -> bool {
    args.iter().any(|a| {
        names
            .iter()
            .any(|n| a == n || (n.starts_with("--") && a.starts_with(&format!("{n}="))))
    })
}

/// The places listed in `Serving <ROOT> at <URL> with <N> workers`, where
/// several are `<URL>, <URL> and <URL>`: `http://<HOST>:<PORT>/`,
/// `https://…/`, `unix:<PATH>` (`unix:<PATH> (https)` with TLS).
pub fn serving_urls(line: &str) -> Vec<String> {
    let Some(body) = line.rfind(" with ").map(|end| &line[..end]) else {
        return Vec::new();
    };
    let Some(list) = body.rfind(" at ").map(|at| &body[at + " at ".len()..]) else {
        return Vec::new();
    };
    let (rest, last) = list.rsplit_once(" and ").unwrap_or(("", list));
    let mut urls: Vec<String> = rest
        .split(", ")
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    urls.push(last.to_owned());
    urls
}

/// The TCP addresses of the `Serving` line's URLs, in order.
pub fn serving_addrs(line: &str) -> Vec<SocketAddr> {
    serving_urls(line)
        .iter()
        .filter_map(|url| {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))?;
            rest.strip_suffix('/')?.parse().ok()
        })
        .collect()
}

/// The first TCP address of the `Serving` line.
pub fn parse_serving_line(line: &str) -> Option<SocketAddr> {
    serving_addrs(line).first().copied()
}

impl Server {
    /// Starts the server on `root` with `--bind 127.0.0.1 --port 0
    /// --workers 2` (each default left out when `extra_args` sets it) and
    /// `extra_args`, and waits (at most [`START_TIMEOUT`]) for its
    /// `Serving` line.
    pub fn start(root: &Path, extra_args: &[&str]) -> Server {
        Server::start_with_env(root, extra_args, &[])
    }

    /// [`Server::start`] with `env` added to the server's environment.
    pub fn start_with_env(root: &Path, extra_args: &[&str], env: &[(&str, &OsStr)]) -> Server {
        let mut args: Vec<&str> = Vec::new();
        if !has_flag(extra_args, &["-b", "--bind"]) {
            args.extend(["--bind", "127.0.0.1"]);
        }
        if !has_flag(extra_args, &["-p", "--port"]) {
            args.extend(["--port", "0"]);
        }
        if !has_flag(extra_args, &["-w", "--workers"]) {
            args.extend(["--workers", "2"]);
        }
        args.extend_from_slice(extra_args);

        let mut command = Command::new(BIN);
        command.args(&args).arg(root).envs(env.iter().copied());
        Server::start_command(command)
    }

    /// Starts `command` (the binary, or something that execs it) with its
    /// output captured, and waits (at most [`START_TIMEOUT`]) for its
    /// `Serving` line.
    pub fn start_command(mut command: Command) -> Server {
        let args = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server binary");
        let stdout = Captured::new();
        let stderr = Captured::new();
        let (tx, rx) = mpsc::channel();
        spawn_reader(child.stdout.take().unwrap(), stdout.clone(), None);
        spawn_reader(child.stderr.take().unwrap(), stderr.clone(), Some(tx));

        let deadline = Instant::now() + START_TIMEOUT;
        let serving_line = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("Serving ") => break line,
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "no `Serving` line within {START_TIMEOUT:?} (args {args:?}); stderr: {:?}",
                        stderr.lines()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = wait_child(&mut child, Duration::from_secs(5));
                    if status.is_none() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    panic!(
                        "server closed stderr before its `Serving` line (args {args:?}); \
                         exit status {status:?}; stderr: {:?}",
                        stderr.lines()
                    );
                }
            }
        };
        let addr = parse_serving_line(&serving_line);
        if addr.is_none() && !serving_line.contains(" at unix:") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cannot read the address from {serving_line:?}");
        }
        Server {
            child,
            addr,
            serving_line,
            stdout,
            stderr,
        }
    }

    /// The first TCP address it serves.
    pub fn addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| panic!("no TCP address in the Serving line {:?}", self.serving_line))
    }

    /// Every TCP address the `Serving` line lists, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        serving_addrs(&self.serving_line)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `Serving …` line printed at start.
    pub fn serving_line(&self) -> &str {
        &self.serving_line
    }

    /// Lines the server wrote to stdout so far (the access log).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lines()
    }

    /// Lines the server wrote to stderr so far (including the `Serving` line).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// Waits until a stdout line satisfies `pred`; returns it.
    pub fn wait_stdout_line(
        &self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let mut found = None;
        poll_until(timeout, || {
            found = self.stdout.lines().into_iter().find(|l| pred(l));
            found.is_some()
        });
        found
    }

    /// How many stderr lines so far contain `needle`.
    pub fn stderr_count(&self, needle: &str) -> usize {
        self.stderr
            .lines()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until `count` stderr lines contain `needle`; returns whether
    /// that happened within `timeout`.
    pub fn wait_stderr(&self, timeout: Duration, needle: &str, count: usize) -> bool {
        poll_until(timeout, || self.stderr_count(needle) >= count)
    }

    /// Waits until the child closed both stdout and stderr (it exited).
    pub fn wait_output_closed(&self, timeout: Duration) -> bool {
        poll_until(timeout, || self.stdout.is_done() && self.stderr.is_done())
    }

    /// Sends `sig` to the server process, if it is still running.
    pub fn send_signal(&mut self, sig: libc::c_int) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
            // SAFETY: kill(2) has no memory-safety preconditions; the pid is
            // our own child, which has not been reaped yet (try_wait above).
            let rc = unsafe { libc::kill(pid, sig) };
            assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
        }
    }

    /// Waits (polling) for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, timeout)
    }

    /// Sends SIGINT and asserts that the server exits 0 within 10 s;
    /// `when` says what was going on, for the failure message.
    pub fn assert_exits_0_on_sigint(&mut self, when: &str) {
        self.send_signal(libc::SIGINT);
        let status = self
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("server did not exit after SIGINT {when}"));
        assert_eq!(status.code(), Some(0), "{status:?}");
    }

    /// The admin listener's address (`--admin`), from the line the server
    /// prints after `Serving`.
    pub fn admin_addr(&self) -> SocketAddr {
        let prefix = "Health and metrics at http://";
        assert!(
            self.wait_stderr(START_TIMEOUT, prefix, 1),
            "no admin line: {:?}",
            self.stderr_lines()
        );
        let lines = self.stderr_lines();
        let line = lines.iter().find(|l| l.starts_with(prefix)).unwrap();
        let addr = line[prefix.len()..].split("/health").next().unwrap();
        addr.parse()
            .unwrap_or_else(|e| panic!("bad admin address in {line:?}: {e}"))
    }

    /// A new client connected to this server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr())
    }

    /// One GET on a fresh connection.
    pub fn get(&self, path: &str) -> Response {
        let mut c = self.client();
        c.send(get_request(path).as_bytes());
        c.read_response()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------

/// `GET path HTTP/1.1` with a Host header.
pub fn get_request(path: &str) -> String {
    request("GET", path)
}

/// `HEAD path HTTP/1.1` with a Host header.
pub fn head_request(path: &str) -> String {
    request("HEAD", path)
}

/// `METHOD path HTTP/1.1` with a Host header and nothing else.
pub fn request(method: &str, path: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// One parsed response.
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header named `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .map(|v| v.trim().parse().expect("numeric Content-Length"))
    }

    /// Whether a `Connection` header lists `token` (case-insensitive).
    pub fn connection_has(&self, token: &str) -> bool {
        self.header_all("connection")
            .iter()
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The media type, lower-cased, without spaces (`text/html;charset=utf-8`).
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type")
            .map(|v| v.to_ascii_lowercase().replace(' ', ""))
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = &self.body[..self.body.len().min(300)];
        f.debug_struct("Response")
            .field("version", &self.version)
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("body_start", &String::from_utf8_lossy(shown))
            .finish()
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg.into())
}

/// Whether a read error means "the peer closed or reset the connection".
pub fn is_closed_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// A client's byte stream: plain TCP, or TLS over TCP.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// The TLS session, if this is one.
    pub fn tls(&self) -> Option<&rustls::ClientConnection> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(s) => Some(&s.conn),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A raw HTTP/1.1 client over one TCP (or TLS) connection.
pub struct Client {
    reader: BufReader<Stream>,
}

impl Client {
    /// Connects with [`IO_TIMEOUT`] for connect, read and write. Panics on failure.
    pub fn connect(addr: SocketAddr) -> Client {
        Client::try_connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
    }

    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, Stream::Plain(stream)),
        })
    }

    /// Connects and completes a TLS handshake for `server_name` with
    /// `config`. Panics on failure.
    pub fn connect_tls(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Client {
        Client::try_connect_tls(addr, config, server_name)
            .unwrap_or_else(|e| panic!("TLS connect to {addr}: {e}"))
    }

    pub fn try_connect_tls(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> io::Result<Client> {
        let plain = Client::try_connect(addr)?;
        let Stream::Plain(tcp) = plain.reader.into_inner() else {
            unreachable!("try_connect makes a plain stream");
        };
        let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
            .map_err(|e| invalid(e.to_string()))?;
        let conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, Stream::Tls(Box::new(tls))),
        })
    }

    /// The TCP socket underneath.
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref().tcp()
    }

    /// The TLS session, when this client speaks TLS.
    pub fn tls(&self) -> Option<&rustls::ClientConnection> {
        self.reader.get_ref().tls()
    }

    /// Writes all of `bytes`. Panics on failure.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("send {} bytes: {e}", bytes.len()));
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes)?;
        stream.flush()
    }

    /// Sends a GET for `path` and reads its response.
    pub fn get(&mut self, path: &str) -> Response {
        self.send(get_request(path).as_bytes());
        self.read_response()
    }

    /// Sends a HEAD for `path` and reads its response.
    pub fn head(&mut self, path: &str) -> Response {
        self.send(head_request(path).as_bytes());
        self.read_head_response()
    }

    /// Reads one response to a non-HEAD request. Panics on failure.
    pub fn read_response(&mut self) -> Response {
        self.try_read_response(false)
            .unwrap_or_else(|e| panic!("reading a response: {e}"))
    }

    /// Reads one response to a HEAD request (no body). Panics on failure.
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response(true)
            .unwrap_or_else(|e| panic!("reading a HEAD response: {e}"))
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed where a line was expected",
            ));
        }
        if !line.ends_with(b"\n") {
            return Err(invalid(format!(
                "line truncated or too long: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            )));
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        String::from_utf8(line).map_err(|e| invalid(format!("non-UTF-8 line: {e}")))
    }

    /// Reads a status line and headers; the body is left in the stream.
    pub fn read_response_head(&mut self) -> io::Result<Response> {
        let status_line = self.read_line()?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        if !version.starts_with("HTTP/") {
            return Err(invalid(format!("bad status line {status_line:?}")));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status code in {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        let mut total = status_line.len();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            if total > MAX_HEAD {
                return Err(invalid("response header section too large"));
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
        })
    }

    /// Reads one response; `head` says it answers a HEAD request. The body
    /// is framed by `Transfer-Encoding: chunked`, `Content-Length`, or the
    /// end of the connection, and is absent for HEAD, 1xx, 204 and 304.
    pub fn try_read_response(&mut self, head: bool) -> io::Result<Response> {
        let mut resp = self.read_response_head()?;
        let status = resp.status;
        if head || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(resp);
        }
        let chunked = resp.header_all("transfer-encoding").iter().any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
        });
        if chunked {
            resp.body = self.read_chunked()?;
        } else if let Some(len) = resp.header("content-length") {
            let len: u64 = len
                .trim()
                .parse()
                .map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
            if len > MAX_BODY {
                return Err(invalid(format!("Content-Length {len} too large")));
            }
            let mut body = vec![0; len as usize];
            self.reader.read_exact(&mut body)?;
            resp.body = body;
        } else {
            resp.body = self.try_read_to_close()?;
        }
        Ok(resp)
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                // Trailer fields, then an empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len() as u64 + size > MAX_BODY {
                return Err(invalid("chunked body too large"));
            }
            let start = body.len();
            body.resize(start + size as usize, 0);
            self.reader.read_exact(&mut body[start..])?;
            if !self.read_line()?.is_empty() {
                return Err(invalid("chunk not followed by CRLF"));
            }
        }
    }

    /// Reads up to `buf.len()` bytes (body bytes after `read_response_head`).
    pub fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }

    /// Reads exactly `buf.len()` bytes.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.reader.read_exact(buf)
    }

    fn try_read_to_close(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() as u64 > MAX_BODY {
                        return Err(invalid("too much data before close"));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_closed_error(&e) => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    }

    /// Everything until the server closes the connection (a reset counts as
    /// a close). Panics if the server neither sends nor closes within the
    /// read timeout.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        self.try_read_to_close()
            .unwrap_or_else(|e| panic!("reading until close: {e}"))
    }

    /// Whether the server closes (or resets) the connection within
    /// `timeout`. Any data that still arrives is read and thrown away.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 16 * 1024];
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            self.stream()
                .set_read_timeout(Some(left))
                .expect("set_read_timeout");
            match self.reader.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break false;
                }
                Err(e) if is_closed_error(&e) => break true,
                Err(e) => panic!("unexpected read error while waiting for close: {e}"),
            }
        };
        let _ = self.stream().set_read_timeout(Some(IO_TIMEOUT));
        closed
    }
}

/// Whether connecting to `addr` fails within `timeout` (polling; each
/// successful connection is dropped at once).
pub fn wait_connect_refused(addr: SocketAddr, timeout: Duration) -> bool {
    poll_until(timeout, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
    })
}

// ---------------------------------------------------------------------------
// Unix sockets (`--bind unix:PATH`)
// ---------------------------------------------------------------------------

/// A connection to the Unix socket at `path`, with [`IO_TIMEOUT`]s.
pub fn unix_connect(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path)
        .unwrap_or_else(|e| panic!("connect to unix:{}: {e}", path.display()));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Sends `bytes` on a new connection to the Unix socket at `path` and
/// reads until the server closes it.
pub fn unix_exchange(path: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut stream = unix_connect(path);
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    answer
}

/// `GET target` with `Connection: close` over the Unix socket at `path`:
/// the status and the body.
pub fn unix_get(path: &Path, target: &str) -> (u16, Vec<u8>) {
    let request = raw_request("GET", target, &[("Connection", "close")]);
    let answer = unix_exchange(path, request.as_bytes());
    let at = find(&answer, b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&answer[..at]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, answer[at + 4..].to_vec())
}

/// The permission bits of the file at `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Whether `s` looks like an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn is_http_date(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && DAYS.contains(&&s[0..3])
        && &s[3..5] == ", "
        && digits(5..7)
        && b[7] == b' '
        && MONTHS.contains(&&s[8..11])
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &s[25..] == " GMT"
}

/// Asserts the shape every error response must have: a small HTML body
/// with a matching Content-Length.
pub fn assert_error_body(resp: &Response) {
    let ct = resp.content_type().unwrap_or_default();
    assert!(
        ct.starts_with("text/html"),
        "error response without text/html Content-Type: {resp:?}"
    );
    let len = resp
        .content_length()
        .unwrap_or_else(|| panic!("error response without Content-Length: {resp:?}"));
    assert_eq!(len, resp.body.len() as u64, "{resp:?}");
    assert!(
        !resp.body.is_empty() && resp.body.len() < 4096,
        "error body should be small and non-empty: {resp:?}"
    );
    assert!(
        resp.body_text().contains('<'),
        "error body is not HTML: {resp:?}"
    );
}

// ---------------------------------------------------------------------------
// Document roots
// ---------------------------------------------------------------------------

/// Text of the file placed beside (outside) every document root.
pub const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ROOT";

/// A temporary directory laid out as
///
/// ```text
/// <tmp>/secret.txt           SECRET (outside the root)
/// <tmp>/outside/secret.txt   SECRET (outside the root)
/// <tmp>/www/                 the document root
/// ```
pub struct DocRoot {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Default for DocRoot {
    fn default() -> Self {
        DocRoot::new()
    }
}

impl DocRoot {
    pub fn new() -> DocRoot {
        let tmp = tempfile::Builder::new()
            .prefix("sws-test-")
            .tempdir()
            .expect("create temp dir");
        let root = tmp.path().join("www");
        fs::create_dir(&root).unwrap();
        fs::write(tmp.path().join("secret.txt"), SECRET).unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside").join("secret.txt"), SECRET).unwrap();
        DocRoot { tmp, root }
    }

    /// The document root.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The directory holding the root and the secret files.
    pub fn parent(&self) -> &Path {
        self.tmp.path()
    }

    /// Creates (or replaces) file `rel` under the root, with parent dirs.
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(&path, contents).unwrap();
        path
    }

    /// Creates (or replaces) file `rel` under the root: `len` zero bytes,
    /// sparse, so nothing is written to the disk.
    pub fn sparse_file(&self, rel: &str, len: u64) -> PathBuf {
        let path = self.file(rel, "");
        set_len(&path, len);
        path
    }

    /// Creates directory `rel` (and parents) under the root.
    pub fn dir(&self, rel: &str) -> PathBuf {
        let path = self.root.join(rel);
        fs::create_dir_all(&path).unwrap();
        path
    }

    /// Creates symlink `rel` under the root pointing at `target` (taken
    /// as is: relative targets resolve from the link's directory).
    pub fn symlink(&self, target: impl AsRef<Path>, rel: &str) -> PathBuf {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        std::os::unix::fs::symlink(target, &path).unwrap();
        path
    }
}

/// Cuts file `path` to `len` bytes, or extends it with zeros (sparse).
pub fn set_len(path: &Path, len: u64) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_len(len))
        .unwrap_or_else(|e| panic!("set the length of {}: {e}", path.display()));
}

/// Sets the modification time of file `path`.
pub fn set_mtime(path: &Path, time: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// Sets the modification time of directory `path` (after its entries are
/// made: each new entry changes it).
pub fn set_dir_mtime(path: &Path, time: SystemTime) {
    fs::File::open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// `len` deterministic pseudo-random bytes (splitmix64 from `seed`).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// Position of the first `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// All `href="…"` values in an HTML page (single or double quotes).
pub fn hrefs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("href=") {
        rest = &rest[i + 5..];
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        rest = &rest[1..];
        if let Some(end) = rest.find(quote) {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// Undoes the HTML escapes a listing writes (`&lt;`, `&gt;`, `&quot;`,
/// `&#39;`, `&amp;`).
pub fn html_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Decodes `%XX` escapes into bytes (what a server does with a path).
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII escape");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A link in a page: its `href` and its text, both HTML-unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    pub text: String,
}

/// The `<a href="…">text</a>` links in `html`, in order.
pub fn links(html: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<a href=\"") {
        rest = &rest[start + "<a href=\"".len()..];
        let end = rest.find('"').expect("closing quote");
        let href = html_unescape(&rest[..end]);
        let open_end = rest.find('>').expect("end of <a>");
        let close = rest.find("</a>").expect("</a>");
        out.push(Link {
            href,
            text: html_unescape(&rest[open_end + 1..close]),
        });
        rest = &rest[close..];
    }
    out
}

/// One row of a listing's table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The `<tr>`'s class (`d` for a folder, `l` for a symlink).
    pub class: String,
    pub link: Link,
    pub size: String,
    /// The date cell's `title` (the full HTTP date), if any.
    pub title: Option<String>,
    pub modified: String,
}

/// The rows of `<table id="listing">`'s `<tbody>`, one per entry.
pub fn listing_rows(html: &str) -> Vec<Row> {
    let table = html
        .split_once("<table id=\"listing\">")
        .unwrap_or_else(|| panic!("no listing table:\n{html}"))
        .1;
    let body = table
        .split_once("<tbody>")
        .and_then(|(_, rest)| rest.split_once("</tbody>"))
        .unwrap_or_else(|| panic!("no tbody:\n{html}"))
        .0;
    body.split("<tr")
        .skip(1)
        .map(|row| {
            let class = row
                .strip_prefix(" class=\"")
                .and_then(|rest| rest.split_once('"'))
                .map(|(class, _)| class.to_owned())
                .unwrap_or_default();
            let cells: Vec<&str> = row.split("<td").skip(1).collect();
            assert_eq!(cells.len(), 3, "row with {} cells: {row}", cells.len());
            let text = |cell: &str| {
                let open = cell.find('>').expect("end of <td>");
                html_unescape(&cell[open + 1..cell.find("</td>").expect("</td>")])
            };
            let title = cells[2]
                .split_once("title=\"")
                .map(|(_, rest)| rest.split_once('"').expect("end of title").0.to_owned());
            Row {
                class,
                link: links(cells[0])
                    .into_iter()
                    .next()
                    .expect("a link in the row"),
                size: text(cells[1]),
                title,
                modified: text(cells[2]),
            }
        })
        .collect()
}

/// The links of a listing's breadcrumbs (`<h1 id="crumbs">`).
pub fn breadcrumbs(html: &str) -> Vec<Link> {
    let h1 = html
        .split_once("<h1 id=\"crumbs\">")
        .and_then(|(_, rest)| rest.split_once("</h1>"))
        .unwrap_or_else(|| panic!("no breadcrumbs:\n{html}"))
        .0;
    links(h1)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit. Returns
/// false where the hard limit is below `needed` and [`cannot_run`] lets
/// the test skip.
pub fn raise_fd_limit(needed: u64) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the call to fill in.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    // rlim_t is signed on FreeBSD.
    #[allow(clippy::unnecessary_cast)]
    let max = limit.rlim_max as u64;
    if max < needed {
        cannot_run(&format!(
            "the hard open-file limit ({max}) is below the {needed} this test needs"
        ));
        return false;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit that the call only reads.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
        assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
    }
    true
}

/// A request with extra header lines.
pub fn raw_request(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    req
}

/// Sends one request on `client` and reads its response.
pub fn exchange(
    client: &mut Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    client.send(raw_request(method, path, headers).as_bytes());
    if method == "HEAD" {
        client.read_head_response()
    } else {
        client.read_response()
    }
}

/// A GET of `path` on a fresh connection, with `Accept-Encoding: ae`
/// when given.
pub fn get_encoded(server: &Server, path: &str, ae: Option<&str>) -> Response {
    match ae {
        Some(ae) => fetch(server, "GET", path, &[("Accept-Encoding", ae)]),
        None => fetch(server, "GET", path, &[]),
    }
}

/// The response's `ETag`, which must be a strong one.
pub fn etag(resp: &Response) -> String {
    let tag = resp
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {resp:?}"));
    assert!(
        tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"'),
        "not a strong ETag: {tag:?}"
    );
    tag.to_string()
}

/// One request on a fresh connection.
pub fn fetch(server: &Server, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    exchange(&mut server.client(), method, path, headers)
}

/// Opens `count` keep-alive connections in batches (connect and send a GET
/// for `path` on each of a batch, then read every response and hand it to
/// `check` with the connection's index), leaving each idle. Batches keep
/// the server's accept backlog from overflowing.
pub fn open_idle(
    server: &Server,
    path: &str,
    count: usize,
    batch: usize,
    deadline: Instant,
    mut check: impl FnMut(usize, &Response),
) -> Vec<Client> {
    let request = get_request(path);
    let mut clients: Vec<Client> = Vec::with_capacity(count);
    while clients.len() < count {
        assert!(
            Instant::now() < deadline,
            "opening idle connections too slow: {} of {count} after the deadline",
            clients.len()
        );
        let start = clients.len();
        for _ in start..(start + batch).min(count) {
            let mut client = server.client();
            client.send(request.as_bytes());
            clients.push(client);
        }
        for (i, client) in clients.iter_mut().enumerate().skip(start) {
            let resp = client.read_response();
            check(i, &resp);
        }
    }
    clients
}

/// The access-log line (on stdout) for a `GET` of `target`, waited for
/// (at most 5 s).
pub fn logged(server: &Server, target: &str) -> String {
    let needle = format!("\"GET {target} HTTP/1.1\"");
    server
        .wait_stdout_line(Duration::from_secs(5), |l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no line for {target}: {:?}", server.stdout_lines()))
}
