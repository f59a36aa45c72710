//! Where the listening sockets come from: bound here, or inherited through
//! systemd's socket activation (`LISTEN_FDS`, `LISTEN_PID`,
//! `LISTEN_FDNAMES`), which is also how a next generation of the server
//! takes them over on an upgrade.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::server::Error;
use crate::sys;

/// Connections the kernel queues for us while the acceptor is busy or paused.
const BACKLOG: libc::c_int = 4096;
/// How long the kernel holds a silent new connection before handing it to
/// the acceptor anyway (see [`defer_accept`]).
#[cfg(target_os = "linux")]
const DEFER_ACCEPT_SECS: libc::c_int = 1;
/// Most unsent bytes a connection's socket queues (see [`notsent_lowat`]).
#[cfg(target_os = "linux")]
const NOTSENT_LOWAT: libc::c_int = 64 * 1024;
/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;
/// The `LISTEN_FDNAMES` name of the admin listener's socket
/// (`FileDescriptorName=admin` in a systemd socket unit); any other name
/// is the public listener's.
pub const ADMIN_NAME: &str = "admin";
/// The name an upgrade gives the public listener's socket.
pub const PUBLIC_NAME: &str = "http";
/// Set by an upgrade: the names of the passed sockets that no other
/// process keeps listening (the previous generation bound them), so this
/// process closes them when it stops. Sockets from systemd are not named.
pub const OWNED_VAR: &str = "SIMPLE_WEB_SERVER_OWNED";

/// The sockets passed to this process, by role.
#[derive(Default)]
pub struct Inherited {
    pub public: Option<Passed>,
    pub admin: Option<Passed>,
}

/// A socket passed to this process.
pub struct Passed {
    pub socket: TcpListener,
    /// No other process keeps it listening (see [`OWNED_VAR`]): closed for
    /// new connections when this process stops, as one it bound.
    pub owned: bool,
}

/// The sockets passed from descriptor 3 on, when `LISTEN_PID` names this
/// process: one public socket, and one named `admin` if the admin listener
/// comes from there too. An inherited socket keeps the backlog its creator
/// gave it.
pub fn inherited() -> Result<Inherited, Error> {
    if !for_this_process() {
        return Ok(Inherited::default());
    }
    let Ok(count) = std::env::var("LISTEN_FDS") else {
        return Ok(Inherited::default());
    };
    let count = match count.parse::<u8>() {
        Ok(n) if n <= 2 => RawFd::from(n),
        _ => {
            return Err(Error::Inherited(format!(
                "LISTEN_FDS={count}: expected 1 or 2 (one public socket, and one named \
                 '{ADMIN_NAME}' in LISTEN_FDNAMES)"
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
        let admin = name == ADMIN_NAME;
        let slot = if admin {
            &mut found.admin
        } else {
            &mut found.public
        };
        if slot.is_some() {
            return Err(Error::Inherited(format!(
                "LISTEN_FDS: two {} sockets (name the admin one '{ADMIN_NAME}' in LISTEN_FDNAMES)",
                if admin { "admin" } else { "public" }
            )));
        }
        *slot = Some(Passed {
            socket,
            owned: !name.is_empty() && owned.contains(&name),
        });
    }
    let Some(Passed { socket: public, .. }) = &found.public else {
        return Err(Error::Inherited(
            "LISTEN_FDS: only an admin socket was passed; the public one is missing".into(),
        ));
    };
    let addr = |socket: &TcpListener| {
        socket
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|e| e.to_string())
    };
    match found.admin.as_ref().map(|passed| &passed.socket) {
        Some(admin) => log::info!(
            "serving on the sockets passed by LISTEN_FDS ({}, admin {})",
            addr(public),
            addr(admin)
        ),
        None => log::info!(
            "serving on the socket passed by LISTEN_FDS ({})",
            addr(public)
        ),
    }
    Ok(found)
}

/// `LISTEN_PID` names this process: the descriptors are ours to take.
pub fn for_this_process() -> bool {
    std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id())
}

/// Binds a listening socket at `addr`.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    // std listens with a backlog of 128; a burst of a thousand clients
    // deserves more (the kernel caps it at net.core.somaxconn).
    // SAFETY: listen(2) on the listener's own open descriptor.
    if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } != 0 {
        let source = io::Error::last_os_error();
        return Err(Error::Bind { addr, source });
    }
    Ok(listener)
}

/// Makes a listener non-blocking and sets the options every connection it
/// accepts inherits.
pub fn prepare(listener: &TcpListener) -> Result<(), Error> {
    listener.set_nonblocking(true).map_err(Error::Io)?;
    defer_accept(listener);
    notsent_lowat(listener);
    Ok(())
}

/// Wraps inherited descriptor `fd` once it is checked to be a listening
/// TCP socket.
fn take(fd: RawFd) -> Result<TcpListener, Error> {
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
    let listening_tcp = is(libc::SOL_SOCKET, libc::SO_ACCEPTCONN, &[1])
        && is(libc::SOL_SOCKET, libc::SO_TYPE, &[libc::SOCK_STREAM])
        && matches!(sys::socket_family(fd), Some(libc::AF_INET | libc::AF_INET6));
    if !listening_tcp {
        return Err(Error::Inherited(format!(
            "LISTEN_FDS: descriptor {fd} is not a listening TCP socket"
        )));
    }
    // SAFETY: descriptor `fd` is open and a listening TCP socket (checked
    // above), and was handed to this process (LISTEN_PID) for it to own;
    // the descriptors are wrapped once per process (TAKEN in `inherited`),
    // each once (the loop there), so nothing else in the process uses or
    // closes it.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
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
/// 125–172 with. 16, 128 and 256 KiB measured no better. On a real network
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
