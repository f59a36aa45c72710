#!/usr/bin/env bash
# Compares simple-web-server with nginx, lighttpd and h2o (and caddy, as a
# reference column) over loopback, with wrk and ab, on one generated docroot
# (1k.bin, 100k.bin, 10m.bin, and 1g.bin when a 1 GiB row is selected), over
# plain HTTP and over HTTPS.
#
#   bash benches/compare.sh            # DUR=5 REPEATS=3: about 21 minutes
#   QUICK=1 bash benches/compare.sh    # DUR=2 REPEATS=1: a smoke run (about 6)
#
# Environment: WORKERS (2) workers/worker processes/threads for every server,
# DUR (5) seconds per wrk run, DUR_1G (the larger of 10 and 2 × DUR) seconds
# per wrk run of the 1 GiB rows, REPEATS (3) rounds, AB_N (20000) ab requests,
# IDLE_CONNS (5000) idle keep-alive connections for the memory rows (0: skip),
# ROWS (all eleven) a subset of rows: c50 c1000 ab c8_10m c50_100k c2_1g
# (plain HTTP) and tls_c50 tls_c50_100k tls_c8_10m tls_c2_1g tls_ab (HTTPS).
#
# HTTPS rows: every server serves the same docroot with the same throwaway
# ECDSA P-256 certificate (made once per run with openssl, for localhost and
# 127.0.0.1), TLS 1.3 only (ours speaks 1.2 too, but the clients negotiate
# 1.3 with every server; each server is checked for it with curl first), and
# each server's defaults for session resumption. The wrk rows are keep-alive
# (a handshake per connection, then requests); tls_ab makes a new connection,
# and a full handshake, per request (ab never resumes a session). h2o, as
# shipped, does its private-key operations in a separate "neverbleed"
# process; its CPU counts in h2o's server CPU.
#
# 1 GiB rows (c2_1g, tls_c2_1g): wrk -c2 on 1g.bin (1 MiB of random data
# repeated: made in under a second, and no server compresses it). A response
# takes 0.3-1 s here, so these runs last DUR_1G rather than DUR seconds (a
# DUR-long run would complete a handful of requests, and the one or two cut
# off at its end would weigh as much as the difference between servers), and
# wrk's --timeout is raised to the run's length (its default, 2 s, would count
# slow responses as socket timeouts). Their requests/s are fractional; the
# transfer rate (wrk's Transfer/sec, which also counts the responses still in
# flight when the run ends) is the finer measure and has a table of its own,
# with the 10m.bin rows; their server CPU per request divides by the bytes
# read / 1 GiB rather than by the completed requests, for the same reason.
#
# caddy is a reference column, not a peer: it runs in every mode and every
# round like the others and its cells are shown, but "ours / best peer" and
# the per-round ratios compare ours with nginx, lighttpd and h2o only. It runs
# as one Go process with GOMAXPROCS=$WORKERS, from a generated Caddyfile:
# file_server on the docroot, bound to 127.0.0.1 only, no access log, admin
# endpoint off, automatic HTTPS off (no ACME, no certificates of its own, no
# HTTP->HTTPS redirects), OCSP stapling off, HTTP/3 off (no UDP socket), the
# idle timeout at 60 s like the others, and HOME, XDG_CONFIG_HOME (where it
# autosaves its config) and its storage under the run's temporary directory.
#
# Servers run one at a time, each bound to 127.0.0.1 only, interleaved per
# round (plain rows: ours, nginx, lighttpd, h2o, caddy; then HTTPS rows in
# the same order; then the next round); each cell is the median requests/s
# over the rounds, and "ours / best peer" the ratio of ours to the best of
# the peers' (nginx, lighttpd, h2o) medians. Each row also shows the ratio
# round by round (servers minutes apart rather than the whole run apart), its
# median and range: a range that straddles 1.0 is within this machine's
# noise. Before the timed runs every server is started in every mode and
# checked with one curl request (status, body, and over HTTPS that TLS 1.3 is
# negotiated and, for all but ours, that TLS 1.2 is refused); a server that
# fails the check stops the script. Missing tools are installed with apt-get
# (needs root). Only processes this script started are stopped, by PID.
set -euo pipefail

if [[ ${QUICK:-0} == 1 ]]; then
    : "${DUR:=2}" "${REPEATS:=1}"
fi
WORKERS=${WORKERS:-2}
DUR=${DUR:-5}
DUR_1G=${DUR_1G:-$((DUR * 2 > 10 ? DUR * 2 : 10))}
REPEATS=${REPEATS:-3}
AB_N=${AB_N:-20000}
IDLE_CONNS=${IDLE_CONNS:-5000}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=compare
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
SERVERS=(ours nginx lighttpd h2o caddy)
# The servers "best peer" is taken from; caddy is a reference column only.
PEERS=(nginx lighttpd h2o)
# ROWS="c50 tls_c50" runs only those rows (any of the eleven below).
read -r -a ROWS <<<"${ROWS:-c50 c1000 ab c8_10m c50_100k c2_1g tls_c50 tls_c50_100k tls_c8_10m tls_c2_1g tls_ab}"
declare -A LABEL=(
    [c50]="wrk -c50 1k.bin (keep-alive)"
    [c1000]="wrk -c1000 1k.bin (keep-alive)"
    [ab]="ab -c50 -n${AB_N} 1k.bin (no keep-alive)"
    [c8_10m]="wrk -c8 10m.bin (keep-alive)"
    [c50_100k]="wrk -c50 100k.bin (keep-alive)"
    [c2_1g]="wrk -c2 1g.bin (keep-alive, ${DUR_1G}s runs)"
    [tls_c50]="HTTPS wrk -c50 1k.bin (keep-alive)"
    [tls_c50_100k]="HTTPS wrk -c50 100k.bin (keep-alive)"
    [tls_c8_10m]="HTTPS wrk -c8 10m.bin (keep-alive)"
    [tls_c2_1g]="HTTPS wrk -c2 1g.bin (keep-alive, ${DUR_1G}s runs)"
    [tls_ab]="HTTPS ab -c50 -n${AB_N} 1k.bin (a full handshake per request)"
)

# The rows of each mode (plain HTTP, HTTPS) that were asked for.
PLAIN_ROWS=()
TLS_ROWS=()
for row in "${ROWS[@]}"; do
    [[ -n ${LABEL[$row]+x} ]] || die "unknown row '$row' (rows: ${!LABEL[*]})"
    if [[ $row == tls_* ]]; then TLS_ROWS+=("$row"); else PLAIN_ROWS+=("$row"); fi
done
MODES=()
((${#PLAIN_ROWS[@]})) && MODES+=(plain)
((${#TLS_ROWS[@]})) && MODES+=(tls)
((${#MODES[@]})) || die "no rows selected"
selected() { [[ " ${ROWS[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- cleanup
TMP=""
cleanup() {
    stop_tracked
    [[ -n $POLICY_RC ]] && rm -f "$POLICY_RC"
    [[ -n $TMP ]] && rm -rf "$TMP"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
declare -A PACKAGE=([wrk]=wrk [ab]=apache2-utils [nginx]=nginx [lighttpd]=lighttpd [h2o]=h2o
    [caddy]=caddy [curl]=curl [openssl]=openssl)
# lighttpd's TLS module is a package of its own on Debian.
modules=()
if ((${#TLS_ROWS[@]})) && command -v dpkg-query >/dev/null &&
    ! dpkg-query -W -f='${Status}' lighttpd-mod-openssl 2>/dev/null | grep -q 'ok installed'; then
    modules+=(lighttpd-mod-openssl)
fi
install_missing wrk ab nginx lighttpd h2o caddy curl openssl -- "${modules[@]}"
require wrk ab nginx lighttpd h2o caddy curl openssl setsid

# ---------------------------------------------------------------- setup
raise_nofile
(($(ulimit -n) >= 4096)) || note "ulimit -n is only $(ulimit -n): the -c1000 runs may fail"

build_release

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sws-compare.XXXXXX")
WWW=$TMP/www
RES=$TMP/results
RAW=$TMP/raw
mkdir -p "$WWW" "$RES" "$RAW"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c $((100 * 1024)) /dev/urandom >"$WWW/100k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$WWW/10m.bin"
# 1g.bin only for the 1 GiB rows: one 1 MiB random block, 1024 times, in one
# cat (1 GiB from /dev/urandom takes several seconds of a core; a sparse file
# would be holes read as zeros rather than data, however little that matters
# to servers that don't compress). Needs 1 GiB free under TMPDIR, and as much
# memory for the page cache.
SIZE_1G=$((1024 * 1024 * 1024))
if selected c2_1g || selected tls_c2_1g; then
    log "making 1g.bin"
    head -c $((1024 * 1024)) /dev/urandom >"$TMP/block.bin"
    blocks=()
    for _ in {1..1024}; do blocks+=("$TMP/block.bin"); done
    cat "${blocks[@]}" >"$WWW/1g.bin" || die "cannot write 1g.bin in $WWW (1 GiB)"
    rm -f "$TMP/block.bin"
    (($(stat -c %s "$WWW/1g.bin") == SIZE_1G)) || die "1g.bin is not 1 GiB"
fi

# One throwaway certificate for every server's HTTPS rows.
CERT=$TMP/tls/cert.pem
KEY=$TMP/tls/key.pem
if ((${#TLS_ROWS[@]})); then
    mkdir -p "$TMP/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 2 \
        -keyout "$KEY" -out "$CERT" 2>"$TMP/tls/openssl.log" ||
        die "cannot make the test certificate: $(tail -n3 "$TMP/tls/openssl.log")"
fi

# start_SERVER TAG MODE starts that server on 127.0.0.1 for MODE (plain or
# tls), sets MAIN_PID, PORT and BASE (the URL up to the port), and returns
# non-zero if it did not come up.
base_url() { [[ $1 == tls ]] && BASE=https://127.0.0.1:$PORT || BASE=http://127.0.0.1:$PORT; }

start_ours() {
    local log=$TMP/ours.$2.$1.log line tls=()
    : >"$log"
    [[ $2 == tls ]] && tls=(--tls-cert "$CERT" --tls-key "$KEY")
    spawn "$(basename "$BIN" | cut -c1-15)" "$log" \
        "$BIN" --quiet --workers "$WORKERS" --bind 127.0.0.1 --port 0 "${tls[@]}" "$WWW"
    PORT=""
    for _ in {1..100}; do
        if line=$(grep -m1 '^Serving ' "$log"); then
            PORT=$(sed -nE 's|.* at https?://127\.0\.0\.1:([0-9]+)/.*|\1|p' <<<"$line")
            [[ $2 != tls || $line == *" at https://"* ]] || {
                log "ours did not start HTTPS: $line"
                PORT=""
            }
            break
        fi
        ours_alive "$MAIN_PID" || break
        sleep 0.1
    done
    [[ $PORT =~ ^[0-9]+$ ]] && wait_ready || {
        log "ours failed to start: $(tail -n3 "$log")"
        return 1
    }
    base_url "$2"
}

start_nginx() {
    local dir=$TMP/nginx.$2.$1 user="" listen ssl=""
    mkdir -p "$dir"
    ((EUID == 0)) && user="user root root;"
    PORT=$(free_port)
    listen="listen 127.0.0.1:$PORT;"
    if [[ $2 == tls ]]; then
        listen="listen 127.0.0.1:$PORT ssl;"
        ssl="ssl_protocols TLSv1.3; ssl_certificate $CERT; ssl_certificate_key $KEY;"
    fi
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
        $listen
        $ssl
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
    base_url "$2"
}

start_lighttpd() {
    local dir=$TMP/lighttpd.$2.$1
    mkdir -p "$dir"
    PORT=$(free_port)
    if [[ $2 == tls ]]; then
        cat >"$dir/lighttpd.conf" <<EOF
server.modules += ("mod_openssl")
ssl.engine = "enable"
ssl.pemfile = "$CERT"
ssl.privkey = "$KEY"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3")
EOF
    else
        : >"$dir/lighttpd.conf"
    fi
    cat >>"$dir/lighttpd.conf" <<EOF
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
    base_url "$2"
}

# h2o: num-threads workers in one process (plus its "neverbleed" key process
# and crash-handler child); no access log; connection limit and idle timeout
# raised to the others' (its defaults, 1024 connections and 10 s, would
# cut the -c1000 and idle-memory rows short). OCSP stapling is off: the
# throwaway certificate has no responder, and nothing may leave the machine.
start_h2o() {
    local dir=$TMP/h2o.$2.$1 user="" ssl=""
    mkdir -p "$dir"
    ((EUID == 0)) && user="user: root"
    PORT=$(free_port)
    if [[ $2 == tls ]]; then
        ssl="
  ssl:
    certificate-file: $CERT
    key-file: $KEY
    minimum-version: TLSv1.3
    ocsp-update-interval: 0"
    fi
    cat >"$dir/h2o.conf" <<EOF
$user
num-threads: $WORKERS
max-connections: 16384
http1-request-timeout: 60
pid-file: $dir/h2o.pid
error-log: $dir/error.log
listen:
  port: $PORT
  host: 127.0.0.1$ssl
hosts:
  default:
    paths:
      /:
        file.dir: $WWW
EOF
    spawn h2o "$dir/stderr.log" h2o -c "$dir/h2o.conf"
    wait_ready || {
        log "h2o failed to start: $(tail -n3 "$dir/error.log" "$dir/stderr.log" 2>/dev/null)"
        return 1
    }
    track_children
    base_url "$2"
}

# caddy (the reference column): one process, GOMAXPROCS=$WORKERS threads
# running Go code. The site address has a port and no host, so no Host
# matcher (wrk, ab, curl and idle_rss.py send different Host headers) and,
# over HTTPS, the one loaded certificate is used with or without SNI.
# Nothing may leave the machine: "auto_https off" (no ACME, no internal CA,
# no redirect listener on port 80; the "tls" directive still makes the site
# HTTPS with the given files), "ocsp_stapling off" (the certificate names no
# responder anyway), HTTP/3 off. Caddy 2.6 has no "persist_config off", so
# its autosave.json goes to XDG_CONFIG_HOME, set here to its own directory,
# like HOME and its storage. Its idle timeout is set to 60 s like the
# others'; grace_period bounds a graceful stop on SIGTERM (infinite by
# default) well inside stop_server's 10 s. Go's MIME table (from
# /usr/share/mime/globs2 where that exists) may not know .bin, and caddy
# then sends no Content-Type at all; the header directive sends the others'
# application/octet-stream. file_server's own root rather than the root
# directive, which adds a handler of its own ("vars") to every request; HTTP
# metrics are off by default since 2.6. Over TLS 1.3, Go picks
# TLS_AES_128_GCM_SHA256 where the others pick AES-256 (Go's TLS 1.3 suites
# are not configurable); the "Negotiated with curl" line shows it. No "log"
# directive: no access log; its own log lines go to stderr, which spawn
# sends to stderr.log. caddy fmt only keeps caddy from warning that the file
# is not formatted.
start_caddy() {
    local dir=$TMP/caddy.$2.$1 site tls_block=""
    mkdir -p "$dir"
    PORT=$(free_port)
    site="http://:$PORT"
    if [[ $2 == tls ]]; then
        site="https://:$PORT"
        tls_block="tls $CERT $KEY {
        protocols tls1.3
    }"
    fi
    cat >"$dir/Caddyfile" <<EOF
{
    admin off
    auto_https off
    ocsp_stapling off
    grace_period 5s
    storage file_system $dir/data
    servers {
        protocols h1 h2
        timeouts {
            idle 60s
        }
    }
}

$site {
    bind 127.0.0.1
    header Content-Type application/octet-stream
    file_server {
        root $WWW
    }
    $tls_block
}
EOF
    HOME=$dir XDG_CONFIG_HOME=$dir/config XDG_DATA_HOME=$dir/data \
        caddy fmt --overwrite "$dir/Caddyfile" >>"$dir/stderr.log" 2>&1 || true
    HOME=$dir XDG_CONFIG_HOME=$dir/config XDG_DATA_HOME=$dir/data GOMAXPROCS=$WORKERS \
        spawn caddy "$dir/stderr.log" caddy run --adapter caddyfile --config "$dir/Caddyfile"
    wait_ready || {
        log "caddy failed to start: $(tail -n3 "$dir/stderr.log" 2>/dev/null)"
        return 1
    }
    track_children
    base_url "$2"
}

# Up to three tries at start_SERVER TAG MODE (a free port can be taken in
# between); non-zero if none came up.
start_server() {
    local server=$1 tag=$2 mode=$3 attempt
    for attempt in 1 2 3; do
        "start_$server" "$tag.$attempt" "$mode" && return 0
        stop_server "$server" >/dev/null 2>&1 || true
    done
    return 1
}

# One request with curl against the server just started, before any timed
# run: 200 and the right body; over HTTPS also TLS 1.3 and, for all but
# ours (the peers and caddy), that TLS 1.2 is refused (so their
# minimum-version settings took effect).
# Dies on any failure, with the server's logs: a server that cannot be
# configured stops the script rather than leaving a column empty.
check_server() {
    local server=$1 mode=$2 out=$TMP/check.body verbose=$TMP/check.verbose status tls=""
    status=$(curl -sS -v -k --http1.1 --max-time 10 -o "$out" -w '%{http_code}' "$BASE/1k.bin" 2>"$verbose") ||
        die "$server ($mode): curl $BASE/1k.bin failed: $(grep -v '^[*<>{}]' "$verbose" | tail -n2)
$(tail -n5 "$TMP/$server".*.check.*/*.log "$TMP/$server".*.check.*.log 2>/dev/null || true)"
    [[ $status == 200 ]] || die "$server ($mode): $BASE/1k.bin answered $status"
    cmp -s "$out" "$WWW/1k.bin" || die "$server ($mode): $BASE/1k.bin sent a different body"
    if [[ $mode == tls ]]; then
        tls=$(sed -nE 's/^\* SSL connection using (.*)/\1/p' "$verbose" | head -n1)
        [[ $tls == TLSv1.3* ]] || die "$server: negotiated '$tls' with curl, not TLS 1.3"
        if [[ $server != ours ]] &&
            curl -sS -k --http1.1 --max-time 10 --tls-max 1.2 -o /dev/null "$BASE/1k.bin" 2>/dev/null; then
            die "$server: accepted TLS 1.2; its TLS 1.3-only setting did not take effect"
        fi
        TLS_INFO[$server]=$tls
    fi
    log "  $server ($mode): checked: 200, $(stat -c %s "$out") bytes${tls:+, $tls}"
}
declare -A TLS_INFO=()

# ---------------------------------------------------------------- runs
# Each result line: rps connect read write timeout non2xx failed
# record ROW SERVER ROUND "RPS ERRORS…": one line per round, and the round's
# requests/s beside its number (for the per-round ratios).
record() {
    echo "$4" >>"$RES/$1.$2"
    echo "$3 ${4%% *}" >>"$RES/$1.$2.rounds"
}

# Records the server's CPU microseconds per request for a run: less noisy
# than requests/s on a shared machine, since it doesn't depend on how much
# CPU the load generator got. REQUESTS may be fractional (the 1 GiB rows).
record_cpu() {
    local row=$1 server=$2 ticks=$3 requests=$4
    [[ $requests =~ ^[0-9]+([.][0-9]+)?$ ]] || return 0
    awk -v t="$ticks" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.2f\n", t * 1e6 / hz / n }' >>"$RES/$row.$server.cpu"
}

# Bytes from wrk's binary units ("12.34GB", "1.50MB", "512.00B"), or nothing.
wrk_bytes() {
    awk '/^[0-9.]+[KMGTP]?B$/ {
        printf "%.0f\n", $0 * 1024 ^ index("KMGTP", substr($0, length($0) - 1, 1)) }' <<<"$1"
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

# run_wrk SERVER ROW CONNS PATH ROUND [SECONDS [WRK OPTIONS…]] (DUR seconds
# by default). Also records the transfer rate, GiB/s, from Transfer/sec.
run_wrk() {
    local server=$1 row=$2 conns=$3 path=$4 rep=$5 dur=${6:-$DUR} out rps errs non2xx ticks requests xfer
    ticks=$(server_ticks)
    run_client "$row" "$server" wrk -t1 -c"$conns" -d"${dur}s" "${@:7}" "$BASE$path"
    out=$OUT
    ticks=$(($(server_ticks) - ticks))
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    # 1g.bin: ~10-30 complete requests per run, and the CPU spent on the
    # two cut off at its end would count for nothing; divide by what was
    # read instead, in 1 GiB units.
    if [[ $path == /1g.bin ]]; then
        requests=$(awk -v b="$(wrk_bytes "$(awk '/requests in/ {print $5}' <<<"$out")")" -v s="$SIZE_1G" \
            'BEGIN { if (b > 0) printf "%.3f\n", b / s }')
    fi
    record_cpu "$row" "$server" "$ticks" "$requests"
    echo "$out" >"$RAW/$row.$server.$rep.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    xfer=$(awk -v b="$(wrk_bytes "$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")")" \
        'BEGIN { if (b > 0) printf "%.3f\n", b / 1024 ^ 3 }')
    echo "${xfer:-NA}" >>"$RES/$row.$server.xfer"
    echo "$rep ${xfer:-NA}" >>"$RES/$row.$server.xfer.rounds"
    errs=$(sed -nE 's/.*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    if [[ -z $rps ]]; then
        note "$server: wrk failed on $row (round $rep): $(tail -n1 <<<"$out")"
        rps=NA
    fi
    record "$row" "$server" "$rep" "$rps ${errs:-0 0 0 0} ${non2xx:-0} 0"
    log "  $server ${LABEL[$row]}: $rps req/s, ${xfer:-?} GiB/s"
}

# Over HTTPS, ab makes a full handshake per request (a fresh TLS session per
# connection); -f TLS1.3 keeps ours, which also speaks TLS 1.2, on TLS 1.3.
run_ab() {
    local server=$1 row=$2 rep=$3 out rps failed non2xx complete ticks tls=() proto
    [[ $BASE == https:* ]] && tls=(-f TLS1.3)
    ticks=$(server_ticks)
    run_client "$row" "$server" ab -r "${tls[@]}" -n "$AB_N" -c 50 "$BASE/1k.bin"
    out=$OUT
    if ((${#tls[@]})); then
        proto=$(awk -F': *' '/^SSL\/TLS Protocol:/ {print $2}' <<<"$out")
        [[ -z $proto || $proto == TLSv1.3,* ]] || note "$server: ab negotiated $proto (round $rep)"
    fi
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

# run_rows SERVER ROUND MODE: that mode's rows against the server just started.
run_rows() {
    local server=$1 rep=$2 mode=$3 rows=()
    [[ $mode == tls ]] && rows=("${TLS_ROWS[@]}") || rows=("${PLAIN_ROWS[@]}")
    # Warm-up: page cache, nginx's open_file_cache, lazily spawned workers.
    wrk -t1 -c10 -d1s "$BASE/1k.bin" >/dev/null 2>&1 || true
    local row
    for row in "${rows[@]}"; do
        case $row in
            c50 | tls_c50) run_wrk "$server" "$row" 50 /1k.bin "$rep" ;;
            c1000) run_wrk "$server" c1000 1000 /1k.bin "$rep" ;;
            ab | tls_ab) run_ab "$server" "$row" "$rep" ;;
            c8_10m | tls_c8_10m) run_wrk "$server" "$row" 8 /10m.bin "$rep" ;;
            c50_100k | tls_c50_100k) run_wrk "$server" "$row" 50 /100k.bin "$rep" ;;
            c2_1g | tls_c2_1g) run_wrk "$server" "$row" 2 /1g.bin "$rep" "$DUR_1G" --timeout "${DUR_1G}s" ;;
            *) die "unknown row '$row'" ;;
        esac
    done
    # Memory per idle keep-alive connection (KiB), in the first round only;
    # over HTTPS each connection makes a full TLS 1.3 handshake first.
    if ((rep == 1 && IDLE_CONNS > 0)); then
        local idle=$RES/idle.$mode.$server args=()
        [[ $mode == tls ]] && args=(--tls --cafile "$CERT")
        python3 "$REPO/benches/idle_rss.py" "${args[@]}" "$MAIN_PID" "$PORT" "$IDLE_CONNS" /1k.bin \
            2>"$TMP/idle.$mode.$server.err" | awk '{print $1}' >"$idle" || true
        if [[ ! -s $idle ]]; then
            note "$server: idle_rss.py failed ($mode): $(tail -n1 "$TMP/idle.$mode.$server.err")"
            echo NA >"$idle"
        fi
    fi
}

started=$(date +%s)
log "WORKERS=$WORKERS DUR=${DUR}s REPEATS=$REPEATS, rows ${ROWS[*]}, docroot $WWW"

# Every server in every mode, once, before anything is timed.
for mode in "${MODES[@]}"; do
    for server in "${SERVERS[@]}"; do
        start_server "$server" check "$mode" || die "$server failed to start ($mode); see above"
        check_bind "$server"
        check_server "$server" "$mode"
        rc=0
        stop_server "$server" || rc=$?
        [[ $server != ours || $rc == 0 ]] ||
            die "ours exited with status $rc after SIGINT: $(tail -n2 "$TMP/ours.$mode.check."*.log)"
    done
done

for ((rep = 1; rep <= REPEATS; rep++)); do
    for mode in "${MODES[@]}"; do
        for server in "${SERVERS[@]}"; do
            log "round $rep/$REPEATS ($mode): $server"
            if ! start_server "$server" "$rep" "$mode"; then
                note "$server failed to start in round $rep ($mode)"
                continue
            fi
            check_bind "$server"
            run_rows "$server" "$rep" "$mode"
            rc=0
            stop_server "$server" || rc=$?
            if [[ $server == ours && $rc != 0 ]]; then
                note "ours exited with status $rc after SIGINT (round $rep, $mode): $(tail -n2 "$TMP/ours.$mode.$rep."*.log)"
            fi
        done
    done
done

# ---------------------------------------------------------------- report
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

# Ours / best peer (of PEERS: not caddy) round by round (the servers of a
# round run minutes apart): "1.02 (0.91–1.12)", the median and the range, or
# n/a. From $RES/ROW.SERVER.rounds, or with a suffix ".xfer" from
# $RES/ROW.SERVER.xfer.rounds.
round_ratios() {
    local row=$1 suffix=${2:-} files=() server
    [[ -f $RES/$row.ours$suffix.rounds ]] || {
        echo n/a
        return
    }
    files=("$RES/$row.ours$suffix.rounds")
    for server in "${PEERS[@]}"; do
        [[ -f $RES/$row.$server$suffix.rounds ]] && files+=("$RES/$row.$server$suffix.rounds")
    done
    OURS=$RES/$row.ours$suffix.rounds awk '
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

# Whole requests/s, or two decimals under 100 (the 1 GiB rows).
fmt_rps() {
    if [[ $1 == NA ]]; then
        echo "n/a"
    else
        awk -v v="$1" 'BEGIN { printf(v < 100 ? "%.2f" : "%.0f", v) }'
    fi
}

# (`wrk -v` exits with status 1, hence the `|| true`s.)
version_nginx=$(nginx -v 2>&1 | sed 's|.*nginx/||' || true)
version_lighttpd=$(lighttpd -v 2>&1 | head -n1 | sed -E 's|^lighttpd/([^ ]+).*|\1|' || true)
version_h2o=$(h2o --version 2>&1 | head -n1 | awk '{print $3}' || true)
version_wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)
version_ab=$(ab -V 2>&1 | head -n1 | sed -E 's/.*Version ([^ ]+).*/\1/' || true)
version_openssl=$(openssl version 2>/dev/null | awk '{print $2}' || true)
version_caddy=$(caddy version 2>/dev/null | head -n1 | awk '{print $1}' | sed 's/^v//' || true)
version_ours=$("$BIN" --version 2>/dev/null | awk '{print $2}' || true)
rev=$(repo_rev)

# "| a | b | c | d | e |" from the medians of $RES/ROW.SERVER$1 for every server.
cells() {
    local row=$1 suffix=$2 server line=""
    for server in "${SERVERS[@]}"; do
        line+=" $(median "$RES/$row.$server$suffix") |"
    done
    echo "$line"
}

# Ours / best peer (of PEERS: not caddy) from medians: best = highest
# (requests/s, GiB/s) or lowest (CPU).
best_ratio() {
    local row=$1 suffix=$2 lower_is_better=$3 server values=""
    for server in "${PEERS[@]}"; do
        values+="$(median "$RES/$row.$server$suffix") "
    done
    awk -v o="$(median "$RES/$row.ours$suffix")" -v peers="$values" -v low="$lower_is_better" 'BEGIN {
        n = split(peers, p, " "); best = ""
        for (i = 1; i <= n; i++) {
            if (p[i] == "NA") continue
            if (best == "" || (low ? p[i] + 0 < best + 0 : p[i] + 0 > best + 0)) best = p[i]
        }
        if (o == "NA" || best == "" || best == 0) print "n/a"; else printf "%.2f", o / best
    }'
}

HEADER="| row | ours | nginx | lighttpd | h2o | caddy (ref.) |"
ALIGN="|:----|-----:|------:|---------:|----:|-------------:|"
echo
echo "## simple-web-server vs nginx vs lighttpd vs h2o (and caddy for reference) — median requests/s over $REPEATS round(s)"
echo
echo "\"ours / best peer\" (here and below): ours over the best of nginx, lighttpd and h2o, from the medians; the per-round ratios likewise. caddy is a reference column and never counts as the best peer."
echo
echo "$HEADER ours / best peer | per round: median (range) |"
echo "$ALIGN-----------------:|--------------------------:|"
for row in "${ROWS[@]}"; do
    line="| ${LABEL[$row]} |"
    for server in "${SERVERS[@]}"; do
        line+=" $(fmt_rps "$(median "$RES/$row.$server")") |"
    done
    echo "$line $(best_ratio "$row" "" 0) | $(round_ratios "$row") |"
done
echo
# The large-file rows by bytes: for 1g.bin the finer measure (see the top).
LARGE_ROWS=()
for row in "${ROWS[@]}"; do
    [[ $row == *_10m || $row == *_1g ]] && LARGE_ROWS+=("$row")
done
if ((${#LARGE_ROWS[@]})); then
    echo "Transfer rate of the large-file rows, GiB/s (wrk's Transfer/sec, which also counts responses still in flight when a run ends; median over the rounds):"
    echo
    echo "$HEADER ours / best peer | per round: median (range) |"
    echo "$ALIGN-----------------:|--------------------------:|"
    for row in "${LARGE_ROWS[@]}"; do
        echo "| ${LABEL[$row]} |$(cells "$row" .xfer) $(best_ratio "$row" .xfer 0) | $(round_ratios "$row" .xfer) |"
    done
    echo
fi
echo "Errors, summed over the rounds (wrk socket errors connect/read/write/timeout and non-2xx; ab failed requests):"
echo
echo "| row | ours | nginx | lighttpd | h2o | caddy (ref.) |"
echo "|:----|:-----|:------|:---------|:----|:-------------|"
for row in "${ROWS[@]}"; do
    line="| ${LABEL[$row]} |"
    for server in "${SERVERS[@]}"; do
        line+=" $(errors "$RES/$row.$server") |"
    done
    echo "$line"
done
echo
echo "Server CPU time per request, µs (user + system, all threads and worker processes; median over the rounds; lower is better; the 1 GiB rows per GiB read rather than per complete response):"
echo
echo "$HEADER ours / best peer |"
echo "$ALIGN-----------------:|"
for row in "${ROWS[@]}"; do
    echo "| ${LABEL[$row]} |$(cells "$row" .cpu) $(best_ratio "$row" .cpu 1) |"
done
echo
echo "Load generator CPU, % of its one core (median over the rounds; near 100, the generator and not the server sets the pace, and requests/s compare the servers only through what they cost the generator):"
echo
echo "$HEADER"
echo "$ALIGN"
for row in "${ROWS[@]}"; do
    echo "| ${LABEL[$row]} |$(cells "$row" .client)"
done
echo
if ((IDLE_CONNS > 0)); then
    echo "Memory per idle keep-alive connection ($IDLE_CONNS connections that each made one request; RSS of the server and its workers, before and after; over HTTPS each made a full TLS 1.3 handshake first):"
    echo
    echo "| KiB per idle connection | ours | nginx | lighttpd | h2o | caddy (ref.) |"
    echo "|:--|--:|--:|--:|--:|--:|"
    for mode in "${MODES[@]}"; do
        line="| $([[ $mode == tls ]] && echo HTTPS || echo HTTP) |"
        for server in "${SERVERS[@]}"; do
            line+=" $(cat "$RES/idle.$mode.$server" 2>/dev/null || echo n/a) |"
        done
        echo "$line"
    done
    echo
fi
if ((${#TLS_ROWS[@]})); then
    line="Negotiated with curl:"
    for server in "${SERVERS[@]}"; do
        line+=" $server ${TLS_INFO[$server]:-?};"
    done
    echo "${line%;} (ECDSA P-256 certificate; ab and wrk use the same OpenSSL defaults as curl)"
fi
# -c1000 against -c50 for each server: requests/s, and the reciprocal of
# server CPU per request (what requests/s would do if the server alone set
# the pace).
ratio_of() {
    awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN {
        if (a == "NA" || b == "NA" || b == 0) print "n/a"; else printf "%.2f", a / b }'
}
# "ours 0.76, nginx 0.88, …": median of $RES/A.SERVER$3 / median of $RES/B.SERVER$3.
ratios_of() {
    local a=$1 b=$2 suffix=$3 server out=""
    for server in "${SERVERS[@]}"; do
        out+="$server $(ratio_of "$RES/$a.$server$suffix" "$RES/$b.$server$suffix"), "
    done
    echo "${out%, }"
}
selected c50 && selected c1000 &&
    echo "-c1000 / -c50 (1k.bin), requests/s: $(ratios_of c1000 c50 ""); \
server CPU per request, -c50 / -c1000: $(ratios_of c50 c1000 .cpu)"
# What HTTPS costs each server: HTTPS / HTTP on the same row.
for pair in "c50 tls_c50" "ab tls_ab" "c50_100k tls_c50_100k" "c8_10m tls_c8_10m" "c2_1g tls_c2_1g"; do
    read -r plain tls <<<"$pair"
    selected "$plain" && selected "$tls" &&
        echo "HTTPS / HTTP, ${LABEL[$plain]}: requests/s $(ratios_of "$tls" "$plain" ""); \
server CPU per request $(ratios_of "$tls" "$plain" .cpu)"
done
echo "nproc $(nproc) · $(date -u '+%Y-%m-%d %H:%M UTC') · workers $WORKERS · ${DUR}s per wrk run · ab -n $AB_N · \
ours $version_ours ($rev) · nginx $version_nginx · lighttpd $version_lighttpd · h2o $version_h2o · \
caddy $version_caddy (GOMAXPROCS $WORKERS) · 1 GiB rows ${DUR_1G}s per wrk run · wrk $version_wrk · ab $version_ab · OpenSSL $version_openssl · took $(($(date +%s) - started))s"
print_notes
