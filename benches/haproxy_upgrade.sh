#!/usr/bin/env bash
# Live upgrades (SIGUSR2) and graceful restarts (SIGTERM with --health-delay)
# under load, with nothing lost: no error status, no socket error.
#
#   bash benches/haproxy_upgrade.sh            # about 1.5 minutes
#   KEEP_TMP=1 bash benches/haproxy_upgrade.sh # keep the logs afterwards
#
# Part 1: two instances of the server behind HAProxy (roundrobin, health
# checks on each one's --admin /health every 500 ms, fall 1, rise 2,
# keep-alive to the servers, no retries: see the config below), and
# `wrk -t1 -c50 -d60s` through HAProxy. Meanwhile, for each instance in
# turn: SIGUSR2 (a new generation takes over the same sockets), 5 s,
# SIGUSR2 again, 5 s, then SIGTERM (/health says 503 for --health-delay 2 s,
# HAProxy marks it DOWN, then it drains and exits), then it is started again
# with the same flags and waited for until HAProxy has it UP.
#
# Part 2: `wrk -t1 -c100 -d20s` straight at one instance (no HAProxy) while
# it is upgraded three times, 4 s apart.
#
# Each wrk run counts non-2xx responses (a small Lua script) and socket
# errors (connect, read, write, timeout). The script prints wrk's output,
# the driver's timeline, a table to paste into the README, and one verdict
# line; it exits 0 only if both runs have no non-2xx and no socket errors.
#
# Everything lives in a temp dir (site, HAProxy config, PID files, logs),
# removed at exit unless KEEP_TMP=1. Servers and HAProxy bind 127.0.0.1
# only. Missing tools (haproxy, wrk, curl) are installed with apt-get (needs
# root). Only processes this script started are stopped, by PID: the
# servers it started, the generations they started (named in their PID
# files, in the temp dir), HAProxy and wrk.
set -euo pipefail

PART1_DUR=60     # s of wrk through HAProxy
PART1_CONNS=50
PART2_DUR=20     # s of wrk straight at one instance
PART2_CONNS=100
PART2_UPGRADES=3
HEALTH_DELAY=2   # --health-delay of every instance
CHECK_INTER_MS=500
CHECK_RISE=2
CHECK_FALL=1

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=haproxy_upgrade
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

# ---------------------------------------------------------------- cleanup
TMP=""

# /proc/PID/stat's state letter, or nothing if PID is gone.
proc_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    echo "${stat%% *}"
}

# True if PID is alive (not a zombie) and is one of ours: its command line
# names the temp dir (the servers' root and PID file, HAProxy's config,
# wrk's Lua script), which guards against PID reuse. It replaces lib.sh's
# (a name in TRACKED): the PID a server's PID file names is vetted before
# it is tracked, and a new generation has the same name as the old.
ours_alive() {
    local pid=$1 state
    [[ -n $TMP && $pid =~ ^[0-9]+$ ]] || return 1
    state=$(proc_state "$pid") || return 1
    [[ $state != Z ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$TMP/"
}

# Tracks the PIDs given: the processes this script started, or that those
# started (new generations). Nothing to record beside them: ours_alive reads
# the command line.
track() {
    local pid
    for pid in "$@"; do
        if [[ $pid =~ ^[0-9]+$ ]]; then TRACKED[$pid]=""; fi
    done
}

# Adds what the servers started since (a generation mid-upgrade) and what
# their PID files name.
track_descendants() {
    local pid child f
    for f in "$TMP"/pid.*; do
        [[ -f $f ]] && track "$(cat "$f" 2>/dev/null || true)"
    done
    for pid in "${!TRACKED[@]}"; do
        ours_alive "$pid" || continue
        for child in $(pgrep -P "$pid" 2>/dev/null || true); do
            ours_alive "$child" && track "$child"
        done
    done
}

cleanup() {
    trap - EXIT INT TERM
    # SIGINT: the servers drain at once (SIGTERM would first wait out
    # --health-delay); HAProxy and wrk stop on it too. Generations started
    # meanwhile are tracked as they appear.
    [[ -z $TMP ]] || stop_tracked INT track_descendants
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
declare -A PACKAGE=([haproxy]=haproxy [wrk]=wrk [curl]=curl)
install_missing haproxy wrk curl
require haproxy wrk curl setsid pgrep timeout

# ---------------------------------------------------------------- setup
raise_nofile
build_release

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sws-haproxy.XXXXXX")
WWW=$TMP/www
EVENTS=$TMP/events.log
mkdir -p "$WWW"
head -c 1024 /dev/urandom >"$WWW/a.txt"
: >"$EVENTS"

# Six ports nothing listens on, all distinct.
PORTS=()
for _ in {1..100}; do
    ((${#PORTS[@]} < 6)) || break
    port=$(free_port) || die "no free port found"
    [[ " ${PORTS[*]} " == *" $port "* ]] || PORTS+=("$port")
done
((${#PORTS[@]} == 6)) || die "no free port found"
FE_PORT=${PORTS[0]}
STATS_PORT=${PORTS[1]}
declare -A PORT=([s1]=${PORTS[2]} [s2]=${PORTS[3]})
declare -A ADMIN=([s1]=${PORTS[4]} [s2]=${PORTS[5]})
INSTANCES=(s1 s2)

# The wrk script: counts non-2xx responses (by status, and by the second,
# UTC, they came in), prints them with wrk's socket errors when done.
cat >"$TMP/count.lua" <<'EOF'
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    non2xx = 0
    statuses = {}
    seconds = {}
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        statuses[status] = (statuses[status] or 0) + 1
        local second = os.date("!%H:%M:%S")
        seconds[second] = (seconds[second] or 0) + 1
    end
end

function done(summary, latency, requests)
    local n, codes, when = 0, {}, {}
    for _, t in ipairs(threads) do
        n = n + t:get("non2xx")
        for status, count in pairs(t:get("statuses")) do
            codes[status] = (codes[status] or 0) + count
        end
        for second, count in pairs(t:get("seconds")) do
            when[second] = (when[second] or 0) + count
        end
    end
    local e = summary.errors
    io.write(string.format("COUNT requests %d non2xx %d connect %d read %d write %d timeout %d\n",
        summary.requests, n, e.connect, e.read, e.write, e.timeout))
    for status, count in pairs(codes) do
        io.write(string.format("COUNT status %d: %d\n", status, count))
    end
    local order = {}
    for second in pairs(when) do
        table.insert(order, second)
    end
    table.sort(order)
    for _, second in ipairs(order) do
        io.write(string.format("COUNT non-2xx at %s UTC: %d\n", second, when[second]))
    end
end
EOF

# HAProxy: roundrobin over the two instances, each checked on its admin
# port. No `retries`/`option redispatch`: a request is sent once, to one
# server, so whatever a server refuses, cuts or fails shows in wrk's counts
# (the point is that the servers lose nothing by themselves). `retries 0`
# also turns off the default 3 retries of a failed connect, which would hide
# a refused connection. Keep-alive to the servers with the default
# `http-reuse safe`. Only abnormal requests are logged (dontlog-normal),
# with health-check changes, to $TMP/haproxy.log with ISO timestamps.
cat >"$TMP/haproxy.cfg" <<EOF
global
    log stdout format iso local0 info
    maxconn 4096
    nbthread 1

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    option log-health-checks
    option http-keep-alive
    http-reuse safe
    retries 0
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout check 1s

frontend fe
    bind 127.0.0.1:$FE_PORT
    default_backend be

backend be
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter ${CHECK_INTER_MS}ms fastinter ${CHECK_INTER_MS}ms downinter ${CHECK_INTER_MS}ms fall $CHECK_FALL rise $CHECK_RISE
    server s1 127.0.0.1:${PORT[s1]} check port ${ADMIN[s1]}
    server s2 127.0.0.1:${PORT[s2]} check port ${ADMIN[s2]}

listen stats
    bind 127.0.0.1:$STATS_PORT
    stats enable
    stats uri /stats
EOF
haproxy -c -q -f "$TMP/haproxy.cfg" || die "haproxy rejects $TMP/haproxy.cfg"

# ---------------------------------------------------------------- helpers
T0=${EPOCHREALTIME/./}
# Seconds since T0 (the start of the current wrk run), e.g. 12.34.
since() {
    local us=$((${EPOCHREALTIME/./} - T0))
    printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}
event() {
    local line
    line="$(date -u +%H:%M:%S.%3N) +$(since)s $*"
    echo "$line" >>"$EVENTS"
    log "$line"
}
FAILURES=()
fail() {
    FAILURES+=("$*")
    event "FAIL: $*"
}

read_pid() { cat "$TMP/pid.$1" 2>/dev/null || true; }

# Starts instance $1 with its flags and waits until its PID file names it
# and its /health says 200.
start_instance() {
    local name=$1 pid
    setsid "$BIN" --workers 1 --bind 127.0.0.1 --port "${PORT[$name]}" \
        --admin "127.0.0.1:${ADMIN[$name]}" --pid-file "$TMP/pid.$name" \
        --health-delay "$HEALTH_DELAY" -q "$WWW" </dev/null >>"$TMP/server.$name.log" 2>&1 &
    pid=$!
    track "$pid"
    for _ in {1..100}; do
        if [[ $(read_pid "$name") == "$pid" ]] && health_ok "$name"; then
            event "$name: started, PID $pid, /health 200"
            return 0
        fi
        ours_alive "$pid" || break
        sleep 0.1
    done
    die "$name did not start: $(tail -n3 "$TMP/server.$name.log")"
}

health_ok() {
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${ADMIN[$1]}/health" || true) == 200 ]]
}

# HAProxy's view of server $1 (UP, DOWN, "DOWN 1/2", ...).
ha_status() {
    curl -s --max-time 1 "http://127.0.0.1:$STATS_PORT/stats;csv" 2>/dev/null |
        awk -F, -v s="$1" '$1 == "be" && $2 == s { print $18 }' || true
}

# Waits up to $3 s until HAProxy's status for $1 is exactly $2.
wait_ha() {
    local name=$1 want=$2 limit=$3 i
    for ((i = 0; i < limit * 20; i++)); do
        [[ $(ha_status "$name") == "$want" ]] && return 0
        sleep 0.05
    done
    return 1
}

# HAProxy's counters for each server, one line each: sessions, 2xx and 5xx
# responses, connect and response errors, aborts by the server, new
# connections and reuses of idle ones (keep-alive).
ha_counters() {
    curl -s --max-time 2 "http://127.0.0.1:$STATS_PORT/stats;csv" 2>/dev/null | awk -F, '
        NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == "be" && $2 != "BACKEND" {
            printf "%s: %d sessions, %d 2xx, %d 5xx, %d connect errors, %d response errors, %d aborted by the server, %d connections opened, %d reused\n",
                $2, $col["stot"], $col["hrsp_2xx"], $col["hrsp_5xx"], $col["econ"], $col["eresp"],
                $col["srv_abrt"], $col["connect"], $col["reuse"]
        }' || true
}

OLD_GENERATIONS=() # "PID name" of generations that handed over

# SIGUSR2 to instance $1, then waits (up to 15 s: a new generation has 10 s
# to be ready) until its PID file names a new, live process.
upgrade() {
    local name=$1 old new=""
    old=$(read_pid "$name")
    ours_alive "$old" || {
        fail "$name: PID file names $old, not a live server of ours"
        return 1
    }
    event "$name: SIGUSR2 to PID $old"
    kill -USR2 "$old"
    for _ in {1..300}; do
        new=$(read_pid "$name")
        if [[ -n $new && $new != "$old" ]] && ours_alive "$new"; then
            track "$new"
            OLD_GENERATIONS+=("$old $name")
            event "$name: PID file names the new generation, PID $new"
            return 0
        fi
        sleep 0.05
    done
    fail "$name: no new PID in the PID file 15 s after SIGUSR2 (still $new)"
    return 1
}

# SIGTERM to instance $1; waits until HAProxy has it DOWN and the process
# is gone (bounded), noting the order; then starts it again and waits until
# HAProxy has it UP.
restart() {
    local name=$1 pid down="" gone="" i
    pid=$(read_pid "$name")
    ours_alive "$pid" || {
        fail "$name: PID file names $pid, not a live server of ours"
        return 1
    }
    event "$name: SIGTERM to PID $pid"
    kill -TERM "$pid"
    # --health-delay, then the drain: 15 s is plenty.
    for ((i = 0; i < 300; i++)); do
        if [[ -z $down && $(ha_status "$name") == DOWN* ]]; then
            down=$(since)
            event "$name: HAProxy has it DOWN"
        fi
        if [[ -z $gone ]] && ! ours_alive "$pid"; then
            gone=$(since)
            event "$name: PID $pid exited"
        fi
        [[ -n $down && -n $gone ]] && break
        sleep 0.05
    done
    [[ -n $gone ]] || fail "$name: PID $pid still alive 15 s after SIGTERM"
    [[ -n $down ]] || fail "$name: HAProxy did not mark it DOWN within 15 s of SIGTERM"
    [[ -z $down || -z $gone ]] ||
        awk -v d="$down" -v g="$gone" 'BEGIN { exit !(d + 0 <= g + 0) }' ||
        fail "$name: exited before HAProxy marked it DOWN"
    start_instance "$name"
    # rise × inter is 1 s; allow for a loaded machine.
    if wait_ha "$name" UP 10; then
        event "$name: HAProxy has it UP"
    else
        fail "$name: HAProxy did not mark it UP within 10 s of the restart (status: $(ha_status "$name"))"
    fi
}

# Starts wrk in the background with the counting script; sets WRK_PID.
# `timeout` bounds it (wrk -d plus a margin for its last requests).
start_wrk() {
    local out=$1 conns=$2 dur=$3 url=$4
    timeout -k 5 $((dur + 30)) wrk -t1 -c"$conns" -d"${dur}s" -s "$TMP/count.lua" "$url" \
        >"$out" 2>&1 &
    WRK_PID=$!
    track "$WRK_PID"
    T0=${EPOCHREALTIME/./}
    event "wrk -t1 -c$conns -d${dur}s $url started"
}

# Waits for wrk; notes its exit status.
wait_wrk() {
    local rc=0
    wait "$WRK_PID" || rc=$?
    event "wrk finished (exit status $rc)"
    ((rc == 0)) || fail "wrk exited with status $rc"
}

# "requests non2xx connect read write timeout" from a wrk output file, or
# nothing if the counting script did not print.
counts() {
    sed -nE 's/^COUNT requests ([0-9]+) non2xx ([0-9]+) connect ([0-9]+) read ([0-9]+) write ([0-9]+) timeout ([0-9]+)$/\1 \2 \3 \4 \5 \6/p' "$1"
}

# ---------------------------------------------------------------- part 1
log "temp dir $TMP; HAProxy on 127.0.0.1:$FE_PORT (stats :$STATS_PORT);" \
    "s1 on :${PORT[s1]} (admin :${ADMIN[s1]}), s2 on :${PORT[s2]} (admin :${ADMIN[s2]})"
for name in "${INSTANCES[@]}"; do
    start_instance "$name"
done
# Its log on stdout; its own warnings (the same check messages again) on stderr.
setsid haproxy -db -f "$TMP/haproxy.cfg" </dev/null >"$TMP/haproxy.log" 2>"$TMP/haproxy.err" &
HAPROXY_PID=$!
track "$HAPROXY_PID"
for name in "${INSTANCES[@]}"; do
    wait_ha "$name" UP 10 || die "HAProxy does not have $name UP: $(ha_status "$name"); $(tail -n5 "$TMP/haproxy.log")"
done
[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$FE_PORT/a.txt") == 200 ]] ||
    die "no 200 for /a.txt through HAProxy"
event "HAProxy (PID $HAPROXY_PID) has s1 and s2 UP"

start_wrk "$TMP/wrk1.txt" "$PART1_CONNS" "$PART1_DUR" "http://127.0.0.1:$FE_PORT/a.txt"
sleep 5
for name in "${INSTANCES[@]}"; do
    upgrade "$name" && sleep 5
    upgrade "$name" && sleep 5
    restart "$name"
    # Both UP again before the next instance goes.
    sleep 2
done
event "driver done"
awk -v t="$(since)" -v d="$PART1_DUR" 'BEGIN { exit !(t + 0 < d) }' ||
    fail "the driver took longer than wrk's ${PART1_DUR}s"
wait_wrk
ha_counters >"$TMP/haproxy.counters"
kill -TERM "$HAPROXY_PID" 2>/dev/null || true
for _ in {1..50}; do
    ours_alive "$HAPROXY_PID" || break
    sleep 0.1
done

# ---------------------------------------------------------------- part 2
start_wrk "$TMP/wrk2.txt" "$PART2_CONNS" "$PART2_DUR" "http://127.0.0.1:${PORT[s1]}/a.txt"
sleep 3
for ((k = 1; k <= PART2_UPGRADES; k++)); do
    upgrade s1 || break
    ((k < PART2_UPGRADES)) && sleep 4
done
event "driver done"
wait_wrk

# Every generation that handed over must be gone by now (drained, exit).
for _ in {1..50}; do
    left=()
    for entry in "${OLD_GENERATIONS[@]}"; do
        ours_alive "${entry%% *}" && left+=("$entry")
    done
    ((${#left[@]})) || break
    sleep 0.1
done
for entry in "${left[@]}"; do
    fail "${entry#* }: old generation PID ${entry%% *} still alive at the end"
done

# ---------------------------------------------------------------- report
echo
echo "=== part 1: wrk -t1 -c$PART1_CONNS -d${PART1_DUR}s through HAProxy (s1 and s2 upgraded twice, restarted once each)"
grep -v '^COUNT ' "$TMP/wrk1.txt" || true
grep '^COUNT ' "$TMP/wrk1.txt" || true
echo
echo "=== part 2: wrk -t1 -c$PART2_CONNS -d${PART2_DUR}s straight at s1 (upgraded $PART2_UPGRADES times)"
grep -v '^COUNT ' "$TMP/wrk2.txt" || true
grep '^COUNT ' "$TMP/wrk2.txt" || true
echo
echo "=== timeline (UTC, seconds since the start of that wrk run)"
cat "$EVENTS"
echo
echo "=== HAProxy's counters at the end of part 1"
cat "$TMP/haproxy.counters"
echo
echo "=== HAProxy log (abnormal requests and health-check changes only; a <BADREQ>"
echo "    with CR-- as wrk starts is wrk's own check that the address connects)"
cat "$TMP/haproxy.log"
echo
echo "=== each generation's summary as it exited (requests it served)"
for name in "${INSTANCES[@]}"; do
    sed -nE "s/^(.*served [0-9]+ requests.*)$/$name: \\1/p" "$TMP/server.$name.log"
done
echo
echo "=== server warnings and errors"
grep -hE '\[(WARN|ERROR)\]' "$TMP"/server.*.log || echo "(none)"

read -r req1 non1 c1 r1 w1 t1 <<<"$(counts "$TMP/wrk1.txt")" || true
read -r req2 non2 c2 r2 w2 t2 <<<"$(counts "$TMP/wrk2.txt")" || true
[[ -n ${req1:-} ]] || fail "no counts from wrk in part 1: $(tail -n2 "$TMP/wrk1.txt")"
[[ -n ${req2:-} ]] || fail "no counts from wrk in part 2: $(tail -n2 "$TMP/wrk2.txt")"
rps1=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$TMP/wrk1.txt")
rps2=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$TMP/wrk2.txt")
row() { # label requests rps non2xx connect read write timeout
    local errs=$(($5 + $6 + $7 + $8))
    echo "| $1 | $2 | $3 | $4 | $errs ($5/$6/$7/$8) |"
}
version_ours=$("$BIN" --version 2>/dev/null | awk '{print $2}' || true)
version_haproxy=$(haproxy -v 2>/dev/null | head -n1 | awk '{print $3}' || true)
version_wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)
rev=$(repo_rev)

echo
echo "## Live upgrades and restarts under load"
echo
echo "| run | requests | requests/s | non-2xx | socket errors (connect/read/write/timeout) |"
echo "|:----|---------:|-----------:|--------:|:-------------------------------------------|"
row "HAProxy → 2 instances, each upgraded twice (SIGUSR2) and restarted once (SIGTERM, --health-delay $HEALTH_DELAY); wrk -t1 -c$PART1_CONNS -d${PART1_DUR}s" \
    "${req1:-?}" "${rps1:-?}" "${non1:-?}" "${c1:-0}" "${r1:-0}" "${w1:-0}" "${t1:-0}"
row "1 instance upgraded $PART2_UPGRADES times, 4 s apart; wrk -t1 -c$PART2_CONNS -d${PART2_DUR}s" \
    "${req2:-?}" "${rps2:-?}" "${non2:-?}" "${c2:-0}" "${r2:-0}" "${w2:-0}" "${t2:-0}"
echo
echo "1 KiB file, --workers 1 per instance, HAProxy $version_haproxy (roundrobin, /health checks every ${CHECK_INTER_MS} ms, fall $CHECK_FALL, rise $CHECK_RISE, keep-alive to the servers, no retries) · \
nproc $(nproc) · $(date -u '+%Y-%m-%d %H:%M UTC') · ours $version_ours ($rev) · wrk $version_wrk"
if ((${#FAILURES[@]})); then
    echo
    echo "Problems:"
    printf -- '- %s\n' "${FAILURES[@]}"
fi

errors1=$((${c1:-0} + ${r1:-0} + ${w1:-0} + ${t1:-0}))
errors2=$((${c2:-0} + ${r2:-0} + ${w2:-0} + ${t2:-0}))
echo
if [[ -n ${req1:-} && -n ${req2:-} ]] && ((${non1:-1} == 0 && errors1 == 0 && ${non2:-1} == 0 && errors2 == 0)) &&
    ((${#FAILURES[@]} == 0)); then
    echo "VERDICT: PASS — part 1: ${req1} requests, 0 non-2xx, 0 socket errors; part 2: ${req2} requests, 0 non-2xx, 0 socket errors"
    exit 0
fi
echo "VERDICT: FAIL — part 1: ${req1:-?} requests, ${non1:-?} non-2xx, $errors1 socket errors; part 2: ${req2:-?} requests, ${non2:-?} non-2xx, $errors2 socket errors${FAILURES:+; ${#FAILURES[@]} problem(s) above}"
exit 1
