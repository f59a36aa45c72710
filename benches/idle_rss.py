#!/usr/bin/env python3
"""Memory per idle keep-alive connection of a running server.

    python3 benches/idle_rss.py PID PORT [CONNECTIONS] [PATH]

Measures the resident set size (VmRSS) of process PID and its children,
opens CONNECTIONS (default 5000) connections to 127.0.0.1:PORT that each
make one keep-alive request for PATH (default /1k.bin) and read its
response, then measures again while they stay open, and prints
`<KiB per idle connection> <rss before KiB> <rss after KiB>`.
Bounded: every socket has a 10 s timeout; all connections close at exit.
"""

import os
import resource
import socket
import sys
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


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    path = sys.argv[4] if len(sys.argv) > 4 else "/1k.bin"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 100), hard))

    # Warm up: the server's lazily grown structures and caches.
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            request(s, path)
    time.sleep(0.5)
    before = rss_kib(pid)
    conns = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
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
