//! The bytes of one connection, plain or TLS. `conn.rs` speaks HTTP
//! through [`Transport`] and never asks which kind it has: read, a gathered
//! write, a file range, flush, shut down.
//!
//! Plain connections write with `sendmsg` (`MSG_MORE` when more follows at
//! once) and send files with `sendfile`. TLS connections run rustls over
//! the same non-blocking socket in the connection's own worker: the
//! handshake is just reading and writing before the first request; a file
//! range is read into a buffer a few records at a time and encrypted, since
//! `sendfile` cannot encrypt.

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection};

use crate::stream::Stream;
use crate::sys;

/// Most plaintext put into TLS records per file read: three full records,
/// which stays under rustls's 64 KiB limit on buffered output.
const TLS_FILE_CHUNK: usize = 3 * 16 * 1024;

/// Most slices one `sendmsg` takes (rustls hands over at most 64 records).
const MAX_SLICES: usize = 64;
/// A TLS record's first byte when it carries a handshake (a ClientHello).
const HANDSHAKE_RECORD: u8 = 0x16;
/// Most bytes one TLS read takes from the socket. Records without
/// plaintext (empty ones, key updates) cost work but fill nothing: without
/// a bound, a client could keep one read, and its worker, busy.
const TLS_READ_BUDGET: usize = 64 * 1024;

/// A client connection's byte stream.
pub enum Transport {
    Plain(Stream),
    Tls(Box<TlsStream>),
}

/// The outcome of one write attempt.
pub enum Wrote {
    /// This many bytes were taken.
    Bytes(u64),
    /// This many bytes were taken, and the socket has no room for more: wait
    /// until it is writable.
    Full(u64),
    /// Nothing was taken; the socket is full.
    Blocked,
}

/// A TLS server connection over a non-blocking socket.
pub struct TlsStream {
    sock: Stream,
    tls: ServerConnection,
    mode: Mode,
    /// Our `close_notify` is queued.
    closed: bool,
    /// The client's stream ended (`close_notify`, or the socket closed).
    ended: bool,
    /// Records went out since [`Transport::take_progress`] last asked.
    progress: bool,
}

/// What the client turned out to speak.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing has arrived yet.
    Detect,
    Tls,
    /// A plain-HTTP request on the TLS port: answered in plain text, once.
    PlainHttp,
}

/// The error [`Transport::read`] returns when a client speaks plain HTTP
/// to a TLS port; see [`is_plain_http`].
#[derive(Debug)]
struct PlainHttp;

impl fmt::Display for PlainHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a plain-HTTP request on the HTTPS port")
    }
}

impl std::error::Error for PlainHttp {}

/// Whether a read failed because the client sent plain HTTP to the TLS
/// port. It deserves a plain-text answer that says to use `https://`;
/// from then on the transport writes in the clear.
pub fn is_plain_http(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<PlainHttp>())
}

impl Transport {
    pub fn plain(sock: Stream) -> Transport {
        Transport::Plain(sock)
    }

    /// A TLS connection whose handshake starts with the client's first bytes.
    ///
    /// `TCP_NODELAY` is set at once: the server's last handshake flight
    /// (session tickets, after the client's Finished) and the first
    /// response are two writes, and Nagle would hold the response until the
    /// client acknowledged the tickets (a delayed ACK: 40 ms on loopback).
    pub fn tls(sock: Stream, config: &Arc<ServerConfig>) -> Result<Transport, rustls::Error> {
        if let Err(err) = sock.set_nodelay(true) {
            log::debug!("cannot set TCP_NODELAY: {err}");
        }
        Ok(Transport::Tls(Box::new(TlsStream {
            sock,
            tls: ServerConnection::new(config.clone())?,
            mode: Mode::Detect,
            closed: false,
            ended: false,
            progress: false,
        })))
    }

    /// `TCP_NODELAY` is already set (see [`Transport::tls`]).
    pub fn has_nodelay(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// The client's stream has ended, though the socket may not say so
    /// again (TLS: `close_notify` came with the last data): read until
    /// `Ok(0)` rather than wait for an event.
    pub fn at_end(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(tls) => tls.ended,
        }
    }

    /// Whether bytes buffered below us went out since the last call (for
    /// the write deadline, which counts progress on the wire).
    pub fn take_progress(&mut self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(tls) => std::mem::take(&mut tls.progress),
        }
    }

    /// The socket, to register with a poll or to set options on.
    pub fn socket(&mut self) -> &mut Stream {
        match self {
            Transport::Plain(sock) => sock,
            Transport::Tls(tls) => &mut tls.sock,
        }
    }

    /// A TLS handshake has not completed yet (also before the client's
    /// first byte): a read that makes this false completed one.
    pub fn handshake_pending(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(tls) => tls.tls.is_handshaking(),
        }
    }

    /// A TLS handshake is under way: the client has sent something and
    /// will send a request next, so it is not idle.
    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            // `Mode::Tls` is set by the handshake's first byte, so the
            // client has sent something.
            Transport::Tls(tls) => tls.mode == Mode::Tls && tls.tls.is_handshaking(),
        }
    }

    /// Reads what has arrived into `buf`, like a non-blocking socket:
    /// `Ok(0)` at the end of the stream, `WouldBlock` when nothing is there.
    /// A count below `buf.len()` means the socket had no more for now (the
    /// edge-triggered poll reports what arrives later), or [`at_end`]
    /// says the stream ended. `Interrupted` means this read used its
    /// budget without filling anything: read again after the worker's
    /// other connections.
    ///
    /// [`at_end`]: Transport::at_end
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(sock) => read_socket(sock, buf),
            Transport::Tls(tls) => tls.read(buf),
        }
    }

    /// Reads and drops what the client sends, without decrypting it (after
    /// we shut down our side).
    pub fn discard(&mut self, scratch: &mut [u8]) -> io::Result<usize> {
        read_socket(self.socket(), scratch)
    }

    /// Writes what the socket takes of `slices`, in one gathered write.
    /// `more`: more follows at once, so the kernel may hold a short segment.
    pub fn write(&mut self, slices: &[&[u8]], more: bool) -> io::Result<Wrote> {
        match self {
            Transport::Plain(sock) => send::<2>(sock, slices, more),
            Transport::Tls(tls) if tls.mode == Mode::PlainHttp => {
                send::<2>(&tls.sock, slices, more)
            }
            Transport::Tls(tls) => tls.write(slices),
        }
    }

    /// Sends up to `count` bytes of `file` from `offset`, advancing it.
    /// `scratch` is a buffer a TLS connection may read the file into.
    pub fn send_file(
        &mut self,
        file: &File,
        offset: &mut u64,
        count: u64,
        scratch: &mut Vec<u8>,
    ) -> io::Result<Wrote> {
        match self {
            Transport::Plain(sock) => sendfile_socket(sock, file, offset, count),
            Transport::Tls(tls) if tls.mode == Mode::PlainHttp => {
                sendfile_socket(&tls.sock, file, offset, count)
            }
            Transport::Tls(tls) => tls.send_file(file, offset, count, scratch),
        }
    }

    /// Pushes out what is buffered below us (TLS records). Returns whether
    /// everything is out; `false` means the socket is full.
    pub fn flush(&mut self) -> io::Result<bool> {
        match self {
            Transport::Plain(_) => Ok(true),
            Transport::Tls(tls) => tls.flush(),
        }
    }

    /// Says the stream is complete after a response (TLS: queues
    /// `close_notify` once) and pushes it out. Returns whether everything
    /// is out; `false` means the socket is full: call again when writable.
    pub fn finish(&mut self) -> io::Result<bool> {
        match self {
            Transport::Plain(_) => Ok(true),
            Transport::Tls(tls) => {
                tls.queue_close_notify();
                tls.flush()
            }
        }
    }

    /// For a connection closed between responses (idle, timed out, shut
    /// down): [`finish`](Transport::finish) as far as the socket takes at
    /// once. Never after part of a response: a clean end would make a
    /// truncated body look complete.
    pub fn finish_now(&mut self) {
        let _ = self.finish();
    }

    /// Shuts down our side of the socket, after [`finish`](Transport::finish).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.socket().shutdown(Shutdown::Write)
    }
}

impl TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.mode == Mode::Detect {
            let mut first = [0u8; 1];
            if peek(&self.sock, &mut first)? == 0 {
                return Ok(0);
            }
            self.mode = match first[0] {
                HANDSHAKE_RECORD => Mode::Tls,
                b'A'..=b'Z' => Mode::PlainHttp,
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "not a TLS handshake",
                    ));
                }
            };
        }
        if self.mode == Mode::PlainHttp {
            return Err(io::Error::other(PlainHttp));
        }
        let mut filled = 0;
        // The last read came back short: the socket had no more.
        let mut drained = false;
        let mut taken = 0;
        loop {
            // What is decrypted already.
            while filled < buf.len() {
                match self.tls.reader().read(&mut buf[filled..]) {
                    // `close_notify` received: the end of the stream.
                    Ok(0) => {
                        self.ended = true;
                        return Ok(filled);
                    }
                    Ok(n) => filled += n,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    // The socket closed without `close_notify`: as far as
                    // HTTP/1.1 is concerned, that is an end too (a response
                    // is framed by its length, never by the close).
                    Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                        self.ended = true;
                        return Ok(filled);
                    }
                    Err(err) => return Err(err),
                }
            }
            // A short read emptied the socket, as in `Conn::read`: return
            // what we have rather than pay for a read that says EAGAIN.
            // With nothing to return, read on until EAGAIN or the end, since
            // a client that closed its side sends no event after this.
            if filled == buf.len() || (drained && filled > 0) {
                return Ok(filled);
            }
            if taken >= TLS_READ_BUDGET {
                return if filled > 0 {
                    Ok(filled)
                } else {
                    Err(io::ErrorKind::Interrupted.into())
                };
            }
            let mut socket = ShortRead {
                sock: &self.sock,
                short: false,
            };
            match self.tls.read_tls(&mut socket) {
                Ok(0) => {} // the end: the reader says so, after the last records
                Ok(n) => taken += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock && filled > 0 => {
                    return Ok(filled);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            drained = socket.short;
            if let Err(err) = self.tls.process_new_packets() {
                // rustls queued an alert that says why: send it if we can.
                let _ = self.flush();
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
            // Handshake messages (or a key update) to answer with.
            self.flush()?;
        }
    }

    fn write(&mut self, slices: &[&[u8]]) -> io::Result<Wrote> {
        // Records still queued go first; with the socket full, wait.
        if !self.flush()? {
            return Ok(Wrote::Blocked);
        }
        let slices: Vec<IoSlice> = slices
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| IoSlice::new(s))
            .collect();
        // Encrypts at once: head and body go into one record when they fit.
        let n = self.tls.writer().write_vectored(&slices)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.flush()?;
        Ok(Wrote::Bytes(n as u64))
    }

    fn send_file(
        &mut self,
        file: &File,
        offset: &mut u64,
        count: u64,
        scratch: &mut Vec<u8>,
    ) -> io::Result<Wrote> {
        if !self.flush()? {
            return Ok(Wrote::Blocked);
        }
        let want = (count as usize).min(TLS_FILE_CHUNK);
        if scratch.len() < want {
            scratch.resize(TLS_FILE_CHUNK, 0);
        }
        let n = loop {
            match file.read_at(&mut scratch[..want], *offset) {
                Ok(0) => {
                    // The file shrank under us: the promised length can't be met.
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
                }
                Ok(n) => break n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        };
        // The output buffer is empty (flushed above) and holds more than
        // one chunk, so all of it is taken.
        self.tls.writer().write_all(&scratch[..n])?;
        *offset += n as u64;
        self.flush()?;
        Ok(Wrote::Bytes(n as u64))
    }

    fn flush(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut NoSigpipe(&self.sock)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => self.progress = true,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(true)
    }

    /// Queues `close_notify` once. Not before the handshake is done (there
    /// is no session to close), nor after plain HTTP.
    fn queue_close_notify(&mut self) {
        if self.closed || self.mode != Mode::Tls || self.tls.is_handshaking() {
            return;
        }
        self.closed = true;
        self.tls.send_close_notify();
    }
}

/// The socket as rustls writes to it: `sendmsg` with `MSG_NOSIGNAL`, as
/// for plain writes, so a client gone away is an error, never SIGPIPE
/// (which a program embedding the server might not ignore).
struct NoSigpipe<'a>(&'a Stream);

impl Write for NoSigpipe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut slices: [&[u8]; MAX_SLICES] = [&[]; MAX_SLICES];
        let count = bufs.len().min(MAX_SLICES);
        for (slice, buf) in slices.iter_mut().zip(bufs) {
            *slice = buf;
        }
        match send::<MAX_SLICES>(self.0, &slices[..count], false)? {
            Wrote::Bytes(n) | Wrote::Full(n) => Ok(n as usize),
            Wrote::Blocked => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket as rustls reads it, noting whether a read came back short.
struct ShortRead<'a> {
    sock: &'a Stream,
    short: bool,
}

impl Read for ShortRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_socket(self.sock, buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

fn read_socket(mut sock: &Stream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match sock.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

fn peek(sock: &Stream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match sock.peek(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// One non-blocking `sendmsg` of up to `N` slices (head and body: 2, or
/// TLS records: [`MAX_SLICES`]), with `MSG_MORE` when more follows at once,
/// so the kernel doesn't push a short segment yet.
fn send<const N: usize>(sock: &Stream, slices: &[&[u8]], more: bool) -> io::Result<Wrote> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; N];
    let mut count = 0;
    for slice in slices.iter().filter(|s| !s.is_empty()).take(iov.len()) {
        iov[count] = libc::iovec {
            iov_base: slice.as_ptr() as *mut libc::c_void,
            iov_len: slice.len(),
        };
        count += 1;
    }
    // SAFETY: all-zero is a valid msghdr (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = count as _;
    let flags = sys::send_flags(more);
    loop {
        // SAFETY: the descriptor is open for the whole call (borrowed from
        // `sock`); `msg` points at `count` iovecs, each describing a live
        // slice borrowed for the whole call, which the kernel only reads.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) };
        if n > 0 {
            return Ok(Wrote::Bytes(n as u64));
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::WouldBlock => return Ok(Wrote::Blocked),
            io::ErrorKind::Interrupted => {}
            _ => return Err(err),
        }
    }
}

/// `sendfile(2)` of up to `count` bytes. A short count usually means the
/// socket's buffer is full; calling again at once would only trickle out
/// one segment per call. But a signal, a shrunk file or a read error also
/// cut a call short, with room left and no wake-up to come: so the socket
/// is asked whether it really is full.
fn sendfile_socket(sock: &Stream, file: &File, offset: &mut u64, count: u64) -> io::Result<Wrote> {
    match sendfile(sock, file, offset, count)? {
        Wrote::Bytes(n) if n < count && !has_room(sock) => Ok(Wrote::Full(n)),
        wrote => Ok(wrote),
    }
}

/// One `sendfile(2)` of up to `count` bytes from `file` at `offset` to the
/// socket, advancing `offset`.
fn sendfile(sock: &Stream, file: &File, offset: &mut u64, count: u64) -> io::Result<Wrote> {
    debug_assert!(count > 0, "a sendfile of nothing");
    loop {
        match sys::sendfile(sock.as_raw_fd(), file, *offset, count) {
            Ok(0) => {
                // The file shrank under us: the promised length can't be met.
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
            }
            Ok(n) => {
                *offset += n;
                return Ok(Wrote::Bytes(n));
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Wrote::Blocked),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// Whether the socket takes more now (one `poll` that does not wait). When
/// it does not, the kernel's `tcp_poll` marks it as waiting for room
/// (`SOCK_NOSPACE`), so the edge-triggered poll reports it writable once it
/// has room. An error counts as room: the next write reports it.
fn has_room(sock: &Stream) -> bool {
    let mut pollfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid, writable pollfd for the socket's open descriptor;
    // a zero timeout.
    let ready = unsafe { libc::poll(&mut pollfd, 1, 0) };
    ready < 0 || pollfd.revents != 0
}
