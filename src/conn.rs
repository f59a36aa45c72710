//! One client connection: its socket, buffers and state. A connection is
//! served until it would block or must close; its worker then waits for the
//! next readiness event or deadline.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::unix::io::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::access_log;
use crate::config::Config;
use crate::deadlines::Wait;
use crate::files::{FileCache, Root};
use crate::http::{self, Body, Clock, Head, Method, Payload, Reply, Request, Status, Version};
use crate::pool::LoadGuard;

/// Size of a connection's read buffer: exactly the largest header section
/// we accept, so a full buffer without a complete request is a `431`.
const READ_BUFFER: usize = http::MAX_HEADER_BYTES;
/// Room for a response head and a small file's body (see `files::INLINE_BODY`).
const OUTPUT_BUFFER: usize = 1024 + crate::files::INLINE_BODY as usize;
/// Most bytes one `sendfile` call may send (bounded chunks keep latency even).
const SENDFILE_CHUNK: u64 = 256 * 1024;
/// Most bytes sent to one connection per turn, so one fast download does not
/// hold up its neighbours on the same worker.
const WRITE_BUDGET: u64 = 1024 * 1024;
/// Most requests answered on one connection per turn (pipelining).
const REQUEST_BUDGET: u32 = 64;
/// How long, and how much, we keep reading from a client after shutting down
/// our side, so it sees our response and not a reset.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: u64 = 1024 * 1024;
/// Buffers a worker keeps for reuse.
const POOLED_BUFFERS: usize = 64;

/// What the worker does with a connection after serving it.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for readiness or the connection's deadline.
    Wait,
    /// Still has work but used its turn: serve it again after the others.
    Yield,
    /// Close and forget it.
    Close,
}

/// Where a connection stands between two readiness events.
enum State {
    /// Waiting for a request; nothing of it has arrived yet. A new
    /// connection starts here too (with the header deadline).
    Idle { since: Instant },
    /// Part of a request has arrived; the header deadline runs from `since`.
    Reading { since: Instant },
    /// A response is being sent.
    Writing(Box<Outgoing>),
    /// Our side is shut down; reading and dropping what the client still sends.
    Closing { since: Instant, drained: u64 },
}

/// Everything a connection needs from its worker while it is served.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub root: &'a Root,
    pub clock: &'a Clock,
    pub now: Instant,
    /// The server is shutting down: answer what has started, then close.
    pub draining: bool,
    pub buffers: &'a mut Buffers,
    pub cache: &'a mut FileCache,
    pub requests: &'a mut u64,
    pub bytes: &'a mut u64,
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
    /// Received bytes not yet consumed; `None` while nothing is buffered, so
    /// an idle connection holds no buffer.
    input: Option<Input>,
    /// Bytes of a request body still to be skipped before the next request.
    discard: u64,
    /// The socket may have more to read: a readiness event came, or the
    /// last read filled the buffer. A short read means the kernel had no
    /// more, and edge-triggered polling reports whatever arrives later.
    may_read: bool,
    /// Requests answered on this connection.
    served: u64,
    _load: LoadGuard,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr, accepted: Instant, load: LoadGuard) -> Conn {
        Conn {
            stream,
            peer,
            state: State::Idle { since: accepted },
            input: None,
            discard: 0,
            may_read: true,
            served: 0,
            _load: load,
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Whether the connection waits between requests (closed first on shutdown).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle { .. }) && self.input.is_none()
    }

    /// What the connection waits for now, and until when.
    pub fn deadline(&self, config: &Config) -> (Wait, Instant) {
        match &self.state {
            State::Idle { since } if self.served == 0 => {
                (Wait::Header, *since + config.header_timeout)
            }
            State::Idle { since } => (Wait::Idle, *since + config.keepalive_timeout),
            State::Reading { since } => (Wait::Header, *since + config.header_timeout),
            State::Writing(out) => (Wait::Write, out.progress + config.write_timeout),
            State::Closing { since, .. } => (Wait::Linger, *since + LINGER),
        }
    }

    /// Serves the connection after a readiness event (or a yield) until it
    /// would block, must close, or has used its turn.
    pub fn drive(&mut self, readable: bool, ctx: &mut Ctx) -> Next {
        if readable {
            self.may_read = true;
        }
        let mut requests = 0;
        let mut budget = WRITE_BUDGET;
        loop {
            match &mut self.state {
                State::Writing(out) => match out.send(&self.stream, &mut budget, ctx) {
                    Ok(Sent::All) => {
                        let State::Writing(out) =
                            std::mem::replace(&mut self.state, State::Idle { since: ctx.now })
                        else {
                            unreachable!("matched Writing above")
                        };
                        let close = out.close;
                        self.finish(*out, ctx);
                        if close {
                            return self.begin_close(ctx);
                        }
                        if !self.may_read && self.input.is_none() {
                            // Nothing buffered and the socket was drained:
                            // reading now would only return EAGAIN.
                            return if ctx.draining {
                                Next::Close
                            } else {
                                Next::Wait
                            };
                        }
                    }
                    Ok(Sent::Blocked) => return Next::Wait,
                    Ok(Sent::BudgetSpent) => return Next::Yield,
                    Err(err) => {
                        log::debug!("{}: write failed: {err}", self.peer);
                        if let State::Writing(out) = &self.state {
                            out.log_aborted(self.peer, ctx);
                        }
                        return Next::Close;
                    }
                },
                State::Idle { .. } | State::Reading { .. } => {
                    if self.take_request(ctx) {
                        requests += 1;
                        if requests >= REQUEST_BUDGET {
                            return Next::Yield;
                        }
                        continue;
                    }
                    if !matches!(self.state, State::Idle { .. } | State::Reading { .. }) {
                        continue; // an error response was queued
                    }
                    if !self.may_read {
                        return self.wait_for_input(ctx);
                    }
                    match self.read(ctx) {
                        Ok(0) => return Next::Close,
                        Ok(_) => {
                            if let State::Idle { .. } = self.state {
                                self.state = State::Reading { since: ctx.now };
                            }
                        }
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                            return self.wait_for_input(ctx);
                        }
                        Err(err) => {
                            log::debug!("{}: read failed: {err}", self.peer);
                            return Next::Close;
                        }
                    }
                }
                State::Closing { drained, .. } => {
                    let mut scratch = [0u8; 4096];
                    loop {
                        match self.stream.read(&mut scratch) {
                            Ok(0) => return Next::Close,
                            Ok(n) => {
                                *drained += n as u64;
                                if *drained > LINGER_BYTES {
                                    return Next::Close;
                                }
                            }
                            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                                return Next::Wait;
                            }
                            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => return Next::Close,
                        }
                    }
                }
            }
        }
    }

    /// The connection's deadline passed.
    pub fn expire(&mut self, ctx: &mut Ctx) -> Next {
        match &self.state {
            State::Reading { .. } => {
                log::debug!("{}: header timeout", self.peer);
                let raw = self.input.as_ref().map(Input::data).unwrap_or_default();
                let line = access_log::sanitize(raw);
                self.queue(
                    Reply::error(Status::RequestTimeout),
                    false,
                    true,
                    false,
                    line,
                    ctx,
                );
                self.drive(false, ctx)
            }
            State::Writing(out) => {
                log::debug!("{}: write timeout", self.peer);
                out.log_aborted(self.peer, ctx);
                Next::Close
            }
            State::Idle { .. } | State::Closing { .. } => Next::Close,
        }
    }

    /// Called when shutdown starts: an idle connection gets one last look
    /// for a request that already arrived, and is closed otherwise.
    pub fn drain(&mut self, ctx: &mut Ctx) -> Next {
        if self.is_idle() {
            self.drive(true, ctx)
        } else {
            Next::Wait
        }
    }

    /// Nothing more to read for now: wait, or close an idle connection
    /// during shutdown.
    fn wait_for_input(&mut self, ctx: &mut Ctx) -> Next {
        self.release_input(ctx);
        if ctx.draining && self.is_idle() {
            return Next::Close;
        }
        Next::Wait
    }

    /// Gives the input buffer back to the worker if it holds nothing, so a
    /// connection between requests holds no buffer.
    fn release_input(&mut self, ctx: &mut Ctx) {
        if self.input.as_ref().is_some_and(Input::is_empty) {
            let input = self.input.take().expect("checked above");
            ctx.buffers.put_input(input.buf);
        }
    }

    /// Reads what the socket has into the input buffer.
    fn read(&mut self, ctx: &mut Ctx) -> io::Result<usize> {
        let input = self
            .input
            .get_or_insert_with(|| Input::new(ctx.buffers.take_input()));
        input.make_room();
        let space = input.space();
        if space.is_empty() {
            // A full buffer is always a complete request or a 431; never here.
            return Err(io::Error::other("input buffer full"));
        }
        let wanted = space.len();
        loop {
            match self.stream.read(space) {
                Ok(n) => {
                    input.end += n;
                    self.may_read = n == wanted;
                    return Ok(n);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    if err.kind() == io::ErrorKind::WouldBlock {
                        self.may_read = false;
                    }
                    return Err(err);
                }
            }
        }
    }

    /// Skips body bytes, then parses a buffered request and queues its
    /// response. Returns whether a request was taken; a malformed request
    /// queues an error response (and returns false).
    fn take_request(&mut self, ctx: &mut Ctx) -> bool {
        let Some(input) = self.input.as_mut() else {
            return false;
        };
        if self.discard > 0 {
            let skipped = self.discard.min(input.len() as u64);
            input.consume(skipped as usize);
            self.discard -= skipped;
        }
        if input.is_empty() {
            self.release_input(ctx);
            return false;
        }
        match http::parse(input.data()) {
            Ok(Some(request)) => {
                input.consume(request.head_len);
                self.release_input(ctx);
                self.respond(request, ctx);
                true
            }
            Ok(None) => {
                if let State::Idle { .. } = self.state {
                    self.state = State::Reading { since: ctx.now };
                }
                false
            }
            Err(err) => {
                log::debug!(
                    "{}: bad request: {} ({})",
                    self.peer,
                    err.reason,
                    err.status.code()
                );
                let line = access_log::sanitize(input.data());
                self.queue(Reply::error(err.status), false, true, false, line, ctx);
                false
            }
        }
    }

    /// Builds the response to a parsed request and queues it.
    fn respond(&mut self, request: Request, ctx: &mut Ctx) {
        *ctx.requests += 1;
        let chunked = request.body == Body::Chunked;
        self.discard = match request.body {
            Body::Length(n) => n,
            _ => 0,
        };
        let reply = match request.method {
            // We don't read chunked bodies: refuse, and close (the body
            // is still on the wire and must never be read as a request).
            Method::Get | Method::Head if chunked => Reply::error(Status::LengthRequired),
            Method::Get | Method::Head => ctx.root.serve(&request.target, ctx.cache, ctx.now),
            Method::NotAllowed => Reply::error(Status::MethodNotAllowed),
            Method::Unknown => Reply::error(Status::NotImplemented),
        };
        let close = !request.keep_alive || chunked || ctx.draining;
        let announce_keep_alive = request.version == Version::Http10 && !close;
        let line = if ctx.config.access_log {
            format!(
                "{} {} {}",
                request.method_name,
                request.target,
                request.version.as_str()
            )
        } else {
            String::new()
        };
        let head_only = request.method == Method::Head;
        self.queue(reply, head_only, close, announce_keep_alive, line, ctx);
    }

    /// Encodes `reply` and makes it the response being written.
    fn queue(
        &mut self,
        reply: Reply,
        head_only: bool,
        close: bool,
        announce_keep_alive: bool,
        request_line: String,
        ctx: &mut Ctx,
    ) {
        let out = Outgoing::encode(
            reply,
            head_only,
            close,
            announce_keep_alive,
            request_line,
            ctx,
        );
        self.state = State::Writing(Box::new(out));
    }

    /// A response went out completely.
    fn finish(&mut self, out: Outgoing, ctx: &mut Ctx) {
        self.served += 1;
        out.log_done(self.peer, ctx);
        ctx.buffers.put_output(out.buf);
    }

    /// After a response that closes the connection. If the client may still
    /// be sending (unread input or body), shut our side and drain theirs
    /// first, so it reads the response instead of a reset.
    fn begin_close(&mut self, ctx: &mut Ctx) -> Next {
        let unread = self.discard > 0 || self.input.as_ref().is_some_and(|i| !i.is_empty());
        if let Some(input) = self.input.take() {
            ctx.buffers.put_input(input.buf);
        }
        if !unread {
            return Next::Close;
        }
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return Next::Close;
        }
        self.state = State::Closing {
            since: ctx.now,
            drained: 0,
        };
        self.drive(true, ctx)
    }
}

/// Received bytes: `buf[start..end]` is what is not consumed yet.
struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    fn new(buf: Vec<u8>) -> Input {
        Input {
            buf,
            start: 0,
            end: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Moves unconsumed bytes to the front so the free space is contiguous.
    fn make_room(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }
}

/// A response on its way out: the head (and a small body) from `buf`, then
/// any file part with `sendfile`.
struct Outgoing {
    buf: Vec<u8>,
    written: usize,
    head_len: usize,
    file: Option<FilePart>,
    /// Close the connection once this is sent.
    close: bool,
    /// When the last byte went out (the write deadline runs from here).
    progress: Instant,
    status: Status,
    request_line: String,
    body_sent: u64,
}

struct FilePart {
    file: Rc<File>,
    offset: u64,
    remaining: u64,
}

enum Sent {
    All,
    Blocked,
    BudgetSpent,
}

impl Outgoing {
    fn encode(
        reply: Reply,
        head_only: bool,
        close: bool,
        announce_keep_alive: bool,
        request_line: String,
        ctx: &mut Ctx,
    ) -> Outgoing {
        let mut buf = ctx.buffers.take_output();
        let length = reply.payload.len();
        let mut head = Head::new(&mut buf, reply.status, ctx.clock.http_date());
        if let Some(content_type) = reply.content_type {
            head.header("Content-Type", content_type);
        }
        if let Some(rep) = &reply.representation {
            head.header("Content-Type", &rep.content_type);
            if let Some(modified) = &rep.last_modified {
                head.header("Last-Modified", modified);
            }
        }
        if let Some(location) = &reply.location {
            head.header("Location", location);
        }
        if let Some(allow) = reply.allow {
            head.header("Allow", allow);
        }
        head.content_length(length);
        if close {
            head.header("Connection", "close");
        } else if announce_keep_alive {
            head.header("Connection", "keep-alive");
        }
        head.finish();
        let head_len = buf.len();
        let mut file = None;
        if !head_only {
            match reply.payload {
                Payload::Bytes(bytes) => buf.extend_from_slice(&bytes),
                Payload::Shared(bytes) => buf.extend_from_slice(&bytes),
                Payload::File {
                    file: f,
                    offset,
                    len,
                } => {
                    file = Some(FilePart {
                        file: f,
                        offset,
                        remaining: len,
                    })
                }
            }
        }
        Outgoing {
            buf,
            written: 0,
            head_len,
            file,
            close,
            progress: ctx.now,
            status: reply.status,
            request_line,
            body_sent: 0,
        }
    }

    /// Sends as much as the socket takes, within `budget`.
    fn send(&mut self, stream: &TcpStream, budget: &mut u64, ctx: &mut Ctx) -> io::Result<Sent> {
        while self.written < self.buf.len() {
            match (&*stream).write(&self.buf[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let body = (self.written + n).saturating_sub(self.head_len.max(self.written));
                    self.body_sent += body as u64;
                    self.written += n;
                    *budget = budget.saturating_sub(n as u64);
                    *ctx.bytes += n as u64;
                    self.progress = ctx.now;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Blocked),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        while let Some(part) = self.file.as_mut() {
            if part.remaining == 0 {
                self.file = None;
                break;
            }
            if *budget == 0 {
                return Ok(Sent::BudgetSpent);
            }
            let chunk = part.remaining.min(SENDFILE_CHUNK).min(*budget);
            match sendfile(stream, &part.file, &mut part.offset, chunk) {
                Ok(0) => {
                    // The file shrank under us: the promised length can't be met.
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
                }
                Ok(n) => {
                    part.remaining -= n;
                    self.body_sent += n;
                    *budget = budget.saturating_sub(n);
                    *ctx.bytes += n;
                    self.progress = ctx.now;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Blocked),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(Sent::All)
    }

    fn log_done(&self, peer: SocketAddr, ctx: &Ctx) {
        if ctx.config.access_log {
            access_log::log(
                peer.ip(),
                ctx.clock.clf_date(),
                &self.request_line,
                self.status.code(),
                self.body_sent,
            );
        }
    }

    fn log_aborted(&self, peer: SocketAddr, ctx: &Ctx) {
        self.log_done(peer, ctx);
    }
}

/// `sendfile(2)` from `file` at `offset` to the socket, advancing `offset`.
fn sendfile(stream: &TcpStream, file: &File, offset: &mut u64, count: u64) -> io::Result<u64> {
    let mut off = *offset as libc::off_t;
    // SAFETY: both descriptors are open for the whole call (borrowed from
    // `stream` and `file`), and `off` is a valid, exclusive pointer to an
    // initialised off_t that the kernel updates.
    let n = unsafe {
        libc::sendfile(
            stream.as_raw_fd(),
            file.as_raw_fd(),
            &mut off,
            count as usize,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(n as u64)
}

/// A worker's spare buffers, so a connection holds buffers only while it is
/// busy and an idle one holds none.
pub struct Buffers {
    input: Vec<Vec<u8>>,
    output: Vec<Vec<u8>>,
}

impl Buffers {
    pub fn new() -> Buffers {
        Buffers {
            input: Vec::new(),
            output: Vec::new(),
        }
    }

    fn take_input(&mut self) -> Vec<u8> {
        self.input.pop().unwrap_or_else(|| vec![0; READ_BUFFER])
    }

    fn put_input(&mut self, buf: Vec<u8>) {
        if self.input.len() < POOLED_BUFFERS {
            self.input.push(buf);
        }
    }

    fn take_output(&mut self) -> Vec<u8> {
        self.output
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(OUTPUT_BUFFER))
    }

    fn put_output(&mut self, mut buf: Vec<u8>) {
        // Don't keep what a huge listing grew.
        if self.output.len() < POOLED_BUFFERS && buf.capacity() <= 4 * OUTPUT_BUFFER {
            buf.clear();
            self.output.push(buf);
        }
    }
}
