//! The worker pool: N threads, each with its own `mio::Poll` over the
//! connections it owns, fed new connections by the acceptor over a bounded
//! channel per worker.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use mio::{Events, Interest, Poll, Token, Waker};
use rustls::ServerConfig;
use slab::Slab;

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::conn::{Buffers, Conn, Ctx, Next};
use crate::deadlines::{Deadlines, Wait};
use crate::files::{FileCache, Root};
use crate::http::Clock;
use crate::metrics::{Board, Metrics};
use crate::policy::Policy;
use crate::stream::{Peer, Stream};
use crate::transport::Transport;

/// New connections waiting for one worker; beyond this the acceptor tries
/// another worker, then stops accepting (the kernel backlog holds the rest).
const CHANNEL_CAPACITY: usize = 256;
const WAKER: Token = Token(usize::MAX);
/// Idle connections one eviction request may look at (each gets a read).
const EVICTION_CANDIDATES: usize = 16;
const EVENTS_CAPACITY: usize = 1024;
/// How long, once a drain starts, a keep-alive connection that has only
/// just gone idle is left open for a request already on its way. Its
/// client may have sent the next request just before we knew we were
/// stopping (`wrk`, a proxy, any client that sends as soon as the last
/// answer is in): closing at once would cut that request off, and a client
/// that does not retry would count a failure. Within the grace, such a
/// request is answered with `Connection: close`; after it, idle
/// connections are closed. A connection idle for longer than the grace
/// when the drain starts is closed at once, as its keep-alive timeout
/// would close it: its client was not asking again right away.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// A connection accepted by the acceptor, on its way to a worker.
pub struct NewConn {
    pub stream: Stream,
    pub peer: Peer,
    pub accepted: Instant,
    pub load: LoadGuard,
    /// It came to the admin listener: `/health` and `/metrics`, plain HTTP.
    pub admin: bool,
}

/// What the acceptor and a worker share.
struct Shared {
    waker: Waker,
    /// Connections placed on this worker and not yet closed.
    load: AtomicUsize,
    /// The worker is (about to be) blocked in `poll`: wake it to deliver.
    sleeping: AtomicBool,
    /// Keep-alive connections the acceptor asks this worker to close.
    evict: AtomicUsize,
    /// When this worker's longest-idle keep-alive connection went idle, in
    /// nanoseconds since the pool started; `u64::MAX` if it has none.
    oldest_idle: AtomicU64,
}

/// Counts one open connection on its worker and in the server's total, for
/// as long as it lives: incremented when placed, decremented on drop, so no
/// exit path (a panic included) can leave the counts wrong.
pub struct LoadGuard {
    worker: Arc<Shared>,
    open: Arc<AtomicUsize>,
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.worker.load.fetch_sub(1, Ordering::Relaxed);
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Handle {
    sender: Option<Sender<NewConn>>,
    shared: Arc<Shared>,
    thread: JoinHandle<()>,
}

/// The fixed pool of workers.
pub struct Pool {
    workers: Vec<Handle>,
    /// Every worker holds a clone; when all have exited, `recv` disconnects.
    done: Receiver<()>,
    draining: Arc<AtomicBool>,
    /// Open connections, all workers together.
    open: Arc<AtomicUsize>,
    board: Arc<Board>,
}

/// A moment as nanoseconds since `epoch`, for sharing through an atomic.
fn nanos_since(epoch: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(epoch)
        .as_nanos()
        .min(u64::MAX as u128 - 1) as u64
}

impl Pool {
    /// Starts the workers; with `tls`, every connection speaks TLS (but
    /// the admin listener's); with `access_log`, every response gets a line
    /// there; `policy` applies to every public connection. Each worker
    /// publishes its counters on `board`.
    pub fn spawn(
        config: Arc<Config>,
        root: Arc<Root>,
        policy: Arc<Policy>,
        tls: Option<Arc<ServerConfig>>,
        access_log: Option<Arc<AccessLog>>,
        board: Arc<Board>,
    ) -> io::Result<Pool> {
        let pool_draining = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let mut workers = Vec::with_capacity(config.workers);
        for id in 0..config.workers {
            let poll = Poll::new()?;
            let waker = Waker::new(poll.registry(), WAKER)?;
            let shared = Arc::new(Shared {
                waker,
                load: AtomicUsize::new(0),
                sleeping: AtomicBool::new(false),
                evict: AtomicUsize::new(0),
                oldest_idle: AtomicU64::new(u64::MAX),
            });
            let (sender, receiver) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
            let (config, root, tls) = (config.clone(), root.clone(), tls.clone());
            let policy = policy.clone();
            let (access_log, board) = (access_log.clone(), board.clone());
            let (worker_shared, draining) = (shared.clone(), pool_draining.clone());
            let done_tx = done_tx.clone();
            let thread = thread::Builder::new()
                .name(format!("worker-{id}"))
                .spawn(move || {
                    let _done = done_tx;
                    // Built on its own thread: what a worker holds (cached
                    // files, connections) never crosses threads.
                    let mut worker = Worker {
                        id,
                        poll,
                        receiver,
                        conns: Slab::new(),
                        deadlines: Deadlines::new(),
                        ready: VecDeque::new(),
                        buffers: Buffers::new(),
                        cache: FileCache::new(),
                        clock: Clock::new(),
                        config,
                        root,
                        policy,
                        admin_policy: Policy::default(),
                        tls,
                        access_log,
                        shared: worker_shared,
                        draining,
                        drain: Drain::Serving,
                        epoch,
                        disconnected: false,
                        metrics: Metrics::default(),
                        admin_metrics: Metrics::default(),
                        board,
                    };
                    worker.run();
                })?;
            workers.push(Handle {
                sender: Some(sender),
                shared,
                thread,
            });
        }
        Ok(Pool {
            workers,
            done,
            draining: pool_draining,
            open: Arc::new(AtomicUsize::new(0)),
            board,
        })
    }

    /// Open connections, all workers together.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Hands a new connection to the least-loaded worker that has room, and
    /// says which one: the caller [`wake`](Pool::wake)s it once it has
    /// placed what arrived together. Gives the connection back if every
    /// worker's channel is full.
    pub fn place(
        &self,
        stream: Stream,
        peer: Peer,
        accepted: Instant,
        admin: bool,
    ) -> Result<usize, (Stream, Peer)> {
        // Least loaded first; between equals, one that is awake: it takes
        // the connection on its next round, and nobody pays for a wake-up
        // (a context switch). Counting loads in coarser steps, to prefer
        // awake workers more often, measured no better under ab.
        let count = self.workers.len();
        let best = (0..count)
            .min_by_key(|&i| {
                let shared = &self.workers[i].shared;
                (
                    shared.load.load(Ordering::Relaxed),
                    shared.sleeping.load(Ordering::Relaxed),
                )
            })
            .unwrap_or(0);
        // If its channel is full, any other worker with room.
        let candidates = std::iter::once(best).chain((0..count).filter(|&i| i != best));
        let (mut stream, mut peer) = (stream, peer);
        for i in candidates {
            let worker = &self.workers[i];
            let Some(sender) = &worker.sender else { break };
            let conn = NewConn {
                stream,
                peer,
                accepted,
                load: self.guard(i),
                admin,
            };
            match sender.try_send(conn) {
                Ok(()) => return Ok(i),
                // Dropping the returned guard takes the count back.
                Err(TrySendError::Full(back) | TrySendError::Disconnected(back)) => {
                    (stream, peer) = (back.stream, back.peer);
                }
            }
        }
        Err((stream, peer))
    }

    /// Makes sure worker `i` looks at its channel: wakes it if it sleeps in
    /// (or is about to enter) its poll; a busy one finds new connections
    /// by itself.
    pub fn wake(&self, i: usize) {
        let shared = &self.workers[i].shared;
        if shared.sleeping.swap(false, Ordering::SeqCst)
            && let Err(err) = shared.waker.wake()
        {
            log::error!("cannot wake worker-{i}: {err}");
        }
    }

    /// The number of workers.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    fn guard(&self, worker: usize) -> LoadGuard {
        let shared = self.workers[worker].shared.clone();
        shared.load.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        LoadGuard {
            worker: shared,
            open: self.open.clone(),
        }
    }

    /// At the connection limit: asks the worker holding the longest-idle
    /// keep-alive connection to close it, to admit a new client (as Apache's
    /// event MPM does). Requests in progress are never closed for this.
    pub fn evict_idle(&self) {
        let oldest = self
            .workers
            .iter()
            .map(|w| &w.shared)
            .filter(|s| s.oldest_idle.load(Ordering::Relaxed) != u64::MAX)
            .min_by_key(|s| s.oldest_idle.load(Ordering::Relaxed));
        if let Some(shared) = oldest {
            shared.evict.fetch_add(1, Ordering::Relaxed);
            if let Err(err) = shared.waker.wake() {
                log::error!("cannot wake a worker: {err}");
            }
        }
    }

    /// Starts the drain: no more connections will come; every worker closes
    /// its idle connections, finishes what is in flight, and exits.
    pub fn drain(&mut self) {
        self.draining.store(true, Ordering::SeqCst);
        for (i, worker) in self.workers.iter_mut().enumerate() {
            worker.sender = None;
            if let Err(err) = worker.shared.waker.wake() {
                log::error!("cannot wake worker-{i}: {err}");
            }
        }
    }

    /// Requests answered and bytes sent so far, all workers together.
    pub fn totals(&self) -> (u64, u64) {
        let total = self.board.total();
        (total.requests(), total.bytes_sent)
    }

    /// Waits until every worker has exited, or until `deadline`. Returns
    /// the requests answered, the bytes sent, and the number of connections
    /// abandoned because the deadline passed (0 if the drain completed).
    pub fn join(self, deadline: Instant) -> (u64, u64, usize) {
        let abandoned = loop {
            let timeout = deadline.saturating_duration_since(Instant::now());
            match self.done.recv_timeout(timeout) {
                Ok(()) => {}
                Err(RecvTimeoutError::Disconnected) => break 0,
                Err(RecvTimeoutError::Timeout) => break self.open_connections().max(1),
            }
        };
        let (requests, bytes) = self.totals();
        if abandoned == 0 {
            for worker in self.workers {
                let _ = worker.thread.join();
            }
        }
        (requests, bytes, abandoned)
    }
}

/// Where a worker stands in a shutdown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Drain {
    Serving,
    /// Answers say `Connection: close`; connections that went idle within
    /// [`DRAIN_GRACE`] of the start wait for a request already sent until
    /// `close_idle_at`.
    Started {
        close_idle_at: Instant,
    },
    /// Idle connections are closed; the rest finish and close.
    ClosingIdle,
}

/// One worker thread's state: its poll, its connections and their deadlines.
struct Worker {
    id: usize,
    poll: Poll,
    receiver: Receiver<NewConn>,
    conns: Slab<Conn>,
    deadlines: Deadlines,
    /// Connections that used their turn with work left: served again after
    /// the next poll, which then does not block.
    ready: VecDeque<usize>,
    buffers: Buffers,
    cache: FileCache,
    clock: Clock,
    config: Arc<Config>,
    root: Arc<Root>,
    /// `--header`, `--cors` and `--auth`, for the public listener's
    /// connections.
    policy: Arc<Policy>,
    /// The admin listener's: nothing added, nothing asked.
    admin_policy: Policy,
    /// Set when the server speaks TLS: what each handshake starts from.
    tls: Option<Arc<ServerConfig>>,
    access_log: Option<Arc<AccessLog>>,
    shared: Arc<Shared>,
    draining: Arc<AtomicBool>,
    drain: Drain,
    /// When the pool started (the base of `Shared::oldest_idle`).
    epoch: Instant,
    /// The acceptor dropped our channel: no more connections will come.
    disconnected: bool,
    /// Counted here, published on `board` once per round.
    metrics: Metrics,
    /// What the admin listener's connections count, kept apart (a
    /// balancer's health checks are not the site's traffic).
    admin_metrics: Metrics,
    board: Arc<Board>,
}

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            if let Err(err) = self.poll_once(&mut events) {
                log::error!("worker poll failed: {err}");
                // Avoid a hot loop if the poll keeps failing.
                thread::sleep(Duration::from_millis(100));
            }
            self.publish();
            if self.drain != Drain::Serving && self.disconnected && self.conns.is_empty() {
                return;
            }
        }
    }

    fn poll_once(&mut self, events: &mut Events) -> io::Result<()> {
        let mut timeout = self
            .deadlines
            .next()
            .map(|at| at.saturating_duration_since(Instant::now()));
        if let Drain::Started { close_idle_at } = self.drain {
            let until = close_idle_at.saturating_duration_since(Instant::now());
            timeout = Some(timeout.map_or(until, |t| t.min(until)));
        }
        if !self.ready.is_empty() {
            timeout = Some(Duration::ZERO);
        }
        self.shared.sleeping.store(true, Ordering::SeqCst);
        let drain_news = self.drain == Drain::Serving && self.draining.load(Ordering::SeqCst);
        if !self.receiver.is_empty() || drain_news {
            timeout = Some(Duration::ZERO);
        }
        let polled = self.poll.poll(events, timeout);
        self.shared.sleeping.store(false, Ordering::SeqCst);
        match polled {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
        self.clock.tick();
        let now = Instant::now();
        self.cache.sweep(now);

        // A drain starts before this round's requests are served, so that
        // every answer from here on says `Connection: close`, also one to a
        // request that came in the same round as the news. The grace is
        // never more than half the time the whole drain may take.
        let mut drain_grace = None;
        if self.drain == Drain::Serving && self.draining.load(Ordering::SeqCst) {
            let grace = DRAIN_GRACE.min(self.config.shutdown_timeout / 2);
            self.drain = Drain::Started {
                close_idle_at: now + grace,
            };
            drain_grace = Some(grace);
        }
        self.take_new(now);
        for event in events.iter() {
            if event.token() == WAKER {
                continue;
            }
            let key = event.token().0;
            if event.is_read_closed() || event.is_error() {
                self.serve(key, now, |conn, ctx| conn.drive_closed(ctx));
            } else {
                let readable = event.is_readable();
                self.serve(key, now, |conn, ctx| conn.drive(readable, ctx));
            }
        }
        for _ in 0..self.ready.len() {
            let Some(key) = self.ready.pop_front() else {
                break;
            };
            self.serve(key, now, |conn, ctx| conn.drive(false, ctx));
        }
        while let Some((key, wait)) = self.deadlines.pop_expired(now) {
            let admin = self.conns.get(key).is_some_and(Conn::is_admin);
            let metrics = if admin {
                &mut self.admin_metrics
            } else {
                &mut self.metrics
            };
            metrics.expired[wait.index()] += 1;
            self.serve(key, now, |conn, ctx| conn.expire(ctx));
        }
        self.evict_idle(now);
        if let Some(grace) = drain_grace {
            // After this round's requests: a connection whose request this
            // round's poll reported is busy, not idle, and is spared.
            self.close_idle_longer_than(grace, now);
        }
        if let Drain::Started { close_idle_at } = self.drain
            && now >= close_idle_at
        {
            self.drain = Drain::ClosingIdle;
            let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
            for key in keys {
                self.serve(key, now, |conn, ctx| conn.drain(ctx));
            }
        }
        Ok(())
    }

    /// Takes the connections the acceptor sent and serves each at once: its
    /// request has usually arrived already. A connection joins the poll only
    /// when it first has to wait, so one answered in a single write and
    /// closed (HTTP/1.0, `ab`) never costs an `epoll_ctl`.
    fn take_new(&mut self, now: Instant) {
        loop {
            let new = match self.receiver.try_recv() {
                Ok(new) => new,
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.disconnected = true;
                    return;
                }
            };
            if !new.admin {
                self.metrics.accepted += 1;
            }
            let transport = match &self.tls {
                Some(tls) if !new.admin => match Transport::tls(new.stream, tls) {
                    Ok(transport) => transport,
                    Err(err) => {
                        log::error!("cannot start a TLS session: {err}");
                        continue;
                    }
                },
                _ => Transport::plain(new.stream),
            };
            let proxy = self.config.proxy_protocol && !new.admin;
            let conn = Conn::new(transport, new.peer, new.accepted, proxy, new.load);
            let conn = if new.admin { conn.for_admin() } else { conn };
            let key = self.conns.insert(conn);
            self.serve(key, now, |conn, ctx| conn.drive(true, ctx));
        }
    }

    /// Runs `f` on connection `key` and acts on what it says next. A panic
    /// costs that connection only.
    fn serve(&mut self, key: usize, now: Instant, f: impl FnOnce(&mut Conn, &mut Ctx) -> Next) {
        let Some(conn) = self.conns.get_mut(key) else {
            return; // closed earlier in this round
        };
        let mut ctx = Ctx {
            config: &self.config,
            root: &self.root,
            policy: if conn.is_admin() {
                &self.admin_policy
            } else {
                &self.policy
            },
            clock: &self.clock,
            now,
            draining: self.drain != Drain::Serving,
            close_idle: self.drain == Drain::ClosingIdle,
            buffers: &mut self.buffers,
            access_log: self.access_log.as_deref(),
            cache: &mut self.cache,
            metrics: if conn.is_admin() {
                &mut self.admin_metrics
            } else {
                &mut self.metrics
            },
            board: &self.board,
        };
        let next = panic::catch_unwind(AssertUnwindSafe(|| f(conn, &mut ctx)));
        let next = next.unwrap_or_else(|_| {
            log::error!("a panic while serving a connection; closing it");
            Next::Close
        });
        if next != Next::Close && !conn.registered {
            // Edge-triggered, registered once for both directions: data or
            // room that came before this call is reported by it, so nothing
            // is missed by registering late.
            let interest = Interest::READABLE | Interest::WRITABLE;
            match self
                .poll
                .registry()
                .register(conn.socket(), Token(key), interest)
            {
                Ok(()) => conn.registered = true,
                Err(err) => {
                    log::error!("cannot register a connection: {err}");
                    self.close(key);
                    return;
                }
            }
        }
        match next {
            Next::Close => self.close(key),
            Next::Wait | Next::Yield => {
                let (wait, at) = conn.deadline(&self.config);
                self.deadlines.set(key, wait, at);
                if next == Next::Yield {
                    self.ready.push_back(key);
                }
            }
        }
    }

    /// Closes the keep-alive connections idle for longer than `idle`,
    /// longest-idle first: the idle list is in that order (its deadlines
    /// are "went idle + `--keepalive-timeout`"), so this looks at no other
    /// connection.
    fn close_idle_longer_than(&mut self, idle: Duration, now: Instant) {
        let Some(latest) = (now + self.config.keepalive_timeout).checked_sub(idle) else {
            return;
        };
        while let Some((key, at)) = self.deadlines.first(Wait::Idle) {
            if at > latest {
                break;
            }
            self.close(key);
        }
    }

    /// Closes as many longest-idle keep-alive connections as the acceptor
    /// asked for, and publishes when the longest-idle one left went idle.
    fn evict_idle(&mut self, now: Instant) {
        let mut wanted = self.shared.evict.swap(0, Ordering::Relaxed);
        // Each candidate gets one last read first: a request that arrived
        // since the last event makes it busy, not idle, and it is spared.
        let mut looked = 0;
        while wanted > 0 && looked < EVICTION_CANDIDATES {
            let Some((key, _)) = self.deadlines.first(Wait::Idle) else {
                break;
            };
            looked += 1;
            self.serve(key, now, |conn, ctx| conn.drive(true, ctx));
            if !self.conns.contains(key) {
                wanted -= 1; // it closed by itself: that made room too
            } else if self
                .deadlines
                .get(key)
                .is_some_and(|(wait, _)| wait == Wait::Idle)
            {
                log::debug!("at the connection limit: closing the longest-idle connection");
                self.close(key);
                wanted -= 1;
            }
        }
        let oldest = match self.deadlines.first(Wait::Idle) {
            Some((_, at)) => nanos_since(
                self.epoch,
                at.checked_sub(self.config.keepalive_timeout).unwrap_or(now),
            ),
            None => u64::MAX,
        };
        self.shared.oldest_idle.store(oldest, Ordering::Relaxed);
    }

    fn close(&mut self, key: usize) {
        self.deadlines.remove(key);
        // Closing the socket also removes it from the poll.
        if let Some(conn) = self.conns.try_remove(key)
            && conn.is_handshaking()
        {
            self.metrics.tls_handshake_failures += 1;
        }
    }

    /// Copies the counters and gauges to the board, for `/metrics` and the
    /// summary.
    fn publish(&mut self) {
        let metrics = &mut self.metrics;
        metrics.open = self.conns.len() as u64;
        metrics.waiting = self.deadlines.counts().map(|n| n as u64);
        (metrics.cache_hits, metrics.cache_misses) = (self.cache.hits, self.cache.misses);
        metrics.admin_requests = self.admin_metrics.requests();
        self.board.publish(self.id, metrics);
    }
}
