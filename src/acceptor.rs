//! The acceptor: the main thread's loop that accepts connections and
//! places them on workers, at a lower priority than the workers.

use std::io;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::listener::Listener;
use crate::pool::Pool;
use crate::server::ShutdownHandle;
use crate::stream::{Peer, Stream};
use crate::sys::{self, ThreadNice};

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

/// The main thread's job: accept connections and place them on workers.
///
/// The thread sleeps in `poll(2)` on the listeners until clients arrive, then
/// accepts all that are queued (up to [`BATCH`]) before it wakes the workers
/// that got one: a worker woken at once for each connection would, on a
/// busy machine, preempt the acceptor and serve that one connection before
/// the next is even accepted. Shutdown wakes it through
/// [`ShutdownHandle::shutdown`].
pub struct Acceptor<'a> {
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

impl<'a> Acceptor<'a> {
    /// An acceptor for the listeners `shutdown` holds, placing on `pool`
    /// at most `max_connections` open connections, `nice` steps below it.
    pub fn new(
        shutdown: &'a ShutdownHandle,
        pool: &'a Pool,
        max_connections: usize,
        nice: u8,
    ) -> Acceptor<'a> {
        Acceptor {
            shutdown,
            pool,
            max_connections,
            held: None,
            eviction_asked: None,
            emfile_logged: false,
            unwoken: vec![false; pool.len()],
            placed: 0,
            nice,
        }
    }

    /// Accepts until a shutdown or a hand-over is requested.
    pub fn run(&mut self) {
        let _nicer = NicerThread::enter(self.nice);
        let listeners = self.shutdown.listeners();
        let mut pollfds = poll_set(&listeners, self.shutdown.wake_socket());
        // Which listeners may have connections queued: all of them at
        // first, then those the poll reports. They take turns, so a flood
        // on one never starves the others (health checks under load).
        let mut ready = vec![true; listeners.len()];
        let mut turn = 0;
        while !self.shutdown.requested() {
            if self.placed >= BATCH {
                self.wake_workers();
            }
            // While a public connection waits for room, the public queues
            // wait with it; the admin listener is still served.
            let blocked = match self.held.take() {
                Some(held) => !self.admit(held),
                None => false,
            };
            let Some(i) = (0..ready.len())
                .map(|k| (turn + k) % ready.len())
                .find(|&i| ready[i] && (!blocked || listeners[i].1))
            else {
                if blocked {
                    self.pause(BACKOFF);
                    // Look at the admin queue again after the pause.
                    for (ready, (_, admin)) in ready.iter_mut().zip(&listeners) {
                        *ready |= *admin;
                    }
                    continue;
                }
                // Everything queued is placed: let the workers at it.
                self.wake_workers();
                if let Err(err) = wait_readable(&mut pollfds, &mut ready) {
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
    stream: Stream,
    peer: Peer,
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
    thread: ThreadNice,
    /// The nice value to restore; `None` when it was left alone.
    previous: Option<libc::c_int>,
    /// A priority belongs to a thread: keep the guard on it (not `Send`).
    _thread: PhantomData<*const ()>,
}

impl NicerThread {
    fn enter(steps: u8) -> NicerThread {
        let thread = ThreadNice::current();
        let previous = match steps {
            0 => None,
            _ => lower_priority(&thread, steps)
                .map_err(|err| log::debug!("cannot lower the acceptor's priority: {err}"))
                .ok(),
        };
        NicerThread {
            thread,
            previous,
            _thread: PhantomData,
        }
    }
}

impl Drop for NicerThread {
    fn drop(&mut self) {
        if let Some(nice) = self.previous
            && let Err(err) = self.thread.set(nice)
        {
            log::debug!("cannot restore the thread's priority after serving: {err}");
        }
    }
}

/// Makes the calling thread `steps` nice steps nicer, for good (a
/// background thread); a failure is logged at debug level.
pub fn lower_thread_priority(steps: u8) {
    if let Err(err) = lower_priority(&ThreadNice::current(), steps) {
        log::debug!("cannot lower a thread's priority: {err}");
    }
}

/// Makes `thread` `steps` nice steps nicer (at most 19); returns the nice
/// value it had.
fn lower_priority(thread: &ThreadNice, steps: u8) -> io::Result<libc::c_int> {
    let nice = thread.get()?;
    thread.set((nice + libc::c_int::from(steps)).min(19))?;
    Ok(nice)
}

/// What [`wait_readable`] waits on: `wake`, then each listener, in order.
fn poll_set(listeners: &[(&Listener, bool)], wake: &UnixStream) -> Vec<libc::pollfd> {
    let fds = std::iter::once(wake.as_raw_fd())
        .chain(listeners.iter().map(|(listener, _)| listener.as_raw_fd()));
    fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    })
    .collect()
}

/// Sleeps until a listener has a connection to accept (marked in `ready`),
/// or is shut down, or the wake-up socket is written to. `pollfds` is the
/// [`poll_set`] of those listeners; it is reused from call to call.
fn wait_readable(pollfds: &mut [libc::pollfd], ready: &mut [bool]) -> io::Result<()> {
    // SAFETY: `pollfds` is a slice of valid, writable pollfds, of exactly
    // the length passed, for descriptors open for the whole call (the
    // wake-up socket's and the listeners', which outlive the acceptor).
    let rc = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, -1) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    for (ready, pollfd) in ready.iter_mut().zip(&pollfds[1..]) {
        *ready = pollfd.revents != 0;
    }
    Ok(())
}

/// Takes the next queued connection, if any, non-blocking and
/// close-on-exec: one `accept4(2)` on Linux (std's `accept` would need
/// another system call for the first; see [`sys::accept`]). The listener
/// is non-blocking: `WouldBlock` says the queue is empty.
fn accept(listener: &Listener) -> io::Result<(Stream, Peer)> {
    let (socket, storage) = sys::accept(listener.as_raw_fd())?;
    let stream = listener.stream(socket);
    let peer = peer(&storage).ok_or_else(|| io::Error::other("unknown address family"))?;
    Ok((stream, peer))
}

/// Who connected, from the address `accept` filled in.
fn peer(storage: &libc::sockaddr_storage) -> Option<Peer> {
    match storage.ss_family as libc::c_int {
        libc::AF_UNIX => Some(Peer::Unix),
        _ => socket_addr(storage).map(Peer::tcp),
    }
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
