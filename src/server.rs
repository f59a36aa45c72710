//! Bind, the acceptor loop (accept, place on a worker), shutdown and the
//! hand-over to a next generation.

use std::fmt;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener};
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::access_log::AccessLog;
use crate::compress::{CompressLevel, Compressor};
use crate::config::{Config, ConfigError};
use crate::files::{CACHE_ENTRIES, Root};
use crate::listener;
use crate::metrics::Board;
use crate::pool::Pool;
use crate::tls::{Tls, TlsError};
use crate::upgrade::Upgrader;

/// How long the acceptor pauses when it can't place a connection: the
/// connection limit reached, or every worker's channel full.
const BACKOFF: Duration = Duration::from_millis(10);
const EMFILE_BACKOFF: Duration = Duration::from_millis(100);
/// How long an eviction request may take to free a slot before it is
/// repeated (the worker may have had no idle connection to close).
const EVICTION_RETRY: Duration = Duration::from_millis(200);
/// Most connections placed before the workers that got them are woken,
/// when clients keep arriving faster than they are accepted.
const BATCH: usize = 32;
/// Descriptors the process needs besides its connections.
const SPARE_FDS: u64 = 64;
/// The public listener's index among the acceptor's listeners (the admin
/// one follows).
const PUBLIC: usize = 0;
/// Compression threads at most, however many workers.
const MAX_COMPRESS_THREADS: usize = 4;

/// A server bound to its address, ready to [`run`](Server::run).
pub struct Server {
    config: Arc<Config>,
    root: Arc<Root>,
    tls: Option<Arc<Tls>>,
    access_log: Option<Arc<AccessLog>>,
    local_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    board: Arc<Board>,
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
    /// The public listener and the admin one; the acceptor waits in `poll`
    /// on both.
    public: Listening,
    admin: Option<Listening>,
    /// Where a shutdown or an upgrade stands; locked while either moves,
    /// so they never cross.
    stopping: Mutex<Stopping>,
    board: Arc<Board>,
    health_delay: Duration,
    /// A byte written here wakes the acceptor from its `poll` (it waits on
    /// `wake_rx` too).
    wake_tx: UnixStream,
    wake_rx: UnixStream,
}

/// How far this process has gone towards stopping.
#[derive(Default)]
struct Stopping {
    /// A shutdown began (maybe still in its health delay).
    begun: bool,
    /// The listeners were handed over to a next generation: they are its
    /// now, and must stay listening after we stop.
    handed_over: bool,
    /// A next generation started and not yet ready.
    starting: Option<u32>,
}

/// A listening socket, and whether another process keeps it listening.
struct Listening {
    socket: TcpListener,
    /// From systemd (`LISTEN_FDS`), which keeps it after we stop: it must
    /// stay a listening socket. One we bound, or that a previous
    /// generation bound and passed on, is ours to close.
    shared: bool,
}

impl ShutdownHandle {
    /// Stops accepting, closes idle connections, lets every request in
    /// flight finish, then makes [`Server::run`] return.
    pub fn shutdown(&self) {
        self.stop();
    }

    /// As [`shutdown`](ShutdownHandle::shutdown), after
    /// [`Config::health_delay`]: until then the server serves as before but
    /// `/health` answers 503, so balancers that poll it stop sending new
    /// clients first. Returns at once.
    pub fn shutdown_after_health_delay(&self) {
        let delay = self.inner.health_delay;
        if delay.is_zero() {
            return self.shutdown();
        }
        self.begin(&mut self.lock());
        log::info!("health now reports 503; draining in {} s", delay.as_secs());
        let handle = self.clone();
        let spawned = thread::Builder::new()
            .name("health-delay".into())
            .spawn(move || {
                thread::sleep(delay);
                handle.shutdown();
            });
        if let Err(err) = spawned {
            log::error!("cannot wait out --health-delay ({err}); draining now");
            self.shutdown();
        }
    }

    /// Stops accepting, and leaves the listeners to the next generation,
    /// which accepts from the same queues from now on; then drains as
    /// [`shutdown`](ShutdownHandle::shutdown) does. Returns false (and does
    /// nothing) if a shutdown began first.
    pub(crate) fn hand_over(&self) -> bool {
        let mut state = self.lock();
        if state.begun {
            return false;
        }
        state.handed_over = true;
        state.starting = None;
        self.stop_accepting(&state);
        true
    }

    /// A next generation (`pid`) is starting; a shutdown that begins
    /// before it is ready stops it too. False if one already began (or the
    /// listeners were handed over): then the caller stops it.
    pub(crate) fn upgrade_starting(&self, pid: u32) -> bool {
        let mut state = self.lock();
        if state.begun || state.handed_over {
            return false;
        }
        state.starting = Some(pid);
        true
    }

    /// The next generation failed; it is no longer ours to stop (it is
    /// reaped after this, and its PID may be reused).
    pub(crate) fn upgrade_failed(&self) {
        self.lock().starting = None;
    }

    /// A shutdown began (maybe still in its health delay), or the
    /// listeners were handed over: no upgrade from here on.
    pub(crate) fn stopping(&self) -> bool {
        let state = self.lock();
        state.begun || state.handed_over
    }

    fn stop(&self) {
        let mut state = self.lock();
        self.begin(&mut state);
        self.stop_accepting(&state);
    }

    /// From now on `/health` says 503 and no upgrade starts; a next
    /// generation still starting is stopped.
    fn begin(&self, state: &mut Stopping) {
        state.begun = true;
        self.inner.board.set_draining();
        if let Some(pid) = state.starting.take() {
            log::info!("stopping the new generation (PID {pid}) that was starting");
            // SAFETY: kill(2) on our own child: it is reaped only after
            // `upgrade_failed` clears `starting` under this same lock, so
            // the PID is still its.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
    }

    /// Wakes the acceptor to stop, and closes the listeners that are ours
    /// alone for new connections.
    fn stop_accepting(&self, state: &Stopping) {
        self.inner.board.set_draining();
        self.inner.requested.store(true, Ordering::SeqCst);
        // A full pipe already holds a wake-up: nothing to add.
        let _ = (&self.inner.wake_tx).write(&[1]);
        if state.handed_over {
            return;
        }
        for listening in self.listening() {
            if listening.shared {
                // The socket is systemd's too: connections that queue on
                // it from now on wait for the next process. Shutting it
                // down would turn it into a closed socket for systemd too.
                continue;
            }
            // Shutting down our own listening socket closes it for new
            // connections (they are refused from here on) and makes
            // `accept` fail with EINVAL. The descriptor stays open (and
            // ours) as long as this handle lives, so this never hits
            // another socket.
            // SAFETY: the descriptor belongs to `listening.socket`, which
            // is alive for the whole call.
            unsafe { libc::shutdown(listening.socket.as_raw_fd(), libc::SHUT_RD) };
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stopping> {
        self.inner
            .stopping
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn listening(&self) -> impl Iterator<Item = &Listening> {
        std::iter::once(&self.inner.public).chain(&self.inner.admin)
    }

    /// The listening descriptors, with their `LISTEN_FDNAMES` names and
    /// whether this process owns them, for a next generation; valid as long
    /// as this handle lives.
    pub(crate) fn listener_fds(&self) -> Vec<(RawFd, &'static str, bool)> {
        let socket =
            |listening: &Listening, name| (listening.socket.as_raw_fd(), name, !listening.shared);
        let mut fds = vec![socket(&self.inner.public, listener::PUBLIC_NAME)];
        if let Some(admin) = &self.inner.admin {
            fds.push(socket(admin, listener::ADMIN_NAME));
        }
        fds
    }

    pub(crate) fn requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }
}

/// Reloads, while the server runs, what can change without a restart: the
/// TLS certificate and key, from the same files, and the access-log file,
/// reopened by its path. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct ReloadHandle {
    tls: Option<Arc<Tls>>,
    access_log: Option<Arc<AccessLog>>,
}

impl ReloadHandle {
    /// Reopens the access-log file and reloads the TLS pair, and logs what
    /// happened. New TLS handshakes use the new pair; connections already
    /// open keep theirs. On error the old file or pair stays and an error
    /// is returned (each is logged).
    pub fn reload(&self) -> Result<(), Error> {
        let reopened = match self.access_log.as_deref().map(AccessLog::reopen) {
            Some(Ok(Some(path))) => {
                log::info!("reopened the access log {}", path.display());
                Ok(true)
            }
            Some(Err(source)) => {
                log::error!("cannot reopen the access log: {source}; writing to the old file");
                Err(Error::Io(source))
            }
            _ => Ok(false),
        };
        if self.tls.is_none() && matches!(reopened, Ok(false)) {
            log::info!("reload: nothing to reload (no TLS certificate, no access-log file)");
        }
        self.reload_tls().and(reopened.map(|_| ()))
    }

    fn reload_tls(&self) -> Result<(), Error> {
        let Some(tls) = &self.tls else {
            return Ok(());
        };
        match tls.reload() {
            Ok(Some((cert, fingerprint))) => {
                log::info!(
                    "reloaded the TLS certificate and key from {} (SHA-256 fingerprint {fingerprint})",
                    cert.display()
                );
                Ok(())
            }
            Ok(None) => {
                log::info!("reload: nothing to reload (the certificate is self-signed)");
                Ok(())
            }
            Err(err) => {
                log::error!("cannot reload the TLS certificate: {err}; keeping the current one");
                Err(Error::Tls(err))
            }
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
        let mut root = Root::open(&config.root, config.show_hidden, config.precompressed).map_err(
            |source| Error::Root {
                path: config.root.clone(),
                source,
            },
        )?;
        if config.compress != CompressLevel::Off {
            // Half as many compression threads as workers: they run nicer
            // than the workers and only fill the cache.
            let threads = config.workers.div_ceil(2).min(MAX_COMPRESS_THREADS);
            let cache = usize::try_from(config.compress_cache_size).unwrap_or(usize::MAX);
            let compressor =
                Compressor::start(config.compress, cache, threads).map_err(Error::Io)?;
            root = root.with_compression(compressor, config.compress_min_size);
        }
        let inherited = listener::inherited()?;
        // Before binding: a bad certificate is the user's to fix, and
        // nothing should listen meanwhile. A self-signed one names the
        // address clients connect to.
        let tls_ip = match &inherited.public {
            Some(passed) => passed.socket.local_addr().map_err(Error::Io)?.ip(),
            None => config.bind,
        };
        let tls = match &config.tls {
            Some(source) => Some(Arc::new(
                Tls::new(source.clone(), tls_ip).map_err(Error::Tls)?,
            )),
            None => None,
        };
        let access_log = match config.access_log {
            true => Some(Arc::new(
                AccessLog::open(config.access_log_file.as_deref(), config.log_format).map_err(
                    |source| Error::AccessLog {
                        path: config.access_log_file.clone().unwrap_or_default(),
                        source,
                    },
                )?,
            )),
            false => None,
        };
        let public = match inherited.public {
            Some(passed) => Listening {
                socket: passed.socket,
                shared: !passed.owned,
            },
            None => Listening {
                socket: listener::bind(config.addr())?,
                shared: false,
            },
        };
        let admin = match (inherited.admin, config.admin) {
            (Some(passed), _) => Some(Listening {
                socket: passed.socket,
                shared: !passed.owned,
            }),
            (None, Some(addr)) => Some(Listening {
                socket: listener::bind(addr)?,
                shared: false,
            }),
            (None, None) => None,
        };
        listener::prepare(&public.socket)?;
        let local_addr = public.socket.local_addr().map_err(Error::Io)?;
        let admin_addr = match &admin {
            Some(admin) => {
                listener::prepare(&admin.socket)?;
                Some(admin.socket.local_addr().map_err(Error::Io)?)
            }
            None => None,
        };
        let (wake_tx, wake_rx) = UnixStream::pair().map_err(Error::Io)?;
        wake_tx.set_nonblocking(true).map_err(Error::Io)?;
        let board = Arc::new(Board::new(config.workers));
        let shutdown = ShutdownHandle {
            inner: Arc::new(ShutdownInner {
                requested: AtomicBool::new(false),
                public,
                admin,
                stopping: Mutex::default(),
                board: board.clone(),
                health_delay: config.health_delay,
                wake_tx,
                wake_rx,
            }),
        };
        Ok(Server {
            config: Arc::new(config),
            root: Arc::new(root),
            tls,
            access_log,
            local_addr,
            admin_addr,
            board,
            shutdown,
        })
    }

    /// Starts next generations of this server, on its listening sockets
    /// (see [`Upgrader`]).
    pub fn upgrader(&self) -> io::Result<Upgrader> {
        Upgrader::new(self.shutdown.clone())
    }

    /// The admin listener's address (`/health`, `/metrics`), if there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https` when the server speaks TLS, `http` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The SHA-256 fingerprint (`AB:CD:…`) of the certificate the server
    /// presents, when it speaks TLS.
    pub fn tls_fingerprint(&self) -> Option<&str> {
        self.tls.as_deref().map(Tls::fingerprint)
    }

    /// The names the self-signed certificate was made for (`--tls-self-signed`).
    pub fn tls_self_signed_names(&self) -> &[String] {
        self.tls
            .as_deref()
            .map(Tls::self_signed_names)
            .unwrap_or_default()
    }

    /// A handle that reloads what can change without a restart (the TLS
    /// certificate and key, the access-log file).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle {
            tls: self.tls.clone(),
            access_log: self.access_log.clone(),
        }
    }

    /// A handle that makes [`run`](Server::run) drain and return.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until shutdown is requested, then drains the pool within
    /// `shutdown_timeout`.
    ///
    /// The calling thread becomes the acceptor and runs
    /// [`Config::acceptor_nice`] steps lower meanwhile (the workers keep its
    /// priority); the old value is restored on return where the system
    /// allows raising it again.
    pub fn run(self) -> Result<Summary, Error> {
        self.run_with(|| Ok(()))
    }

    /// As [`run`](Server::run), calling `ready` once the workers are up and
    /// just before the first connection is accepted: the moment to say
    /// that the server serves (a PID file, a start line, a next
    /// generation's word to the previous one). If `ready` fails, the
    /// server stops without accepting anything and returns its error.
    pub fn run_with(self, ready: impl FnOnce() -> Result<(), String>) -> Result<Summary, Error> {
        let started = Instant::now();
        let tls = self.tls.as_ref().map(|tls| tls.config().clone());
        let mut pool = Pool::spawn(
            self.config.clone(),
            self.root.clone(),
            tls,
            self.access_log.clone(),
            self.board.clone(),
        )
        .map_err(Error::Io)?;
        if let Err(why) = ready() {
            pool.drain();
            pool.join(Instant::now() + self.config.shutdown_timeout);
            return Err(Error::Start(why));
        }
        let mut acceptor = Acceptor {
            shutdown: &self.shutdown,
            pool: &pool,
            max_connections: raise_fd_limit(self.config.max_connections, self.config.workers),
            held: None,
            eviction_asked: None,
            emfile_logged: false,
            unwoken: vec![false; pool.len()],
            placed: 0,
            nice: self.config.acceptor_nice,
        };
        acceptor.run();

        log::info!("shutting down: no new connections; finishing requests in flight");
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

/// The main thread's job: accept connections and place them on workers.
///
/// The thread sleeps in `poll(2)` on the listener until clients arrive, then
/// accepts all that are queued (up to [`BATCH`]) before it wakes the workers
/// that got one: a worker woken at once for each connection would, on a
/// busy machine, preempt the acceptor and serve that one connection before
/// the next is even accepted. Shutdown wakes it through
/// [`ShutdownHandle::shutdown`].
struct Acceptor<'a> {
    shutdown: &'a ShutdownHandle,
    pool: &'a Pool,
    max_connections: usize,
    /// A connection accepted but not yet placed (at the limit, or every
    /// channel full); while one is held, the kernel backlog holds the rest.
    held: Option<Accepted>,
    /// When we last asked a worker to close an idle connection for the
    /// held one: asked once, and again only if that did not free a slot.
    eviction_asked: Option<Instant>,
    /// `EMFILE` was logged for the current burst.
    emfile_logged: bool,
    /// Workers given a connection since they were last woken.
    unwoken: Vec<bool>,
    /// Connections placed since the workers were last woken.
    placed: usize,
    /// Nice steps to run below the workers.
    nice: u8,
}

impl Acceptor<'_> {
    fn run(&mut self) {
        let _nicer = NicerThread::enter(self.nice);
        let inner = &self.shutdown.inner;
        let listeners: Vec<(&TcpListener, bool)> = std::iter::once((&inner.public.socket, false))
            .chain(inner.admin.iter().map(|admin| (&admin.socket, true)))
            .collect();
        // Which listeners may have connections queued: all of them at
        // first, then those the poll reports. They take turns, so a flood
        // on one never starves the other (health checks under load).
        let mut ready = vec![true; listeners.len()];
        let mut turn = 0;
        while !self.shutdown.requested() {
            if self.placed >= BATCH {
                self.wake_workers();
            }
            // While a public connection waits for room, the public queue
            // waits with it; the admin listener is still served.
            let blocked = match self.held.take() {
                Some(held) => !self.admit(held),
                None => false,
            };
            let Some(i) = (0..ready.len())
                .map(|k| (turn + k) % ready.len())
                .find(|&i| ready[i] && !(blocked && i == PUBLIC))
            else {
                if blocked {
                    self.pause(BACKOFF);
                    // Look at the admin queue again after the pause.
                    ready.iter_mut().skip(PUBLIC + 1).for_each(|r| *r = true);
                    continue;
                }
                // Everything queued is placed: let the workers at it.
                self.wake_workers();
                if let Err(err) = wait_readable(&listeners, &inner.wake_rx, &mut ready) {
                    // Never seen; if poll kept failing, don't spin.
                    log::debug!("poll on the listeners: {err}");
                    ready.fill(true);
                    self.pause(BACKOFF);
                }
                continue;
            };
            turn = i + 1;
            let (listener, admin) = listeners[i];
            match accept(listener) {
                Ok((stream, peer)) => {
                    self.emfile_logged = false;
                    let accepted = Accepted {
                        stream,
                        peer,
                        at: Instant::now(),
                        admin,
                    };
                    // One that can't be placed is held (see above).
                    self.admit(accepted);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => ready[i] = false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    if !self.emfile_logged {
                        log::warn!("accept: {err}; pausing accepts while connections close");
                        self.emfile_logged = true;
                    }
                    self.pause(EMFILE_BACKOFF);
                }
                // EINVAL: the listener was shut down; the loop condition sees why.
                Err(_) if self.shutdown.requested() => {}
                // That one connection is gone; take the next.
                Err(err) if err.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(err) => {
                    // ENOBUFS, ENOMEM, a network error passed on by the new
                    // socket…: pause rather than spin on it, and let the
                    // workers at what was placed before.
                    log::debug!("accept: {err}");
                    self.pause(BACKOFF);
                }
            }
        }
        // A connection accepted and held at the limit is answered too (and
        // closed, as the drain does): it was accepted, so it is not lost.
        if let Some(held) = self.held.take()
            && self.place(held).is_err()
        {
            log::warn!("a connection held at the limit could not be placed");
        }
        self.wake_workers();
    }

    /// Stops accepting for a while; the workers first get what was placed.
    fn pause(&mut self, how_long: Duration) {
        self.wake_workers();
        thread::sleep(how_long);
    }

    fn wake_workers(&mut self) {
        for (i, unwoken) in self.unwoken.iter_mut().enumerate() {
            if std::mem::take(unwoken) {
                self.pool.wake(i);
            }
        }
        self.placed = 0;
    }

    /// Places a new connection on a worker. At the connection limit, or when
    /// every worker's channel is full, holds it instead and returns false.
    /// At the limit it also asks for the longest-idle keep-alive connection
    /// to be closed, so that a newcomer is not kept waiting by clients that
    /// are doing nothing.
    fn admit(&mut self, accepted: Accepted) -> bool {
        // The admin listener's few connections don't count: a balancer's
        // health check gets through at the limit too.
        if !accepted.admin && self.pool.open_connections() >= self.max_connections {
            let now = Instant::now();
            if self
                .eviction_asked
                .is_none_or(|asked| now.duration_since(asked) >= EVICTION_RETRY)
            {
                self.pool.evict_idle();
                self.eviction_asked = Some(now);
            }
            self.held = Some(accepted);
            return false;
        }
        match self.place(accepted) {
            Ok(()) => {
                self.eviction_asked = None;
                true
            }
            Err(accepted) => {
                self.held = Some(accepted);
                false
            }
        }
    }

    /// Hands a connection to the least-loaded worker with room (woken with
    /// the rest of the batch); gives it back if every channel is full.
    fn place(&mut self, accepted: Accepted) -> Result<(), Accepted> {
        let Accepted {
            stream,
            peer,
            at,
            admin,
        } = accepted;
        match self.pool.place(stream, peer, at, admin) {
            Ok(worker) => {
                self.unwoken[worker] = true;
                self.placed += 1;
                Ok(())
            }
            Err((stream, peer)) => Err(Accepted {
                stream,
                peer,
                at,
                admin,
            }),
        }
    }
}

/// A connection taken from a listener.
struct Accepted {
    stream: TcpStream,
    peer: SocketAddr,
    at: Instant,
    /// From the admin listener.
    admin: bool,
}

/// While it lives, the calling thread runs `--acceptor-nice` steps nicer
/// than before; dropping it restores the old value where the system lets us
/// (raising a priority again needs `CAP_SYS_NICE` or `RLIMIT_NICE`; the
/// binary's main thread never needs it, as the process ends).
///
/// At the same priority as the workers, the acceptor was woken once per
/// connection, from the context of the client that connected, and Linux
/// ran it on that client's CPU at once, preempting it: on a machine shared
/// with its clients (a load generator, a proxy) the client lost a context
/// switch and the acceptor's work per connection. Measured with `ab -c50` on
/// 2 cores: 0.6 involuntary context switches of `ab` per connection (0.02
/// with nginx, whose workers accept for themselves), and `ab` ran only 86%
/// of the time. A nicer acceptor yields to whatever is running — the
/// workers, or a client — and takes the connections that queued meanwhile
/// in one go: 0.015 preemptions of `ab` per connection, `ab` busy 99% of the
/// time, and one wake-up per ~20 connections instead of one per connection.
/// On an idle CPU it still runs at once (a median 6 µs from wake-up to
/// running). Tried and measured worse: `SCHED_BATCH` (no wake-up preemption,
/// but it waited behind the client for the client's time slice: `ab` busy
/// 95%) and nice 5 (97%).
struct NicerThread {
    tid: libc::id_t,
    /// The nice value to restore; `None` when it was left alone.
    previous: Option<libc::c_int>,
    /// A priority belongs to a thread: keep the guard on it (not `Send`).
    _thread: PhantomData<*const ()>,
}

impl NicerThread {
    fn enter(steps: u8) -> NicerThread {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as libc::id_t;
        let previous = match steps {
            0 => None,
            _ => lower_priority(tid, steps)
                .map_err(|err| log::debug!("cannot lower the acceptor's priority: {err}"))
                .ok(),
        };
        NicerThread {
            tid,
            previous,
            _thread: PhantomData,
        }
    }
}

impl Drop for NicerThread {
    fn drop(&mut self) {
        if let Some(nice) = self.previous {
            // SAFETY: setpriority on our own thread id has no memory-safety
            // preconditions.
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, self.tid, nice) } != 0 {
                log::debug!(
                    "cannot restore the thread's priority after serving: {}",
                    io::Error::last_os_error()
                );
            }
        }
    }
}

/// Makes the calling thread `steps` nice steps nicer, for good (a
/// background thread); a failure is logged at debug level.
pub(crate) fn lower_thread_priority(steps: u8) {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as libc::id_t;
    if let Err(err) = lower_priority(tid, steps) {
        log::debug!("cannot lower a thread's priority: {err}");
    }
}

/// Makes thread `tid` `steps` nice steps nicer (at most 19); returns the
/// nice value it had.
fn lower_priority(tid: libc::id_t, steps: u8) -> io::Result<libc::c_int> {
    // getpriority may return -1 as a value: errno tells an error apart.
    // SAFETY: errno is thread-local; getpriority/setpriority on a thread id
    // have no memory-safety preconditions.
    unsafe {
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
        if nice == -1 && *libc::__errno_location() != 0 {
            return Err(io::Error::last_os_error());
        }
        let nicer = (nice + libc::c_int::from(steps)).min(19);
        if libc::setpriority(libc::PRIO_PROCESS, tid, nicer) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(nice)
    }
}

/// Sleeps until a listener has a connection to accept (marked in `ready`),
/// or is shut down, or `wake` is written to.
fn wait_readable(
    listeners: &[(&TcpListener, bool)],
    wake: &UnixStream,
    ready: &mut [bool],
) -> io::Result<()> {
    let mut pollfds = [libc::pollfd {
        fd: wake.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }; 3];
    for (pollfd, (listener, _)) in pollfds[1..].iter_mut().zip(listeners) {
        pollfd.fd = listener.as_raw_fd();
    }
    let count = 1 + listeners.len().min(2);
    // SAFETY: `pollfds[..count]` are valid, writable pollfds for
    // descriptors open for the whole call (the wake-up socket's and the
    // listeners').
    if unsafe { libc::poll(pollfds.as_mut_ptr(), count as libc::nfds_t, -1) } < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    for (ready, pollfd) in ready.iter_mut().zip(&pollfds[1..count]) {
        *ready = pollfd.revents != 0;
    }
    Ok(())
}

/// Takes the next queued connection, if any: one `accept4(2)` that also
/// makes the new socket non-blocking and close-on-exec (std's `accept` would
/// need another system call for the first). The listener is non-blocking:
/// `WouldBlock` says the queue is empty.
fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    // SAFETY: all-zero is a valid (empty) sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the listener's descriptor is open for the whole call, and
    // `storage`/`len` describe a writable buffer of exactly `len` bytes.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 just returned this descriptor; nothing else owns it,
    // and the stream takes sole ownership (closing it once, on drop).
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let peer = socket_addr(&storage).ok_or_else(|| io::Error::other("unknown address family"))?;
    Ok((TcpStream::from_std(stream), peer))
}

/// The address in a `sockaddr_storage` filled in by the kernel.
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which
            // is smaller than sockaddr_storage and no more strictly aligned.
            let addr =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(addr.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let addr = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
            let port = u16::from_be(addr.sin6_port);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                addr.sin6_flowinfo,
                addr.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit when it is lower than
/// `max_connections` needs (with the workers' cached files). Returns the
/// connection limit the descriptors allow.
fn raise_fd_limit(max_connections: usize, workers: usize) -> usize {
    // A cached file may hold three descriptors (itself, .br, .gz).
    let spare = SPARE_FDS + (workers * CACHE_ENTRIES * 3) as u64;
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
        // Under a low limit, the file caches get at most a quarter of it:
        // they only hold descriptors of large files, and connections matter more.
        let cache = (spare - SPARE_FDS).min(limit.rlim_cur / 4);
        let allowed = limit.rlim_cur.saturating_sub(SPARE_FDS + cache).max(1) as usize;
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
    Root {
        path: PathBuf,
        source: io::Error,
    },
    Bind {
        addr: SocketAddr,
        source: io::Error,
    },
    /// The TLS certificate or key can't be used.
    Tls(TlsError),
    /// A socket passed by systemd (or a previous generation) can't be used.
    Inherited(String),
    /// The step that says the server is ready failed (see [`Server::run_with`]).
    Start(String),
    /// The access-log file can't be opened.
    AccessLog {
        path: PathBuf,
        source: io::Error,
    },
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
            Error::Tls(err) => write!(f, "cannot use the TLS certificate: {err}"),
            Error::AccessLog { path, source } => {
                write!(
                    f,
                    "cannot open the access log '{}': {source}",
                    path.display()
                )
            }
            Error::Inherited(why) | Error::Start(why) => f.write_str(why),
            Error::Io(err) => write!(f, "I/O error: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(err) => Some(err),
            Error::Tls(err) => Some(err),
            Error::Inherited(_) | Error::Start(_) => None,
            Error::Root { source, .. }
            | Error::Bind { source, .. }
            | Error::AccessLog { source, .. }
            | Error::Io(source) => Some(source),
        }
    }
}
