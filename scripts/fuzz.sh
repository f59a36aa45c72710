#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of what reads client and
# balancer input: builds the targets in fuzz/ and runs each for SECS
# seconds, one after the other; fails if any of them crashes.
#
#   scripts/fuzz.sh                       every target, 30 s each
#   SECS=3600 scripts/fuzz.sh range       one target for an hour
#   scripts/fuzz.sh request_stream proxy_header
#   SECS=20 PROFILE=dev scripts/fuzz.sh   what CI runs (.ci/run)
#   BUDGET=3600 scripts/fuzz.sh range     until range has had an hour of CPU
#
# BUDGET counts CPU seconds (user + system) per target across runs, in a
# ledger kept in fuzz/work/TARGET.cpu: the target runs in slices of SECS
# (600 by default then; the last one only as long as the budget left) until
# its ledger reaches BUDGET, so a machine busy with other work, or a run
# stopped and started again, still gets the whole budget. Ctrl-C (or SIGINT to a fuzzer) stops the run; the slice it cut
# short is counted up to there.
#
# PROFILE=release (the default) builds as cargo-fuzz does, optimised: best
# for long runs, about 7 minutes to build from clean on two cores.
# PROFILE=dev builds at opt-level 1 (fuzz/Cargo.toml) in under 3 minutes
# and runs somewhat slower: enough for a short run in CI.
#
# Each run starts from the seeds checked in under fuzz/corpus/TARGET and
# the inputs that once found bugs (fuzz/regressions/TARGET), and grows its own corpus in fuzz/work/TARGET (not checked in, kept between
# runs, so longer runs build on earlier ones). A crash leaves its input in
# fuzz/artifacts/TARGET/; `cargo fuzz run TARGET FILE` (in fuzz/) replays
# it. Uses the nightly toolchain when one is installed, and stable with
# RUSTC_BOOTSTRAP=1 otherwise (cargo-fuzz needs -Z flags).
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET=${BUDGET:-}
if [ -n "$BUDGET" ]; then SECS=${SECS:-600}; else SECS=${SECS:-30}; fi
PROFILE=${PROFILE:-release}
FUZZ=$PWD/fuzz
case $PROFILE in
    release) profile=() ;;
    dev) profile=(--dev) ;;
    *) echo "fuzz: PROFILE is release or dev, not '$PROFILE'" >&2; exit 2 ;;
esac

# libFuzzer options beyond the defaults, per target: request heads reach
# the 16 KiB header limit only with inputs longer than the default 4 KiB.
declare -A OPTIONS=(
    [request_stream]="-max_len=24576"
)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <("${fuzz[@]}" list --fuzz-dir "$FUZZ")
fi

cd "$FUZZ"
start=$SECONDS
"${fuzz[@]}" build "${profile[@]}"
echo "fuzz: built ${#targets[@]} targets ($PROFILE) in $((SECONDS - start)) s"

# CPU seconds (user + system) of the children this shell has waited for.
ticks=$(getconf CLK_TCK)
children_cpu() {
    local stat
    read -ra stat </proc/$$/stat
    echo $(((stat[15] + stat[16]) / ticks))
}
# The CPU seconds in TARGET's ledger.
spent() {
    awk '{ s += $2 } END { printf "%d", s }' "work/$1.cpu" 2>/dev/null || echo 0
}

failed=()
summary=()
# Ctrl-C: the fuzzer stops (libFuzzer prints its stats and exits), then so
# does this script, after its ledger line.
interrupted=
trap 'interrupted=1' INT
# One run of TARGET for SECS seconds; sets status and adds to summary.
run() {
    local target=$1 secs=${2:-$SECS}
    mkdir -p "work/$target" "corpus/$target"
    log=work/$target.log
    args=(-max_total_time="$secs" -timeout=10 -print_final_stats=1)
    if [ -f "dict/$target.dict" ]; then
        args+=(-dict="$FUZZ/dict/$target.dict")
    fi
    # shellcheck disable=SC2206 # the options are words
    args+=(${OPTIONS[$target]:-})
    echo "fuzz: $target for $secs s"
    status=ok
    # The first corpus directory is the one libFuzzer adds to.
    dirs=("$FUZZ/work/$target" "$FUZZ/corpus/$target")
    if [ -d "regressions/$target" ]; then
        dirs+=("$FUZZ/regressions/$target")
    fi
    if ! "${fuzz[@]}" run "${profile[@]}" "$target" "${dirs[@]}" \
        -- "${args[@]}" >"$log" 2>&1; then
        status=FAILED
    fi
    if [ "$status" = FAILED ] &&
        { [ -n "$interrupted" ] || grep -q 'libFuzzer: run interrupted' "$log"; }; then
        status=stopped
        interrupted=1
    elif [ "$status" = FAILED ]; then
        failed+=("$target")
        tail -n 40 "$log"
        grep -h 'Test unit written to' "$log" || true
    fi
    # `#N DONE cov: C ft: F corp: …`, or the last status line before a crash.
    stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$stats")
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
    corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$stats")
    summary+=("$(printf '%-16s %-6s %12s execs  cov %5s  ft %6s  corpus %5s' \
        "$target" "$status" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
}

for target in "${targets[@]}"; do
    if [ -z "$BUDGET" ]; then
        run "$target"
        [ -z "$interrupted" ] || break
        continue
    fi
    while [ "$(spent "$target")" -lt "$BUDGET" ]; do
        # The last slice only as long as the budget left (on an idle core
        # CPU time is wall time), and never under a minute.
        left=$((BUDGET - $(spent "$target")))
        secs=$((left < SECS ? (left < 60 ? 60 : left) : SECS))
        cpu=$(children_cpu)
        run "$target" "$secs"
        echo "$(date -u +%FT%TZ) $(($(children_cpu) - cpu)) ${execs:-0}" >>"work/$target.cpu"
        echo "fuzz: $target has had $(spent "$target") of $BUDGET CPU seconds"
        [ "$status" = ok ] || break
    done
    [ -z "$interrupted" ] || break
done

echo "fuzz: $((SECONDS - start)) s in all"
printf '%s\n' "${summary[@]}"
if [ -n "$interrupted" ]; then
    echo "fuzz: stopped" >&2
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashed: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/work/)" >&2
    exit 1
fi
[ -z "$interrupted" ] || exit 130
