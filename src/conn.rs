//! One client connection: its socket, buffers and state. A connection is
//! served until it would block or must close; its worker then waits for the
//! next readiness event or deadline.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use crate::access_log::{self, AccessLog, Logged};
use crate::admin;
use crate::auth::{self, Verdict};
use crate::config::Config;
use crate::deadlines::Wait;
use crate::files::{FileCache, Root};
use crate::http::{
    self, Body, ChunkError, Chunked, Clock, Method, Reply, Request, Status, Version,
};
use crate::metrics::{Board, MethodLabel, Metrics};
use crate::outgoing;
use crate::outgoing::{Framing, Outgoing, Sent};
use crate::policy::Policy;
use crate::pool::LoadGuard;
use crate::proxy;
use crate::stream::{Peer, Stream};
use crate::transport::{self, Transport};

/// Size of a connection's read buffer: exactly the largest header section
/// we accept, so a full buffer without a complete request is a `431`.
const READ_BUFFER: usize = http::MAX_HEADER_BYTES;
/// Room for a response head and a copied body.
const OUTPUT_BUFFER: usize = 1024 + outgoing::COPY_LIMIT;
/// Most bytes sent to one connection per turn, so one fast download does not
/// hold up its neighbours on the same worker.
const WRITE_BUDGET: u64 = 2 * 1024 * 1024;
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

/// What one turn of a connection may still use.
struct Turn {
    /// Requests answered this turn (pipelining).
    requests: u32,
    /// Bytes that may still be written this turn.
    budget: u64,
}

/// Where a connection stands between two readiness events.
enum State {
    /// `--proxy-protocol`: waiting for the balancer's PROXY header, which
    /// comes before anything else, under the header deadline.
    Proxy { since: Instant },
    /// Waiting for a request; nothing of it has arrived yet. A new
    /// connection starts here too (with the header deadline).
    Idle { since: Instant },
    /// Part of a request has arrived; the header deadline runs from `since`.
    Reading { since: Instant },
    /// A response is being sent.
    Writing(Box<Outgoing>),
    /// A response that closes the connection is out; the end of the stream
    /// (TLS: `close_notify`) is going out. Then, if the client may still be
    /// sending, our side is shut and theirs drained (`linger`).
    Ending { since: Instant, linger: bool },
    /// Our side is shut down; reading and dropping what the client still sends.
    Closing { since: Instant, drained: u64 },
}

/// Everything a connection needs from its worker while it is served.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub root: &'a Root,
    /// What this connection's listener adds and asks (`--header`,
    /// `--cors`, `--auth`); nothing on the admin listener.
    pub policy: &'a Policy,
    pub clock: &'a Clock,
    pub now: Instant,
    /// The server is shutting down: every answer closes its connection.
    pub draining: bool,
    /// Later in the shutdown: idle connections close too.
    pub close_idle: bool,
    pub buffers: &'a mut Buffers,
    /// Where access-log lines go; `None` with `--quiet`.
    pub access_log: Option<&'a AccessLog>,
    pub cache: &'a mut FileCache,
    /// The worker's counters for `/metrics`.
    pub metrics: &'a mut Metrics,
    /// What the admin listener reports.
    pub board: &'a Board,
}

/// One client connection.
pub struct Conn {
    transport: Transport,
    peer: Peer,
    state: State,
    /// Received bytes not yet consumed; `None` while nothing is buffered, so
    /// an idle connection holds no buffer.
    input: Option<Input>,
    /// Bytes of a request body still to be skipped before the next request.
    discard: u64,
    /// A request whose chunked body is being read (answered once it ends).
    body: Option<Box<PendingBody>>,
    /// The socket may have more to read: a readiness event came, or the
    /// last read filled the buffer. A short read means the kernel had no
    /// more, and edge-triggered polling reports whatever arrives later.
    may_read: bool,
    /// Requests answered on this connection.
    served: u64,
    /// Wrong or malformed credentials sent on this connection (`--auth`);
    /// at [`auth::MAX_FAILURES`] it closes.
    auth_failures: u32,
    /// The client shut down its side (FIN seen by the poll): whatever we
    /// read, an end of stream follows, and no further event will say so.
    peer_closed: bool,
    /// The socket is in its worker's poll (it joins when it first waits).
    pub registered: bool,
    /// `TCP_NODELAY` is set (before the first write that could be delayed).
    nodelay: bool,
    /// It came to the admin listener: answered by [`admin::respond`].
    admin: bool,
    _load: LoadGuard,
}

impl Conn {
    /// A new connection; with `proxy`, it must start with a PROXY header.
    pub fn new(
        transport: Transport,
        peer: Peer,
        accepted: Instant,
        proxy: bool,
        load: LoadGuard,
    ) -> Conn {
        let nodelay = transport.has_nodelay();
        Conn {
            transport,
            peer,
            state: if proxy {
                State::Proxy { since: accepted }
            } else {
                State::Idle { since: accepted }
            },
            input: None,
            discard: 0,
            body: None,
            may_read: true,
            served: 0,
            auth_failures: 0,
            peer_closed: false,
            registered: false,
            nodelay,
            admin: false,
            _load: load,
        }
    }

    /// Makes this an admin-listener connection (`/health`, `/metrics`).
    pub fn for_admin(mut self) -> Conn {
        self.admin = true;
        self
    }

    /// It came to the admin listener.
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// A TLS handshake began and has not completed.
    pub fn is_handshaking(&self) -> bool {
        self.transport.is_handshaking()
    }

    pub fn socket(&mut self) -> &mut Stream {
        self.transport.socket()
    }

    /// Whether the connection waits between requests (closed first on
    /// shutdown). One in the middle of a TLS handshake is about to send a
    /// request, like one that sent part of it.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle { .. } | State::Proxy { .. })
            && self.input.is_none()
            && !self.transport.is_handshaking()
    }

    /// What the connection waits for now, and until when.
    pub fn deadline(&self, config: &Config) -> (Wait, Instant) {
        match &self.state {
            State::Proxy { since } => (Wait::Header, *since + config.header_timeout),
            State::Idle { since } if self.served == 0 => {
                (Wait::Header, *since + config.header_timeout)
            }
            State::Idle { since } => (Wait::Idle, *since + config.keepalive_timeout),
            State::Reading { since } => (Wait::Header, *since + config.header_timeout),
            State::Writing(out) => (Wait::Write, out.progress + config.write_timeout),
            State::Ending { since, .. } => (Wait::Write, *since + config.write_timeout),
            State::Closing { since, .. } => (Wait::Linger, *since + LINGER),
        }
    }

    /// Serves the connection after a readiness event (or a yield) until it
    /// would block, must close, or has used its turn: one step per state
    /// until a step says what the worker should do next.
    pub fn drive(&mut self, readable: bool, ctx: &mut Ctx) -> Next {
        if readable {
            self.may_read = true;
        }
        self.drive_turn(ctx)
    }

    /// After a readiness event that says the client shut down its side.
    pub fn drive_closed(&mut self, ctx: &mut Ctx) -> Next {
        self.peer_closed = true;
        self.drive(true, ctx)
    }

    fn drive_turn(&mut self, ctx: &mut Ctx) -> Next {
        let mut turn = Turn {
            requests: 0,
            budget: WRITE_BUDGET,
        };
        loop {
            let step = match self.state {
                State::Writing(_) => self.write_step(&mut turn, ctx),
                State::Idle { .. } | State::Reading { .. } => self.read_step(&mut turn, ctx),
                State::Ending { .. } => self.end_step(ctx),
                State::Proxy { .. } => self.proxy_step(ctx),
                State::Closing { .. } => self.linger_step(),
            };
            if let Some(next) = step {
                return next;
            }
        }
    }

    /// Sends what the socket takes of the response; when it is all out,
    /// goes on to the next request or closes.
    fn write_step(&mut self, turn: &mut Turn, ctx: &mut Ctx) -> Option<Next> {
        let State::Writing(out) = &mut self.state else {
            unreachable!("write_step outside Writing");
        };
        if !self.nodelay && (self.served > 0 || out.in_pieces()) {
            set_nodelay(self.transport.socket(), &mut self.nodelay);
        }
        match out.send(&mut self.transport, &mut turn.budget, ctx) {
            Ok(Sent::All) => {}
            Ok(Sent::Blocked) => {
                // The rest goes out as the client makes room: don't let
                // Nagle hold back its tail.
                set_nodelay(self.transport.socket(), &mut self.nodelay);
                return Some(Next::Wait);
            }
            Ok(Sent::BudgetSpent) => return Some(Next::Yield),
            Err(err) => {
                log::debug!("{}: write failed: {err}", self.peer);
                out.done(self.peer, ctx);
                return Some(Next::Close);
            }
        }
        let State::Writing(out) =
            std::mem::replace(&mut self.state, State::Idle { since: ctx.now })
        else {
            unreachable!("matched Writing above");
        };
        let close = out.close;
        self.finish(*out, ctx);
        if close {
            return Some(self.begin_close(ctx));
        }
        if !self.may_read && self.input.is_none() {
            // Nothing buffered and the socket was drained: reading now
            // would only return EAGAIN. Once idle connections are being
            // closed, close, with a clean end of stream once the socket
            // takes it.
            if !ctx.close_idle {
                return Some(Next::Wait);
            }
            self.state = State::Ending {
                since: ctx.now,
                linger: false,
            };
        }
        None
    }

    /// Answers a buffered request, or reads more of one.
    fn read_step(&mut self, turn: &mut Turn, ctx: &mut Ctx) -> Option<Next> {
        // What the transport still holds (a TLS handshake flight the socket
        // had no room for) goes first: this may be the writable event it
        // waited for. No system call when nothing is pending.
        if let Err(err) = self.transport.flush() {
            log::debug!("{}: write failed: {err}", self.peer);
            return Some(Next::Close);
        }
        if self.take_request(ctx) {
            turn.requests += 1;
            return (turn.requests >= REQUEST_BUDGET).then_some(Next::Yield);
        }
        if matches!(self.state, State::Writing(_)) {
            return None; // an error response was queued
        }
        if !self.may_read {
            return Some(self.wait_for_input(ctx));
        }
        match self.read(ctx) {
            Ok(0) => Some(Next::Close),
            // Idle → Reading happens in `take_request`, once the bytes turn
            // out to be (part of) a request and not a body being skipped.
            Ok(_) => None,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Some(self.wait_for_input(ctx)),
            // The read used its budget: the others' turn, then read on.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Some(Next::Yield),
            Err(err) if transport::is_plain_http(&err) => {
                log::debug!("{}: {err}", self.peer);
                // Whatever the client sends from here on is skipped, so
                // that it reads this answer rather than a reset.
                self.discard = u64::MAX;
                let framing = Framing::closing(Logged::unparsed("-".into()));
                self.queue(Reply::https_required(), framing, ctx);
                None
            }
            Err(err) => {
                log::debug!("{}: read failed: {err}", self.peer);
                Some(Next::Close)
            }
        }
    }

    /// Takes the PROXY header off the socket once it is all there (looked
    /// at with `MSG_PEEK`, so nothing after it is read before its time:
    /// it may be a TLS handshake), and from then on logs the client it
    /// names. Anything that is not a valid header closes the connection.
    fn proxy_step(&mut self, ctx: &Ctx) -> Option<Next> {
        let State::Proxy { since } = self.state else {
            unreachable!("proxy_step outside Proxy");
        };
        let mut buf = [0u8; proxy::MAX_HEADER];
        let socket = self.transport.socket();
        let seen = match socket.peek(&mut buf) {
            Ok(0) => return Some(Next::Close),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                return Some(if ctx.close_idle {
                    Next::Close
                } else {
                    Next::Wait
                });
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return None,
            Err(_) => return Some(Next::Close),
        };
        let header = match proxy::parse(&buf[..seen]) {
            Ok(Some(header)) => header,
            // The rest comes later; the edge-triggered poll says when.
            Ok(None) if !self.peer_closed && !ctx.close_idle => return Some(Next::Wait),
            Ok(None) => return Some(Next::Close),
            Err(err) => {
                log::debug!("{}: {}", self.peer, err.0);
                return Some(Next::Close);
            }
        };
        // The header's bytes are all in the socket: this read takes them.
        let mut taken = 0;
        while taken < header.len {
            match socket.read(&mut buf[taken..header.len]) {
                Ok(0) => return Some(Next::Close),
                Ok(n) => taken += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Some(Next::Close),
            }
        }
        if let Some(client) = header.source {
            self.peer = Peer::Ip(client);
        }
        // The request (or handshake) deadline still runs from the accept.
        self.state = State::Idle { since };
        None
    }

    /// Our side is shut: reads and drops what the client still sends until
    /// it closes too (or sends too much).
    fn linger_step(&mut self) -> Option<Next> {
        let State::Closing { drained, .. } = &mut self.state else {
            unreachable!("linger_step outside Closing");
        };
        let mut scratch = [0u8; 4096];
        loop {
            match self.transport.discard(&mut scratch) {
                Ok(0) => return Some(Next::Close),
                Ok(n) => {
                    *drained += n as u64;
                    if *drained > LINGER_BYTES {
                        return Some(Next::Close);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Some(Next::Wait),
                Err(_) => return Some(Next::Close),
            }
        }
    }

    /// The connection's deadline passed.
    pub fn expire(&mut self, ctx: &mut Ctx) -> Next {
        match &self.state {
            State::Reading { .. } => {
                log::debug!("{}: header timeout", self.peer);
                let raw = self.input.as_ref().map(Input::data).unwrap_or_default();
                let framing = Framing::closing(Logged::unparsed(access_log::sanitize(raw)));
                self.queue(Reply::error(Status::RequestTimeout), framing, ctx);
                self.drive(false, ctx)
            }
            State::Writing(out) => {
                log::debug!("{}: write timeout", self.peer);
                out.done(self.peer, ctx);
                Next::Close
            }
            State::Ending { .. } => {
                log::debug!("{}: write timeout while closing", self.peer);
                Next::Close
            }
            State::Proxy { .. } => {
                log::debug!("{}: no PROXY header in time", self.peer);
                Next::Close
            }
            State::Idle { .. } | State::Closing { .. } => Next::Close,
        }
    }

    /// Called when a shutdown starts closing idle connections: an idle
    /// connection gets one last look for a request that already arrived,
    /// and is closed otherwise.
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
        if ctx.close_idle && self.is_idle() {
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
        let handshaking = self.transport.handshake_pending();
        let read = self.transport.read(space);
        if handshaking && !self.transport.handshake_pending() {
            ctx.metrics.tls_handshakes += 1;
        }
        match read {
            Ok(n) => {
                input.end += n;
                self.may_read = n == wanted || self.peer_closed || self.transport.at_end();
                Ok(n)
            }
            Err(err) => {
                if err.kind() == io::ErrorKind::WouldBlock {
                    self.may_read = false;
                }
                Err(err)
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
        if let Some(pending) = self.body.as_mut() {
            // A chunked body is read to its end before its request is
            // answered: malformed framing gets a 400, not an answer that
            // a later error would contradict.
            match pending.chunked.feed(input.data()) {
                Ok(used) => input.consume(used),
                Err(err) => {
                    let pending = self.body.take().expect("matched above");
                    let (status, why) = match err {
                        ChunkError::TooLarge => (Status::ContentTooLarge, "body too large"),
                        ChunkError::Malformed(why) => (Status::BadRequest, why),
                    };
                    log::debug!("{}: bad chunked body: {why}", self.peer);
                    let logged = pending
                        .logged
                        .unwrap_or_else(|| Logged::unparsed("-".into()));
                    self.queue(Reply::error(status), Framing::closing(logged), ctx);
                    return false;
                }
            }
            if !pending.chunked.is_done() {
                self.release_input(ctx);
                return false;
            }
            let pending = self.body.take().expect("matched above");
            self.release_input(ctx);
            self.respond(pending.request, pending.logged, ctx);
            return true;
        }
        if input.is_empty() {
            self.release_input(ctx);
            return false;
        }
        match http::parse(input.data()) {
            Ok(Some(request)) => {
                let logged = ctx
                    .access_log
                    .map(|log| Logged::parsed(&request, input.data(), log.format()));
                input.consume(request.head_len);
                if request.body == Body::Chunked {
                    // Its body comes first, under the same deadline.
                    self.state = State::Reading { since: ctx.now };
                    self.body = Some(Box::new(PendingBody {
                        request,
                        logged,
                        chunked: Chunked::default(),
                    }));
                    return self.take_request(ctx);
                }
                self.release_input(ctx);
                self.respond(request, logged, ctx);
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
                let framing = Framing::closing(Logged::unparsed(line));
                self.queue(Reply::error(err.status), framing, ctx);
                false
            }
        }
    }

    /// Builds the response to a parsed request and queues it.
    fn respond(&mut self, request: Request, mut logged: Option<Logged>, ctx: &mut Ctx) {
        self.discard = match request.body {
            Body::Length(n) => n,
            _ => 0,
        };
        let reply = self.answer(&request, logged.as_mut(), ctx);
        // A client that sent `Expect: 100-continue` may or may not send its
        // body after our final answer (RFC 9110 §10.1.1): the stream can't
        // be trusted, so close rather than guess.
        let unsure_body = request.expects_continue && request.body != Body::None;
        // A guesser gets a few tries per connection, then pays for a new one.
        let guessing = self.auth_failures >= auth::MAX_FAILURES;
        let close = !request.keep_alive || unsure_body || ctx.draining || guessing;
        let framing = Framing {
            head_only: request.method == Method::Head,
            close,
            announce_keep_alive: request.version == Version::Http10 && !close,
            method: MethodLabel::of(request.method),
            request: logged,
        };
        self.queue(reply, framing, ctx);
    }

    /// What to answer: the admin listener answers for itself; on the
    /// public one a CORS preflight goes first (browsers send no
    /// credentials with it), then `--auth` (`401`), then the method. The
    /// log line gets the user a request was let in as.
    fn answer(&mut self, request: &Request, logged: Option<&mut Logged>, ctx: &mut Ctx) -> Reply {
        if self.admin {
            return admin::respond(request, ctx.board);
        }
        if let Some(preflight) = ctx.policy.preflight(request) {
            return preflight;
        }
        match ctx.policy.authorize(request) {
            Verdict::Open => {}
            Verdict::User(user) => {
                if let Some(logged) = logged {
                    logged.set_user(user);
                }
            }
            Verdict::Denied { attempted } => {
                self.auth_failures += u32::from(attempted);
                return auth::challenge();
            }
        }
        match request.method {
            Method::Get | Method::Head => ctx.root.serve(request, ctx.cache, ctx.now),
            Method::Options => Reply::options(),
            Method::NotAllowed => Reply::error(Status::MethodNotAllowed),
            Method::Unknown => Reply::error(Status::NotImplemented),
        }
    }

    /// Encodes `reply` and makes it the response being written.
    fn queue(&mut self, reply: Reply, framing: Framing, ctx: &mut Ctx) {
        let out = Outgoing::encode(reply, framing, ctx);
        self.state = State::Writing(Box::new(out));
    }

    /// A response went out completely.
    fn finish(&mut self, out: Outgoing, ctx: &mut Ctx) {
        self.served += 1;
        out.done(self.peer, ctx);
        ctx.buffers.put_output(out.buf);
    }

    /// After a response that closes the connection. If the client may still
    /// be sending (unread input or body), shut our side and drain theirs
    /// first, so it reads the response instead of a reset.
    fn begin_close(&mut self, ctx: &mut Ctx) -> Next {
        // While draining, a pipelined request may have arrived since the last
        // read: closing on unread data would reset the connection and could
        // destroy the response just sent. Linger to be safe.
        let unread = self.discard > 0
            || self.input.as_ref().is_some_and(|i| !i.is_empty())
            || (ctx.draining && !self.peer_closed);
        if let Some(input) = self.input.take() {
            ctx.buffers.put_input(input.buf);
        }
        self.state = State::Ending {
            since: ctx.now,
            linger: unread,
        };
        self.drive(true, ctx)
    }

    /// Sends the end of the stream (TLS: `close_notify`) as the socket
    /// makes room, then closes, or shuts our side and lingers.
    fn end_step(&mut self, ctx: &Ctx) -> Option<Next> {
        let State::Ending { linger, .. } = self.state else {
            unreachable!("end_step outside Ending");
        };
        match self.transport.finish() {
            Ok(true) => {}
            Ok(false) => return Some(Next::Wait),
            Err(_) => return Some(Next::Close),
        }
        if !linger || self.transport.shutdown_write().is_err() {
            return Some(Next::Close);
        }
        self.state = State::Closing {
            since: ctx.now,
            drained: 0,
        };
        None
    }
}

impl Drop for Conn {
    /// A connection closed between responses (idle, timed out, evicted,
    /// shut down) ends its stream cleanly where the socket has room (TLS:
    /// `close_notify`, so the client can tell the end from a cut). One
    /// closed in the middle of a response does not: its body is short, and
    /// the client must see that it was cut.
    fn drop(&mut self) {
        if !matches!(self.state, State::Writing(_) | State::Ending { .. }) {
            self.transport.finish_now();
        }
    }
}

/// Sets `TCP_NODELAY` once. It matters only from a connection's second
/// write on (Nagle holds a small segment while earlier data is unacknowledged),
/// so it is set then, as nginx does, and a connection answered with one
/// write and closed never pays the system call.
fn set_nodelay(stream: &Stream, nodelay: &mut bool) {
    if *nodelay {
        return;
    }
    *nodelay = true;
    if let Err(err) = stream.set_nodelay(true) {
        log::debug!("cannot set TCP_NODELAY: {err}");
    }
}

/// A request waiting for the end of its chunked body.
struct PendingBody {
    request: Request,
    logged: Option<Logged>,
    chunked: Chunked,
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

/// A worker's spare buffers, so a connection holds buffers only while it is
/// busy and an idle one holds none.
pub struct Buffers {
    input: Vec<Vec<u8>>,
    output: Vec<Vec<u8>>,
    /// Where a TLS connection reads a file before encrypting it; allocated
    /// on first use, so a plain-HTTP worker never holds it.
    file_chunk: Vec<u8>,
}

impl Buffers {
    pub fn new() -> Buffers {
        Buffers {
            input: Vec::new(),
            output: Vec::new(),
            file_chunk: Vec::new(),
        }
    }

    pub fn file_chunk(&mut self) -> &mut Vec<u8> {
        &mut self.file_chunk
    }

    fn take_input(&mut self) -> Vec<u8> {
        self.input.pop().unwrap_or_else(|| vec![0; READ_BUFFER])
    }

    fn put_input(&mut self, buf: Vec<u8>) {
        if self.input.len() < POOLED_BUFFERS {
            self.input.push(buf);
        }
    }

    pub fn take_output(&mut self) -> Vec<u8> {
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
