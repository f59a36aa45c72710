#!/usr/bin/env bash
# benches/many_conns.sh inside User-mode Linux, for a machine whose hard
# open-file limit is below CONNS and cannot be raised (no CAP_SYS_RESOURCE:
# a container). UML is a Linux kernel that runs as an ordinary process; in
# it this script is root with every capability, so it raises the limit to
# what 100 000 connections need, and the benchmark runs unchanged on the
# host's own files (the guest's root is the host's, through hostfs, and
# writable with this script's rights; the benchmark writes only under /tmp,
# which is the guest's own).
#
#   bash benches/many_conns_uml.sh          # CONNS=100000, ours and nginx
#   CONNS=20000 ROUNDS=2 bash benches/many_conns_uml.sh
#
# Environment: CONNS, ROUNDS, SERVERS, WORKERS as for many_conns.sh;
# UML_MEM (10G) the guest's memory; UML_TIMEOUT (3000) seconds before the
# guest is stopped (KILL 30 s later if TERM does not end it); UML_CPU (the
# last CPU this script may use) the one host CPU the whole guest runs on,
# or "all" to let it use every CPU. Installs user-mode-linux and nginx with
# apt-get if they are missing (needs root).
#
# What the numbers mean: Debian's UML kernel has one CPU, and each system
# call in it is trapped by ptrace, which costs tens of microseconds rather
# than one. Every time and CPU figure is therefore UML's, many times the
# native one; memory per connection, answered/failed counts and the ratio
# to nginx in the same guest are what carry over. Why one host CPU: the
# guest's kernel and each of its processes are host processes that hand
# over to each other through ptrace at every system call; spread over two
# host CPUs each hand-over is a cross-CPU wake-up, which made the run twice
# as slow, its figures wander from run to run, and a guest's threads cost
# more than its processes (`perf bench sched pipe` in the guest: 216 µs
# per round trip between threads, 150 between processes; on one host CPU,
# 66 both). Loopback only (the guest has no network device); only the
# guest this script started is stopped.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UML_MEM=${UML_MEM:-10G}
UML_TIMEOUT=${UML_TIMEOUT:-3000}
# The last CPU this script may run on (not nproc - 1: a container's CPU
# set need not start at 0).
UML_CPU=${UML_CPU:-$(awk '/^Cpus_allowed_list/ {n = split($2, r, /[,-]/); print r[n]}' /proc/self/status)}
BENCH=many_conns_uml
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

# The trap goes in before the install: a policy-rc.d left by an install
# cut short is removed too.
DIR=""
UML_PID=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    # The guest is a tree of host processes (its kernel, one per guest
    # process) in a process group of its own, led by `timeout`: TERM to the
    # group, up to 5 s, then KILL to what is left of it.
    if [[ -n $UML_PID ]]; then
        kill -TERM -- "-$UML_PID" 2>/dev/null || true
        for _ in {1..50}; do
            kill -0 -- "-$UML_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 -- "-$UML_PID" 2>/dev/null; then
            kill -KILL -- "-$UML_PID" 2>/dev/null || true
        fi
    fi
    [[ -n $POLICY_RC ]] && rm -f "$POLICY_RC"
    [[ -n $DIR ]] && rm -rf "$DIR"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A PACKAGE=([linux.uml]=user-mode-linux [nginx]=nginx)
install_missing linux.uml nginx
require setsid taskset timeout
build_release

# Shared with the guest (through hostfs): the init script, the job and its
# output.
DIR=$(mktemp -d "${TMPDIR:-/tmp}/sws-uml.XXXXXX")

# PID 1 in the guest: mounts, the device nodes the scripts use, a loopback,
# the job, then power off (UML exits).
cat >"$DIR/init" <<EOF
#!/bin/bash
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
for dev in "null 1 3" "zero 1 5" "random 1 8" "urandom 1 9" "tty 5 0"; do
    set -- \$dev
    [[ -e /dev/\$1 ]] || mknod -m 666 "/dev/\$1" c "\$2" "\$3"
done
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
mkdir -p /dev/shm /dev/pts /tmp/out
mount -t tmpfs shm /dev/shm
mount -t hostfs none /tmp/out -o "$DIR"
ip link set lo up
bash /tmp/out/job >/tmp/out/job.log 2>&1
echo \$? >/tmp/out/rc
sync
halt -f -p
EOF
chmod +x "$DIR/init"

# The job: as root with every capability, so the hard limit goes up.
cat >"$DIR/job" <<EOF
set -e
ulimit -Hn 1048576
ulimit -n 1048576
sysctl -q -w net.ipv4.ip_local_port_range="1024 65000"
echo "[many_conns_uml] guest: \$(uname -r), \$(nproc) CPU, \$(awk '/MemTotal/ {print \$2, \$3}' /proc/meminfo), open files \$(ulimit -n)"
cd "$REPO"
TMPDIR=/tmp BIN="$BIN" CONNS="${CONNS:-100000}" ROUNDS="${ROUNDS:-1}" \
    SERVERS="${SERVERS:-ours nginx}" WORKERS="${WORKERS:-2}" bash benches/many_conns.sh
EOF

log "booting User-mode Linux ($UML_MEM, host CPU $UML_CPU); its console goes to $DIR/console"
# setsid: its own process group, for the cleanup (without job control
# setsid does not fork, and it and taskset exec: $! is `timeout`, the
# group's leader).
pin=(taskset -c "$UML_CPU")
[[ $UML_CPU == all ]] && pin=()
setsid "${pin[@]}" timeout -k 30 "$UML_TIMEOUT" linux.uml mem="$UML_MEM" rootfstype=hostfs rootflags=/ rw \
    init="$DIR/init" con=null con0=fd:0,fd:1 </dev/null >"$DIR/console" 2>&1 &
UML_PID=$!
rc=0
wait "$UML_PID" || rc=$?
UML_PID=""
[[ -f $DIR/job.log ]] || die "the guest ran no job (rc $rc): $(tail -n5 "$DIR/console")"
cat "$DIR/job.log"
[[ -f $DIR/rc ]] || die "the guest stopped before the job finished (rc $rc)"
exit "$(cat "$DIR/rc")"
