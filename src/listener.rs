//! Where the listening sockets come from: bound here (TCP addresses and
//! Unix socket paths), or inherited through systemd's socket activation
//! (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`), which is also how a next
//! generation of the server takes them over on an upgrade.

use std::fmt;
use std::fs;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Bind;
use crate::server::Error;
use crate::stream::Stream;
use crate::sys;

/// Connections the kernel queues for us while the acceptor is busy or paused.
const BACKLOG: libc::c_int = 4096;
/// How long the kernel holds a silent new connection before handing it to
/// the acceptor anyway (see [`defer_accept`]).
#[cfg(target_os = "linux")]
const DEFER_ACCEPT_SECS: libc::c_int = 1;
/// Most unsent bytes a connection's socket queues (see [`notsent_lowat`]).
#[cfg(target_os = "linux")]
const NOTSENT_LOWAT: libc::c_int = 32 * 1024;
/// How many times a set of addresses on `--port 0` is bound again when a
/// later address finds the port the first one got already taken.
const PORT_ZERO_TRIES: usize = 8;
/// The most public listeners a server has (addresses, with every address
/// a host name resolves to, and Unix sockets), bound or passed.
pub const MAX_LISTENERS: usize = 32;
/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;
/// The `LISTEN_FDNAMES` name of the admin listener's socket
/// (`FileDescriptorName=admin` in a systemd socket unit); any other name
/// is a public listener's.
pub const ADMIN_NAME: &str = "admin";
/// The name an upgrade gives each public listener's socket.
pub const PUBLIC_NAME: &str = "http";
/// Set by an upgrade: the names of the passed sockets that no other
/// process keeps listening (the previous generation bound them), so this
/// process closes them when it stops. Sockets from systemd are not named.
pub const OWNED_VAR: &str = "SIMPLE_WEB_SERVER_OWNED";

/// A listening socket: TCP, or a Unix stream socket (`--bind unix:PATH`).
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        Ok(match self {
            Listener::Tcp(socket) => ListenAddr::Tcp(socket.local_addr()?),
            Listener::Unix(socket) => {
                ListenAddr::Unix(socket.local_addr()?.as_pathname().map(Path::to_owned))
            }
        })
    }

    /// A connection `accept` took from this listener, as a stream of the
    /// same kind.
    pub fn stream(&self, fd: OwnedFd) -> Stream {
        match self {
            Listener::Tcp(_) => Stream::Tcp(mio::net::TcpStream::from_std(fd.into())),
            Listener::Unix(_) => Stream::Unix(mio::net::UnixStream::from_std(fd.into())),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(socket) => socket.as_raw_fd(),
            Listener::Unix(socket) => socket.as_raw_fd(),
        }
    }
}

/// An address a server listens on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    /// A Unix socket's path; `None` for one without a path (an abstract
    /// socket passed by systemd).
    Unix(Option<PathBuf>),
}

impl fmt::Display for ListenAddr {
    /// `127.0.0.1:8000`, `[::1]:8000`, `unix:/run/sws.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => addr.fmt(f),
            ListenAddr::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            ListenAddr::Unix(None) => f.write_str("unix:(no path)"),
        }
    }
}

/// The sockets passed to this process, by role.
#[derive(Default)]
pub struct Inherited {
    pub public: Vec<Passed>,
    pub admin: Option<Passed>,
}

/// A socket passed to this process.
pub struct Passed {
    pub socket: Listener,
    /// No other process keeps it listening (see [`OWNED_VAR`]): closed for
    /// new connections when this process stops, as one it bound.
    pub owned: bool,
}

/// The sockets passed from descriptor 3 on, when `LISTEN_PID` names this
/// process: one or more public sockets (TCP or Unix), and one named
/// `admin` if the admin listener comes from there too. An inherited socket
/// keeps the backlog its creator gave it.
pub fn inherited() -> Result<Inherited, Error> {
    if !for_this_process() {
        return Ok(Inherited::default());
    }
    let Ok(count) = std::env::var("LISTEN_FDS") else {
        return Ok(Inherited::default());
    };
    let count = match count.parse::<u8>() {
        Ok(n) if usize::from(n) <= MAX_LISTENERS + 1 => RawFd::from(n),
        _ => {
            return Err(Error::Inherited(format!(
                "LISTEN_FDS={count}: expected 1 to {} (public sockets, and one named \
                 '{ADMIN_NAME}' in LISTEN_FDNAMES)",
                MAX_LISTENERS + 1
            )));
        }
    };
    if count == 0 {
        return Ok(Inherited::default());
    }
    // The descriptors are taken once per process: a second `Server::bind`
    // (the library's users may call it) binds instead of wrapping them again.
    static TAKEN: AtomicBool = AtomicBool::new(false);
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(Inherited::default());
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let owned = std::env::var(OWNED_VAR).unwrap_or_default();
    let owned: Vec<&str> = owned.split(':').collect();
    let mut names = names.split(':');
    let mut found = Inherited::default();
    for fd in LISTEN_FDS_START..LISTEN_FDS_START + count {
        let socket = take(fd)?;
        let name = names.next().unwrap_or_default();
        let passed = Passed {
            socket,
            owned: !name.is_empty() && owned.contains(&name),
        };
        if name != ADMIN_NAME {
            found.public.push(passed);
        } else if found.admin.replace(passed).is_some() {
            return Err(Error::Inherited(format!(
                "LISTEN_FDS: two sockets named '{ADMIN_NAME}' in LISTEN_FDNAMES"
            )));
        }
    }
    if found.public.len() > MAX_LISTENERS {
        return Err(Error::Inherited(format!(
            "LISTEN_FDS: {} public sockets; at most {MAX_LISTENERS}",
            found.public.len()
        )));
    }
    if found.public.is_empty() {
        return Err(Error::Inherited(
            "LISTEN_FDS: only an admin socket was passed; the public one is missing".into(),
        ));
    }
    let addr = |socket: &Listener| {
        socket
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|e| e.to_string())
    };
    let mut addrs: Vec<String> = found.public.iter().map(|p| addr(&p.socket)).collect();
    if let Some(admin) = &found.admin {
        addrs.push(format!("admin {}", addr(&admin.socket)));
    }
    let sockets = if addrs.len() == 1 {
        "socket"
    } else {
        "sockets"
    };
    log::info!(
        "serving on the {sockets} passed by LISTEN_FDS ({})",
        addrs.join(", ")
    );
    Ok(found)
}

/// `LISTEN_PID` names this process: the descriptors are ours to take.
pub fn for_this_process() -> bool {
    std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id())
}

/// The addresses `binds` name, each once, in order: an IP address with
/// `port`, every address a host name resolves to (as nginx's `listen
/// localhost:8000` does), a Unix socket's path.
pub fn resolve(binds: &[Bind], port: u16) -> Result<Vec<ListenAddr>, Error> {
    let mut addrs = Vec::new();
    let mut add = |addr: ListenAddr| {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    };
    for bind in binds {
        match bind {
            Bind::Ip(ip) => add(ListenAddr::Tcp(SocketAddr::new(*ip, port))),
            Bind::Host(name) => {
                let resolved: Vec<SocketAddr> = (name.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|source| Error::Resolve {
                        host: name.clone(),
                        source,
                    })?
                    .collect();
                if resolved.is_empty() {
                    return Err(Error::Resolve {
                        host: name.clone(),
                        source: io::Error::new(io::ErrorKind::NotFound, "no address"),
                    });
                }
                resolved.into_iter().map(ListenAddr::Tcp).for_each(&mut add);
            }
            Bind::Unix(path) => add(ListenAddr::Unix(Some(path.clone()))),
        }
    }
    if addrs.len() > MAX_LISTENERS {
        return Err(Error::Config(crate::config::ConfigError::new(
            "--bind",
            format!("{} addresses", addrs.len()),
            format!("at most {MAX_LISTENERS} addresses, all names resolved"),
        )));
    }
    Ok(addrs)
}

/// A socket bound here, with the file of a Unix one.
pub struct Bound {
    pub socket: Listener,
    /// Removed when the server stops (see [`SocketFile`]).
    pub file: Option<SocketFile>,
}

/// Binds every address in `addrs`, Unix sockets with permissions `mode`.
/// On `--port 0`, every TCP address gets the port the first one got, so
/// that one port reaches the server on all of them. A failure leaves
/// nothing bound (and no socket file behind).
pub fn bind_all(addrs: &[ListenAddr], mode: u32) -> Result<Vec<Bound>, Error> {
    let any_port = addrs
        .iter()
        .any(|addr| matches!(addr, ListenAddr::Tcp(a) if a.port() == 0));
    let mut tries = 0;
    loop {
        tries += 1;
        match bind_once(addrs, mode) {
            // The port the first address got was taken on another one:
            // the kernel picks another for a new first try.
            Err(Error::Bind { source, .. })
                if any_port
                    && tries < PORT_ZERO_TRIES
                    && source.kind() == io::ErrorKind::AddrInUse => {}
            result => return result,
        }
    }
}

fn bind_once(addrs: &[ListenAddr], mode: u32) -> Result<Vec<Bound>, Error> {
    // An IPv6 wildcard socket takes IPv4 connections too, unless IPv4
    // addresses are bound beside it, which it would clash with.
    let ipv4_too = addrs
        .iter()
        .any(|addr| matches!(addr, ListenAddr::Tcp(SocketAddr::V4(_))));
    let mut bound: Vec<Bound> = Vec::with_capacity(addrs.len());
    let mut port = None;
    for addr in addrs {
        let next = match addr {
            ListenAddr::Tcp(addr) => {
                let mut addr = *addr;
                if let (0, Some(port)) = (addr.port(), port) {
                    addr.set_port(port);
                }
                bind(addr, ipv4_too).map(|socket| {
                    port = port.or(socket.local_addr().ok().map(|a| a.port()));
                    Bound {
                        socket: Listener::Tcp(socket),
                        file: None,
                    }
                })
            }
            ListenAddr::Unix(Some(path)) => bind_unix(path, mode).map(|(socket, file)| Bound {
                socket: Listener::Unix(socket),
                file: Some(file),
            }),
            ListenAddr::Unix(None) => unreachable!("a bind names a path"),
        };
        match next {
            Ok(next) => bound.push(next),
            Err(err) => {
                for file in bound.iter().filter_map(|b| b.file.as_ref()) {
                    file.remove();
                }
                return Err(err);
            }
        }
    }
    Ok(bound)
}

/// Binds a listening TCP socket at `addr`. An IPv6 socket says whether it
/// takes IPv4 connections too (see [`bind_v6`]).
pub fn bind(addr: SocketAddr, ipv4_beside: bool) -> Result<TcpListener, Error> {
    let failed = |source| Error::Bind {
        addr: ListenAddr::Tcp(addr),
        source,
    };
    let listener = match addr {
        SocketAddr::V4(_) => TcpListener::bind(addr).map_err(failed)?,
        SocketAddr::V6(_) => bind_v6(addr, ipv4_beside).map_err(failed)?,
    };
    // std listens with a backlog of 128; a burst of a thousand clients
    // deserves more (the kernel caps it at net.core.somaxconn).
    // SAFETY: listen(2) on the listener's own open descriptor.
    if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } != 0 {
        return Err(failed(io::Error::last_os_error()));
    }
    Ok(listener)
}

/// Binds an IPv6 socket with `IPV6_V6ONLY` set explicitly (see
/// [`ipv6_only`]), before the bind: after it, the option can't change, and
/// std binds without a way to set an option first.
fn bind_v6(addr: SocketAddr, ipv4_beside: bool) -> io::Result<TcpListener> {
    let SocketAddr::V6(v6) = addr else {
        unreachable!("an IPv6 address");
    };
    let v6only = ipv6_only(*v6.ip(), ipv4_beside);
    // SAFETY: socket(2) has no memory-safety preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socket(2) just returned this descriptor; nothing else owns
    // it, and `socket` closes it once, on every path from here.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // Not passed on to programs we start (as std does for its sockets; the
    // close-on-exec flag at socket(2) time is Linux's and the BSDs', not
    // macOS's, and nothing forks while the server binds).
    // SAFETY: fcntl(2) on the socket's own open descriptor.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // As std's `TcpListener::bind`: a restarted server binds again at once,
    // while connections of the previous one are in TIME_WAIT.
    set_option(&socket, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_option(
        &socket,
        libc::IPPROTO_IPV6,
        libc::IPV6_V6ONLY,
        libc::c_int::from(v6only),
    )?;
    // SAFETY: all-zero is a valid sockaddr_in6 (the unspecified address).
    let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sin6.sin6_port = v6.port().to_be();
    sin6.sin6_flowinfo = v6.flowinfo();
    sin6.sin6_addr.s6_addr = v6.ip().octets();
    sin6.sin6_scope_id = v6.scope_id();
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    {
        // The BSDs check the length the address says it has.
        sin6.sin6_len = std::mem::size_of::<libc::sockaddr_in6>() as u8;
    }
    // SAFETY: bind(2) on the socket's own open descriptor, with a pointer
    // to an initialised sockaddr_in6 and its exact size, which the kernel
    // only reads.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sin6 as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(socket))
}

/// Whether an IPv6 socket at `ip` is to take IPv6 connections only
/// (`IPV6_V6ONLY`). No, so that `::` serves IPv4 clients too (as
/// IPv4-mapped addresses), as python's `http.server` does; unless
/// `ipv4_beside`: IPv4 addresses are bound too (`-b 0.0.0.0 -b ::`,
/// nginx's usual pair), which a dual-stack `::` would clash with. An
/// IPv4-mapped address (`::ffff:127.0.0.1`) takes nothing but IPv4, so it
/// never is. Set either way, since the default differs: Linux's is off
/// (`net.ipv6.bindv6only`), the BSDs' on. A specific address such as `::1`
/// takes no IPv4 in any case (Linux sets the option itself at the bind).
fn ipv6_only(ip: Ipv6Addr, ipv4_beside: bool) -> bool {
    ipv4_beside && ip.to_ipv4_mapped().is_none()
}

/// Sets an integer socket option.
fn set_option(
    socket: &OwnedFd,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: setsockopt(2) on the socket's own open descriptor, with a
    // pointer to a c_int and its exact size, which the kernel only reads.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Binds a listening Unix socket at `path`, with permissions `mode`
/// (`--unix-socket-mode`). A socket file already there that nobody
/// answers on is a stale one, left by a server that did not stop cleanly:
/// it is replaced. One that answers, or a path that is not a socket, is
/// refused.
///
/// The mode is set just after the bind: until then the socket has the
/// permissions the umask leaves (under the usual umask 022, nobody else
/// may connect), and no connection is accepted before the server runs.
fn bind_unix(path: &Path, mode: u32) -> Result<(UnixListener, SocketFile), Error> {
    let failed = |source| Error::Bind {
        addr: ListenAddr::Unix(Some(path.to_owned())),
        source,
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(failed(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "a server is listening there",
                )));
            }
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                log::info!(
                    "unix:{}: removing a stale socket file (nothing listens on it)",
                    path.display()
                );
                fs::remove_file(path).map_err(failed)?;
            }
            Err(err) => return Err(failed(err)),
        },
        Ok(_) => {
            return Err(failed(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            )));
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(failed(err)),
    }
    let listener = UnixListener::bind(path).map_err(failed)?;
    let file = SocketFile::of(path).map_err(failed)?;
    let ready = fs::set_permissions(path, fs::Permissions::from_mode(mode)).and_then(|()| {
        // As for TCP: std's backlog is 128.
        // SAFETY: listen(2) on the listener's own open descriptor.
        match unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    });
    if let Err(err) = ready {
        file.remove();
        return Err(failed(err));
    }
    Ok((listener, file))
}

/// A Unix socket's file, which outlives its socket: removed when the
/// server stops, so that the path does not linger as a stale socket. Not
/// when it hands over to a next generation (which listens on it from then
/// on), nor for a socket systemd passed (systemd owns its file).
pub struct SocketFile {
    path: PathBuf,
    /// The file's identity when we bound it: a file put at the path since
    /// (by a server started meanwhile) is not ours to remove.
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// The socket file now at `path`.
    pub fn of(path: &Path) -> io::Result<SocketFile> {
        let meta = fs::symlink_metadata(path)?;
        Ok(SocketFile {
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Removes the file if it is still the one we bound; a failure is
    /// logged.
    pub fn remove(&self) {
        let ours = fs::symlink_metadata(&self.path)
            .is_ok_and(|meta| meta.dev() == self.dev && meta.ino() == self.ino);
        if !ours {
            return;
        }
        if let Err(err) = fs::remove_file(&self.path) {
            log::warn!("cannot remove unix:{}: {err}", self.path.display());
        }
    }
}

/// Makes a listener non-blocking and, for TCP, sets the options every
/// connection it accepts inherits.
pub fn prepare(listener: &Listener) -> Result<(), Error> {
    match listener {
        Listener::Tcp(listener) => {
            listener.set_nonblocking(true).map_err(Error::Io)?;
            defer_accept(listener);
            notsent_lowat(listener);
        }
        Listener::Unix(listener) => listener.set_nonblocking(true).map_err(Error::Io)?,
    }
    Ok(())
}

/// Wraps inherited descriptor `fd` once it is checked to be a listening
/// TCP or Unix stream socket.
fn take(fd: RawFd) -> Result<Listener, Error> {
    let is = |level, option, expected: &[libc::c_int]| {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt(2) on a descriptor number, with a pointer to a
        // c_int and its exact size; on a descriptor that is not open or not
        // a socket it fails (EBADF, ENOTSOCK) and writes nothing.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                level,
                option,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        rc == 0 && expected.contains(&value)
    };
    let listening_stream = is(libc::SOL_SOCKET, libc::SO_ACCEPTCONN, &[1])
        && is(libc::SOL_SOCKET, libc::SO_TYPE, &[libc::SOCK_STREAM]);
    let family = listening_stream.then(|| sys::socket_family(fd)).flatten();
    let Some(family @ (libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX)) = family else {
        return Err(Error::Inherited(format!(
            "LISTEN_FDS: descriptor {fd} is not a listening TCP or Unix stream socket"
        )));
    };
    // SAFETY: descriptor `fd` is open and a listening TCP or Unix stream
    // socket (checked above), and was handed to this process (LISTEN_PID)
    // for it to own; the descriptors are wrapped once per process (TAKEN in
    // `inherited`), each once (the loop there), so nothing else in the
    // process uses or closes it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let listener = match family {
        libc::AF_UNIX => Listener::Unix(UnixListener::from(socket)),
        _ => Listener::Tcp(TcpListener::from(socket)),
    };
    // Not passed on to programs we might start (systemd leaves it open
    // across exec on purpose; the exec is done). An upgrade passes it on
    // by itself.
    // SAFETY: fcntl(2) on the listener's own open descriptor.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(listener)
}

/// Asks the kernel to hand us a connection only once its first bytes have
/// arrived (or after about `DEFER_ACCEPT_SECS` if they don't), as nginx's
/// `listen ... deferred` does. Without it, a client that writes its request
/// just after the handshake (every browser, `ab`) is usually accepted
/// before the request is there: the worker's read finds nothing, the
/// connection joins the poll, and the worker sleeps and is woken once more.
/// With it, the request is waiting when the worker first reads. Best effort:
/// without it the server is only slower. Linux only (FreeBSD's nearest is
/// an accept filter, a kernel module).
#[cfg(target_os = "linux")]
fn defer_accept(listener: &TcpListener) {
    set_tcp_option(
        listener,
        libc::TCP_DEFER_ACCEPT,
        DEFER_ACCEPT_SECS,
        "TCP_DEFER_ACCEPT",
    );
}

/// Keeps at most `NOTSENT_LOWAT` bytes queued in a connection's socket
/// that TCP has not sent yet: a write beyond that returns short (or
/// `EAGAIN`), and the poll says writable once the queue drops below it.
/// Set on the listener, every accepted connection inherits it, at no cost
/// per connection.
///
/// Without it, a large body (1 MiB `sendfile` calls, or TLS records) piled
/// up in the send queue while the client's window was closed, and each of
/// the client's reads then acknowledged data and let TCP transmit more of
/// that queue from the ACK, in the client's own context: on loopback the
/// client paid for the server's transmits as well as its own receives.
/// `wrk -c8` on a 10 MiB file, interleaved runs on 2 cores: plain 166–194
/// responses/s without, 281–358 with 64 KiB; over TLS 117–128 without,
/// 125–172 with. 32 KiB since: the same on that row and on 100 KiB files,
/// and on a 1 GiB file with `wrk -c2` 2.42–2.46 GiB/s where 64 KiB gave
/// 1.97–2.11 and h2o 2.05–2.39 (the client spent 0.41 s per GiB instead
/// of 0.50; README, Benchmarks). On a real network
/// only unsent data counts, not data in flight, so a connection still fills
/// its congestion window. Best effort: without it the server is only slower.
/// Linux only here (macOS has the option, but `libc` does not name it).
#[cfg(target_os = "linux")]
fn notsent_lowat(listener: &TcpListener) {
    set_tcp_option(
        listener,
        libc::TCP_NOTSENT_LOWAT,
        NOTSENT_LOWAT,
        "TCP_NOTSENT_LOWAT",
    );
}

#[cfg(not(target_os = "linux"))]
fn defer_accept(_listener: &TcpListener) {}

#[cfg(not(target_os = "linux"))]
fn notsent_lowat(_listener: &TcpListener) {}

/// Sets a TCP option on the listener; a failure is logged at debug level.
#[cfg(target_os = "linux")]
fn set_tcp_option(listener: &TcpListener, option: libc::c_int, value: libc::c_int, name: &str) {
    // SAFETY: setsockopt on the listener's own open descriptor, with a
    // pointer to a c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug!("{name}: {}", io::Error::last_os_error());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_only_table() {
        // (address, IPv4 addresses bound beside it, IPV6_V6ONLY)
        let cases = [
            ("::", false, false),
            ("::", true, true),
            ("::1", false, false),
            ("::1", true, true),
            ("::ffff:127.0.0.1", false, false),
            ("::ffff:127.0.0.1", true, false),
        ];
        for (ip, ipv4_beside, expected) in cases {
            assert_eq!(
                ipv6_only(ip.parse().unwrap(), ipv4_beside),
                expected,
                "{ip} {ipv4_beside}"
            );
        }
    }

    #[test]
    fn an_ipv4_mapped_address_binds_and_takes_ipv4() {
        // Loopback only, as every test: the mapped address is how the
        // dual-stack path is tried without binding `::`.
        let listener = bind("[::ffff:127.0.0.1]:0".parse().unwrap(), true).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert!(listener.accept().unwrap().1.is_ipv6());
    }

    #[test]
    fn resolve_lists_each_address_once_in_order() {
        let binds: Vec<Bind> = [
            "127.0.0.1",
            "unix:/run/a.sock",
            "localhost",
            "unix:/run/a.sock",
        ]
        .iter()
        .map(|b| b.parse().unwrap())
        .collect();
        let addrs = resolve(&binds, 8000).unwrap();
        let localhost: Vec<ListenAddr> = ("localhost", 8000)
            .to_socket_addrs()
            .unwrap()
            .map(ListenAddr::Tcp)
            .collect();
        let mut expected = vec![
            ListenAddr::Tcp("127.0.0.1:8000".parse().unwrap()),
            ListenAddr::Unix(Some("/run/a.sock".into())),
        ];
        for addr in localhost {
            if !expected.contains(&addr) {
                expected.push(addr);
            }
        }
        assert_eq!(addrs, expected);
        let shown: Vec<String> = addrs.iter().take(2).map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1:8000", "unix:/run/a.sock"]);
        assert_eq!(ListenAddr::Unix(None).to_string(), "unix:(no path)");
    }
}
