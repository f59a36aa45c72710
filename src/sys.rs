//! What differs between operating systems, in one place. Linux gets the
//! fast paths the server was measured with: `accept4`, `openat2`,
//! `MSG_MORE`, `sendfile(2)` and a nice value per thread. macOS and
//! FreeBSD get portable paths with the same behaviour and the same safety,
//! where the system offers less: `accept` then `fcntl`, a resolved path
//! checked against the root, the BSD `sendfile`, and an acceptor that keeps
//! the workers' priority. `.ci/run` type-checks and lints both.

use std::fs::File;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
#[cfg(target_os = "linux")]
use std::{ffi::CString, os::unix::ffi::OsStrExt, path::Path};

/// `sendmsg` flags for a write: never `SIGPIPE` (a client gone away is an
/// error, which a program embedding the server might not otherwise
/// ignore), and on Linux `MSG_MORE` when `more` follows at once, so the
/// kernel holds a short segment back. Elsewhere each write is pushed.
pub fn send_flags(more: bool) -> libc::c_int {
    #[cfg(target_os = "linux")]
    let more = if more { libc::MSG_MORE } else { 0 };
    #[cfg(not(target_os = "linux"))]
    let more = {
        let _ = more;
        0
    };
    libc::MSG_NOSIGNAL | more
}

/// Takes the next connection queued on `listener`: non-blocking and
/// close-on-exec, with its peer's address. Linux and FreeBSD do it in one
/// `accept4(2)`.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub fn accept(listener: RawFd) -> io::Result<(OwnedFd, libc::sockaddr_storage)> {
    // SAFETY: all-zero is a valid (empty) sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the caller's listener descriptor is open for the whole call,
    // and `storage`/`len` describe a writable buffer of exactly `len` bytes.
    let fd = unsafe {
        libc::accept4(
            listener,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 just returned this descriptor; nothing else owns it.
    Ok((unsafe { OwnedFd::from_raw_fd(fd) }, storage))
}

/// As above, where there is no `accept4` (macOS): `accept`, then the flags.
/// A program started by another thread between the two calls could
/// inherit the socket; the server starts one only for an upgrade, which
/// passes its sockets explicitly and waits for its word before accepting
/// further. `SO_NOSIGPIPE` covers writes that cannot say `MSG_NOSIGNAL`.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
pub fn accept(listener: RawFd) -> io::Result<(OwnedFd, libc::sockaddr_storage)> {
    // SAFETY: all-zero is a valid (empty) sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as for accept4 above.
    let fd = unsafe {
        libc::accept(
            listener,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept just returned this descriptor; nothing else owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: fcntl and setsockopt on the socket's own open descriptor;
    // setsockopt reads a c_int of the size given.
    let ok = unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
            && libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) == 0
            && libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
    };
    if !ok {
        return Err(io::Error::last_os_error());
    }
    Ok((socket, storage))
}

/// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`, …) of socket
/// `fd`, or `None` when `fd` is not an open socket.
pub fn socket_family(fd: RawFd) -> Option<libc::c_int> {
    // SAFETY: all-zero is a valid (empty) sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: getsockname on a descriptor number, with a writable buffer of
    // exactly `len` bytes; on a descriptor that is not an open socket it
    // fails (EBADF, ENOTSOCK) and writes nothing.
    let rc = unsafe {
        libc::getsockname(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(libc::c_int::from(storage.ss_family))
}

/// One `sendfile` of up to `count` bytes of `file` from `offset` to the
/// socket `sock`: the bytes sent, 0 when the file ends before `offset`
/// (it shrank), or the error (`WouldBlock` when the socket is full).
/// `count` is never 0: to the BSDs that means "to the end of the file".
#[cfg(target_os = "linux")]
pub fn sendfile(sock: RawFd, file: &File, offset: u64, count: u64) -> io::Result<u64> {
    let mut off = offset as libc::off_t;
    // SAFETY: the caller's socket and `file` are open for the whole call,
    // and `off` is a valid, exclusive pointer to an initialised off_t that
    // the kernel updates.
    let n = unsafe { libc::sendfile(sock, file.as_raw_fd(), &mut off, count as usize) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as u64)
}

/// As above, with FreeBSD's `sendfile(2)`, which says how much it sent
/// also when the socket filled up part way (`EAGAIN`) or a signal cut it
/// short (`EINTR`).
#[cfg(target_os = "freebsd")]
pub fn sendfile(sock: RawFd, file: &File, offset: u64, count: u64) -> io::Result<u64> {
    let mut sent: libc::off_t = 0;
    // SAFETY: both descriptors are open for the whole call; no header or
    // trailer vectors (null); `sent` is a valid, exclusive pointer to an
    // off_t the kernel writes.
    let rc = unsafe {
        libc::sendfile(
            file.as_raw_fd(),
            sock,
            offset as libc::off_t,
            count as usize,
            std::ptr::null_mut(),
            &mut sent,
            0,
        )
    };
    partial(rc, sent as u64)
}

/// As above, with macOS's `sendfile(2)`: `len` goes in as the count and
/// comes back as the bytes sent, also on `EAGAIN` and `EINTR`.
#[cfg(target_os = "macos")]
pub fn sendfile(sock: RawFd, file: &File, offset: u64, count: u64) -> io::Result<u64> {
    let mut len = count as libc::off_t;
    // SAFETY: both descriptors are open for the whole call; no header or
    // trailer vectors (null); `len` is a valid, exclusive pointer to an
    // initialised off_t that the kernel updates.
    let rc = unsafe {
        libc::sendfile(
            file.as_raw_fd(),
            sock,
            offset as libc::off_t,
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    partial(rc, len as u64)
}

/// A BSD `sendfile` result: bytes sent count even when the call failed
/// with `EAGAIN` or `EINTR` after sending them.
#[cfg(any(target_os = "freebsd", target_os = "macos"))]
fn partial(rc: libc::c_int, sent: u64) -> io::Result<u64> {
    if rc == 0 {
        return Ok(sent);
    }
    let err = io::Error::last_os_error();
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted if sent > 0 => Ok(sent),
        _ => Err(err),
    }
}

/// Opens `rel` under `dir` with `openat2(RESOLVE_BENEATH)`: the kernel
/// refuses any resolution, `..` or symlink alike, that leaves `dir`, with
/// `EXDEV`. `ENOSYS` before Linux 5.6; elsewhere always `ENOSYS`, and the
/// caller checks the resolved path instead (`files::Root::open_file`).
#[cfg(target_os = "linux")]
pub fn open_beneath(dir: &File, rel: &Path) -> io::Result<File> {
    let c_path = CString::new(rel.as_os_str().as_bytes())?;
    // SAFETY: `open_how` is a plain C struct of integers; all-zero is its
    // documented "no options" value, which we then fill in.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    // O_NONBLOCK: opening a FIFO must not block the worker.
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `dir` is an open descriptor for the whole call, `c_path` is a
    // NUL-terminated string that outlives it, and `how` points to an
    // initialised `open_how` whose exact size we pass.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c_path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else
    // owns it; `File` takes sole ownership and closes it once.
    Ok(unsafe { File::from_raw_fd(fd as RawFd) })
}

#[cfg(not(target_os = "linux"))]
pub fn open_beneath(_dir: &File, _rel: &std::path::Path) -> io::Result<File> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// The calling thread's nice value, and a way to set it: Linux gives each
/// thread its own (`setpriority` on a thread id). Elsewhere the nice
/// value is the whole process's, so the acceptor keeps the workers'
/// priority: `Unsupported`.
pub struct ThreadNice {
    #[cfg(target_os = "linux")]
    tid: libc::id_t,
}

impl ThreadNice {
    /// The calling thread's.
    pub fn current() -> ThreadNice {
        ThreadNice {
            // SAFETY: gettid has no preconditions.
            #[cfg(target_os = "linux")]
            tid: unsafe { libc::gettid() } as libc::id_t,
        }
    }

    #[cfg(target_os = "linux")]
    pub fn get(&self) -> io::Result<libc::c_int> {
        // getpriority may return -1 as a value: errno tells an error apart.
        // SAFETY: errno is thread-local; getpriority on a thread id has no
        // memory-safety preconditions.
        unsafe {
            *libc::__errno_location() = 0;
            let nice = libc::getpriority(libc::PRIO_PROCESS, self.tid);
            if nice == -1 && *libc::__errno_location() != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(nice)
        }
    }

    #[cfg(target_os = "linux")]
    pub fn set(&self, nice: libc::c_int) -> io::Result<()> {
        // SAFETY: setpriority on a thread id has no memory-safety
        // preconditions.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, self.tid, nice) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub fn get(&self) -> io::Result<libc::c_int> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "nice values are per process here, not per thread",
        ))
    }

    #[cfg(not(target_os = "linux"))]
    pub fn set(&self, _nice: libc::c_int) -> io::Result<()> {
        self.get().map(|_| ())
    }
}
