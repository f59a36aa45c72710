//! A client connection's socket, TCP or Unix, and who is at its other end.
//!
//! Everything above the socket (`transport.rs`, `conn.rs`) speaks to a
//! [`Stream`] and does not care which kind it is: both are byte streams,
//! and `sendmsg`, `sendfile`, `recv(MSG_PEEK)` and `poll` work on either.
//! Only `TCP_NODELAY` is TCP's alone.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::os::unix::io::{AsRawFd, RawFd};

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

/// A connection's non-blocking socket.
pub enum Stream {
    Tcp(TcpStream),
    /// From a `--bind unix:PATH` listener (a local reverse proxy).
    Unix(UnixStream),
}

impl Stream {
    /// Reads what has arrived without taking it off the socket.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(sock) => sock.peek(buf),
            Stream::Unix(sock) => peek_fd(sock.as_raw_fd(), buf),
        }
    }

    /// Sets `TCP_NODELAY`; a Unix socket has no Nagle to turn off.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(sock) => sock.set_nodelay(nodelay),
            Stream::Unix(_) => Ok(()),
        }
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(sock) => sock.shutdown(how),
            Stream::Unix(sock) => sock.shutdown(how),
        }
    }
}

/// `recv(2)` with `MSG_PEEK`: std's `UnixStream::peek` is not stable yet.
fn peek_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the descriptor is open for the whole call (the caller borrows
    // its owner), and `buf` is a writable buffer of exactly `buf.len()`
    // bytes, borrowed for the whole call.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(sock) => (&*sock).read(buf),
            Stream::Unix(sock) => (&*sock).read(buf),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(sock) => (&*sock).write(buf),
            Stream::Unix(sock) => (&*sock).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(sock) => (&*sock).write_vectored(bufs),
            Stream::Unix(sock) => (&*sock).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(sock) => sock.as_raw_fd(),
            Stream::Unix(sock) => sock.as_raw_fd(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(sock) => sock.register(registry, token, interests),
            Stream::Unix(sock) => sock.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(sock) => sock.reregister(registry, token, interests),
            Stream::Unix(sock) => sock.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(sock) => sock.deregister(registry),
            Stream::Unix(sock) => sock.deregister(registry),
        }
    }
}

/// Who is at the other end of a connection: what the access log and the
/// debug messages name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A TCP client, or the client a PROXY header names.
    Ip(SocketAddr),
    /// A local process on a Unix socket, which has no address of its own.
    Unix,
}

impl Peer {
    /// The client of a TCP connection. An IPv4 client of a dual-stack
    /// socket (`--bind ::`) arrives as an IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.1`); it is named as the IPv4 address it is, as an
    /// IPv4 socket would name it.
    pub fn tcp(addr: SocketAddr) -> Peer {
        match addr {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => Peer::Ip(SocketAddr::new(IpAddr::V4(v4), v6.port())),
                None => Peer::Ip(addr),
            },
            SocketAddr::V4(_) => Peer::Ip(addr),
        }
    }

    /// The client's IP address; `None` on a Unix socket.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Peer::Ip(addr) => Some(addr.ip()),
            Peer::Unix => None,
        }
    }
}

impl fmt::Display for Peer {
    /// `192.0.2.1:50000`, `[2001:db8::1]:50000`, or `unix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Ip(addr) => addr.fmt(f),
            Peer::Unix => f.write_str("unix"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_table() {
        let cases = [
            ("127.0.0.1:80", "127.0.0.1:80", Some("127.0.0.1")),
            ("[::1]:80", "[::1]:80", Some("::1")),
            (
                "[::ffff:192.0.2.1]:8000",
                "192.0.2.1:8000",
                Some("192.0.2.1"),
            ),
            (
                "[2001:db8::1]:443",
                "[2001:db8::1]:443",
                Some("2001:db8::1"),
            ),
        ];
        for (addr, shown, ip) in cases {
            let peer = Peer::tcp(addr.parse().unwrap());
            assert_eq!(peer.to_string(), shown, "{addr}");
            assert_eq!(peer.ip(), ip.map(|ip| ip.parse().unwrap()), "{addr}");
        }
        assert_eq!(Peer::Unix.to_string(), "unix");
        assert_eq!(Peer::Unix.ip(), None);
    }
}
