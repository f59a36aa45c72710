#!/usr/bin/env bash
# Compressed responses over loopback: simple-web-server, which compresses a
# file version once per coding and serves the variant from memory, against
# nginx compressing on the fly (gzip, its default level 1), nginx serving a
# precompressed sidecar (gzip_static) and caddy compressing on the fly
# (zstd). One ~100 KiB JavaScript file, keep-alive, wrk -t1 -c50.
#
#   bash benches/compression.sh            # DUR=5 REPEATS=3: about 2 minutes
#   QUICK=1 bash benches/compression.sh    # DUR=2 REPEATS=1: a smoke run
#
# Environment: WORKERS (2) workers/worker processes/GOMAXPROCS for every
# server, DUR (5) seconds per wrk run, REPEATS (3) rounds, CONNS (50) wrk
# connections, JS_SIZE (102400) bytes of the JavaScript file, COMPRESS
# (default) our --compress level, NGINX_REUSEPORT (1) `reuseport` on nginx's
# listen (0: one listening socket that the workers share, as in compare.sh).
#
# Rows, each against the file with one Accept-Encoding:
#   gzip  ours (gzip 6 from its cache) against nginx `gzip on` (level 1,
#         compressed for every request) and nginx `gzip_static on` (the
#         app.js.gz made here with gzip -9, sent with sendfile);
#   zstd  ours (zstd 3 from its cache) against caddy `encode zstd`;
#   br    ours only (brotli 5 from its cache), for reference.
# The codings and levels differ, so the sizes of the bodies differ too: the
# table shows them, and how many bytes wrk read per response under load
# (headers included), so a ratio never compares different amounts of work
# unknowingly, and so a server that sent some responses uncompressed shows.
#
# Servers run one at a time, each bound to 127.0.0.1 only, interleaved per
# round (ours, nginx gzip, nginx gzip_static, caddy; then the next round);
# each cell is the median over the rounds, and beside the ratio of the
# medians the ratio round by round, its median and range: a range that
# straddles 1.0 is within this machine's noise. Before anything is timed,
# each server is checked with curl: Content-Encoding as asked, a body that
# decodes to the file (and for gzip_static, the sidecar itself). Ours is
# first warmed up until it answers compressed (it sends the first requests
# for a file as it is while a compression thread makes the variant). A
# server that fails a check stops the script. Missing tools are installed
# with apt-get (needs root). Only processes this script started are
# stopped, by PID.
set -euo pipefail

if [[ ${QUICK:-0} == 1 ]]; then
    : "${DUR:=2}" "${REPEATS:=1}"
fi
WORKERS=${WORKERS:-2}
DUR=${DUR:-5}
REPEATS=${REPEATS:-3}
CONNS=${CONNS:-50}
JS_SIZE=${JS_SIZE:-102400}
COMPRESS=${COMPRESS:-default}
NGINX_REUSEPORT=${NGINX_REUSEPORT:-1}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=compression
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
SERVERS=(ours nginx_gzip nginx_static caddy)
ROWS=(gzip zstd br)
# The codings each server is run with; the first row's peers, in order.
declare -A CODINGS=([ours]="gzip zstd br" [nginx_gzip]=gzip [nginx_static]=gzip [caddy]=zstd)
declare -A NAME=([ours]=ours [nginx_gzip]="nginx gzip on (level 1)"
    [nginx_static]="nginx gzip_static" [caddy]="caddy encode zstd")
# Comparisons in the table: "row peer", ours against that peer on that row.
COMPARISONS=("gzip nginx_gzip" "gzip nginx_static" "zstd caddy" "br -")

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
# gzip, zstd and brotli decode the bodies in the checks.
declare -A PACKAGE=([wrk]=wrk [nginx]=nginx [caddy]=caddy [curl]=curl [gzip]=gzip [zstd]=zstd
    [brotli]=brotli)
install_missing wrk nginx caddy curl gzip zstd brotli
require wrk nginx caddy curl gzip zstd brotli setsid

# ---------------------------------------------------------------- setup
build_release

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sws-compression.XXXXXX")
WWW=$TMP/www
RES=$TMP/results
RAW=$TMP/raw
mkdir -p "$WWW" "$RES" "$RAW"

# The JavaScript file: real, unminified JavaScript where the system has
# some (jQuery first), cut at a line end below JS_SIZE; otherwise generated
# text shaped like it (identifiers from a vocabulary, literals, comments), so
# that it compresses about as real code does (4–5 times with gzip).
JS=$WWW/app.js
JS_SOURCE=""
for f in /usr/share/javascript/jquery/jquery.js /usr/share/javascript/*/*.js \
    /usr/share/nodejs/*/*.js /usr/lib/node_modules/*/*.js; do
    [[ -f $f && $f != *.min.js ]] || continue
    cat "$f" >>"$TMP/js.all"
    JS_SOURCE+="${JS_SOURCE:+, }$f"
    (($(stat -c %s "$TMP/js.all") >= JS_SIZE)) && break
done
if [[ -f $TMP/js.all ]] && (($(stat -c %s "$TMP/js.all") >= JS_SIZE)); then
    head -c "$JS_SIZE" "$TMP/js.all" | sed '$d' >"$JS"
else
    JS_SOURCE="generated"
    awk -v size="$JS_SIZE" 'BEGIN {
        srand(42)
        n = split("element node value options callback event handler data index length " \
            "result target type name style selector context queue promise deferred " \
            "response request timeout cache width height offset parent children", w, " ")
        while (bytes < size) {
            f = w[int(rand() * n) + 1]; a = w[int(rand() * n) + 1]; b = w[int(rand() * n) + 1]
            s = sprintf("\n/**\n * Returns the %s of %s for the given %s.\n */\n", a, f, b)
            s = s sprintf("function %s%d(%s, %s) {\n", f, int(rand() * 1000), a, b)
            s = s sprintf("\tvar i, %s = %s.%s || [];\n", f, a, b)
            s = s sprintf("\tfor (i = 0; i < %s.length; i++) {\n", f)
            s = s sprintf("\t\tif (%s[i] === %d) {\n\t\t\treturn %s(%s[i], \"%s\");\n\t\t}\n\t}\n", f,
                int(rand() * 100000), b, f, w[int(rand() * n) + 1])
            s = s sprintf("\treturn %s === undefined ? null : %s;\n}\n", b, a)
            printf "%s", s; bytes += length(s)
        }
    }' | head -c "$JS_SIZE" | sed '$d' >"$JS"
fi
gzip -9 -k -n "$JS"
JS_BYTES=$(stat -c %s "$JS")
log "docroot $WWW: app.js $JS_BYTES bytes ($JS_SOURCE), app.js.gz $(stat -c %s "$JS.gz") bytes"

# start_SERVER TAG starts that server on 127.0.0.1, sets MAIN_PID and BASE,
# and returns non-zero if it did not come up.
start_ours() {
    local log=$TMP/ours.$1.log line
    : >"$log"
    spawn "$(basename "$BIN" | cut -c1-15)" "$log" \
        "$BIN" --quiet --workers "$WORKERS" --compress "$COMPRESS" --bind 127.0.0.1 --port 0 "$WWW"
    PORT=""
    for _ in {1..100}; do
        if line=$(grep -m1 '^Serving ' "$log"); then
            PORT=$(sed -nE 's|.* at http://127\.0\.0\.1:([0-9]+)/.*|\1|p' <<<"$line")
            break
        fi
        ours_alive "$MAIN_PID" || break
        sleep 0.1
    done
    [[ $PORT =~ ^[0-9]+$ ]] && wait_ready || {
        log "ours failed to start: $(tail -n3 "$log")"
        return 1
    }
    BASE=http://127.0.0.1:$PORT
}

# nginx as in compare.sh (sendfile, open_file_cache, no access log), plus
# $2: the gzip directives of this configuration, and `reuseport`: with one
# shared listening socket, the first worker to wake often accepts all of
# wrk's connections at once (seen here in about one run of four), and a
# server-bound row (gzip on the fly) then runs on one core of two.
start_nginx() {
    local dir=$TMP/nginx.$1 gzip=$2 user="" reuseport=""
    mkdir -p "$dir"
    ((EUID == 0)) && user="user root root;"
    ((NGINX_REUSEPORT)) && reuseport=" reuseport"
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
    types { application/javascript js; }
    default_type application/octet-stream;
    $gzip
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$PORT$reuseport;
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
    BASE=http://127.0.0.1:$PORT
}

# On the fly at nginx's default level, 1 (stated, not left implicit).
start_nginx_gzip() {
    start_nginx "gzip.$1" "gzip on; gzip_comp_level 1; gzip_types application/javascript text/javascript;"
}

# The precompressed app.js.gz, found beside app.js; nothing compressed here.
start_nginx_static() {
    start_nginx "static.$1" "gzip off; gzip_static on;"
}

# caddy: one process, GOMAXPROCS=$WORKERS; no admin endpoint, no automatic
# HTTPS (so nothing on ports 80 and 443), no access log (caddy logs requests
# only with a `log` directive), its config and data directories (the
# autosaved config among them) in $dir.
start_caddy() {
    local dir=$TMP/caddy.$1
    mkdir -p "$dir"
    PORT=$(free_port)
    cat >"$dir/Caddyfile" <<EOF
{
    admin off
    auto_https off
}
http://127.0.0.1:$PORT {
    bind 127.0.0.1
    root * $WWW
    encode zstd
    file_server
}
EOF
    GOMAXPROCS=$WORKERS XDG_CONFIG_HOME=$dir/config XDG_DATA_HOME=$dir/data HOME=$dir \
        spawn caddy "$dir/stderr.log" caddy run --config "$dir/Caddyfile" --adapter caddyfile
    wait_ready || {
        log "caddy failed to start: $(tail -n3 "$dir/stderr.log" 2>/dev/null)"
        return 1
    }
    BASE=http://127.0.0.1:$PORT
}

# Up to three tries at start_SERVER TAG (a free port can be taken in
# between); non-zero if none came up.
start_server() {
    local server=$1 tag=$2 attempt
    for attempt in 1 2 3; do
        "start_$server" "$tag.$attempt" && return 0
        stop_server "$server" >/dev/null 2>&1 || true
    done
    return 1
}

# ---------------------------------------------------------------- checks
# fetch CODING: one GET of app.js with "Accept-Encoding: CODING", the body
# as sent (curl does not decode it) in $TMP/body, the headers in
# $TMP/headers; prints the Content-Encoding ("" for none).
fetch() {
    local status
    status=$(curl -sS --http1.1 --max-time 10 -H "Accept-Encoding: $1" -D "$TMP/headers" \
        -o "$TMP/body" -w '%{http_code}' "$BASE/app.js") || die "curl $BASE/app.js failed"
    [[ $status == 200 ]] || die "$BASE/app.js (Accept-Encoding: $1) answered $status"
    tr -d '\r' <"$TMP/headers" | awk -F': *' 'tolower($1) == "content-encoding" {print tolower($2)}'
}

# Ours sends a file as it is while a compression thread makes the variant:
# ask until the answer is compressed (at most 5 s).
warm_up() {
    local coding=$1 got=""
    for _ in {1..50}; do
        got=$(fetch "$coding")
        [[ $got == "$coding" ]] && return 0
        sleep 0.1
    done
    die "ours never answered Content-Encoding: $coding to 'Accept-Encoding: $coding' in 5 s (last: '${got:-none}'); see $TMP/headers"
}

# check SERVER CODING: Content-Encoding as asked, a body that decodes to
# app.js; records the size of the body as sent, in $RES/size.SERVER.CODING.
check() {
    local server=$1 coding=$2 got decoder size
    got=$(fetch "$coding")
    [[ $got == "$coding" ]] ||
        die "$server: answered Content-Encoding '${got:-none}' to 'Accept-Encoding: $coding'"
    case $coding in
        gzip) decoder=(gzip -dc) ;;
        zstd) decoder=(zstd -dcq) ;;
        br) decoder=(brotli -dc) ;;
    esac
    "${decoder[@]}" <"$TMP/body" >"$TMP/decoded" 2>"$TMP/decode.err" ||
        die "$server: the $coding body does not decode: $(tail -n1 "$TMP/decode.err")"
    cmp -s "$TMP/decoded" "$JS" || die "$server: the $coding body decodes to something other than app.js"
    if [[ $server == nginx_static ]]; then
        cmp -s "$TMP/body" "$JS.gz" || die "nginx gzip_static did not send app.js.gz itself"
    fi
    size=$(stat -c %s "$TMP/body")
    echo "$size" >"$RES/size.$server.$coding"
    log "  $server: Content-Encoding: $coding, $size bytes, decodes to app.js"
}

# ---------------------------------------------------------------- runs
# CPU time the whole machine spent busy (every state but idle and iowait),
# in clock ticks, all cores together.
machine_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# "PID TICKS" for each child process of the server (nginx's workers).
worker_ticks() {
    local child
    for child in $(pgrep -P "$MAIN_PID" || true); do
        echo "$child $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)"
    done
}

# Notes a run in which one worker process did nearly all the workers' work
# (then a server-bound row measures one core, not $WORKERS); $4 and $5 are
# worker_ticks before and after.
check_balance() {
    local server=$1 coding=$2 rep=$3 split
    split=$(awk 'NR == FNR { t[$1] = $2; next } { d = $2 - t[$1]; s += d; if (d > m) m = d; n++ }
        END { if (n > 1 && s >= 50 && m >= 0.9 * s) printf "%.0f", m * 100 / s }' \
        <(echo "$4") <(echo "$5"))
    [[ -z $split ]] || note "$server ($coding, round $rep): one worker process did $split% of the workers' CPU"
}

# wrk's "1.23MB" (powers of 1024) in bytes.
to_bytes() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        m["B"] = 1; m["KB"] = 1024; m["MB"] = 1024 ^ 2; m["GB"] = 1024 ^ 3; m["TB"] = 1024 ^ 4
        printf "%.0f\n", n * m[u] }'
}

# run_wrk SERVER CODING ROUND: one timed run, recording requests/s (with the
# round, for the per-round ratios), server CPU µs per request and in all
# (% of one core: 200 is both of a 2-core machine), bytes wrk read per
# response, and how busy wrk kept its core: (user + system) / wall time, in
# percent; near 100 wrk, not the server, sets the pace. Also what the rest
# of the machine took meanwhile (% of one core): other people's work on a
# shared machine, and loopback work done in softirq threads.
run_wrk() {
    local server=$1 coding=$2 rep=$3 key=$2.$1 ticks machine out requests read rps errs non2xx
    local workers
    workers=$(worker_ticks)
    ticks=$(server_ticks)
    machine=$(machine_ticks)
    out=$({
        TIMEFORMAT='%U %S %R'
        time wrk -t1 -c"$CONNS" -d"${DUR}s" -H "Accept-Encoding: $coding" "$BASE/app.js" 2>&1
    } 2>"$TMP/times") || true
    ticks=$(($(server_ticks) - ticks))
    machine=$(($(machine_ticks) - machine))
    check_balance "$server" "$coding" "$rep" "$workers" "$(worker_ticks)"
    echo "$out" >"$RAW/$key.$rep.txt"
    awk '{ if ($3 > 0) printf "%.0f\n", ($1 + $2) * 100 / $3 }' "$TMP/times" >>"$RES/$key.client"
    awk -v m="$machine" -v t="$ticks" -v hz="$(getconf CLK_TCK)" '{
        if ($3 > 0) { r = ((m - t) / hz - $1 - $2) * 100 / $3; printf "%.0f\n", r < 0 ? 0 : r } }' \
        "$TMP/times" >>"$RES/$key.others"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    read -r requests read < <(awk '/requests in/ {print $1, $(NF - 1)}' <<<"$out") || true
    if [[ -z $rps || ! $requests =~ ^[0-9]+$ ]] || ((requests == 0)); then
        note "$server: wrk failed ($coding, round $rep): $(tail -n1 <<<"$out")"
        echo "$rep NA" >>"$RES/$key.rounds"
        return 0
    fi
    echo "$rps" >>"$RES/$key"
    echo "$rep $rps" >>"$RES/$key.rounds"
    awk -v t="$ticks" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.2f\n", t * 1e6 / hz / n }' >>"$RES/$key.cpu"
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" '{ if ($3 > 0) printf "%.0f\n", t * 100 / hz / $3 }' \
        "$TMP/times" >>"$RES/$key.busy"
    awk -v b="$(to_bytes "$read")" -v n="$requests" 'BEGIN { printf "%.0f\n", b / n }' >>"$RES/$key.bytes"
    errs=$(sed -nE 's/.*Socket errors: (.*)/\1/p' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    [[ -z $errs ]] || note "$server ($coding, round $rep): socket errors: $errs"
    [[ -z $non2xx ]] || note "$server ($coding, round $rep): $non2xx non-2xx responses"
    log "  $server $coding: $rps req/s, $(tail -n1 "$RES/$key.cpu") µs CPU/request, $(tail -n1 "$RES/$key.bytes") bytes/response"
}

started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "WORKERS=$WORKERS DUR=${DUR}s REPEATS=$REPEATS CONNS=$CONNS COMPRESS=$COMPRESS"

# Every server once, before anything is timed.
for server in "${SERVERS[@]}"; do
    start_server "$server" check || die "$server failed to start; see above"
    check_bind "$server"
    for coding in ${CODINGS[$server]}; do
        [[ $server == ours ]] && warm_up "$coding"
        check "$server" "$coding"
    done
    rc=0
    stop_server "$server" || rc=$?
    [[ $server != ours || $rc == 0 ]] || die "ours exited with status $rc after SIGINT: $(tail -n2 "$TMP"/ours.check.*.log)"
done

for ((rep = 1; rep <= REPEATS; rep++)); do
    for server in "${SERVERS[@]}"; do
        log "round $rep/$REPEATS: $server"
        if ! start_server "$server" "$rep"; then
            note "$server failed to start in round $rep"
            continue
        fi
        check_bind "$server"
        for coding in ${CODINGS[$server]}; do
            [[ $server == ours ]] && warm_up "$coding"
            # Warm-up: page cache, nginx's open_file_cache, lazily spawned
            # workers, caddy's encoder pools.
            wrk -t1 -c10 -d1s -H "Accept-Encoding: $coding" "$BASE/app.js" >/dev/null 2>&1 || true
            run_wrk "$server" "$coding" "$rep"
        done
        rc=0
        stop_server "$server" || rc=$?
        [[ $server != ours || $rc == 0 ]] ||
            note "ours exited with status $rc after SIGINT (round $rep): $(tail -n2 "$TMP"/ours."$rep".*.log)"
    done
done

# ---------------------------------------------------------------- report
# Ours / peer round by round: "1.02 (0.91–1.12)", the median and the range.
round_ratios() {
    [[ -f $1 && -f $2 ]] || {
        echo n/a
        return
    }
    awk '
        $2 == "NA" { next }
        FILENAME == ARGV[1] { o[$1] = $2; next }
        { p[$1] = $2 }
        END {
            n = 0
            for (r in o) if (p[r] > 0) x[++n] = o[r] / p[r]
            if (n == 0) { print "n/a"; exit }
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && x[j - 1] > x[j]; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
            median = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
            printf "%.2f (%.2f–%.2f)\n", median, x[1], x[n]
        }' "$1" "$2"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "n/a"; else printf "%.2f", a / b }'
}
fmt() { [[ $1 == NA ]] && echo "n/a" || printf "%.${2:-0}f" "$1"; }
# "ours / peer" of one measurement, or ours alone on a row without a peer.
pair() {
    local row=$1 peer=$2 suffix=$3 digits=${4:-0} mine
    mine=$(fmt "$(median "$RES/$row.ours$suffix")" "$digits")
    [[ $peer == - ]] && echo "$mine" || echo "$mine / $(fmt "$(median "$RES/$row.$peer$suffix")" "$digits")"
}
size_pair() {
    local row=$1 peer=$2 mine
    mine=$(cat "$RES/size.ours.$row" 2>/dev/null || echo n/a)
    [[ $peer == - ]] && echo "$mine" || echo "$mine / $(cat "$RES/size.$peer.$row" 2>/dev/null || echo n/a)"
}

# (`wrk -v` exits with status 1, hence the `|| true`s.)
version_nginx=$(nginx -v 2>&1 | sed 's|.*nginx/||' || true)
version_caddy=$(caddy version 2>/dev/null | awk '{print $1}' || true)
version_wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $2}' || true)
version_ours=$("$BIN" --version 2>/dev/null | awk '{print $2}' || true)
rev=$(repo_rev)

echo
echo "## Compressed responses: app.js ($JS_BYTES bytes), wrk -t1 -c$CONNS, median over $REPEATS round(s)"
echo
echo "| row | peer | ours req/s | peer req/s | ours / peer | per round: median (range) | body bytes, ours / peer | bytes read per response under load | server CPU µs/request | server CPU % | wrk CPU % | rest of machine CPU % |"
echo "|:----|:-----|-----------:|-----------:|------------:|--------------------------:|------------------------:|-----------------------------------:|----------------------:|-------------:|----------:|----------------------:|"
for comparison in "${COMPARISONS[@]}"; do
    read -r row peer <<<"$comparison"
    ours_rps=$(median "$RES/$row.ours")
    if [[ $peer == - ]]; then
        peer_name="— (ours only)" peer_rps=NA ratio_cell="—" rounds_cell="—"
    else
        peer_name=${NAME[$peer]} peer_rps=$(median "$RES/$row.$peer")
        ratio_cell=$(ratio "$ours_rps" "$peer_rps")
        rounds_cell=$(round_ratios "$RES/$row.ours.rounds" "$RES/$row.$peer.rounds")
    fi
    echo "| $row | $peer_name | $(fmt "$ours_rps") | $(fmt "$peer_rps" | sed 's|^n/a$|—|') | $ratio_cell | $rounds_cell |" \
        "$(size_pair "$row" "$peer") | $(pair "$row" "$peer" .bytes) | $(pair "$row" "$peer" .cpu 1) |" \
        "$(pair "$row" "$peer" .busy) | $(pair "$row" "$peer" .client) | $(pair "$row" "$peer" .others) |"
done
echo
# The issue's targets, on the ratio of the medians; "within noise" when the
# per-round range straddles the target.
target() {
    local what=$1 row=$2 peer=$3 want=$4 got rounds verdict
    got=$(ratio "$(median "$RES/$row.ours")" "$(median "$RES/$row.$peer")")
    rounds=$(round_ratios "$RES/$row.ours.rounds" "$RES/$row.$peer.rounds")
    verdict=$(awk -v g="$got" -v w="$want" -v r="$rounds" 'BEGIN {
        if (g == "n/a") { print "n/a"; exit }
        v = g + 0 >= w + 0 ? "met" : "NOT met"
        if (split(r, x, /[ ()–]+/) >= 3 && x[2] + 0 < w + 0 && x[3] + 0 >= w + 0) v = v ", within noise"
        print v }')
    echo "- $what: ours / peer $got (round by round: $(sed -E "s/ \((.*)\)$/, range \1/" <<<"$rounds")), target ≥ $want: $verdict"
}
echo "Targets (ratio of the medians; \"within noise\" where the per-round range straddles the target):"
echo
target "gzip against nginx on the fly" gzip nginx_gzip 3
target "gzip against nginx gzip_static" gzip nginx_static 1.0
echo
echo "Body bytes: one response as sent, measured with curl (ours: gzip 6, zstd 3, brotli 5 at --compress default;" \
    "nginx gzip level 1 on the fly; gzip_static: app.js.gz from gzip -9; caddy: its zstd default). Bytes read per" \
    "response: wrk's total divided by its requests, headers included; well above the body size, some responses went" \
    "out uncompressed. Server CPU: user + system of every thread and worker process over the run, per request," \
    "and in all as % of one core (the machine has $(nproc)). wrk CPU: % of its one core; near 100, wrk and not the" \
    "server sets the pace of that run. Rest of machine: busy CPU (/proc/stat) less the server and wrk, % of one" \
    "core: other work on a shared machine, and loopback work in softirq threads; with server + wrk + rest near" \
    "$(($(nproc) * 100)), the machine's CPUs were full. Cells are \"ours / peer\", medians over the rounds."
echo
echo "nproc $(nproc) · load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg) ·" \
    "$(date -u '+%Y-%m-%d %H:%M UTC') · workers $WORKERS · ${DUR}s per wrk run · app.js from $JS_SOURCE ·" \
    "ours $version_ours ($rev, --compress $COMPRESS) · nginx $version_nginx · caddy $version_caddy ·" \
    "wrk $version_wrk · nginx reuseport $( ((NGINX_REUSEPORT)) && echo on || echo off) · took $(($(date +%s) - started))s"
print_notes
