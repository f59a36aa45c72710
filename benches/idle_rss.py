#!/usr/bin/env python3
"""Memory per idle keep-alive connection of a running server.

    python3 benches/idle_rss.py [--tls [--cafile CERT]] PID PORT [CONNECTIONS] [PATH]

Measures the resident set size (VmRSS) of process PID and its children,
opens CONNECTIONS (default 5000) connections to 127.0.0.1:PORT that each
make one keep-alive request for PATH (default /1k.bin) and read its
response, then measures again while they stay open, and prints
`<KiB per idle connection> <rss before KiB> <rss after KiB>`.
Bounded: every socket has a 10 s timeout; all connections close at exit.

--tls (or IDLE_RSS_TLS=1): each connection first makes a full TLS 1.3
handshake (Python's ssl module, a fresh session each: no resumption; no SNI,
since the host is an IP address), then its request, and then stays idle, so
the figure is what an idle HTTPS keep-alive connection costs the server
after its handshake. The certificate is verified against CERT (which must
name 127.0.0.1) with --cafile, and not verified without it. The warm-up
connections make handshakes too, so per-process TLS state (contexts, session
caches' first entries, crypto tables) is in "before".
"""

import argparse
import os
import resource
import socket
import ssl
import time


def rss_kib(pid):
    """VmRSS of pid and its direct children (nginx's and lighttpd's workers)."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def request(sock, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk


def tls_context(cafile):
    """A TLS 1.3-only client context; verifying against cafile if given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def connect(port, ctx):
    """A connection to 127.0.0.1:port, over TLS (a full handshake) if ctx."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if ctx is None:
        return s
    try:
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    except BaseException:
        s.close()
        raise
    if t.version() != "TLSv1.3":
        t.close()
        raise ssl.SSLError(f"negotiated {t.version()}, not TLSv1.3")
    return t


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tls", action="store_true",
                        default=os.environ.get("IDLE_RSS_TLS", "") not in ("", "0"),
                        help="a full TLS 1.3 handshake on every connection")
    parser.add_argument("--cafile", help="verify the server's certificate against this PEM file")
    parser.add_argument("pid", type=int)
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int, nargs="?", default=5000)
    parser.add_argument("path", nargs="?", default="/1k.bin")
    args = parser.parse_args()
    pid, port, count, path = args.pid, args.port, args.count, args.path
    if args.cafile and not args.tls:
        parser.error("--cafile needs --tls")
    ctx = tls_context(args.cafile) if args.tls else None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 100), hard))

    # Warm up: the server's lazily grown structures and caches.
    for _ in range(50):
        with connect(port, ctx) as s:
            request(s, path)
    time.sleep(0.5)
    before = rss_kib(pid)
    conns = []
    try:
        for _ in range(count):
            s = connect(port, ctx)
            conns.append(s)
            request(s, path)
        time.sleep(1.0)  # let the server settle: buffers back to its pools
        after = rss_kib(pid)
    finally:
        for s in conns:
            s.close()
    print(f"{(after - before) / count:.3f} {before} {after}")


if __name__ == "__main__":
    main()
