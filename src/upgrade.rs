//! Live upgrade: start the next generation of the server on the same
//! listening sockets, wait until it says it is ready, then hand over and
//! drain.
//!
//! The sockets pass as systemd passes them (`LISTEN_FDS`, `LISTEN_PID`,
//! `LISTEN_FDNAMES`, from descriptor 3 on), so the new process takes them
//! exactly as under socket activation. Both generations accept from the
//! same queues, never `SO_REUSEPORT` copies: a connection queued while the
//! old one stops is simply accepted by the new one. The new process says
//! it is ready by writing [`READY_MESSAGE`] to one more descriptor, named
//! by [`READY_FD_VAR`].

use std::ffi::{CString, OsString};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::raw::c_char;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::listener::{self, LISTEN_FDS_START, OWNED_VAR};
use crate::server::ShutdownHandle;
use crate::sys;

/// The environment variable that names the descriptor a new generation
/// writes [`READY_MESSAGE`] to.
pub const READY_FD_VAR: &str = "SIMPLE_WEB_SERVER_READY_FD";
/// What a new generation writes once it serves (sd_notify's word for it).
const READY_MESSAGE: &[u8] = b"READY=1\n";
/// How long a new generation may take to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new generation that closed its end without being ready may
/// take to exit before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(2);
const LISTEN_PID_PREFIX: &[u8] = b"LISTEN_PID=";
/// The most descriptors passed: the public sockets, the admin one, the
/// ready channel.
const MAX_PASSED: usize = listener::MAX_LISTENERS + 2;

/// Starts next generations of a running server (see the module docs).
/// Cheap to clone; one upgrade runs at a time.
#[derive(Clone)]
pub struct Upgrader {
    /// The executable to start: where this one was started from, so a
    /// binary replaced there is the one that starts.
    path: PathBuf,
    /// This process's arguments, `argv[0]` included.
    args: Vec<OsString>,
    shutdown: ShutdownHandle,
    busy: Arc<AtomicBool>,
}

/// Why an upgrade did not happen; the running server goes on serving.
#[derive(Debug)]
pub enum UpgradeError {
    /// Another upgrade is under way.
    InProgress,
    /// This process is already shutting down (or has handed over).
    ShuttingDown,
    /// The executable could not be started.
    Spawn(io::Error),
    /// The new process exited before it was ready (how, in words).
    Exited(String),
    /// The new process was not ready in time; it was killed.
    NotReady(Duration),
    /// A shutdown began while the new process started; it was stopped.
    ShutdownFirst,
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeError::InProgress => f.write_str("an upgrade is already in progress"),
            UpgradeError::ShuttingDown => f.write_str("this server is shutting down"),
            UpgradeError::Spawn(err) => write!(f, "cannot start the new generation: {err}"),
            UpgradeError::Exited(how) => {
                write!(f, "the new generation {how} before it was ready")
            }
            UpgradeError::NotReady(after) => write!(
                f,
                "the new generation was not ready within {} s; killed it",
                after.as_secs()
            ),
            UpgradeError::ShutdownFirst => {
                f.write_str("a shutdown began while the new generation started; stopped it")
            }
        }
    }
}

impl std::error::Error for UpgradeError {}

impl Upgrader {
    /// An upgrader for the server that `shutdown` stops, starting the
    /// executable this process was started as: `argv[0]` made absolute
    /// when it is a path (an upgraded binary or a moved symlink there is
    /// picked up), the file this process runs otherwise (found via PATH).
    pub(crate) fn new(shutdown: ShutdownHandle) -> io::Result<Upgrader> {
        let args: Vec<OsString> = std::env::args_os().collect();
        let arg0 = args.first().cloned().unwrap_or_default();
        let path = if arg0.as_bytes().contains(&b'/') {
            std::path::absolute(&arg0)?
        } else {
            std::env::current_exe()?
        };
        Ok(Upgrader {
            path,
            args,
            shutdown,
            busy: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Starts the next generation with this process's arguments and
    /// listening sockets, waits for it to be ready, then stops accepting
    /// and starts the drain here (as [`ShutdownHandle::shutdown`]), leaving
    /// the sockets listening for it. Returns its PID. On error nothing
    /// changed here: the server goes on serving.
    pub fn upgrade(&self) -> Result<u32, UpgradeError> {
        if self.shutdown.stopping() {
            return Err(UpgradeError::ShuttingDown);
        }
        if self.busy.swap(true, Ordering::SeqCst) {
            return Err(UpgradeError::InProgress);
        }
        /// Frees the upgrader however `start_next` ends (a panic too).
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        let _done = Done(&self.busy);
        self.start_next()
    }

    fn start_next(&self) -> Result<u32, UpgradeError> {
        log::info!(
            "upgrade: starting a new generation from {}",
            self.path.display()
        );
        let (mut ours, theirs) = UnixStream::pair().map_err(UpgradeError::Spawn)?;
        let listeners = self.shutdown.listener_fds();
        let owned: Vec<&str> = listeners
            .iter()
            .filter(|(_, _, owned)| *owned)
            .map(|(_, name, _)| *name)
            .collect();
        let mut fds: Vec<(RawFd, &str)> =
            listeners.iter().map(|(fd, name, _)| (*fd, *name)).collect();
        fds.push((theirs.as_raw_fd(), ""));
        let mut child =
            spawn(&self.path, &self.args, &fds, &owned.join(":")).map_err(UpgradeError::Spawn)?;
        // Only the child holds its end now: when it exits, we read the end.
        drop(theirs);
        let pid = child.id();
        if !self.shutdown.upgrade_starting(pid) {
            // A shutdown began while it was being started.
            let _ = child.kill();
            let _ = child.wait();
            return Err(UpgradeError::ShutdownFirst);
        }
        let ready = wait_ready(&mut ours, READY_TIMEOUT);
        if !matches!(ready, Ok(true)) {
            // No longer ours to signal from another thread: it is reaped below.
            self.shutdown.upgrade_failed();
        }
        match ready {
            Ok(true) => {}
            Ok(false) => return Err(UpgradeError::Exited(wait_exit(&mut child))),
            Err(err) => {
                // Ours to stop: we started it, and it never served.
                let _ = child.kill();
                let _ = child.wait();
                return Err(match err.kind() {
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        UpgradeError::NotReady(READY_TIMEOUT)
                    }
                    _ => UpgradeError::Spawn(err),
                });
            }
        }
        log::info!("upgrade: the new generation (PID {pid}) is ready; handing over to it");
        // systemd follows the new process from the hand-over on (not
        // before: until then, this one could still stop it).
        let tell_systemd = || {
            if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
                let state = format!("MAINPID={pid}\nREADY=1\n");
                if let Err(err) = notify_systemd(&path, state.as_bytes()) {
                    log::warn!("cannot notify systemd at {}: {err}", path.to_string_lossy());
                }
            }
        };
        if !self.shutdown.hand_over(tell_systemd) {
            // A shutdown began meanwhile, and stopped the new generation.
            return Err(UpgradeError::ShutdownFirst);
        }
        // Not waited for: it outlives us, and its parent becomes init.
        drop(child);
        Ok(pid)
    }
}

/// Reads from the new generation until it says it is ready (`true`) or
/// closes its end without saying so (`false`, it exited). Times out with
/// an error.
fn wait_ready(channel: &mut UnixStream, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        channel.set_read_timeout(Some(left))?;
        match channel.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if seen
                    .windows(READY_MESSAGE.len())
                    .any(|w| w == READY_MESSAGE)
                {
                    return Ok(true);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// How a new generation that closed its ready channel ended, in words
/// ("exited (exit status: 1)"); one still running after [`EXIT_TIMEOUT`]
/// is killed.
fn wait_exit(child: &mut Child) -> String {
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return format!("exited ({status})"),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(err) => return format!("could not be waited for ({err})"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    "closed its ready channel and was killed".into()
}

/// Starts `path` with `args` (`argv[0]` first) and the environment of this
/// process, with `fds` as descriptors 3, 4, … and the variables that say
/// what they are: `LISTEN_FDS` and `LISTEN_FDNAMES` for the listeners (all
/// but the last), [`READY_FD_VAR`] for the last, [`OWNED_VAR`] for the
/// listeners it is to close when it stops (`owned`, names joined by `:`),
/// and `LISTEN_PID` set to the child's own PID, which only the child knows.
fn spawn(
    path: &std::path::Path,
    args: &[OsString],
    fds: &[(RawFd, &str)],
    owned: &str,
) -> io::Result<Child> {
    assert!(fds.len() <= MAX_PASSED, "at most {MAX_PASSED} descriptors");
    let listeners = fds.len() - 1;
    let names: Vec<&str> = fds[..listeners].iter().map(|(_, name)| *name).collect();
    let ours = [
        "LISTEN_PID",
        "LISTEN_FDS",
        "LISTEN_FDNAMES",
        READY_FD_VAR,
        OWNED_VAR,
    ];
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(key, _)| !ours.iter().any(|name| key.as_bytes() == name.as_bytes()))
        .map(|(key, value)| {
            let mut pair = key.into_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            CString::new(pair)
        })
        .collect::<Result<_, _>>()?;
    env.push(CString::new(format!("LISTEN_FDS={listeners}"))?);
    env.push(CString::new(format!("LISTEN_FDNAMES={}", names.join(":")))?);
    let ready_fd = LISTEN_FDS_START + listeners as RawFd;
    env.push(CString::new(format!("{READY_FD_VAR}={ready_fd}"))?);
    env.push(CString::new(format!("{OWNED_VAR}={owned}"))?);
    let args: Vec<CString> = args
        .iter()
        .map(|arg| CString::new(arg.as_bytes()))
        .collect::<Result<_, _>>()?;
    let mut exec = Exec::new(CString::new(path.as_os_str().as_bytes())?, args, env);
    for (i, (fd, _)) in fds.iter().enumerate() {
        exec.fds[i] = *fd;
    }
    exec.count = fds.len();
    let mut command = Command::new(path);
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: `Exec::run` makes only getpid,
    // fcntl, dup2 and execve calls and writes into memory it owns; it
    // allocates nothing (everything was built above, before the fork).
    unsafe {
        command.pre_exec(move || exec.run());
    }
    command.spawn()
}

/// Everything the forked child needs to become the next generation, built
/// before the fork: after it, a multithreaded process may only make
/// async-signal-safe calls (no allocation).
struct Exec {
    path: CString,
    /// Own the strings `argv` and `envp` point into.
    _args: Vec<CString>,
    _env: Vec<CString>,
    /// `LISTEN_PID=` and room for a PID and its NUL, filled in by the child
    /// (through `listen_pid_at`, the pointer `envp` holds).
    _listen_pid: Vec<u8>,
    listen_pid_at: *mut u8,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    /// The descriptors to pass, in order, as 3, 4, …
    fds: [RawFd; MAX_PASSED],
    count: usize,
}

// SAFETY: the raw pointers in `Exec` point into heap buffers that `Exec`
// itself owns (moving it moves no buffer) and that are never changed after
// `Exec::new`, except the LISTEN_PID digits, written only by `run` in the
// forked child, which has a single thread and its own copy of the memory.
unsafe impl Send for Exec {}
// SAFETY: as for Send: shared references never write through the pointers.
unsafe impl Sync for Exec {}

impl Exec {
    fn new(path: CString, args: Vec<CString>, env: Vec<CString>) -> Exec {
        let mut listen_pid = LISTEN_PID_PREFIX.to_vec();
        // u32::MAX has 10 digits; then the NUL. Zeros: a valid C string
        // ("LISTEN_PID=") until the child writes its PID.
        listen_pid.resize(LISTEN_PID_PREFIX.len() + 11, 0);
        let listen_pid_at = listen_pid.as_mut_ptr();
        let argv = args
            .iter()
            .map(|arg| arg.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp = env
            .iter()
            .map(|pair| pair.as_ptr())
            .chain([listen_pid_at.cast_const().cast(), std::ptr::null()])
            .collect();
        Exec {
            path,
            _args: args,
            _env: env,
            _listen_pid: listen_pid,
            listen_pid_at,
            argv,
            envp,
            fds: [-1; MAX_PASSED],
            count: 0,
        }
    }

    /// In the forked child: writes our PID into `LISTEN_PID`, moves the
    /// descriptors to 3, 4, … (without close-on-exec) and executes. Returns
    /// only on error.
    fn run(&mut self) -> io::Result<()> {
        // SAFETY: getpid has no preconditions.
        let mut pid = unsafe { libc::getpid() } as u32;
        let mut digits = [0u8; 10];
        let mut n = 0;
        loop {
            digits[n] = b'0' + (pid % 10) as u8;
            n += 1;
            pid /= 10;
            if pid == 0 {
                break;
            }
        }
        for i in 0..n {
            // SAFETY: the buffer behind `listen_pid_at` holds the prefix and
            // 11 more bytes; at most 10 digits and a NUL are written there.
            unsafe {
                self.listen_pid_at
                    .add(LISTEN_PID_PREFIX.len() + i)
                    .write(digits[n - 1 - i])
            };
        }
        // SAFETY: as above; index prefix + n <= prefix + 10.
        unsafe { self.listen_pid_at.add(LISTEN_PID_PREFIX.len() + n).write(0) };
        // First copy every descriptor above the targets (close-on-exec, so
        // the copies go away), then put each copy in place: a source that
        // sits on another's target is never overwritten before it is
        // copied, and dup2 clears close-on-exec on the target.
        let first_free = LISTEN_FDS_START + self.count as RawFd;
        let mut copies = [-1; MAX_PASSED];
        for (copy, fd) in copies.iter_mut().zip(&self.fds).take(self.count) {
            // SAFETY: fcntl on a descriptor number; it fails on one that is
            // not open, and nothing else in this process uses descriptors.
            *copy = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, first_free) };
            if *copy < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        for (i, copy) in copies.iter().enumerate().take(self.count) {
            // SAFETY: dup2 on descriptor numbers; this single-threaded child
            // is about to exec, and the target is meant to be replaced.
            if unsafe { libc::dup2(*copy, LISTEN_FDS_START + i as RawFd) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: `path` is a C string; `argv` and `envp` are arrays of C
        // strings ending in a null pointer, all owned by `self`, alive for
        // the call (and, on success, never needed again).
        unsafe { libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr()) };
        Err(io::Error::last_os_error())
    }
}

/// Whom to tell that the server is ready: the previous generation, when
/// this one was started by an upgrade (through `SIMPLE_WEB_SERVER_READY_FD`, with
/// `LISTEN_PID` naming this process), and systemd, when it asks
/// (`NOTIFY_SOCKET`, for `Type=notify` units). Taken once, at start-up.
pub struct ReadyNotice {
    /// To the previous generation.
    channel: Option<UnixStream>,
    /// systemd's notification socket.
    systemd: Option<OsString>,
}

impl ReadyNotice {
    /// Takes the channel this process was given, if any, and notes
    /// systemd's socket.
    pub fn take() -> ReadyNotice {
        ReadyNotice {
            channel: Self::take_channel(),
            systemd: std::env::var_os("NOTIFY_SOCKET"),
        }
    }

    fn take_channel() -> Option<UnixStream> {
        static TAKEN: AtomicBool = AtomicBool::new(false);
        if !listener::for_this_process() || TAKEN.swap(true, Ordering::SeqCst) {
            return None;
        }
        let fd: RawFd = std::env::var(READY_FD_VAR).ok()?.parse().ok()?;
        // It follows the listening sockets, as an upgrade passes it.
        let listeners: RawFd = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
        if fd != LISTEN_FDS_START + listeners || sys::socket_family(fd) != Some(libc::AF_UNIX) {
            log::warn!("{READY_FD_VAR}={fd} is not a Unix socket; not telling the old server");
            return None;
        }
        // SAFETY: the descriptor is an open Unix socket, passed to this
        // process (LISTEN_PID) for it alone to write to and close; it is
        // wrapped once per process (TAKEN).
        let channel = unsafe { UnixStream::from_raw_fd(fd) };
        // SAFETY: fcntl on the channel's own open descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        Some(channel)
    }

    /// Says that this process serves. A new generation tells the
    /// previous one, which stops accepting, drains, and tells systemd
    /// that this process is the service's main one now (`MAINPID`, so the
    /// old one's exit is not taken for the service's; the unit needs
    /// `NotifyAccess=all`). A first generation tells systemd itself.
    pub fn send(self) {
        if let Some(mut channel) = self.channel {
            if let Err(err) = channel.write_all(READY_MESSAGE) {
                log::warn!("cannot tell the previous generation that we are ready: {err}");
            }
            return;
        }
        if let Some(path) = &self.systemd {
            let state = format!("MAINPID={}\nREADY=1\n", std::process::id());
            if let Err(err) = notify_systemd(path, state.as_bytes()) {
                log::warn!("cannot notify systemd at {}: {err}", path.to_string_lossy());
            }
        }
    }
}

/// One datagram to systemd's notification socket: a path, or (on Linux)
/// an abstract name written `@name`.
fn notify_systemd(path: &std::ffi::OsStr, state: &[u8]) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let addr = match path.as_bytes() {
        #[cfg(target_os = "linux")]
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name)?,
        _ => SocketAddr::from_pathname(path)?,
    };
    UnixDatagram::unbound()?.send_to_addr(state, &addr)?;
    Ok(())
}
