//! Bind, the acceptor loop (accept, place on a worker), and shutdown.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::config::{Config, ConfigError};
use crate::files::{CACHE_ENTRIES, Root};
use crate::pool::Pool;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connections accepted in one go before the acceptor looks at its events again.
const ACCEPT_BATCH: usize = 256;
/// How long the acceptor pauses when it can't accept: descriptors exhausted,
/// the connection limit reached, or every worker's channel full.
const BACKOFF: Duration = Duration::from_millis(10);
const EMFILE_BACKOFF: Duration = Duration::from_millis(100);
/// How long an eviction request may take to free a slot before it is
/// repeated (the worker may have had no idle connection to close).
const EVICTION_RETRY: Duration = Duration::from_millis(200);
/// Descriptors the process needs besides its connections.
const SPARE_FDS: u64 = 64;

/// A server bound to its address, ready to [`run`](Server::run).
pub struct Server {
    config: Arc<Config>,
    root: Arc<Root>,
    listener: TcpListener,
    local_addr: SocketAddr,
    poll: Poll,
    shutdown: ShutdownHandle,
}

/// Asks a running server to shut down gracefully. Cheap to clone; usable
/// from any thread (a signal handler's, say).
#[derive(Clone)]
pub struct ShutdownHandle {
    inner: Arc<ShutdownInner>,
}

struct ShutdownInner {
    requested: AtomicBool,
    waker: Waker,
}

impl ShutdownHandle {
    /// Stops accepting, closes idle connections, lets every request in
    /// flight finish, then makes [`Server::run`] return.
    pub fn shutdown(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        if let Err(err) = self.inner.waker.wake() {
            log::error!("cannot wake the acceptor: {err}");
        }
    }
}

/// What a server did, reported when [`Server::run`] returns.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Requests answered.
    pub requests: u64,
    /// Bytes written to clients (heads and bodies).
    pub bytes_sent: u64,
    /// Time from `run` to the end of the drain.
    pub uptime: Duration,
    /// Connections still open when `--shutdown-timeout` ran out (0 if the
    /// drain completed).
    pub abandoned: usize,
}

impl Server {
    /// Checks the configuration, opens the root and binds the listener.
    pub fn bind(config: Config) -> Result<Server, Error> {
        config.validate().map_err(Error::Config)?;
        let root = Root::open(&config.root, config.show_hidden, config.precompressed).map_err(
            |source| Error::Root {
                path: config.root.clone(),
                source,
            },
        )?;
        let addr = config.addr();
        let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let poll = Poll::new().map_err(Error::Io)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(Error::Io)?;
        let shutdown = ShutdownHandle {
            inner: Arc::new(ShutdownInner {
                requested: AtomicBool::new(false),
                waker,
            }),
        };
        Ok(Server {
            config: Arc::new(config),
            root: Arc::new(root),
            listener,
            local_addr,
            poll,
            shutdown,
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that makes [`run`](Server::run) drain and return.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until shutdown is requested, then drains the pool within
    /// `shutdown_timeout`.
    pub fn run(mut self) -> Result<Summary, Error> {
        let started = Instant::now();
        let mut pool = Pool::spawn(self.config.clone(), self.root.clone()).map_err(Error::Io)?;
        self.poll
            .registry()
            .register(&mut self.listener, LISTENER, Interest::READABLE)
            .map_err(Error::Io)?;
        let mut acceptor = Acceptor {
            listener: &self.listener,
            pool: &pool,
            max_connections: raise_fd_limit(self.config.max_connections, self.config.workers),
            held: None,
            eviction_asked: None,
            emfile_logged: false,
        };
        let mut events = Events::with_capacity(16);
        let mut timeout = None;
        while !self.shutdown.inner.requested.load(Ordering::SeqCst) {
            if let Err(err) = self.poll.poll(&mut events, timeout)
                && err.kind() != io::ErrorKind::Interrupted
            {
                return Err(Error::Io(err));
            }
            if self.shutdown.inner.requested.load(Ordering::SeqCst) {
                break;
            }
            timeout = acceptor.accept_batch();
        }

        log::info!("shutting down: no new connections; finishing requests in flight");
        // Closing the listener refuses new connections from here on.
        drop(acceptor);
        drop(self.listener);
        pool.drain();
        let deadline = Instant::now() + self.config.shutdown_timeout;
        let (requests, bytes_sent, abandoned) = pool.join(deadline);
        Ok(Summary {
            requests,
            bytes_sent,
            uptime: started.elapsed(),
            abandoned,
        })
    }
}

/// The acceptor's state between polls.
struct Acceptor<'a> {
    listener: &'a TcpListener,
    pool: &'a Pool,
    max_connections: usize,
    /// A connection accepted but not yet placed (every channel was full).
    held: Option<(TcpStream, SocketAddr, Instant)>,
    /// When we last asked a worker to close an idle connection for the
    /// held one: asked once, and again only if that did not free a slot.
    eviction_asked: Option<Instant>,
    /// `EMFILE` was logged for the current burst.
    emfile_logged: bool,
}

impl Acceptor<'_> {
    /// Accepts and places connections until the listener is empty, the batch
    /// is done, or it must pause. Returns the poll timeout for what is left:
    /// `None` to wait for the next event, zero to go on at once, or a pause.
    fn accept_batch(&mut self) -> Option<Duration> {
        if let Some((stream, peer, accepted)) = self.held.take()
            && !self.admit(stream, peer, accepted)
        {
            return Some(BACKOFF);
        }
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.emfile_logged = false;
                    if !self.admit(stream, peer, Instant::now()) {
                        return Some(BACKOFF);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return None,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    if !self.emfile_logged {
                        log::warn!("accept: {err}; pausing accepts while connections close");
                        self.emfile_logged = true;
                    }
                    return Some(EMFILE_BACKOFF);
                }
                Err(err) => {
                    // ECONNABORTED and friends: that one connection is gone.
                    log::debug!("accept: {err}");
                }
            }
        }
        Some(Duration::ZERO)
    }
}

impl Acceptor<'_> {
    /// Places a new connection on a worker. At the connection limit, or when
    /// every worker's channel is full, holds it instead (the acceptor then
    /// stops accepting, so the kernel backlog holds the rest) and returns
    /// false. At the limit it also asks for the longest-idle keep-alive
    /// connection to be closed, so that a newcomer is not kept waiting by
    /// clients that are doing nothing.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, accepted: Instant) -> bool {
        if self.pool.open_connections() >= self.max_connections {
            let now = Instant::now();
            if self
                .eviction_asked
                .is_none_or(|asked| now.duration_since(asked) >= EVICTION_RETRY)
            {
                self.pool.evict_idle();
                self.eviction_asked = Some(now);
            }
            self.held = Some((stream, peer, accepted));
            return false;
        }
        match self.pool.place(stream, peer, accepted) {
            Ok(()) => {
                self.eviction_asked = None;
                true
            }
            Err((stream, peer)) => {
                self.held = Some((stream, peer, accepted));
                false
            }
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit when it is lower than
/// `max_connections` needs (with the workers' cached files). Returns the
/// connection limit the descriptors allow.
fn raise_fd_limit(max_connections: usize, workers: usize) -> usize {
    let spare = SPARE_FDS + (workers * CACHE_ENTRIES) as u64;
    let needed = max_connections as u64 + spare;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the call to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return max_connections;
    }
    if limit.rlim_cur < needed && limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit that the call only reads.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            log::info!(
                "raised the open-file limit from {} to {}",
                limit.rlim_cur,
                raised.rlim_cur
            );
            limit = raised;
        }
    }
    if limit.rlim_cur < needed {
        let allowed = limit.rlim_cur.saturating_sub(spare).max(1) as usize;
        log::warn!(
            "the open-file limit ({}) allows only {allowed} connections, not {max_connections}",
            limit.rlim_cur
        );
        return allowed;
    }
    max_connections
}

/// Why a server could not start or keep running.
#[derive(Debug)]
pub enum Error {
    Config(ConfigError),
    Root { path: PathBuf, source: io::Error },
    Bind { addr: SocketAddr, source: io::Error },
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(err) => err.fmt(f),
            Error::Root { path, source } if source.kind() == io::ErrorKind::NotADirectory => {
                write!(f, "cannot serve '{}': not a directory", path.display())
            }
            Error::Root { path, source } => {
                write!(f, "cannot serve '{}': {source}", path.display())
            }
            Error::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Error::Io(err) => write!(f, "I/O error: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(err) => Some(err),
            Error::Root { source, .. } | Error::Bind { source, .. } | Error::Io(source) => {
                Some(source)
            }
        }
    }
}
