#!/usr/bin/env bash
# Runs all the tests: first installs what they need beyond a Rust toolchain,
# then `cargo test` (any arguments are passed on to it).
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --test admin    # one file
#
# Needed from the system: `promtool` (Debian package `prometheus`), which
# tests/admin.rs runs on the server's /metrics; `chromium` and Node.js, and
# playwright-core in tests/browser/node_modules (`npm ci`, pinned in its
# package-lock.json), which tests/browser.rs uses to load a listing in a
# real browser; `curl`, which tests/bind.rs sends through a Unix socket
# (`--unix-socket`). A test that needs a tool that is missing fails and names
# this script; it never skips. A test the machine cannot run (no IPv6
# loopback, a hard open-file limit too low for its connections) fails too,
# saying why, unless SWS_TEST_ALLOW_SKIPS=1 lets it skip (it says so).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || missing+=(chromium fonts-liberation)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
    echo "installing ${missing[*]} for the tests (apt-get)" >&2
    sudo=()
    if [[ $(id -u) != 0 ]]; then
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
    echo "installing playwright-core for the browser test (npm ci)" >&2
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

exec cargo test "$@"
