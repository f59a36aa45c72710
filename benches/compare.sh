#!/usr/bin/env bash
# Compares simple-web-server with nginx and lighttpd over loopback, with wrk
# and ab, on one generated docroot (1k.bin, 100k.bin, 10m.bin).
#
#   bash benches/compare.sh            # DUR=5 REPEATS=3: about 5 minutes
#   QUICK=1 bash benches/compare.sh    # DUR=2 REPEATS=1: a smoke run
#
# Environment: WORKERS (2) workers/worker processes for every server,
# DUR (5) seconds per wrk run, REPEATS (3) rounds, AB_N (20000) ab requests,
# IDLE_CONNS (5000) idle keep-alive connections for the memory row (0: skip),
# ROWS (all five) a subset of rows: c50 c1000 ab c8_10m c50_100k.
#
# Servers run one at a time, each bound to 127.0.0.1 only, interleaved per
# round (ours, nginx, lighttpd, ours, …); each cell is the median requests/s
# over the rounds, and "ours / best peer" the ratio of those medians. Each row
# also shows the ratio round by round (servers minutes apart rather than the
# whole run apart), its median and range: a range that straddles 1.0 is
# within this machine's noise. Missing tools are installed with apt-get
# (needs root).
# Only processes this script started are stopped, by PID.
set -euo pipefail

if [[ ${QUICK:-0} == 1 ]]; then
    : "${DUR:=2}" "${REPEATS:=1}"
fi
WORKERS=${WORKERS:-2}
DUR=${DUR:-5}
REPEATS=${REPEATS:-3}
AB_N=${AB_N:-20000}
IDLE_CONNS=${IDLE_CONNS:-5000}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVERS=(ours nginx lighttpd)
# ROWS="c50 c1000" runs only those rows (any of the five below).
read -r -a ROWS <<<"${ROWS:-c50 c1000 ab c8_10m c50_100k}"
declare -A LABEL=(
    [c50]="wrk -c50 1k.bin (keep-alive)"
    [c1000]="wrk -c1000 1k.bin (keep-alive)"
    [ab]="ab -c50 -n${AB_N} 1k.bin (no keep-alive)"
    [c8_10m]="wrk -c8 10m.bin (keep-alive)"
    [c50_100k]="wrk -c50 100k.bin (keep-alive)"
)

log() { echo "[compare] $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

NOTES=()
note() {
    NOTES+=("$*")
    log "note: $*"
}

# ---------------------------------------------------------------- cleanup
TMP=""
POLICY_RC=""
declare -A TRACKED=() # pid -> expected /proc/<pid>/comm

track() { TRACKED[$1]=$2; }
untrack() { unset "TRACKED[$1]"; }

# True if $1 is alive and still the process we started (guards against PID reuse).
ours_alive() {
    local pid=$1 comm
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "${TRACKED[$pid]:-}" ]]
}

cleanup() {
    local pid
    for pid in "${!TRACKED[@]}"; do
        ours_alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in {1..50}; do
        local left=0
        for pid in "${!TRACKED[@]}"; do
            ours_alive "$pid" && left=1
        done
        ((left)) || break
        sleep 0.1
    done
    for pid in "${!TRACKED[@]}"; do
        ours_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done
    [[ -n $POLICY_RC ]] && rm -f "$POLICY_RC"
    [[ -n $TMP ]] && rm -rf "$TMP"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
declare -A PACKAGE=([wrk]=wrk [ab]=apache2-utils [nginx]=nginx [lighttpd]=lighttpd)
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for tool in wrk ab nginx lighttpd; do
    command -v "$tool" >/dev/null || missing+=("${PACKAGE[$tool]}")
done
if ((${#missing[@]})); then
    ((EUID == 0)) || die "missing ${missing[*]}; run as root to install them"
    log "installing ${missing[*]}"
    # Keep the packages' own services (on port 80) from being started.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        POLICY_RC=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod +x "$POLICY_RC"
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk apache2-utils nginx lighttpd
    if [[ -n $POLICY_RC ]]; then
        rm -f "$POLICY_RC"
        POLICY_RC=""
    fi
fi
for tool in wrk ab nginx lighttpd setsid; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

# ---------------------------------------------------------------- setup
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]] || ((hard > 65536)); then
    ulimit -n 65536
else
    ulimit -n "$hard"
fi
(($(ulimit -n) >= 4096)) || note "ulimit -n is only $(ulimit -n): the -c1000 runs may fail"

log "building simple-web-server (release)"
(cd "$REPO" && cargo build --release --quiet --bin simple-web-server)
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/simple-web-server
[[ -x $BIN ]] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sws-compare.XXXXXX")
WWW=$TMP/www
RES=$TMP/results
RAW=$TMP/raw
mkdir -p "$WWW" "$RES" "$RAW"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c $((100 * 1024)) /dev/urandom >"$WWW/100k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$WWW/10m.bin"

# A port nothing listens on, below the usual ephemeral range.
free_port() {
    local port
    for _ in {1..200}; do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# Waits until $PORT accepts connections while $MAIN_PID lives.
wait_ready() {
    for _ in {1..100}; do
        ours_alive "$MAIN_PID" || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Records the server's child processes (workers) so cleanup can find them
# even if the master dies first.
track_children() {
    local child
    for child in $(pgrep -P "$MAIN_PID" || true); do
        track "$child" "$(cat "/proc/$child/comm" 2>/dev/null || echo '?')"
    done
}

# Warns if the server listens anywhere but 127.0.0.1.
check_bind() {
    command -v ss >/dev/null || return 0
    local other
    other=$(ss -Hltnp 2>/dev/null | grep -E "pid=$MAIN_PID," | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)
    [[ -z $other ]] || note "$1 also listens on: $other"
}

# Starts a server in its own session (lighttpd signals its whole process
# group on shutdown), with stdout and stderr to a file, and waits until $! has
# exec'd the server: without job control setsid does not fork, so $! is the
# server itself.
spawn() {
    local comm=$1 log=$2
    shift 2
    setsid "$@" </dev/null >>"$log" 2>&1 &
    MAIN_PID=$!
    track "$MAIN_PID" "$comm"
    local now
    for _ in {1..100}; do
        now=$(cat "/proc/$MAIN_PID/comm" 2>/dev/null) || return 0 # died: wait_ready reports it
        [[ $now == "$comm" ]] && return 0
        [[ $now == bash || $now == setsid ]] || die "cannot track $comm's PID ($MAIN_PID is $now)"
        sleep 0.02
    done
    die "$comm did not start"
}

start_ours() {
    local log=$TMP/ours.$1.log line
    : >"$log"
    spawn "$(basename "$BIN" | cut -c1-15)" "$log" \
        "$BIN" --quiet --workers "$WORKERS" --bind 127.0.0.1 --port 0 "$WWW"
    PORT=""
    for _ in {1..100}; do
        if line=$(grep -m1 '^Serving ' "$log"); then
            PORT=$(sed -E 's|.*http://127\.0\.0\.1:([0-9]+)/.*|\1|' <<<"$line")
            break
        fi
        ours_alive "$MAIN_PID" || break
        sleep 0.1
    done
    [[ $PORT =~ ^[0-9]+$ ]] && wait_ready || {
        log "ours failed to start: $(tail -n3 "$log")"
        return 1
    }
}

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
worker_rlimit_nofile 16384;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    types { application/octet-stream bin; }
    default_type application/octet-stream;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $WWW;
    }
}
EOF
    spawn nginx "$dir/stderr.log" nginx -e "$dir/error.log" -p "$dir/" -c "$dir/nginx.conf"
    wait_ready || {
        log "nginx failed to start: $(tail -n3 "$dir/error.log" "$dir/stderr.log" 2>/dev/null)"
        return 1
    }
    track_children
}

start_lighttpd() {
    local dir=$TMP/lighttpd.$1
    mkdir -p "$dir"
    PORT=$(free_port)
    cat >"$dir/lighttpd.conf" <<EOF
server.document-root = "$WWW"
server.bind = "127.0.0.1"
server.port = $PORT
server.max-worker = $WORKERS
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 60
server.max-connections = 8192
server.max-fds = 16384
server.network-backend = "sendfile"
server.errorlog = "$dir/error.log"
mimetype.assign = (".bin" => "application/octet-stream")
EOF
    spawn lighttpd "$dir/stderr.log" lighttpd -D -f "$dir/lighttpd.conf"
    wait_ready || {
        log "lighttpd failed to start: $(tail -n3 "$dir/error.log" "$dir/stderr.log" 2>/dev/null)"
        return 1
    }
    track_children
}

# Stops $MAIN_PID (ours: SIGINT, a graceful drain; the others: SIGTERM) and
# returns its exit status.
stop_server() {
    local name=$1 sig=TERM rc=0
    [[ $name == ours ]] && sig=INT
    if ours_alive "$MAIN_PID"; then
        kill "-$sig" "$MAIN_PID" 2>/dev/null || true
        for _ in {1..100}; do
            ours_alive "$MAIN_PID" || break
            sleep 0.1
        done
        if ours_alive "$MAIN_PID"; then
            note "$name did not stop within 10 s of SIG$sig; killed"
            kill -KILL "$MAIN_PID" 2>/dev/null || true
        fi
    fi
    wait "$MAIN_PID" 2>/dev/null || rc=$?
    untrack "$MAIN_PID"
    # Workers exit with their master; wait for any left.
    local pid
    for pid in "${!TRACKED[@]}"; do
        for _ in {1..50}; do
            ours_alive "$pid" || break
            sleep 0.1
        done
        ours_alive "$pid" || untrack "$pid"
    done
    return "$rc"
}

# ---------------------------------------------------------------- runs
# Each result line: rps connect read write timeout non2xx failed
# record ROW SERVER ROUND "RPS ERRORS…": one line per round, and the round's
# requests/s beside its number (for the per-round ratios).
record() {
    echo "$4" >>"$RES/$1.$2"
    echo "$3 ${4%% *}" >>"$RES/$1.$2.rounds"
}

# CPU time (user + system, in clock ticks) of the server under test: every
# thread of $MAIN_PID and of its child processes (nginx's and lighttpd's
# workers).
server_ticks() {
    local pid task total=0
    for pid in "$MAIN_PID" $(pgrep -P "$MAIN_PID" || true); do
        for task in /proc/"$pid"/task/*; do
            total=$((total + $(awk '{print $14 + $15}' "$task/stat" 2>/dev/null || echo 0)))
        done
    done
    echo "$total"
}

# Records the server's CPU microseconds per request for a run: less noisy
# than requests/s on a shared machine, since it doesn't depend on how much
# CPU the load generator got.
record_cpu() {
    local row=$1 server=$2 ticks=$3 requests=$4
    [[ $requests =~ ^[0-9]+$ ]] && ((requests > 0)) || return 0
    awk -v t="$ticks" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.2f\n", t * 1e6 / hz / n }' >>"$RES/$row.$server.cpu"
}

# Runs a load generator, leaving its output in $OUT and recording how busy
# it kept its core: (user + system) / wall time, in percent. At ~100% the
# generator, not the server, sets the pace of that run.
run_client() {
    local row=$1 server=$2 times
    times=$TMP/times
    OUT=$( { TIMEFORMAT='%U %S %R'; time "${@:3}" 2>&1; } 2>"$times") || true
    awk '{ if ($3 > 0) printf "%.0f\n", ($1 + $2) * 100 / $3 }' "$times" >>"$RES/$row.$server.client"
}

run_wrk() {
    local server=$1 row=$2 conns=$3 path=$4 rep=$5 out rps errs non2xx ticks
    ticks=$(server_ticks)
    run_client "$row" "$server" wrk -t1 -c"$conns" -d"${DUR}s" "http://127.0.0.1:$PORT$path"
    out=$OUT
    record_cpu "$row" "$server" $(($(server_ticks) - ticks)) "$(awk '/requests in/ {print $1}' <<<"$out")"
    echo "$out" >"$RAW/$row.$server.$rep.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    errs=$(sed -nE 's/.*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    if [[ -z $rps ]]; then
        note "$server: wrk failed on $row (round $rep): $(tail -n1 <<<"$out")"
        rps=NA
    fi
    record "$row" "$server" "$rep" "$rps ${errs:-0 0 0 0} ${non2xx:-0} 0"
    log "  $server ${LABEL[$row]}: $rps req/s"
}

run_ab() {
    local server=$1 row=$2 rep=$3 out rps failed non2xx complete ticks
    ticks=$(server_ticks)
    run_client "$row" "$server" ab -r -n "$AB_N" -c 50 "http://127.0.0.1:$PORT/1k.bin"
    out=$OUT
    record_cpu "$row" "$server" $(($(server_ticks) - ticks)) \
        "$(awk '/^Complete requests:/ {print $3}' <<<"$out")"
    echo "$out" >"$RAW/$row.$server.$rep.txt"
    rps=$(awk '/^Requests per second:/ {print $4}' <<<"$out")
    failed=$(awk '/^Failed requests:/ {print $3}' <<<"$out")
    non2xx=$(awk '/^Non-2xx responses:/ {print $3}' <<<"$out")
    complete=$(awk '/^Complete requests:/ {print $3}' <<<"$out")
    if [[ -z $rps ]]; then
        note "$server: ab failed (round $rep): $(tail -n1 <<<"$out")"
        rps=NA
        failed=$AB_N
    elif [[ $complete != "$AB_N" ]]; then
        note "$server: ab completed $complete of $AB_N requests (round $rep)"
    fi
    record "$row" "$server" "$rep" "$rps 0 0 0 0 ${non2xx:-0} ${failed:-0}"
    log "  $server ${LABEL[$row]}: $rps req/s"
}

run_rows() {
    local server=$1 rep=$2
    # Warm-up: page cache, nginx's open_file_cache, lazily spawned workers.
    wrk -t1 -c10 -d1s "http://127.0.0.1:$PORT/1k.bin" >/dev/null 2>&1 || true
    local row
    for row in "${ROWS[@]}"; do
        case $row in
            c50) run_wrk "$server" c50 50 /1k.bin "$rep" ;;
            c1000) run_wrk "$server" c1000 1000 /1k.bin "$rep" ;;
            ab) run_ab "$server" ab "$rep" ;;
            c8_10m) run_wrk "$server" c8_10m 8 /10m.bin "$rep" ;;
            c50_100k) run_wrk "$server" c50_100k 50 /100k.bin "$rep" ;;
            *) die "unknown row '$row'" ;;
        esac
    done
    # Memory per idle keep-alive connection (KiB), in the first round only.
    if ((rep == 1 && IDLE_CONNS > 0)); then
        python3 "$REPO/benches/idle_rss.py" "$MAIN_PID" "$PORT" "$IDLE_CONNS" /1k.bin \
            | awk '{print $1}' >"$RES/idle.$server" || echo NA >"$RES/idle.$server"
    fi
}

started=$(date +%s)
log "WORKERS=$WORKERS DUR=${DUR}s REPEATS=$REPEATS, docroot $WWW"
for ((rep = 1; rep <= REPEATS; rep++)); do
    for server in "${SERVERS[@]}"; do
        log "round $rep/$REPEATS: $server"
        ok=0
        for attempt in 1 2 3; do
            if "start_$server" "$rep.$attempt"; then
                ok=1
                break
            fi
            stop_server "$server" >/dev/null 2>&1 || true
        done
        if ((!ok)); then
            note "$server failed to start in round $rep"
            continue
        fi
        check_bind "$server"
        run_rows "$server" "$rep"
        rc=0
        stop_server "$server" || rc=$?
        if [[ $server == ours && $rc != 0 ]]; then
            note "ours exited with status $rc after SIGINT (round $rep): $(tail -n2 "$TMP/ours.$rep."*.log)"
        fi
    done
done

# ---------------------------------------------------------------- report
# Median of the numeric first fields of a result file, or NA.
median() {
    [[ -f $1 ]] || {
        echo NA
        return
    }
    awk '$1 != "NA" {print $1}' "$1" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "NA"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# Error totals over the rounds of a result file, as "0" or "read 12, timeout 3".
errors() {
    [[ -f $1 ]] || {
        echo "-"
        return
    }
    awk '
        function add(name, v) { if (v) s = s (s == "" ? "" : ", ") name " " v }
        { c += $2; r += $3; w += $4; t += $5; n += $6; f += $7 }
        END {
            s = ""
            add("connect", c); add("read", r); add("write", w); add("timeout", t)
            add("non-2xx", n); add("failed", f)
            print (s == "" ? "0" : s)
        }' "$1"
}

# Ours / best peer round by round (the three servers of a round run minutes
# apart): "1.02 (0.91–1.12)", the median and the range, or n/a.
round_ratios() {
    local row=$1 files=() f
    for f in "$RES/$row".{ours,nginx,lighttpd}.rounds; do
        [[ -f $f ]] && files+=("$f")
    done
    [[ -f $RES/$row.ours.rounds ]] || {
        echo n/a
        return
    }
    OURS=$RES/$row.ours.rounds awk '
        $2 == "NA" { next }
        FILENAME == ENVIRON["OURS"] { o[$1] = $2; next }
        $2 + 0 > best[$1] + 0 { best[$1] = $2 }
        END {
            n = 0
            for (r in o) if (best[r] > 0) x[++n] = o[r] / best[r]
            if (n == 0) { print "n/a"; exit }
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && x[j - 1] > x[j]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
            median = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
            printf "%.2f (%.2f–%.2f)\n", median, x[1], x[n]
        }' "${files[@]}"
}

fmt_rps() { [[ $1 == NA ]] && echo "n/a" || printf '%.0f' "$1"; }

# (`wrk -v` exits with status 1, hence the `|| true`s.)
version_nginx=$(nginx -v 2>&1 | sed 's|.*nginx/||' || true)
version_lighttpd=$(lighttpd -v 2>&1 | head -n1 | sed -E 's|^lighttpd/([^ ]+).*|\1|' || true)
version_wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)
version_ab=$(ab -V 2>&1 | head -n1 | sed -E 's/.*Version ([^ ]+).*/\1/' || true)
version_ours=$("$BIN" --version 2>/dev/null | awk '{print $2}' || true)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
git -C "$REPO" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"

echo
echo "## simple-web-server vs nginx vs lighttpd — median requests/s over $REPEATS round(s)"
echo
echo "| row | ours | nginx | lighttpd | ours / best peer | per round: median (range) |"
echo "|:----|-----:|------:|---------:|-----------------:|--------------------------:|"
for row in "${ROWS[@]}"; do
    o=$(median "$RES/$row.ours")
    n=$(median "$RES/$row.nginx")
    l=$(median "$RES/$row.lighttpd")
    ratio=$(awk -v o="$o" -v n="$n" -v l="$l" 'BEGIN {
        best = 0
        if (n != "NA") best = n
        if (l != "NA" && l + 0 > best) best = l
        if (o == "NA" || best == 0) print "n/a"; else printf "%.2f", o / best
    }')
    echo "| ${LABEL[$row]} | $(fmt_rps "$o") | $(fmt_rps "$n") | $(fmt_rps "$l") | $ratio | $(round_ratios "$row") |"
done
echo
echo "Errors, summed over the rounds (wrk socket errors connect/read/write/timeout and non-2xx; ab failed requests):"
echo
echo "| row | ours | nginx | lighttpd |"
echo "|:----|:-----|:------|:---------|"
for row in "${ROWS[@]}"; do
    echo "| ${LABEL[$row]} | $(errors "$RES/$row.ours") | $(errors "$RES/$row.nginx") | $(errors "$RES/$row.lighttpd") |"
done
echo
echo "Server CPU time per request, µs (user + system, all threads and worker processes; median over the rounds; lower is better):"
echo
echo "| row | ours | nginx | lighttpd | ours / best peer |"
echo "|:----|-----:|------:|---------:|-----------------:|"
for row in "${ROWS[@]}"; do
    o=$(median "$RES/$row.ours.cpu")
    n=$(median "$RES/$row.nginx.cpu")
    l=$(median "$RES/$row.lighttpd.cpu")
    ratio=$(awk -v o="$o" -v n="$n" -v l="$l" 'BEGIN {
        best = ""
        if (n != "NA") best = n
        if (l != "NA" && (best == "" || l + 0 < best + 0)) best = l
        if (o == "NA" || best == "" || best == 0) print "n/a"; else printf "%.2f", o / best
    }')
    echo "| ${LABEL[$row]} | $o | $n | $l | $ratio |"
done
echo
echo "Load generator CPU, % of its one core (median over the rounds; near 100, the generator and not the server sets the pace, and requests/s compare the servers only through what they cost the generator):"
echo
echo "| row | ours | nginx | lighttpd |"
echo "|:----|-----:|------:|---------:|"
for row in "${ROWS[@]}"; do
    echo "| ${LABEL[$row]} | $(median "$RES/$row.ours.client") | $(median "$RES/$row.nginx.client") | $(median "$RES/$row.lighttpd.client") |"
done
echo
if ((IDLE_CONNS > 0)); then
    echo "Memory per idle keep-alive connection ($IDLE_CONNS connections that each made one request; RSS of the server and its workers, before and after):"
    echo
    echo "| | ours | nginx | lighttpd |"
    echo "|:--|--:|--:|--:|"
    echo "| KiB per idle connection | $(cat "$RES/idle.ours" 2>/dev/null || echo n/a) | $(cat "$RES/idle.nginx" 2>/dev/null || echo n/a) | $(cat "$RES/idle.lighttpd" 2>/dev/null || echo n/a) |"
    echo
fi
# -c1000 against -c50 for each server: requests/s, and the reciprocal of
# server CPU per request (what requests/s would do if the server alone set
# the pace).
ratio_of() {
    awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN {
        if (a == "NA" || b == "NA" || b == 0) print "n/a"; else printf "%.2f", a / b }'
}
[[ " ${ROWS[*]} " == *" c50 "* && " ${ROWS[*]} " == *" c1000 "* ]] &&
    echo "-c1000 / -c50 (1k.bin), requests/s: ours $(ratio_of "$RES/c1000.ours" "$RES/c50.ours"), \
nginx $(ratio_of "$RES/c1000.nginx" "$RES/c50.nginx"), lighttpd $(ratio_of "$RES/c1000.lighttpd" "$RES/c50.lighttpd"); \
server CPU per request, -c50 / -c1000: ours $(ratio_of "$RES/c50.ours.cpu" "$RES/c1000.ours.cpu"), \
nginx $(ratio_of "$RES/c50.nginx.cpu" "$RES/c1000.nginx.cpu"), lighttpd $(ratio_of "$RES/c50.lighttpd.cpu" "$RES/c1000.lighttpd.cpu")"
echo "nproc $(nproc) · $(date -u '+%Y-%m-%d %H:%M UTC') · workers $WORKERS · ${DUR}s per wrk run · ab -n $AB_N · \
ours $version_ours ($rev) · nginx $version_nginx · lighttpd $version_lighttpd · wrk $version_wrk · ab $version_ab · \
took $(($(date +%s) - started))s"
if ((${#NOTES[@]})); then
    echo
    echo "Notes:"
    printf -- '- %s\n' "${NOTES[@]}"
fi
