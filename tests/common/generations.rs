//! Helpers for the upgrade tests: the next generation of the server (a
//! process the test did not start itself), keep-alive clients that keep
//! asking across a hand-over, and a small client over any byte stream.

use super::{IO_TIMEOUT, get_request, poll_until, raw_request};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A process this test started indirectly (a new generation): killed on
/// drop if still there.
pub struct Generation(pub u32);

impl Generation {
    pub fn running(&self) -> bool {
        // A process that exited but was not reaped yet (its parent, init,
        // may be slow) shows as a zombie.
        fs::read_to_string(format!("/proc/{}/stat", self.0))
            .is_ok_and(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
    }

    pub fn signal(&self, sig: libc::c_int) {
        if self.running() {
            // SAFETY: kill(2) has no memory-safety preconditions; the PID
            // is a process this test started (checked running just before).
            unsafe { libc::kill(self.0 as libc::pid_t, sig) };
        }
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

/// What the looping clients saw.
#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// Keep-alive clients, each on its own thread, asking for `/a.txt` over
/// and over ([`keep_asking`]) until [`finish`](Loopers::finish), or until
/// dropped (which checks their failures too, unless the test is already
/// failing).
#[derive(Default)]
pub struct Loopers {
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    threads: Vec<JoinHandle<()>>,
}

impl Loopers {
    /// Starts one more client, on connections that `connect` opens.
    pub fn spawn<S: Read + Write>(&mut self, connect: impl Fn() -> io::Result<S> + Send + 'static) {
        let (stop, tally) = (self.stop.clone(), self.tally.clone());
        self.threads
            .push(thread::spawn(move || keep_asking(connect, &stop, &tally)));
    }

    /// Waits (at most 20 s) until `more` requests past those answered so
    /// far are answered; fails the test, with the clients' failures, if
    /// they are not (a client stops at its first failure, so once all have
    /// stopped it fails at once).
    #[track_caller]
    pub fn wait_answered(&self, more: u64) {
        let answered = || self.tally.answered.load(Ordering::Relaxed);
        let target = answered() + more;
        let all_stopped = || self.threads.iter().all(JoinHandle::is_finished);
        poll_until(Duration::from_secs(20), || {
            answered() >= target || all_stopped()
        });
        assert!(
            answered() >= target,
            "{} of {target} requests answered; {}",
            answered(),
            Self::describe(&self.tally.failures.lock().unwrap())
        );
    }

    /// Stops the clients and asserts that none of them saw a failure.
    pub fn finish(mut self) {
        self.stop_all();
    }

    /// Stops and joins the clients, then, unless the test is already
    /// failing, asserts that none of them failed or panicked.
    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let panicked = (self.threads.drain(..))
            .map(JoinHandle::join)
            .filter(Result::is_err)
            .count();
        if !thread::panicking() {
            assert_eq!(panicked, 0, "a looping client panicked");
            let failures = self.tally.failures.lock().unwrap();
            assert!(failures.is_empty(), "{}", Self::describe(&failures));
        }
    }

    /// How many failed, and the first few failures.
    fn describe(failures: &[String]) -> String {
        let first = &failures[..failures.len().min(5)];
        format!("{} failed: {first:?}", failures.len())
    }
}

impl Drop for Loopers {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop_all();
        }
    }
}

/// Asks for `/a.txt` over and over on keep-alive connections that
/// `connect` opens, reconnecting after `Connection: close`, until `stop`.
/// Anything else (an error, a wrong answer, a refused connection) is a
/// failure.
fn keep_asking<S: Read + Write>(
    connect: impl Fn() -> io::Result<S>,
    stop: &AtomicBool,
    tally: &Tally,
) {
    let fail = |what: String| tally.failures.lock().unwrap().push(what);
    let mut client = None;
    while !stop.load(Ordering::SeqCst) {
        let c = match client.as_mut() {
            Some(c) => c,
            None => match connect() {
                Ok(stream) => client.insert(RawClient::new(stream)),
                Err(err) => return fail(format!("connect: {err}")),
            },
        };
        match c.get("/a.txt", false) {
            Ok(answer) if answer.status == 200 && answer.body == b"alpha\n" => {
                tally.answered.fetch_add(1, Ordering::Relaxed);
                if answer.close {
                    client = None;
                }
            }
            Ok(answer) => return fail(format!("status {}", answer.status)),
            Err(err) => return fail(format!("request: {err}")),
        }
    }
}

/// The PID a `--pid-file` holds, if it holds one.
pub fn read_pid(pid_file: &Path) -> Option<u32> {
    fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// Waits (at most 20 s) until `pid_file` names a process other than `old`:
/// the next generation, killed when the test drops it.
pub fn wait_new_generation(pid_file: &Path, old: u32) -> Generation {
    let mut pid = None;
    let changed = poll_until(Duration::from_secs(20), || {
        pid = read_pid(pid_file).filter(|&p| p != old);
        pid.is_some()
    });
    assert!(changed, "the PID file still names {old}");
    Generation(pid.unwrap())
}

/// A TCP connection for [`keep_asking`], with the tests' read timeout.
pub fn tcp_with_timeout(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// A Unix-socket connection for [`keep_asking`], with the tests' read
/// timeout.
pub fn unix_with_timeout(path: &Path) -> io::Result<UnixStream> {
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// One response, as [`RawClient`] read it.
pub struct Answer {
    pub status: u16,
    /// It said `Connection: close`.
    pub close: bool,
    pub body: Vec<u8>,
}

/// A small HTTP/1.1 client over any byte stream (a Unix socket, where the
/// common `Client` speaks TCP), for keep-alive exchanges.
pub struct RawClient<S: Read + Write> {
    reader: BufReader<S>,
}

impl<S: Read + Write> RawClient<S> {
    pub fn new(stream: S) -> RawClient<S> {
        RawClient {
            reader: BufReader::new(stream),
        }
    }

    /// `GET target`, with `Connection: close` if `close`, and its response
    /// (framed by `Content-Length`, which every answer here has).
    pub fn get(&mut self, target: &str, close: bool) -> io::Result<Answer> {
        let request = match close {
            true => raw_request("GET", target, &[("Connection", "close")]),
            false => get_request(target),
        };
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            lines.push(line);
        }
        let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("{lines:?}"));
        let status = (lines.first().and_then(|l| l.split(' ').nth(1)))
            .and_then(|code| code.parse().ok())
            .ok_or_else(bad)?;
        let field = |name: &str| {
            lines.iter().skip(1).find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let length: usize = field("Content-Length")
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        let close = field("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        Ok(Answer {
            status,
            close,
            body,
        })
    }

    /// The server closed the connection (after everything was read).
    pub fn at_end(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}
