//! Bind, run (the pool and the acceptor), shutdown and the hand-over to a
//! next generation.

use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::acceptor::Acceptor;
use crate::access_log::AccessLog;
use crate::compress::{CompressLevel, Compressor};
use crate::config::{Config, ConfigError};
use crate::files::{CACHE_ENTRIES, Root};
use crate::listener::{self, ListenAddr, Listener, SocketFile};
use crate::metrics::Board;
use crate::policy::Policy;
use crate::pool::Pool;
use crate::tls::{Tls, TlsError};
use crate::upgrade::Upgrader;

/// Descriptors the process needs besides its connections.
const SPARE_FDS: u64 = 64;
/// Compression threads at most, however many workers.
const MAX_COMPRESS_THREADS: usize = 4;

/// A server bound to its address, ready to [`run`](Server::run).
pub struct Server {
    config: Arc<Config>,
    root: Arc<Root>,
    policy: Arc<Policy>,
    tls: Option<Arc<Tls>>,
    access_log: Option<Arc<AccessLog>>,
    /// Where the public listeners listen, in order.
    local_addrs: Vec<ListenAddr>,
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
    /// The public listeners and the admin one; the acceptor waits in
    /// `poll` on all of them.
    public: Vec<Listening>,
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
    socket: Listener,
    /// From systemd (`LISTEN_FDS`), which keeps it after we stop: it must
    /// stay a listening socket. One we bound, or that a previous
    /// generation bound and passed on, is ours to close.
    shared: bool,
    /// A Unix socket's file, when the socket is ours: removed when we
    /// stop (not when we hand over).
    file: Option<SocketFile>,
}

impl Listening {
    /// A socket passed by `LISTEN_FDS`.
    fn passed(passed: listener::Passed) -> Listening {
        // A Unix socket that a previous generation bound is ours now, and
        // so is its file.
        let file = match (&passed.socket, passed.owned) {
            (Listener::Unix(_), true) => match passed.socket.local_addr() {
                Ok(ListenAddr::Unix(Some(path))) => SocketFile::of(&path).ok(),
                _ => None,
            },
            _ => None,
        };
        Listening {
            socket: passed.socket,
            shared: !passed.owned,
            file,
        }
    }
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
    /// [`shutdown`](ShutdownHandle::shutdown) does. `announce` runs once
    /// the hand-over is certain and before this process can exit (under
    /// the lock that `run_with` takes before it returns): a word to systemd
    /// sent after it could be cut off by the exit. Returns false (and does
    /// nothing) if a shutdown began first.
    pub(crate) fn hand_over(&self, announce: impl FnOnce()) -> bool {
        let mut state = self.lock();
        if state.begun {
            return false;
        }
        state.handed_over = true;
        state.starting = None;
        self.stop_accepting(&state);
        announce();
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
            // Newcomers to a Unix socket find no file from here on (and a
            // server started next binds it afresh).
            if let Some(file) = &listening.file {
                file.remove();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stopping> {
        self.inner
            .stopping
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The listeners the acceptor waits on, each with whether it is the
    /// admin one; the public ones first.
    pub(crate) fn listeners(&self) -> Vec<(&Listener, bool)> {
        let public = self.inner.public.iter().map(|l| (&l.socket, false));
        public
            .chain(self.inner.admin.iter().map(|l| (&l.socket, true)))
            .collect()
    }

    /// What a shutdown writes to, to wake the acceptor from its `poll`.
    pub(crate) fn wake_socket(&self) -> &UnixStream {
        &self.inner.wake_rx
    }

    fn listening(&self) -> impl Iterator<Item = &Listening> {
        self.inner.public.iter().chain(&self.inner.admin)
    }

    /// The listening descriptors, with their `LISTEN_FDNAMES` names and
    /// whether this process owns them, for a next generation; valid as long
    /// as this handle lives.
    pub(crate) fn listener_fds(&self) -> Vec<(RawFd, &'static str, bool)> {
        let socket =
            |listening: &Listening, name| (listening.socket.as_raw_fd(), name, !listening.shared);
        let mut fds: Vec<_> = (self.inner.public.iter())
            .map(|public| socket(public, listener::PUBLIC_NAME))
            .collect();
        if let Some(admin) = &self.inner.admin {
            fds.push(socket(admin, listener::ADMIN_NAME));
        }
        fds
    }

    pub(crate) fn requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Waits until the stop that was requested has done its work on the
    /// listeners. It runs on the caller's thread (a signal's), which wakes
    /// the acceptor before it shuts the listeners and removes their socket
    /// files: without this, a drain with nothing to finish let the process
    /// exit first, and a Unix socket's file stayed behind. The stop holds
    /// the lock throughout.
    fn wait_stop_done(&self) {
        drop(self.lock());
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
    /// Checks the configuration, opens the root and binds the listeners
    /// (resolving host names first).
    pub fn bind(config: Config) -> Result<Server, Error> {
        config.validate().map_err(Error::Config)?;
        let mut root = Root::open(&config).map_err(|source| Error::Root {
            path: config.root.clone(),
            source,
        })?;
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
        // Passed sockets are served instead of binding any.
        let addrs = match inherited.public.is_empty() {
            true => listener::resolve(&config.binds, config.port)?,
            false => Vec::new(),
        };
        // Before binding: a bad certificate is the user's to fix, and
        // nothing should listen meanwhile. A self-signed one names the
        // addresses clients connect to.
        let tls_ips: Vec<IpAddr> = match inherited.public.is_empty() {
            true => addrs.iter().filter_map(tcp_ip).collect(),
            false => (inherited.public.iter())
                .filter_map(|passed| passed.socket.local_addr().ok())
                .filter_map(|addr| tcp_ip(&addr))
                .collect(),
        };
        let tls = match &config.tls {
            Some(source) => Some(Arc::new(
                Tls::new(source.clone(), &tls_ips).map_err(Error::Tls)?,
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
        let (public, admin) = listen(inherited, &addrs, &config)?;
        let local_addrs = (public.iter())
            .map(|listening| listening.socket.local_addr())
            .collect::<io::Result<Vec<_>>>()
            .map_err(Error::Io)?;
        let admin_addr = match admin.as_ref().map(|a| a.socket.local_addr()) {
            Some(Ok(ListenAddr::Tcp(addr))) => Some(addr),
            // An admin socket passed as a Unix one has no URL to show.
            Some(Ok(ListenAddr::Unix(_))) | None => None,
            Some(Err(err)) => return Err(Error::Io(err)),
        };
        let policy = Policy::new(&config);
        let exposed: Vec<String> = (local_addrs.iter())
            .filter(|addr| tcp_ip(addr).is_some_and(|ip| !is_local(ip)))
            .map(ToString::to_string)
            .collect();
        if !config.auth.is_empty() && tls.is_none() && !exposed.is_empty() {
            log::warn!(
                "--auth over plain HTTP on {}: passwords cross the network \
                 readable by anyone on the way; serve HTTPS (--tls-cert, --tls-key) \
                 or bind a loopback address or a Unix socket behind a TLS proxy",
                exposed.join(", ")
            );
        }
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
            policy: Arc::new(policy),
            tls,
            access_log,
            local_addrs,
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

    /// Where the server listens: every public listener, in the order of
    /// [`Config::binds`] (every address of a host name in turn), or as
    /// passed by `LISTEN_FDS`; with the real port when bound to port 0.
    pub fn local_addrs(&self) -> &[ListenAddr] {
        &self.local_addrs
    }

    /// The first TCP address the server listens on (with the real port
    /// when bound to port 0); `None` when it listens on Unix sockets only.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addrs.iter().find_map(|addr| match addr {
            ListenAddr::Tcp(addr) => Some(*addr),
            ListenAddr::Unix(_) => None,
        })
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
            self.policy.clone(),
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
        let max_connections = raise_fd_limit(self.config.max_connections, self.config.workers);
        Acceptor::new(
            &self.shutdown,
            &pool,
            max_connections,
            self.config.acceptor_nice,
        )
        .run();
        self.shutdown.wait_stop_done();

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

/// The public listeners and the admin one, passed or bound here (at
/// `addrs`), and prepared. A failure leaves no socket file behind.
fn listen(
    inherited: listener::Inherited,
    addrs: &[ListenAddr],
    config: &Config,
) -> Result<(Vec<Listening>, Option<Listening>), Error> {
    let public: Vec<Listening> = match inherited.public.is_empty() {
        false => (inherited.public.into_iter())
            .map(Listening::passed)
            .collect(),
        true => listener::bind_all(addrs, config.unix_socket_mode)?
            .into_iter()
            .map(|bound| Listening {
                socket: bound.socket,
                shared: false,
                file: bound.file,
            })
            .collect(),
    };
    let admin = match (inherited.admin, config.admin) {
        (Some(passed), _) => Ok(Some(Listening::passed(passed))),
        (None, Some(addr)) => listener::bind(addr, false).map(|socket| {
            Some(Listening {
                socket: Listener::Tcp(socket),
                shared: false,
                file: None,
            })
        }),
        (None, None) => Ok(None),
    };
    let prepared = admin.and_then(|admin| {
        for listening in public.iter().chain(&admin) {
            listener::prepare(&listening.socket)?;
        }
        Ok(admin)
    });
    match prepared {
        Ok(admin) => Ok((public, admin)),
        Err(err) => {
            for file in public
                .iter()
                .filter_map(|listening| listening.file.as_ref())
            {
                file.remove();
            }
            Err(err)
        }
    }
}

/// The IP address of a TCP listener's address.
fn tcp_ip(addr: &ListenAddr) -> Option<IpAddr> {
    match addr {
        ListenAddr::Tcp(addr) => Some(addr.ip()),
        ListenAddr::Unix(_) => None,
    }
}

/// Whether `ip` is reached only from this machine: a loopback address,
/// an IPv4-mapped one too.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => (v6.to_ipv4_mapped()).map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
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
    // rlim_t is unsigned on Linux and macOS and signed on FreeBSD (where
    // infinity is i64::MAX): compare as u64.
    #[allow(clippy::unnecessary_cast)]
    let (mut current, max) = (limit.rlim_cur as u64, limit.rlim_max as u64);
    if current < needed && current < max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit that the call only reads.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            log::info!("raised the open-file limit from {current} to {max}");
            current = max;
        }
    }
    if current < needed {
        // Under a low limit, the file caches get at most a quarter of it:
        // they only hold descriptors of large files, and connections matter more.
        let cache = (spare - SPARE_FDS).min(current / 4);
        let allowed = current.saturating_sub(SPARE_FDS + cache).max(1) as usize;
        log::warn!(
            "the open-file limit ({current}) allows only {allowed} connections, not {max_connections}"
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
    /// A listener could not be bound (a Unix socket's path: also when a
    /// server answers there, or it is not a socket).
    Bind {
        addr: ListenAddr,
        source: io::Error,
    },
    /// A `--bind` host name did not resolve (to any address).
    Resolve {
        host: String,
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
            Error::Resolve { host, source } => {
                write!(f, "cannot resolve --bind host '{host}': {source}")
            }
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
            | Error::Resolve { source, .. }
            | Error::AccessLog { source, .. }
            | Error::Io(source) => Some(source),
        }
    }
}
