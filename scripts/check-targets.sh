#!/usr/bin/env bash
# Type-checks and lints (`cargo clippy --all-targets -D warnings`, which
# includes `cargo check`) the server for the other systems it supports:
# macOS and FreeBSD. Linux keeps its fast paths behind
# `cfg(target_os = "linux")` (src/sys.rs); this catches a change that
# would not compile elsewhere.
#
#   scripts/check-targets.sh                         both
#   TARGETS=x86_64-unknown-freebsd scripts/check-targets.sh
#
# Installs each target's standard library with `rustup target add`; where
# that is not possible (no rustup, no network) it says so and checks the
# others, failing only if it could check none. Nothing is linked, so no
# macOS SDK or FreeBSD sysroot is needed: the C inside two dependencies
# (aws-lc-sys, zstd-sys) is not compiled for these targets, only "built"
# by scripts/fake-cc, which writes empty objects. Those libraries build on
# both systems natively; the server's own code is what is checked here.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=${TARGETS:-x86_64-apple-darwin x86_64-unknown-freebsd}
checked=0
for target in $TARGETS; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target" &&
        ! rustup target add "$target"; then
        echo "check-targets: cannot install $target (rustup target add failed): NOT CHECKED" >&2
        continue
    fi
    var=${target//-/_}
    echo "check-targets: cargo clippy --all-targets --target $target"
    env "CC_$var=$PWD/scripts/fake-cc" "AR_$var=ar" \
        cargo clippy --all-targets --target "$target" -- -D warnings
    checked=$((checked + 1))
done
if [ "$checked" -eq 0 ]; then
    echo "check-targets: no target could be checked" >&2
    exit 1
fi
