# shellcheck shell=bash
# What the benchmark scripts in benches/ share, sourced (not run) by each of
# them after `set -euo pipefail` and after setting BENCH, the prefix of its
# log lines (and REPO, the repository root, for build_release and repo_rev):
#
#   logging     log, die; note, NOTES and print_notes (remarks made during
#               the run, repeated under the report)
#   processes   TRACKED, track, untrack, ours_alive, stop_tracked
#   tools       install_missing (apt-get, without starting the packages'
#               services), require
#   setup       raise_nofile, build_release, repo_rev
#   servers     free_port, wait_ready, spawn, track_children, check_bind,
#               stop_server, server_ticks: one server at a time, its PID in
#               MAIN_PID and its port in PORT
#   report      median
#
# Each script keeps its own cleanup (trap on EXIT): it calls stop_tracked,
# removes POLICY_RC if set (an install cut short) and its own temp dir. A
# script may define log, track or ours_alive again after sourcing this file
# (soak.sh: timestamps, and processes known by their start time;
# haproxy_upgrade.sh: by their command line); the functions here then use
# the script's.

# ---------------------------------------------------------------- logging
log() { echo "[$BENCH] $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# Remarks made during the run, for the report's "Notes:".
NOTES=()
note() {
    NOTES+=("$*")
    log "note: $*"
}

# The notes, as the report's last section (nothing if there are none).
print_notes() {
    if ((${#NOTES[@]})); then
        echo
        echo "Notes:"
        printf -- '- %s\n' "${NOTES[@]}"
    fi
}

# ---------------------------------------------------------------- processes
# The processes this script started, and only those, are ever signalled:
# PID -> what tells it from a later process that reuses the PID (here its
# name, /proc/PID/comm, as it will be once it has exec'd).
declare -gA TRACKED=()

track() { TRACKED[$1]=$2; }
untrack() { unset "TRACKED[$1]"; }

# True if $1 is alive and still the process we started (guards against PID reuse).
ours_alive() {
    local pid=$1 comm
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "${TRACKED[$pid]:-}" ]]
}

# stop_tracked [SIGNAL [REFRESH]]: SIGNAL (TERM) to every tracked process
# that is still ours, up to 5 s for them to exit, then SIGKILL to any left.
# REFRESH, a command, runs before the signal and before each look, so that
# processes they start meanwhile are tracked and stopped too
# (haproxy_upgrade.sh: a server's new generation).
# shellcheck disable=SC2120 # the arguments are optional
stop_tracked() {
    local sig=${1:-TERM} refresh=${2:-} pid left
    # (|| true: under set -e, a REFRESH that fails would end the cleanup here.)
    if [[ -n $refresh ]]; then "$refresh" || true; fi
    for pid in "${!TRACKED[@]}"; do
        ours_alive "$pid" && kill "-$sig" "$pid" 2>/dev/null || true
    done
    for _ in {1..50}; do
        if [[ -n $refresh ]]; then "$refresh" || true; fi
        left=0
        for pid in "${!TRACKED[@]}"; do
            ours_alive "$pid" && left=1
        done
        ((left)) || break
        sleep 0.1
    done
    for pid in "${!TRACKED[@]}"; do
        ours_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done
}

# ---------------------------------------------------------------- tools
export PATH="$PATH:/usr/sbin:/sbin"

# The policy-rc.d that install_missing wrote, while it is there: the
# script's cleanup removes it if the install is cut short.
POLICY_RC=""

# install_missing TOOL... [-- PACKAGE...]: installs with apt-get the package
# of each TOOL not on PATH (PACKAGE[TOOL], a map the caller declares; the
# TOOL's own name where it has no entry), and each PACKAGE after "--" (ones
# the caller found missing itself). Needs root; dies, naming them, without
# it.
install_missing() {
    local missing=()
    while (($#)) && [[ $1 != -- ]]; do
        command -v "$1" >/dev/null || missing+=("${PACKAGE[$1]:-$1}")
        shift
    done
    (($#)) && shift
    missing+=("$@")
    ((${#missing[@]})) || return 0
    ((EUID == 0)) || die "missing ${missing[*]}; run as root to install them"
    log "installing ${missing[*]}"
    # Keep the packages' own services (nginx and lighttpd on port 80, caddy
    # on 80 and its admin port, haproxy) from being started.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        POLICY_RC=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod +x "$POLICY_RC"
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    if [[ -n $POLICY_RC ]]; then
        rm -f "$POLICY_RC"
        POLICY_RC=""
    fi
}

# require TOOL...: dies naming the first TOOL not on PATH.
require() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
}

# ---------------------------------------------------------------- setup
# The soft open-file limit up to the hard one, at most 65 536 (enough for
# the -c1000 and idle-connection runs; many_conns.sh, which needs more, sets
# its own).
raise_nofile() {
    local hard
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited ]] || ((hard > 65536)); then
        ulimit -n 65536
    else
        ulimit -n "$hard"
    fi
}

# build_release [PREBUILT]: sets BIN to the release binary, built from REPO
# with cargo, or to PREBUILT where a script takes one (many_conns.sh's BIN:
# the guest of many_conns_uml.sh runs the host's build).
# shellcheck disable=SC2120 # the argument is optional
build_release() {
    if [[ -n ${1:-} ]]; then
        BIN=$1
        [[ -x $BIN ]] || die "BIN=$BIN is not an executable"
        return 0
    fi
    log "building simple-web-server (release)"
    (cd "$REPO" && cargo build --release --quiet --bin simple-web-server)
    BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/simple-web-server
    [[ -x $BIN ]] || die "no binary at $BIN"
}

# The commit the figures come from, for the report: a short hash, "+dirty"
# with uncommitted changes, "?" outside a git checkout.
repo_rev() {
    local rev
    rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
    git -C "$REPO" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
    echo "$rev"
}

# ---------------------------------------------------------------- servers
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

# wait_ready [ALIVE]: waits up to 10 s until $PORT accepts connections,
# while `ALIVE $MAIN_PID` holds: ours_alive by default, or pid_alive where
# the script tracks nothing (many_conns.sh).
# shellcheck disable=SC2120 # the argument is optional
wait_ready() {
    local alive=${1:-ours_alive}
    for _ in {1..100}; do
        "$alive" "$MAIN_PID" || return 1
        # shellcheck disable=SC2153 # PORT is the caller's
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# True if $1 is alive, as far as kill -0 can tell (no guard against PID reuse).
pid_alive() { kill -0 "$1" 2>/dev/null; }

# spawn COMM LOG COMMAND...: starts a server in its own session (lighttpd
# signals its whole process group on shutdown), with stdout and stderr to
# LOG, tracks it as COMM, and waits until $! has exec'd the server: without
# job control setsid does not fork, so $! is the server itself. Sets MAIN_PID.
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

# stop_server NAME: stops $MAIN_PID (ours: SIGINT, a graceful drain; the
# others: SIGTERM) and returns its exit status.
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
