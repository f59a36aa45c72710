#!/usr/bin/env bash
# Many idle keep-alive connections: ours and nginx, each with 2 workers,
# hold CONNS connections that made one request each and then sit idle;
# benches/many_conns.py measures the memory per idle connection, a fresh
# client's time beside them, reusing them all once more (and the server's
# CPU per request doing it), and how long a graceful stop takes with all of
# them open. Prints one table. About a minute per server and round at
# 100 000 connections.
#
#   bash benches/many_conns.sh              # CONNS=100000, ROUNDS=1
#   CONNS=10000 ROUNDS=3 bash benches/many_conns.sh
#
# Environment: CONNS (100000), WORKERS (2), ROUNDS (1; servers alternate,
# ours first), SERVERS ("ours nginx"), BIN (a server binary already built;
# by default the script builds one with cargo).
#
# Every connection is a descriptor in the server (all of ours are in one
# process; nginx's are spread over its workers) and one in the client, so
# both need RLIMIT_NOFILE above CONNS. The script raises its soft limit to
# the hard one; raising the hard limit needs CAP_SYS_RESOURCE (root,
# usually), which it has not here: where the hard limit is too low, CONNS is
# cut to fit (leaving 2 000 descriptors for everything else) and the table
# says so; benches/many_conns_uml.sh runs this script where it can be
# raised. The clients connect from 127.0.0.2, 127.0.0.3, ... (25 000 each:
# one source address has ~28 000 ephemeral ports to one server port).
# Loopback only; only processes this script started are stopped, by PID.
set -euo pipefail

CONNS=${CONNS:-100000}
WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-1}
read -r -a SERVERS <<<"${SERVERS:-ours nginx}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=many_conns
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

MAIN_PID=""
TMP=""
cleanup() {
    if [[ -n $MAIN_PID ]] && kill -0 "$MAIN_PID" 2>/dev/null; then
        kill -KILL "$MAIN_PID" 2>/dev/null || true
    fi
    [[ -n $POLICY_RC ]] && rm -f "$POLICY_RC"
    [[ -n $TMP ]] && rm -rf "$TMP"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for server in "${SERVERS[@]}"; do
    [[ $server == ours || $server == nginx ]] || die "unknown server '$server' (ours, nginx)"
done
declare -A PACKAGE=([nginx]=nginx)
if [[ " ${SERVERS[*]} " == *" nginx "* ]]; then
    install_missing nginx
fi
require python3

# Descriptors: the soft limit up to the hard one; CONNS cut to fit.
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
ulimit -n "$hard"
ASKED=$CONNS
if ((hard < CONNS + 2000)); then
    CONNS=$(((hard - 2000) / 1000 * 1000))
    ((CONNS > 0)) || die "the open-file limit ($hard) is too low"
    log "the hard open-file limit is $hard (raising it needs CAP_SYS_RESOURCE): $CONNS connections, not $ASKED"
fi
# The sources: 127.0.0.2 and on, 25 000 connections each.
SOURCES=$(((CONNS + 24999) / 25000))
((SOURCES <= 250)) || die "CONNS is too large for 127.0.0.2-127.0.0.251"

build_release "${BIN:-}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sws-many.XXXXXX")
mkdir -p "$TMP/www"
head -c 1024 /dev/urandom >"$TMP/www/1k.bin"

# Ours: every connection allowed, idle ones kept for 10 minutes.
start_ours() {
    local log=$TMP/ours.$1.log
    : >"$log"
    "$BIN" --quiet --workers "$WORKERS" --bind 127.0.0.1 --port 0 \
        --max-connections $((CONNS + 100)) --keepalive-timeout 600 \
        "$TMP/www" </dev/null >"$log" 2>&1 &
    MAIN_PID=$!
    PORT=""
    for _ in {1..100}; do
        PORT=$(sed -nE 's|^Serving .* at http://127\.0\.0\.1:([0-9]+)/.*|\1|p' "$log" || true)
        [[ -n $PORT ]] && break
        kill -0 "$MAIN_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ -n $PORT ]] && wait_ready pid_alive || die "ours did not start: $(tail -n3 "$log")"
    STOP=INT
}

# nginx: worker_connections for every connection in any one worker (the
# kernel does not spread them evenly), the same backlog and idle timeout as
# ours, no access log. SIGQUIT is its graceful stop.
start_nginx() {
    local dir=$TMP/nginx.$1 user=""
    mkdir -p "$dir"
    ((EUID == 0)) && user="user root root;"
    PORT=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
$user
worker_processes $WORKERS;
worker_rlimit_nofile $hard;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $((CONNS + 1000)); }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    default_type application/octet-stream;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        root $TMP/www;
    }
}
EOF
    nginx -e "$dir/error.log" -p "$dir/" -c "$dir/nginx.conf" </dev/null >"$dir/stderr.log" 2>&1 &
    MAIN_PID=$!
    wait_ready pid_alive || die "nginx did not start: $(tail -n3 "$dir/error.log" "$dir/stderr.log" 2>/dev/null)"
    STOP=QUIT
}

RESULTS=()
failed=0
for round in $(seq 1 "$ROUNDS"); do
    for server in "${SERVERS[@]}"; do
        "start_$server" "$round"
        log "round $round: $server (PID $MAIN_PID, port $PORT): $CONNS connections"
        out=$TMP/$server.$round.out
        rc=0
        python3 "$REPO/benches/many_conns.py" "$MAIN_PID" "$PORT" "$CONNS" "$STOP" | tee "$out" >&2 || rc=$?
        ((rc == 0)) || failed=1
        # The client timed the stop; wait up to 10 s for the server to be
        # gone (bash reaps its children itself) or a zombie, and kill it if
        # it hung.
        exited() { [[ $(awk '{print $3}' "/proc/$MAIN_PID/stat" 2>/dev/null || echo Z) == Z ]]; }
        for _ in {1..100}; do
            exited && break
            sleep 0.1
        done
        exited || kill -KILL "$MAIN_PID" 2>/dev/null || true
        wait "$MAIN_PID" 2>/dev/null || true
        MAIN_PID=""
        RESULTS+=("$server $round $(grep '^result ' "$out" | cut -d' ' -f2- || echo missing=1)")
    done
done

field() { sed -nE "s/.* $1=([^ ]*).*/\1/p" <<<" $2"; }
echo
echo "$CONNS idle keep-alive connections, $WORKERS workers each$( ((CONNS < ASKED)) && echo " (cut from $ASKED: the hard open-file limit is $hard)")"
echo
echo "| server | round | KiB per idle connection | fresh client p50 / p99 / max (ms) | reuse all: answered, time, server CPU per request | graceful stop | errors |"
echo "|:--|--:|--:|--:|--:|--:|--:|"
for line in "${RESULTS[@]}"; do
    read -r server round rest <<<"$line"
    printf '| %s | %s | %s | %s / %s / %s | %s, %s s, %s µs | %s s | %s |\n' "$server" "$round" \
        "$(field kib_per_conn "$rest")" "$(field p50_ms "$rest")" "$(field p99_ms "$rest")" \
        "$(field max_ms "$rest")" "$(field reused "$rest")" "$(field reuse_s "$rest")" \
        "$(field reuse_cpu_us "$rest")" "$(field stop_s "$rest")" "$(field errors "$rest")"
done
exit "$failed"
