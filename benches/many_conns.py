#!/usr/bin/env python3
"""Many idle keep-alive connections against one running server.

    python3 benches/many_conns.py PID PORT COUNT STOP_SIGNAL [PATH]

The client half of benches/many_conns.sh, which starts the servers. Against
the server PID listening on 127.0.0.1:PORT it:

1. warms the server up (50 connections, one request each), measures its
   resident set size (VmRSS, with its worker processes);
2. opens COUNT keep-alive connections, at most BATCH connecting at once,
   from the source addresses 127.0.0.2, 127.0.0.3, ... (PER_SOURCE each:
   one address has only ~28 000 ephemeral ports), each making one request
   for PATH (default /1k.bin) and reading the whole response; they then stay
   open and idle; measures the RSS again (KiB per idle connection);
3. while they sit there, times PROBES fresh clients from 127.0.0.1, one
   after the other: connect, GET PATH, the last body byte (p50, p99, max);
4. reuses every one of the COUNT connections once more (all requests sent,
   then every response read) and times it, with the server's CPU time per
   request in that phase;
5. leaves them idle for IDLE_BEFORE_STOP seconds (default 2: longer than
   our drain grace, which spares a connection answered within the last
   second), then sends STOP_SIGNAL (INT for ours, QUIT for nginx's graceful
   stop) and times how long the server takes to exit, and how many of the
   idle connections it closed before.

Prints one line per phase and, last, one `result` line of key=value pairs
for the script. Every error (a refused or reset connection, a status other
than 200, a short body, a phase past its deadline) is counted and shown;
any error makes the exit status 1. Bounded: each phase has a deadline
(PHASE_TIMEOUT s, default 120), every socket closes at exit.
"""

import argparse
import errno
import os
import select
import signal
import socket
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle_rss import rss_kib  # noqa: E402  (the same RSS as the idle rows)

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the port at connect()
BATCH = int(os.environ.get("BATCH", "512"))
PER_SOURCE = int(os.environ.get("PER_SOURCE", "25000"))
PROBES = int(os.environ.get("PROBES", "1000"))
PHASE_TIMEOUT = float(os.environ.get("PHASE_TIMEOUT", "120"))
IDLE_BEFORE_STOP = float(os.environ.get("IDLE_BEFORE_STOP", "2"))


def pids_of(pid):
    """pid and its direct children (nginx's workers)."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def cpu_seconds(pid):
    """User + system CPU of pid and its children, every thread."""
    ticks = 0
    for p in pids_of(pid):
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def gone(pid):
    """True once pid has exited (a zombie counts: it no longer serves)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


class Response:
    """Reads one HTTP/1.1 response: a 200 with a Content-Length body."""

    def __init__(self):
        self.data = b""
        self.length = None
        self.status = None

    def feed(self, chunk):
        """True when the response is complete; raises on a bad one."""
        self.data += chunk
        if self.length is None:
            end = self.data.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = self.data[:end].split(b"\r\n")
            self.status = head[0].split(b" ")[1]
            if self.status != b"200":
                raise ValueError(f"status {self.status.decode(errors='replace')}")
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    self.length = int(value)
            if self.length is None:
                raise ValueError("no Content-Length")
            self.data = self.data[end + 4:]
        if len(self.data) > self.length:
            raise ValueError("more bytes than the Content-Length")
        return len(self.data) == self.length


class Errors:
    def __init__(self):
        self.counts = {}

    def add(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def total(self):
        return sum(self.counts.values())

    def __str__(self):
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items())) or "none"


def exchange(ep, socks, request, errors, deadline, connect_first=False):
    """Drives every socket in socks (fd -> socket) through one request and
    response at once (after connect() if connect_first); returns the fds
    that got a whole 200 response. Failed sockets are closed."""
    state = {}  # fd -> "connect" | Response
    for fd, s in socks.items():
        if connect_first:
            state[fd] = "connect"
            ep.register(fd, select.EPOLLOUT)
        else:
            try:
                s.send(request)
            except OSError as e:
                errors.add(f"send: {errno.errorcode.get(e.errno, e.errno)}")
                s.close()
                continue
            state[fd] = Response()
            ep.register(fd, select.EPOLLIN)
    done = []
    while state:
        if time.monotonic() > deadline:
            for fd in state:
                errors.add("phase deadline")
                ep.unregister(fd)
                socks[fd].close()
            break
        for fd, _ in ep.poll(1.0):
            s = socks[fd]
            st = state[fd]
            try:
                if st == "connect":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    s.send(request)
                    state[fd] = Response()
                    ep.modify(fd, select.EPOLLIN)
                    continue
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed before the whole response")
                if st.feed(chunk):
                    ep.unregister(fd)
                    del state[fd]
                    done.append(fd)
            except BlockingIOError:
                pass
            except (OSError, ValueError) as e:
                what = errno.errorcode.get(getattr(e, "errno", None), None) or str(e)
                errors.add(what)
                ep.unregister(fd)
                del state[fd]
                s.close()
    return done


def open_connections(port, count, request, errors):
    """COUNT connections, each after one whole response; fd -> socket."""
    ep = select.epoll()
    idle = {}
    deadline = time.monotonic() + PHASE_TIMEOUT
    made = 0
    while made < count and time.monotonic() < deadline:
        batch = {}
        for _ in range(min(BATCH, count - made)):
            source = f"127.0.0.{2 + made // PER_SOURCE}"
            made += 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.setblocking(False)
            try:
                s.bind((source, 0))
                s.connect_ex(("127.0.0.1", port))
            except OSError as e:
                errors.add(f"connect: {errno.errorcode.get(e.errno, e.errno)}")
                s.close()
                continue
            batch[s.fileno()] = s
        for fd in exchange(ep, batch, request, errors, deadline, connect_first=True):
            idle[fd] = batch[fd]
    if made < count:
        errors.add("phase deadline")
    ep.close()
    return idle


def probe(port, request, errors, tries):
    """Times `tries` fresh clients, one after the other; milliseconds."""
    times = []
    deadline = time.monotonic() + PHASE_TIMEOUT
    for _ in range(tries):
        if time.monotonic() > deadline:
            errors.add("phase deadline")
            break
        start = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(request)
                response = Response()
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed before the whole response")
                    if response.feed(chunk):
                        break
        except (OSError, ValueError) as e:
            errors.add(f"probe: {e}")
            continue
        times.append((time.perf_counter() - start) * 1000)
    return times


def stop(pid, sig, idle, errors):
    """Signals pid; seconds until it exits, and how many idle connections
    it closed before it did."""
    ep = select.epoll()
    # One-shot: each connection reports its close once, and the client
    # makes no system call per connection while the server closes them.
    for fd in idle:
        ep.register(fd, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLONESHOT)
    closed = set()
    start = time.monotonic()
    os.kill(pid, sig)
    while not gone(pid):
        if time.monotonic() - start > PHASE_TIMEOUT:
            errors.add("did not exit")
            break
        for fd, _ in ep.poll(0.001, 8192):
            closed.add(fd)
    took = time.monotonic() - start
    ep.close()
    return took, len(closed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("stop_signal", help="INT, TERM, QUIT, ...")
    parser.add_argument("path", nargs="?", default="/1k.bin")
    args = parser.parse_args()
    pid, port, count = args.pid, args.port, args.count
    sig = getattr(signal, "SIG" + args.stop_signal)
    request = f"GET {args.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    errors = Errors()

    probe(port, request, errors, 50)  # warm-up: lazily grown structures
    time.sleep(0.5)
    before = rss_kib(pid)

    start = time.monotonic()
    idle = open_connections(port, count, request, errors)
    opened = time.monotonic() - start
    time.sleep(1.0)  # let the server settle: buffers back to its pools
    after = rss_kib(pid)
    per_conn = (after - before) / max(len(idle), 1)
    print(f"open: {len(idle)} of {count} connections in {opened:.2f} s; "
          f"RSS {before} -> {after} KiB: {per_conn:.3f} KiB each; errors: {errors}", flush=True)

    times = probe(port, request, errors, PROBES)
    if times:
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        worst = times[-1]
    else:
        p50 = p99 = worst = float("nan")
    print(f"probe: {len(times)} fresh clients beside them: p50 {p50:.3f} ms, "
          f"p99 {p99:.3f} ms, max {worst:.3f} ms", flush=True)

    ep = select.epoll()
    cpu0 = cpu_seconds(pid)
    start = time.monotonic()
    answered = exchange(ep, idle, request, errors, time.monotonic() + PHASE_TIMEOUT)
    reused = time.monotonic() - start
    cpu = cpu_seconds(pid) - cpu0
    ep.close()
    for fd in list(idle):
        if fd not in answered:
            del idle[fd]
    cpu_us = cpu * 1e6 / max(len(answered), 1)
    print(f"reuse: {len(answered)} of {count} answered again in {reused:.2f} s, "
          f"server CPU {cpu_us:.1f} us per request", flush=True)

    time.sleep(IDLE_BEFORE_STOP)
    took, closed = stop(pid, sig, idle, errors)
    print(f"stop: SIG{args.stop_signal} -> exited in {took:.3f} s, "
          f"having closed {closed} of {len(idle)} idle connections", flush=True)
    for s in idle.values():
        s.close()

    print(f"errors: {errors.total()} ({errors})")
    print(f"result conns={count} open={len(idle)} open_s={opened:.2f} kib_per_conn={per_conn:.3f} "
          f"rss_before={before} rss_after={after} p50_ms={p50:.3f} p99_ms={p99:.3f} max_ms={worst:.3f} "
          f"reused={len(answered)} reuse_s={reused:.2f} reuse_cpu_us={cpu_us:.1f} "
          f"stop_s={took:.3f} closed={closed} errors={errors.total()}")
    sys.exit(1 if errors.total() else 0)


if __name__ == "__main__":
    main()
