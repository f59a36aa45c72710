#!/usr/bin/env bash
# A soak under mixed hostile load: one server (release build, --workers 2
# -q, 127.0.0.1 only) and, all at once for the whole run, well-behaved and
# hostile clients. Every SAMPLE_EVERY seconds it samples the server; at the
# end it prints the samples, a trend check and one verdict line.
#
#   bash benches/soak.sh                  # DURATION=1800: 30 minutes (+ the build, + ~15 s)
#   QUICK=1 bash benches/soak.sh          # DURATION=120: a 2-minute look
#   KEEP_TMP=1 bash benches/soak.sh       # keep the temp dir (logs, samples) afterwards
#
# Well-behaved clients (any error counts against the "0 errors" target):
#   wrk      keep-alive, wrk -t1 -c$WRK_CONNS for the whole run over 1k.bin,
#            100k.bin and text.txt (Accept-Encoding: gzip, br); a Lua script
#            counts non-2xx responses; socket errors (connect, read, write,
#            timeout: wrk's default 2 s) count too.
#   ab       a new connection per request, `ab -r -c$AB_CONC -n$AB_N` on
#            1k.bin, run again and again; failed requests, non-2xx and runs
#            that exit non-zero count.
#   ranges   (Python) Range (a-b, -n, a-, two ranges as multipart, past the
#            end: 416), If-None-Match (strong, weak, other), If-Modified-Since,
#            If-Range (ETag, stale ETag, Last-Modified date), If-Match (412),
#            HEAD, and text.txt with Accept-Encoding: gzip (decoded back), on
#            keep-alive connections over 1k, 100k (a worker's in-memory copy)
#            and 10m (sendfile); status, Content-Range and body checked.
#   pipeline (Python) bursts of 50 pipelined requests (GET, HEAD, ranges, a
#            404) on one connection, two bursts per connection; every one of
#            the 50 responses checked, in order.
#   probe    (Python) every PROBE_EVERY s a fresh client: a new connection,
#            GET 1k.bin, the time from connect() to the last body byte (and
#            of connect() alone). The samples table shows the worst per window.
#   mutate readers (Python, 3 threads) download mut.bin (8 MiB) and
#            mut-small.bin (64 KiB, small enough for a worker's in-memory
#            copy) while a writer truncates, rewrites, overwrites in place,
#            extends and replaces (rename) them every 20-200 ms. A short body
#            is fine; a response that stops for IO_TIMEOUT s with no EOF is a
#            hang (target 0).
# Hostile clients (the server must stay up and serve the others; what they
# got is tallied and printed, not judged):
#   slowloris  slowhttptest -H, $SLOWLORIS_RATE new connections/s, each
#            sending a header line every 5 s (the server's --header-timeout
#            of 10 s answers 408), so about 10 x that many are open at once.
#   slow read  slowhttptest -X, $SLOWREAD_CONNS connections reading 10m.bin
#            with a 1-512 byte window, 32 bytes a second, in batches of
#            SLOWREAD_RUN (25) s: the server would drop them after
#            --write-timeout (30 s) without a write, which slowhttptest does
#            not notice, so it ends each batch, the next one already open.
#   stallers (Python, 20 threads) GET 10m.bin with a 4 KiB receive buffer,
#            read nothing for 40 s, then read what there is: the server
#            should have cut the response after --write-timeout (30 s).
#   resets   (Python) requests for 10m.bin (whole or a range), then a close
#            with SO_LINGER 0 (RST): at once, after the head, after 64 KiB,
#            after 1 MiB, mid-way through two pipelined requests.
#   garbage  (Python, 4 threads) random bytes, malformed request lines, bare
#            LF, overlong method/target/headers, too many headers, NUL and
#            %00, HTTP/2 preface, a TLS ClientHello, CL+TE, bad chunked
#            framing (non-hex, 0x, sign, overflow, too much data, bad
#            extensions, LF only), heads and bodies cut off halfway; 30% of
#            them sent in two writes (where a read splits must not matter).
# The Python clients pause between rounds (ranges 20 ms every ~15
# requests, pipeline 50 ms a burst, resets 100 ms a round of six, readers
# 20 ms, garbage 10 ms a payload, all times PACE), so that they attack
# without taking the CPU the server needs to answer everyone else; wrk and
# ab run flat out.
#
# Samples (every SAMPLE_EVERY s): server RSS (/proc/PID/status VmRSS), open
# descriptors (/proc/PID/fd), ESTABLISHED connections on the server port
# (ss), the server's CPU, the machine's CPU and load, how long the
# acceptor and the workers waited for a CPU (schedstat), the machine's TCP
# retransmission timeouts, and the fresh-client probes of that window: on
# a shared machine these say whether a slow fresh client waited on the
# server or on the machine. Targets (exit 0 only if all hold):
#   - RSS and descriptors flat: the median of the last third of the
#     samples is at most GROWTH_PCT (10) % above the median of the middle
#     third (the first third is warm-up). Medians, since a sample caught in
#     a slow-read batch turnover would move a mean of four by ~10%; the
#     means are printed beside them;
#   - descriptors back to the idle baseline (+16) once every client is gone;
#   - every fresh client under LATENCY_MS (50) ms;
#   - 0 errors for the well-behaved clients, 0 hangs for the mutate readers;
#   - the server alive throughout, and no "panic" in its stderr.
#
# Environment: DURATION (1800, QUICK=1: 120) s, SAMPLE_EVERY (10) s,
# WORKERS (2), WRK_CONNS (50), AB_CONC (10), AB_N (5000), SLOWLORIS_RATE
# (50), SLOWREAD_CONNS (500), SLOWREAD_RUN (25) s, PROBE_EVERY (1) s,
# IO_TIMEOUT (10) s, PACE (1) a factor on the Python clients' pauses (0:
# flat out; by default they leave the server CPU to answer the others),
# LATENCY_MS (50), GROWTH_PCT (10), SERVER_ARGS (none) more server flags,
# e.g. "--acceptor-nice 0", KEEP_TMP (0).
#
# Everything lives in a temp dir, removed at exit unless KEEP_TMP=1. Missing
# tools (wrk, ab, slowhttptest, curl) are installed with apt-get (needs
# root). Only processes this script started are stopped, by PID (checked
# against their start time, so a reused PID is left alone).
set -euo pipefail

# The command line to paste beside the figures: the knobs set in the environment, then the script.
COMMAND=""
for knob in QUICK DURATION SAMPLE_EVERY WORKERS WRK_CONNS AB_CONC AB_N SLOWLORIS_RATE SLOWREAD_CONNS \
    SLOWREAD_RUN PROBE_EVERY IO_TIMEOUT PACE LATENCY_MS GROWTH_PCT SERVER_ARGS; do
    if [[ -n ${!knob+x} ]]; then
        if [[ ${!knob} =~ ^[A-Za-z0-9._,:/+-]*$ ]]; then COMMAND+="$knob=${!knob} "; else COMMAND+="$knob=\"${!knob}\" "; fi
    fi
done
COMMAND+="bash benches/soak.sh"

if [[ ${QUICK:-0} == 1 ]]; then
    : "${DURATION:=120}"
fi
DURATION=${DURATION:-1800}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
WORKERS=${WORKERS:-2}
WRK_CONNS=${WRK_CONNS:-50}
AB_CONC=${AB_CONC:-10}
AB_N=${AB_N:-5000}
SLOWLORIS_RATE=${SLOWLORIS_RATE:-50}
SLOWREAD_CONNS=${SLOWREAD_CONNS:-500}
SLOWREAD_RUN=${SLOWREAD_RUN:-25}
PACE=${PACE:-1}
PROBE_EVERY=${PROBE_EVERY:-1}
IO_TIMEOUT=${IO_TIMEOUT:-10}
LATENCY_MS=${LATENCY_MS:-50}
GROWTH_PCT=${GROWTH_PCT:-10}
read -r -a SERVER_ARGS <<<"${SERVER_ARGS:-}"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=soak
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

# Timestamped: the lines of a half-hour run are read beside its samples.
log() { echo "[$BENCH] $(date -u +%H:%M:%S) $*" >&2; }
((DURATION >= 3 * SAMPLE_EVERY)) || die "DURATION ($DURATION) must be at least 3 x SAMPLE_EVERY ($SAMPLE_EVERY)"

# ---------------------------------------------------------------- cleanup
TMP=""
# track and ours_alive replace lib.sh's (a name in TRACKED): here TRACKED
# maps a PID to its start time, read when it is tracked, which a later
# process with the same PID cannot have, whatever its name.

# Field 22 of /proc/PID/stat: when the process started.
start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # After "comm) " the fields start at 3 (state); start time is field 22.
    awk '{ print $20 }' <<<"$stat"
}
track() {
    local st
    st=$(start_time "$1") && TRACKED[$1]=$st || true
}
# True if $1 is alive, not a zombie, and still the process we started.
ours_alive() {
    local pid=$1 stat
    [[ -n ${TRACKED[$pid]:-} ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]] || return 1
    [[ $(awk '{ print $20 }' <<<"$stat") == "${TRACKED[$pid]}" ]]
}

cleanup() {
    trap - EXIT INT TERM
    stop_tracked
    [[ -n $POLICY_RC ]] && rm -f "$POLICY_RC"
    if [[ -n $TMP ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then
            log "kept $TMP"
        else
            rm -rf "$TMP"
        fi
    fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
declare -A PACKAGE=([wrk]=wrk [ab]=apache2-utils [slowhttptest]=slowhttptest [curl]=curl)
install_missing wrk ab slowhttptest curl
require wrk ab slowhttptest curl python3 ss setsid timeout

# ---------------------------------------------------------------- setup
raise_nofile
NOFILE=$(ulimit -n)
((NOFILE >= 4096)) || die "ulimit -n is only $NOFILE; slowhttptest needs a few thousand"
# slowhttptest takes at most 65539 connections a run, and no more than the
# open-file limit.
SLOWLORIS_MAX=$((NOFILE - 500 < 65000 ? NOFILE - 500 : 65000))

build_release

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sws-soak.XXXXXX")
WWW=$TMP/www
OUT=$TMP/out
mkdir -p "$WWW" "$OUT"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c $((100 * 1024)) /dev/urandom >"$WWW/100k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$WWW/10m.bin"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WWW/mut.bin"
head -c $((64 * 1024)) /dev/urandom >"$WWW/mut-small.bin"
# ~200 KiB of text, so compression has something to do (and to cache).
python3 - "$WWW/text.txt" <<'EOF'
import random, sys
random.seed(1)
words = "static file server worker connection request response header body range cache".split()
lines = (" ".join(random.choice(words) for _ in range(12)) for _ in range(2800))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF
echo '<!doctype html><title>soak</title><p>soak' >"$WWW/index.html"

# ---------------------------------------------------------------- clients
# The Python clients, one role per process (see the header).
cat >"$TMP/clients.py" <<'EOF'
import gzip, json, os, random, re, socket, struct, sys, threading, time

ROLE, PORT, END, OUT, WWW = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
T0 = float(os.environ["SOAK_T0"])
IO_TIMEOUT = float(os.environ.get("IO_TIMEOUT", "10"))
ADDR = ("127.0.0.1", PORT)
HOST = f"127.0.0.1:{PORT}"
PACE = float(os.environ.get("PACE", "1"))


def pause(seconds):
    """The pause between rounds, times PACE: hostile, not a CPU hog."""
    if PACE > 0:
        time.sleep(seconds * PACE)


def load(name):
    with open(os.path.join(WWW, name), "rb") as f:
        return f.read()


class Tally:
    """Counts by key, the first errors with their time (s since the soak began)."""

    def __init__(self):
        self.counts, self.errors, self.lock = {}, [], threading.Lock()
        self.last_dump = 0.0

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n
        self.maybe_dump()

    def error(self, key, what):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            if len(self.errors) < 30:
                self.errors.append(f"t={time.time() - T0:.1f}s {key}: {what}")
        self.maybe_dump()

    def maybe_dump(self):
        if time.time() - self.last_dump > 5:
            self.dump()

    def dump(self):
        with self.lock:
            self.last_dump = time.time()
            data = {"role": ROLE, "counts": dict(self.counts), "errors": list(self.errors)}
        tmp = f"{OUT}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, OUT)


TALLY = Tally()


class Closed(Exception):
    """EOF before a complete response."""


class ShortBody(Exception):
    def __init__(self, status, got, want):
        super().__init__(f"status {status}: EOF after {got} of {want} body bytes")
        self.status, self.got, self.want = status, got, want


class Conn:
    def __init__(self, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(ADDR, timeout=timeout)
        self.buf = bytearray()

    def send(self, data):
        self.sock.sendall(data)

    def more(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise Closed(f"EOF with {len(self.buf)} bytes unparsed")
        self.buf += chunk

    def response(self, head_only=False):
        """(status, headers with lower-case names, body); HEAD has no body."""
        while (i := self.buf.find(b"\r\n\r\n")) < 0:
            if len(self.buf) > 65536:
                raise ValueError("no end of head in 64 KiB")
            self.more()
        lines = bytes(self.buf[:i]).decode("latin-1").split("\r\n")
        del self.buf[: i + 4]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ValueError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or status < 200:
            return status, headers, b""
        if "content-length" not in headers:
            raise ValueError(f"status {status} without Content-Length")
        want = int(headers["content-length"])
        while len(self.buf) < want:
            try:
                self.more()
            except Closed:
                raise ShortBody(status, len(self.buf), want) from None
        body = bytes(self.buf[:want])
        del self.buf[:want]
        return status, headers, body

    def close(self):
        self.sock.close()

    def reset(self):
        """Close with SO_LINGER 0: the kernel sends RST, not FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def request(method, path, *headers, close=False):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", *headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def brief(e):
    return f"{type(e).__name__}: {e}"[:200]


# ------------------------------------------------------------ probe
def probe():
    """A fresh client every PROBE_EVERY s: connect, GET /1k.bin, read it all."""
    every = float(os.environ.get("PROBE_EVERY", "1"))
    expected = load("1k.bin")
    start, k = time.time(), 0
    with open(OUT + ".tsv", "a", buffering=1) as tsv:
        while (due := start + k * every) < END:
            k += 1
            time.sleep(max(0.0, due - time.time()))
            status, ok, what = 0, False, ""
            t0 = time.perf_counter()
            t1 = t0
            try:
                conn = Conn(timeout=5)
                t1 = time.perf_counter()
                conn.send(request("GET", "/1k.bin", close=True))
                status, _, body = conn.response()
                ok = status == 200 and body == expected
                what = "" if ok else f"status {status}, {len(body)} bytes"
                conn.close()
            except Exception as e:
                what = brief(e)
            t2 = time.perf_counter()
            tsv.write(f"{time.time() - T0:.3f}\t{status}\t{int(ok)}\t{(t1 - t0) * 1e3:.3f}"
                      f"\t{(t2 - t0) * 1e3:.3f}\t{what}\n")
            if ok:
                TALLY.add("ok")
            else:
                TALLY.error("failed", what)


# ------------------------------------------------------------ ranges
def multipart(body, ctype):
    """[(Content-Range, data)] of a multipart/byteranges body."""
    boundary = ctype.split("boundary=", 1)[1].strip().strip('"').encode()
    out = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        ranges = [l for l in head.decode("latin-1").split("\r\n") if l.lower().startswith("content-range:")]
        out.append((ranges[0].split(":", 1)[1].strip() if ranges else None, data[:-2]))
    return out


def range_cases(path, data, etag, modified):
    """(name, request, head_only, status, body or None, Content-Range or None)."""
    n = len(data)
    a = random.randrange(n)
    b = random.randrange(a, min(n, a + 65536))
    r = f"Range: bytes={a}-{b}"
    cr = f"bytes {a}-{b}/{n}"
    tail = random.randint(1, min(n, 5000))
    m = n // 2
    two = [(f"bytes 0-9/{n}", data[:10]), (f"bytes {m}-{m + 9}/{n}", data[m:m + 10])]
    return [
        ("HEAD", request("HEAD", path), True, 200, b"", None),
        ("Range a-b", request("GET", path, r), False, 206, data[a:b + 1], cr),
        ("Range -n", request("GET", path, f"Range: bytes=-{tail}"), False, 206, data[-tail:],
         f"bytes {n - tail}-{n - 1}/{n}"),
        ("Range a-", request("GET", path, f"Range: bytes={n - 100}-"), False, 206, data[-100:],
         f"bytes {n - 100}-{n - 1}/{n}"),
        ("two ranges", request("GET", path, f"Range: bytes=0-9,{m}-{m + 9}"), False, 206, two, None),
        ("Range past the end", request("GET", path, f"Range: bytes={n}-"), False, 416, None, f"bytes */{n}"),
        ("If-None-Match match", request("GET", path, f"If-None-Match: {etag}"), False, 304, b"", None),
        ("If-None-Match weak", request("GET", path, f"If-None-Match: \"x\", W/{etag}"), False, 304, b"", None),
        ("If-None-Match other", request("GET", path, 'If-None-Match: "nope"'), False, 200, data, None),
        ("If-Modified-Since", request("GET", path, f"If-Modified-Since: {modified}"), False, 304, b"", None),
        ("If-Range ETag", request("GET", path, f"If-Range: {etag}", r), False, 206, data[a:b + 1], cr),
        ("If-Range stale", request("GET", path, 'If-Range: "stale"', r), False, 200, data, None),
        ("If-Range date", request("GET", path, f"If-Range: {modified}", r), False, 206, data[a:b + 1], cr),
        ("If-Match fails", request("GET", path, 'If-Match: "nope"'), False, 412, None, None),
    ]


def check(status, headers, body, want_status, want_body, want_range):
    if status != want_status:
        return f"status {status}, expected {want_status}"
    if want_range is not None and headers.get("content-range") != want_range:
        return f"Content-Range {headers.get('content-range')!r}, expected {want_range!r}"
    if isinstance(want_body, list):
        got = multipart(body, headers.get("content-type", ""))
        if got != want_body:
            return f"multipart parts {[(r, len(d)) for r, d in got]}, expected {[(r, len(d)) for r, d in want_body]}"
    elif want_body is not None and body != want_body:
        return f"body of {len(body)} bytes differs from the expected {len(want_body)}"
    return None


def ranges():
    files = {p: load(p[1:]) for p in ("/1k.bin", "/100k.bin", "/10m.bin", "/text.txt")}
    text = files["/text.txt"]
    conn, used = None, 0
    while time.time() < END:
        name = "connect"
        try:
            if conn is None or used >= 200:
                if conn:
                    conn.close()
                conn, used, validators = Conn(), 0, {}
            path = random.choice(list(files))
            data = files[path]
            if path not in validators:
                name = "HEAD for validators"
                conn.send(request("HEAD", path))
                status, h, _ = conn.response(head_only=True)
                used += 1
                if status != 200 or "etag" not in h or "last-modified" not in h:
                    raise ValueError(f"HEAD {path}: status {status}, headers {sorted(h)}")
                validators[path] = (h["etag"], h["last-modified"])
            cases = range_cases(path, data, *validators[path])
            if path == "/text.txt":
                cases.append(("gzip", request("GET", path, "Accept-Encoding: gzip"), False, 200, None, None))
            for name, req, head_only, want_status, want_body, want_range in random.sample(cases, len(cases)):
                conn.send(req)
                status, h, body = conn.response(head_only=head_only)
                used += 1
                problem = check(status, h, body, want_status, want_body, want_range)
                if problem is None and name == "HEAD" and h.get("content-length") != str(len(data)):
                    problem = f"Content-Length {h.get('content-length')}, expected {len(data)}"
                if problem is None and name == "gzip":
                    coding = h.get("content-encoding", "identity")
                    decoded = gzip.decompress(body) if coding == "gzip" else body
                    if coding not in ("gzip", "identity") or decoded != text:
                        problem = f"Content-Encoding {coding}: {len(decoded)} bytes decoded, not the file"
                if problem:
                    TALLY.error("errors", f"{name} {path}: {problem}")
                    conn.close()
                    conn = None
                    break
                TALLY.add("ok")
            pause(0.02)
        except Exception as e:
            TALLY.error("errors", f"{name}: {brief(e)}")
            if conn:
                conn.close()
            conn = None
            time.sleep(0.1)


# ------------------------------------------------------------ pipeline
def pipeline():
    small, mid, big = load("1k.bin"), load("100k.bin"), load("10m.bin")
    while time.time() < END:
        conn, step = None, "connect"
        try:
            conn = Conn()
            for burst in range(2):
                plan = []
                for _ in range(50):
                    kind = random.randrange(6)
                    if kind == 0:
                        plan.append((request("GET", "/1k.bin"), False, 200, small))
                    elif kind == 1:
                        plan.append((request("GET", "/100k.bin"), False, 200, mid))
                    elif kind == 2:
                        a = random.randrange(len(big) - 4096)
                        plan.append((request("GET", "/10m.bin", f"Range: bytes={a}-{a + 4095}"), False, 206,
                                     big[a:a + 4096]))
                    elif kind == 3:
                        plan.append((request("HEAD", "/100k.bin"), True, 200, b""))
                    elif kind == 4:
                        a = random.randrange(len(mid))
                        plan.append((request("GET", "/100k.bin", f"Range: bytes={a}-"), False, 206, mid[a:]))
                    else:
                        plan.append((request("GET", "/no-such-file"), False, 404, None))
                conn.send(b"".join(p[0] for p in plan))
                for i, (_, head_only, want_status, want_body) in enumerate(plan):
                    step = f"burst {burst + 1}, response {i + 1} of 50"
                    status, _, body = conn.response(head_only=head_only)
                    problem = check(status, {}, body, want_status, want_body, None)
                    if problem:
                        raise ValueError(problem)
                TALLY.add("bursts")
                TALLY.add("responses", 50)
                pause(0.05)
        except Exception as e:
            TALLY.error("errors", f"{step}: {brief(e)}")
            time.sleep(0.1)
        finally:
            if conn:
                conn.close()


# ------------------------------------------------------------ resets
def resets():
    kinds = ["at once", "after the head", "after 64 KiB", "after 1 MiB", "range, after 64 KiB", "pipelined pair"]
    while time.time() < END:
        conns = []
        try:
            for kind in kinds:
                conn = Conn()
                if kind == "range, after 64 KiB":
                    conn.send(request("GET", "/10m.bin", "Range: bytes=1000-5000000"))
                elif kind == "pipelined pair":
                    conn.send(request("GET", "/10m.bin") + request("GET", "/100k.bin"))
                else:
                    conn.send(request("GET", "/10m.bin"))
                conns.append((kind, conn))
        except Exception as e:
            TALLY.error("connect errors", brief(e))
        for kind, conn in conns:
            want = {"at once": 0, "after the head": 1, "after 64 KiB": 65536, "after 1 MiB": 1 << 20,
                    "range, after 64 KiB": 65536, "pipelined pair": 2 << 20}[kind]
            try:
                while len(conn.buf) < want:
                    conn.more()
                TALLY.add(f"reset {kind}")
            except socket.timeout:
                TALLY.error("stalled", f"{kind}: nothing for {IO_TIMEOUT:.0f} s after {len(conn.buf)} bytes")
            except Exception as e:
                TALLY.error("other", f"{kind}: {brief(e)}")
            finally:
                conn.reset()
        pause(0.1)


# ------------------------------------------------------------ stallers
def staller(delay):
    time.sleep(delay)
    while time.time() + 45 < END:
        sock = None
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(IO_TIMEOUT)
            sock.connect(ADDR)
            sock.sendall(request("GET", "/10m.bin"))
            time.sleep(40)
            got = bytearray()
            while chunk := sock.recv(1 << 20):
                got += chunk
            head, _, body = bytes(got).partition(b"\r\n\r\n")
            if len(body) < 10 << 20:
                TALLY.add("cut by the server")
            else:
                TALLY.error("not cut", f"the whole body after 40 s without reading ({len(body)} bytes)")
        except socket.timeout:
            TALLY.error("not cut", f"no EOF {IO_TIMEOUT:.0f} s into reading, after 40 s without reading")
        except (ConnectionResetError, BrokenPipeError) as e:
            TALLY.add(f"cut by the server ({type(e).__name__})")
        except Exception as e:
            TALLY.error("other", brief(e))
        finally:
            if sock:
                sock.close()


def stallers():
    threads = [threading.Thread(target=staller, args=(i * 2,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ------------------------------------------------------------ garbage
def garbage_payloads():
    """(name, bytes, whether the server should answer and close)."""
    rnd = lambda n: os.urandom(n)
    get = b"GET /1k.bin HTTP/1.1\r\nHost: x\r\n"
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    yield "random bytes + CRLFCRLF", rnd(random.randint(1, 4096)) + b"\r\n\r\n", True
    yield "random bytes, cut", rnd(random.randint(1, 4096)), False
    yield "printable junk line", bytes(random.choice(b"ABCxyz/ :%\t") for _ in range(200)) + b"\r\n\r\n", True
    yield "no target", b"GET\r\n\r\n", True
    yield "HTTP/0.9", b"GET /\r\n\r\n", True
    yield "no method", b" / HTTP/1.1\r\nHost: x\r\n\r\n", True
    yield "bad version", b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", True
    yield "HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", True
    yield "bare LF", b"GET / HTTP/1.1\nHost: x\n\n", True
    yield "space in target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", True
    yield "NUL in target", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", True
    # Well-framed requests for bad paths: a 400 that keeps the connection, so ask for a close.
    yield "%00 in target", b"GET /%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", True
    yield "dot-dot", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", True
    yield "8-bit target", b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", True
    yield "long method", b"A" * 100_000 + b" / HTTP/1.1\r\nHost: x\r\n\r\n", True
    yield "long target", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", True
    yield "long header", get + b"X: " + b"a" * 17000 + b"\r\n\r\n", True
    yield "101 headers", get + b"".join(b"X-%d: a\r\n" % i for i in range(101)) + b"\r\n", True
    yield "no Host", b"GET / HTTP/1.1\r\n\r\n", True
    yield "bad Host", b"GET / HTTP/1.1\r\nHost: u@x:80/p\r\n\r\n", True
    yield "header without colon", get + b"Nonsense\r\n\r\n", True
    yield "space before colon", get + b"X : y\r\n\r\n", True
    yield "obs-fold", get + b"X: a\r\n b\r\n\r\n", True
    yield "random header bytes", get + rnd(200).replace(b"\r", b"").replace(b"\n", b"") + b"\r\n\r\n", True
    yield "CL + TE", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", True
    yield "two CL", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", True
    yield "negative CL", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", True
    yield "huge CL", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", True
    yield "TE chunked, gzip", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", True
    yield "chunk size non-hex", chunked + b"zz\r\nab\r\n0\r\n\r\n", True
    yield "chunk size 0x", chunked + b"0x5\r\nabcde\r\n0\r\n\r\n", True
    yield "chunk size sign", chunked + b"-5\r\nabcde\r\n0\r\n\r\n", True
    yield "chunk size overflow", chunked + b"fffffffffffffffffffff\r\n", True
    yield "chunk data too long", chunked + b"5\r\nabcdefgh\r\n0\r\n\r\n", True
    yield "chunk ext junk", chunked + b"5;\x01=\x02\r\nabcde\r\n0\r\n\r\n", True
    yield "chunk LF only", chunked + b"5\nabcde\n0\n\n", True
    yield "chunked, cut", chunked + b"400\r\n" + rnd(100), False
    yield "head, cut", b"GET /10m.bin HTTP/1.1\r\nHost: x\r\nRange: by", False
    yield "TLS ClientHello", bytes.fromhex("16030100a5010000a10303") + rnd(150), True
    yield "valid, then junk", request("GET", "/1k.bin") + rnd(300) + b"\r\n\r\n", True


def garbage_worker():
    while time.time() < END:
        name, data, answers = random.choice(list(garbage_payloads()))  # fresh random bytes each time
        sock = None
        try:
            sock = socket.create_connection(ADDR, timeout=IO_TIMEOUT + 5)
            if random.random() < 0.3 and len(data) > 1:
                # The same bytes in pieces: the parser must not care where reads split.
                cut = random.randrange(1, len(data))
                sock.sendall(data[:cut])
                time.sleep(0.01)
                sock.sendall(data[cut:])
            else:
                sock.sendall(data)
            if not answers:
                TALLY.add(f"{name}: sent, closed")
                continue
            got, left_open = bytearray(), False
            try:
                while chunk := sock.recv(65536):
                    got += chunk
            except socket.timeout:
                left_open = True
            statuses = "+".join(re.findall(r"HTTP/1\.1 (\d{3}) ", bytes(got).decode("latin-1")))
            if left_open and not statuses:
                TALLY.error("no answer", f"{name}: no response and no EOF within {IO_TIMEOUT + 5:.0f} s")
            else:
                TALLY.add(f"{name}: {statuses or 'closed, no answer'}{', left open' if left_open else ''}")
        except (ConnectionResetError, BrokenPipeError) as e:
            TALLY.add(f"{name}: {type(e).__name__}")
        except Exception as e:
            TALLY.error("other", f"{name}: {brief(e)}")
        finally:
            if sock:
                sock.close()
        pause(0.01)


def garbage():
    threads = [threading.Thread(target=garbage_worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ------------------------------------------------------------ the file that changes
def mutate_writer():
    sizes = {"mut.bin": 8 << 20, "mut-small.bin": 64 << 10}
    pool = os.urandom(8 << 20)
    while time.time() < END:
        name = random.choice(list(sizes))
        path, full = os.path.join(WWW, name), sizes[name]
        action = random.choice(["truncate to 0", "truncate to half", "overwrite in place", "rewrite",
                                "extend", "replace"])
        try:
            if action == "truncate to 0":
                os.truncate(path, 0)
            elif action == "truncate to half":
                os.truncate(path, os.path.getsize(path) // 2)
            elif action == "overwrite in place":
                with open(path, "r+b") as f:
                    f.write(pool[: max(os.path.getsize(path), 1)])
            elif action == "rewrite":
                # Truncated, then growing while readers read it.
                with open(path, "wb") as f:
                    for i in range(4):
                        f.write(pool[i * full // 4:(i + 1) * full // 4])
                        f.flush()
                        time.sleep(0.01)
            elif action == "extend":
                with open(path, "ab") as f:
                    f.write(pool[: max(0, full - f.tell())])
            else:
                tmp = os.path.join(WWW, "." + name + ".tmp")  # a dotfile: never served
                with open(tmp, "wb") as f:
                    f.write(pool[:full])
                os.replace(tmp, path)
            TALLY.add(action)
        except Exception as e:
            TALLY.error("writer errors", f"{action} {name}: {brief(e)}")
        time.sleep(random.uniform(0.02, 0.2))


def mutate_reader_worker():
    conn = None
    while time.time() < END:
        path = random.choice(["/mut.bin", "/mut.bin", "/mut-small.bin"])
        headers = [f"Range: bytes=0-{random.randrange(1, 1 << 20)}"] if random.random() < 0.2 else []
        step = "connect"
        try:
            if conn is None:
                conn = Conn()
            step = "request"
            conn.send(request("GET", path, *headers))
            step = "response"
            status, _, body = conn.response()
            TALLY.add(f"{status} full")
        except ShortBody as e:
            TALLY.add(f"{e.status} short")
            conn.close()
            conn = None
        except socket.timeout:
            got = len(conn.buf) if conn else 0
            TALLY.error("hangs", f"{path} {headers}: {step}: nothing for {IO_TIMEOUT:.0f} s ({got} bytes buffered)")
            conn.close()
            conn = None
        except Closed as e:
            # EOF before any response on a reused keep-alive connection.
            TALLY.add("closed before a response")
            conn.close()
            conn = None
        except Exception as e:
            TALLY.error("other", f"{path} {headers}: {step}: {brief(e)}")
            if conn:
                conn.close()
            conn = None
        pause(0.02)


def mutate_readers():
    threads = [threading.Thread(target=mutate_reader_worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


ROLES = {"probe": probe, "ranges": ranges, "pipeline": pipeline, "resets": resets, "garbage": garbage,
         "stallers": stallers,
         "mutate-writer": mutate_writer, "mutate-readers": mutate_readers}
try:
    TALLY.dump()
    ROLES[ROLE]()
except KeyboardInterrupt:
    pass
finally:
    TALLY.dump()
EOF

# wrk's requests rotate over three files, and the response hook counts
# non-2xx statuses (wrk's own count lumps 3xx with 2xx).
cat >"$TMP/wrk.lua" <<'EOF'
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    non2xx = 0
    statuses = {}
    local headers = { ["Accept-Encoding"] = "gzip, br" }
    reqs = {
        wrk.format("GET", "/1k.bin", headers),
        wrk.format("GET", "/100k.bin", headers),
        wrk.format("GET", "/text.txt", headers),
    }
    n = 0
end

function request()
    n = n % #reqs + 1
    return reqs[n]
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        statuses[status] = (statuses[status] or 0) + 1
    end
end

function done(summary, latency, requests)
    local n = 0
    for _, t in ipairs(threads) do
        n = n + t:get("non2xx")
        for status, count in pairs(t:get("statuses")) do
            io.write(string.format("COUNT status %d: %d\n", status, count))
        end
    end
    local e = summary.errors
    io.write(string.format("COUNT requests %d non2xx %d connect %d read %d write %d timeout %d\n",
        summary.requests, n, e.connect, e.read, e.write, e.timeout))
end
EOF

# ---------------------------------------------------------------- server
SERVER_LOG=$TMP/server.stderr
setsid "$BIN" --workers "$WORKERS" -q --bind 127.0.0.1 --port 0 "${SERVER_ARGS[@]}" "$WWW" </dev/null >"$TMP/server.stdout" 2>"$SERVER_LOG" &
SERVER_PID=$!
track "$SERVER_PID"
PORT=""
for _ in {1..100}; do
    if line=$(grep -m1 '^Serving ' "$SERVER_LOG"); then
        PORT=$(sed -nE 's|.* at http://127\.0\.0\.1:([0-9]+)/.*|\1|p' <<<"$line")
        break
    fi
    ours_alive "$SERVER_PID" || break
    sleep 0.1
done
[[ $PORT =~ ^[0-9]+$ ]] || die "the server did not start: $(tail -n3 "$SERVER_LOG")"
BASE=http://127.0.0.1:$PORT
[[ $(curl -s --noproxy '*' -o "$TMP/check.body" -w '%{http_code}' --max-time 5 "$BASE/1k.bin") == 200 ]] &&
    cmp -s "$TMP/check.body" "$WWW/1k.bin" || die "no 200 with the right body for $BASE/1k.bin"
log "server PID $SERVER_PID on $BASE, temp dir $TMP"

# ---------------------------------------------------------------- sampling
CLK_TCK=$(getconf CLK_TCK)
# The kernel's TCP counters (whole machine): retransmission timeouts, and
# connections a full accept queue turned away.
tcp_counters() {
    awk '/^TcpExt:/ {
        if (!seen) { for (i = 1; i <= NF; i++) name[i] = $i; seen = 1; next }
        for (i = 1; i <= NF; i++) v[name[i]] = $i
    } END { print v["TCPTimeouts"] + 0, v["ListenOverflows"] + v["ListenDrops"] }' /proc/net/netstat
}
# Nanoseconds the server's threads have spent runnable but waiting for a
# CPU (/proc/.../schedstat): the acceptor (the main thread, niced by
# --acceptor-nice), and the workers together.
run_queue_waits() {
    local task acceptor=0 workers=0 wait
    for task in /proc/"$SERVER_PID"/task/*; do
        wait=$(awk '{ print $2 }' "$task/schedstat" 2>/dev/null) || continue
        if [[ ${task##*/} == "$SERVER_PID" ]]; then
            acceptor=$wait
        elif [[ $(cat "$task/comm" 2>/dev/null) == worker-* ]]; then
            workers=$((workers + wait))
        fi
    done
    echo "$acceptor $workers"
}
# One line: t rss_kib fds conns server_ticks cpu_busy cpu_all load1 alive
# acceptor_wait_ns workers_wait_ns tcp_timeouts listen_drops
sample() {
    local t=$1 rss fds conns ticks stat cpu busy all load waits
    if ours_alive "$SERVER_PID"; then
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
        fds=$(ls "/proc/$SERVER_PID/fd" 2>/dev/null | wc -l)
        stat=$(cat "/proc/$SERVER_PID/stat" 2>/dev/null || echo "x) S")
        stat=${stat##*) }
        ticks=$(awk '{ print $12 + $13 }' <<<"$stat")
        waits=$(run_queue_waits)
        alive=1
    else
        rss=0 fds=0 ticks=0 alive=0 waits="0 0"
    fi
    conns=$(ss -Htn state established "( sport = :$PORT )" 2>/dev/null | wc -l)
    read -r cpu busy all <<<"$(awk '/^cpu / { print "cpu", $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)"
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "$t $rss $fds $conns $ticks $busy $all $load $alive $waits $(tcp_counters)"
}

sample 0 >"$OUT/baseline"

# ---------------------------------------------------------------- load
# The load runs a few seconds past the last sample, so that sample sees it whole.
T0=$(date +%s.%N)
END=$(awk -v t="$T0" -v d="$DURATION" 'BEGIN { printf "%.3f", t + d + 5 }')
END_S=${END%.*}
export SOAK_T0=$T0 IO_TIMEOUT PROBE_EVERY PACE
LIMIT=$((DURATION + 120)) # every client is bounded by `timeout` too

start_python() {
    local role=$1
    timeout -k 5 "$LIMIT" python3 "$TMP/clients.py" "$role" "$PORT" "$END" "$OUT/$role.json" "$WWW" \
        >"$OUT/$role.log" 2>&1 &
    track $!
}

# A loop that runs its command again until END, each run bounded; a TERM
# stops the run in progress too.
ab_loop() {
    local child="" i rc kept=0
    trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; exit 0' TERM
    for ((i = 1; i <= 100000; i++)); do
        (($(date +%s) < END_S)) || break
        rc=0
        timeout -k 5 120 ab -q -r -s 10 -c "$AB_CONC" -n "$AB_N" "$BASE/1k.bin" >"$OUT/ab.last" 2>&1 &
        child=$!
        wait "$child" || rc=$?
        child=""
        awk -v i="$i" -v rc="$rc" '
            /^Complete requests:/ { c = $3 } /^Failed requests:/ { f = $3 } /^Non-2xx responses:/ { n = $3 }
            END { printf "%d %d %d %d %d\n", i, rc, c, f, n }' "$OUT/ab.last" >>"$OUT/ab.tsv"
        # Keep the output of the first few runs that went wrong, as evidence.
        if ((rc != 0)) || grep -qE '^(Failed requests: +[1-9]|Non-2xx responses)' "$OUT/ab.last"; then
            if ((kept++ < 5)); then cp "$OUT/ab.last" "$OUT/ab.bad.$i"; fi
        fi
    done
}

# Slowloris: one slowhttptest run to the end (again if it stops early).
slowloris_loop() {
    local child="" i left total args
    trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; exit 0' TERM
    for ((i = 1; i <= 1000; i++)); do
        left=$((END_S - $(date +%s)))
        ((left >= 5)) || break
        total=$((SLOWLORIS_RATE * left))
        ((total <= SLOWLORIS_MAX)) || total=$SLOWLORIS_MAX
        args=(-H -c "$total" -r "$SLOWLORIS_RATE" -i 5 -x 24 -u "$BASE/1k.bin" -l "$left" -p 5)
        echo "=== run $i: slowhttptest ${args[*]}" >>"$OUT/slowloris.log"
        timeout -k 5 $((left + 60)) slowhttptest "${args[@]}" >>"$OUT/slowloris.log" 2>&1 &
        child=$!
        wait "$child" || echo "=== run $i exited with status $?" >>"$OUT/slowloris.log"
        child=""
    done
}

# Slow read: the server drops a reader this slow after --write-timeout (30 s)
# without a write, and slowhttptest does not notice, so each batch lasts
# SLOWREAD_RUN s and the next one starts (opening its connections within a
# second) one second before it ends: the number open stays level. The
# stallers test the timeout.
slowread_loop() {
    local children=() i left args
    trap 'for c in "${children[@]}"; do kill -TERM "$c" 2>/dev/null; done; exit 0' TERM
    for ((i = 1; i <= 1000; i++)); do
        left=$((END_S - $(date +%s)))
        ((left >= 5)) || break
        ((left <= SLOWREAD_RUN)) || left=$SLOWREAD_RUN
        args=(-X -c "$SLOWREAD_CONNS" -r "$SLOWREAD_CONNS" -n 1 -w 1 -y 512 -z 32 -k 1 -u "$BASE/10m.bin"
            -l "$left" -p 5)
        echo "=== run $i: slowhttptest ${args[*]}" >>"$OUT/slowread.$i.log"
        timeout -k 5 $((left + 60)) slowhttptest "${args[@]}" >>"$OUT/slowread.$i.log" 2>&1 &
        children=("${children[@]: -1}" "$!")
        ((left < SLOWREAD_RUN)) && break
        sleep $((SLOWREAD_RUN - 1)) &
        wait "$!"
    done
    wait
}

log "load for ${DURATION}s: wrk -c$WRK_CONNS, ab -c$AB_CONC, slowloris ${SLOWLORIS_RATE}/s, slow read x$SLOWREAD_CONNS, stallers, resets, ranges, pipelines, garbage, a changing file"
timeout -k 5 "$LIMIT" wrk -t1 -c"$WRK_CONNS" -d"$((DURATION + 5))s" -s "$TMP/wrk.lua" "$BASE/" >"$OUT/wrk.txt" 2>&1 &
track $!
ab_loop &
track $!
slowloris_loop &
track $!
slowread_loop &
track $!
for role in probe ranges pipeline resets stallers garbage mutate-writer mutate-readers; do
    start_python "$role"
done

: >"$OUT/samples"
N=$((DURATION / SAMPLE_EVERY))
for ((k = 1; k <= N; k++)); do
    due=$(awk -v t="$T0" -v k="$k" -v s="$SAMPLE_EVERY" 'BEGIN { printf "%.3f", t + k * s }')
    wait_s=$(awk -v d="$due" -v n="$(date +%s.%N)" 'BEGIN { w = d - n; printf "%.3f", (w > 0 ? w : 0) }')
    sleep "$wait_s"
    s=$(sample $((k * SAMPLE_EVERY)))
    echo "$s" >>"$OUT/samples"
    read -r t rss fds conns _ _ _ load alive _ <<<"$s"
    log "t=${t}s RSS ${rss} KiB, $fds fds, $conns connections, load $load$( ((alive)) || echo ", SERVER GONE")"
done

# ---------------------------------------------------------------- wind-down
log "load done; waiting for the clients to finish"
for _ in {1..600}; do
    left=0
    for pid in "${!TRACKED[@]}"; do
        [[ $pid == "$SERVER_PID" ]] && continue
        ours_alive "$pid" && left=1
    done
    ((left)) || break
    sleep 0.1
done
for pid in "${!TRACKED[@]}"; do
    [[ $pid == "$SERVER_PID" ]] && continue
    if ours_alive "$pid"; then
        echo "client PID $pid still running 60 s after the end: stopped" >>"$OUT/notes"
        kill -TERM "$pid" 2>/dev/null || true
    fi
done
# The descriptors the server holds once every client is gone (its worker
# caches keep a file open for about a second; closing connections drain for
# up to 2 s).
for _ in {1..40}; do
    s=$(sample after)
    read -r _ _ fds conns _ <<<"$s"
    base_fds=$(awk '{ print $3 }' "$OUT/baseline")
    ((conns == 0 && fds <= base_fds + 16)) && break
    sleep 0.5
done
echo "$s" >"$OUT/after"

# A graceful stop (its --shutdown-timeout is 30 s): what it served, and
# its exit status.
SERVER_RC=gone
if ours_alive "$SERVER_PID"; then
    kill -INT "$SERVER_PID"
    for _ in {1..400}; do
        ours_alive "$SERVER_PID" || break
        sleep 0.1
    done
    if ours_alive "$SERVER_PID"; then
        kill -KILL "$SERVER_PID"
        echo "the server was still running 40 s after SIGINT: killed" >>"$OUT/failures"
    fi
    SERVER_RC=0
    wait "$SERVER_PID" || SERVER_RC=$?
fi

# ---------------------------------------------------------------- report
version_ours=$("$BIN" --version 2>/dev/null | awk '{ print $2 }' || true)
rev=$(repo_rev)
export COMMAND DURATION SAMPLE_EVERY WORKERS WRK_CONNS AB_CONC AB_N SLOWLORIS_RATE SLOWREAD_CONNS \
    LATENCY_MS GROWTH_PCT CLK_TCK SERVER_RC OUT SERVER_LOG PORT
export ABOUT="nproc $(nproc) · $(date -u '+%Y-%m-%d %H:%M UTC') · ours $version_ours ($rev) · $(wrk -v 2>&1 | head -n1 | awk '{ print "wrk", $2 }') · ab $(ab -V 2>&1 | awk '/^This is ApacheBench/ { print $5 }' | tr -d ,) · slowhttptest $(slowhttptest -h 2>&1 | sed -nE 's/.*version ([0-9.]+).*/\1/p' | head -n1)"
rc=0
python3 - <<'EOF' || rc=$?
import glob, json, os, re, statistics, sys

E = os.environ
OUT = E["OUT"]
EVERY = int(E["SAMPLE_EVERY"])
LAT = float(E["LATENCY_MS"])
GROWTH = float(E["GROWTH_PCT"])
HZ = int(E["CLK_TCK"])
fails, notes = [], []


def read_json(role):
    try:
        with open(f"{OUT}/{role}.json") as f:
            return json.load(f)
    except Exception as e:
        fails.append(f"no result from the {role} client ({e})")
        return {"counts": {}, "errors": []}


def fmt(n):
    return f"{n:,}".replace(",", " ")


print(f"# {E['COMMAND']}")
print()
# ---- samples
rows = [l.split() for l in open(f"{OUT}/samples") if l.strip()]
base = open(f"{OUT}/baseline").read().split()
after = open(f"{OUT}/after").read().split()
probes = []
for line in open(f"{OUT}/probe.json.tsv") if os.path.exists(f"{OUT}/probe.json.tsv") else []:
    t, status, ok, conn_ms, total_ms, what = (line.rstrip("\n").split("\t") + [""])[:6]
    probes.append((float(t), int(status), ok == "1", float(conn_ms), float(total_ms), what))

dur = int(E["DURATION"])
print(f"## Soak: {f'{dur // 60} min' if dur % 60 == 0 else f'{dur} s'} under mixed hostile load")
print()
print("| t (s) | RSS (KiB) | fds | connections | fds − connections | server CPU | machine CPU | load "
      "| waited for a CPU: acceptor / workers (ms) | TCP RTOs | fresh clients | worst fresh client (ms) |")
print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
prev = base
samples = []
context = {}  # t -> what the machine and the server did in that window
for r in rows:
    t, rss, fds, conns, ticks, busy, total, load, alive, acc, wrk_, rto, drops = r
    t, rss, fds, conns = int(t), int(rss), int(fds), int(conns)
    d = lambda i: int(r[i]) - int(prev[i])
    srv = d(4) / HZ / EVERY * 100
    machine = d(5) / max(1, d(6)) * 100
    window = [p for p in probes if t - EVERY < p[0] <= t]
    worst = max(window, key=lambda p: p[4], default=None)
    bad = sum(1 for p in window if not p[2])
    samples.append((t, rss, fds, conns, alive == "1"))
    context[t] = (f"the acceptor waited {d(9) / 1e6:.0f} ms for a CPU, the workers {d(10) / 1e6:.0f} ms, "
                  f"server CPU {srv:.0f}%, machine CPU {machine:.0f}%, {d(11)} TCP RTOs")
    print(f"| {t} | {fmt(rss)} | {fds} | {conns} | {fds - conns} | {srv:.0f}% | {machine:.0f}% | {load} "
          f"| {d(9) / 1e6:.0f} / {d(10) / 1e6:.0f} | {d(11)}{f' ({d(12)} listen drops)' if d(12) else ''} "
          f"| {len(window)}{f' ({bad} failed)' if bad else ''} | {f'{worst[4]:.1f}' if worst else '–'} |")
    prev = r
print()
print(f"Idle before the load: RSS {fmt(int(base[1]))} KiB, {base[2]} fds. After every client left: "
      f"RSS {fmt(int(after[1]))} KiB, {after[2]} fds, {after[3]} connections.")
print(f"Every {EVERY} s; connections are the ESTABLISHED sockets on the port, those still in the accept queue "
      "included (so fds − connections can dip below 0, or jump while closed connections wait to be reaped); the "
      "other columns are over the window since the last sample: server CPU is its user+system "
      "time (200% = both cores); waited for a CPU is how long the server's threads were runnable but not running "
      "(/proc/PID/task/*/schedstat; the acceptor runs at --acceptor-nice); TCP RTOs are the whole machine's "
      "retransmission timeouts (a packet lost even on loopback); fresh clients: a new connection and GET 1k.bin "
      f"every {E.get('PROBE_EVERY', '1')} s, the worst of the window from connect() to the last byte.")
print()

# ---- targets
results = []  # (name, value, target, ok)

if not all(s[4] for s in samples):
    gone = next(s[0] for s in samples if not s[4])
    fails.append(f"the server was gone at t={gone}s")
results.append(("server alive throughout", "yes" if all(s[4] for s in samples) else "NO", "yes", all(s[4] for s in samples)))

third = len(samples) // 3
mid, last = samples[third:2 * third], samples[len(samples) - third:]
# Judged on the medians: a sample caught in a slow-read batch turnover (500
# connections closing as 500 open) moves a mean of four (QUICK) by ~10%,
# while a leak moves both. The means are shown beside them.
growth = lambda new, old: (new / old - 1) * 100 if old else 0.0
for name, i in (("RSS", 1), ("fds", 2)):
    m, l = statistics.median(s[i] for s in mid), statistics.median(s[i] for s in last)
    mm, lm = statistics.mean(s[i] for s in mid), statistics.mean(s[i] for s in last)
    results.append((f"{name}: median of the last third vs the middle third",
                    f"{l:.0f} vs {m:.0f} ({growth(l, m):+.1f}%; means {lm:.0f} vs {mm:.0f}, {growth(lm, mm):+.1f}%)",
                    f"≤ +{GROWTH:g}%", growth(l, m) <= GROWTH))
back = int(after[3]) == 0 and int(after[2]) <= int(base[2]) + 16
results.append(("fds once the clients are gone", f"{after[2]} (idle before: {base[2]})", f"≤ {int(base[2]) + 16}", back))

ok_probes = [p for p in probes if p[2]]
failed_probes = [p for p in probes if not p[2]]
if probes:
    lat = sorted(p[4] for p in probes)
    worst = max(probes, key=lambda p: p[4])
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    over = [p for p in probes if p[4] >= LAT]
    results.append(("fresh client, worst (connect() to last byte)",
                    f"{worst[4]:.1f} ms at t={worst[0]:.0f}s (connect {worst[3]:.1f} ms); p50 {p50:.2f}, p99 {p99:.1f}; "
                    f"{len(over)} of {len(probes)} ≥ {LAT:g} ms", f"< {LAT:g} ms", worst[4] < LAT and not failed_probes))
    for p in over[:10]:
        notes.append(f"slow fresh client at t={p[0]:.1f}s: {p[4]:.1f} ms, of which connect() {p[3]:.1f} ms; "
                     f"in its window {context.get(int(-(-p[0] // EVERY)) * EVERY, 'no sample')}")
else:
    results.append(("fresh client, worst", "no probes", f"< {LAT:g} ms", False))
for p in failed_probes[:10]:
    notes.append(f"fresh client failed at t={p[0]:.1f}s: {p[5]}")

# wrk
wrk = open(f"{OUT}/wrk.txt").read() if os.path.exists(f"{OUT}/wrk.txt") else ""
m = re.search(r"^COUNT requests (\d+) non2xx (\d+) connect (\d+) read (\d+) write (\d+) timeout (\d+)$", wrk, re.M)
well = []  # (client, what it did, errors, detail)
if m:
    req, non2xx, c, r, w, to = map(int, m.groups())
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", wrk, re.M)
    well.append(("wrk (keep-alive)", f"{fmt(req)} requests ({float(rps.group(1)):.0f}/s)" if rps else f"{fmt(req)} requests",
                 non2xx + c + r + w + to, f"{non2xx} non-2xx, socket errors {c}/{r}/{w}/{to} (connect/read/write/timeout)"))
    for line in re.findall(r"^COUNT status .*$", wrk, re.M):
        notes.append(f"wrk: {line[6:]}")
else:
    fails.append("no counts from wrk: " + " | ".join(wrk.strip().splitlines()[-3:]))
# ab
runs = [list(map(int, l.split())) for l in open(f"{OUT}/ab.tsv")] if os.path.exists(f"{OUT}/ab.tsv") else []
if runs:
    done = sum(r[2] for r in runs)
    failed = sum(r[3] for r in runs)
    non2xx = sum(r[4] for r in runs)
    bad_runs = [r for r in runs if r[1] != 0]
    well.append(("ab (a connection per request)", f"{fmt(done)} requests in {len(runs)} runs",
                 failed + non2xx + len(bad_runs), f"{failed} failed, {non2xx} non-2xx, {len(bad_runs)} runs exited non-zero"))
    for f in sorted(glob.glob(f"{OUT}/ab.bad.*"))[:3]:
        text = open(f).read()
        lines = [l for l in text.splitlines() if re.match(r"(Failed|Non-2xx|   \(|apr_|.*rror)", l)]
        notes.append(f"ab run {f.rsplit('.', 1)[1]}: " + " | ".join(lines[:6]))
else:
    fails.append("no ab runs recorded")
for role, label, what in (("ranges", "ranges and conditionals", "ok"),
                          ("pipeline", "pipelined bursts of 50", "bursts"),
                          ("probe", "fresh clients", "ok")):
    d = read_json(role)
    errs = d["counts"].get("errors", 0) + d["counts"].get("failed", 0)
    did = d["counts"].get(what, 0)
    unit = {"ok": "responses checked", "bursts": "bursts"}[what]
    if role == "pipeline":
        unit = f"bursts ({fmt(d['counts'].get('responses', 0))} responses)"
    if role == "probe":
        unit = "probes"
    well.append((label, f"{fmt(did)} {unit}", errs, "; ".join(d["errors"][:1]) or "–"))
    for e in d["errors"][:10]:
        notes.append(f"{role}: {e}")
readers = read_json("mutate-readers")
writer = read_json("mutate-writer")
hangs = readers["counts"].get("hangs", 0)
rc = readers["counts"]
well.append(("readers of the changing file", f"{fmt(sum(v for k, v in rc.items() if k.endswith('full')))} full, "
             f"{fmt(sum(v for k, v in rc.items() if k.endswith('short')))} short bodies",
             hangs + rc.get("other", 0), f"{hangs} hangs, {rc.get('other', 0)} other errors"))
for e in readers["errors"][:10]:
    notes.append(f"mutate-readers: {e}")

errors_total = sum(w[2] for w in well)
results.append(("errors of the well-behaved clients", str(errors_total), "0", errors_total == 0))

log = open(E["SERVER_LOG"], errors="replace").read()
panics = [l for l in log.splitlines() if "panic" in l.lower()]
results.append(('"panic" in the server\'s stderr', f"{len(panics)} lines", "0", not panics))
for l in panics[:5]:
    notes.append(f"server stderr: {l[:300]}")

print("| well-behaved client | what it did | errors | detail |")
print("|:--|--:|--:|:--|")
for w in well:
    print(f"| {w[0]} | {w[1]} | {w[2]} | {w[3]} |")
print()
print("| target | measured | target | |")
print("|:--|:--|:--|:--|")
for name, value, target, ok in results:
    print(f"| {name} | {value} | {target} | {'ok' if ok else '**MISS**'} |")
print()
print(f"One server, --workers {E['WORKERS']} -q; wrk -t1 -c{E['WRK_CONNS']}, ab -c{E['AB_CONC']} -n{E['AB_N']} again "
      f"and again, slowloris {E['SLOWLORIS_RATE']}/s (slowhttptest -H), slow read x{E['SLOWREAD_CONNS']} (slowhttptest -X), "
      f"stalled readers, resets, garbage, a file rewritten and truncated while served · {E['ABOUT']}")
print()

# ---- the hostile side, for the record
print("=== hostile clients (tallies)")
for role in ("resets", "stallers", "garbage"):
    d = read_json(role)
    items = sorted(d["counts"].items(), key=lambda kv: -kv[1])
    print(f"{role}: " + ", ".join(f"{k} ×{v}" for k, v in items))
    for e in d["errors"][:5]:
        notes.append(f"{role}: {e}")
print("mutate writer: " + ", ".join(f"{k} ×{v}" for k, v in sorted(writer["counts"].items())))
print("mutate readers: " + ", ".join(f"{k} ×{v}" for k, v in sorted(rc.items())))
for mode in ("slowloris", "slowread"):
    text = "".join(open(path, errors="replace").read() for path in sorted(glob.glob(f"{OUT}/{mode}*.log")))
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    runs_ = len(re.findall(r"^=== run \d+:", text, re.M))
    exits = re.findall(r"Exit status: *(.*)", text)
    unavailable = len(re.findall(r"service available:\s*NO", text))
    connected = [int(x) for x in re.findall(r"connected:\s+(\d+)", text)]
    print(f"{mode}: {runs_} run(s), most connected at once {max(connected, default=0)}, "
          f"seconds its probe saw the service unavailable: {unavailable}, exit: {'; '.join(sorted(set(exits))) or '?'}")
print()
warn = [l for l in log.splitlines() if re.search(r"\b(WARN|ERROR)\b", l)]
print(f"=== server stderr: {len(log.splitlines())} lines, {len(warn)} WARN/ERROR; server exit status after SIGINT: {E['SERVER_RC']}")
for l in log.splitlines()[-3:]:
    print(f"  {l[:300]}")
if os.path.exists(f"{OUT}/notes"):
    notes += open(f"{OUT}/notes").read().splitlines()
if os.path.exists(f"{OUT}/failures"):
    fails += open(f"{OUT}/failures").read().splitlines()
if notes:
    print()
    print("=== notes")
    for n in notes:
        print(f"- {n}")
print()
misses = [r[0] for r in results if not r[3]] + fails
if misses:
    print("VERDICT: FAIL — " + "; ".join(misses))
    sys.exit(1)
print(f"VERDICT: PASS — {len(samples)} samples, RSS and fds flat, worst fresh client "
      f"{max((p[4] for p in probes), default=0):.1f} ms, 0 errors from the well-behaved clients, no panic")
EOF
exit "$rc"
