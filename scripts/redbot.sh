#!/usr/bin/env bash
# Lints the server's responses with REDbot ("lint for HTTP", PyPI package
# `redbot`): a file, a ranged file (REDbot sends its own Range request and
# checks the 206), a precompressed file, a file compressed on the fly, a
# directory listing and a 404.
#
#   bash scripts/redbot.sh                 # with --cache-control max-age=60
#   CACHE_CONTROL= bash scripts/redbot.sh  # without Cache-Control
#
# Prints every note with its level (GOOD, INFO, WARN, BAD); exits 1 if any
# note is BAD, or a WARN about content codings or Vary. REDbot is installed into a virtualenv under target/ if
# missing. The server binds 127.0.0.1 on a free port and is stopped (by its
# PID) on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$REPO/target/redbot-venv
CACHE_CONTROL=${CACHE_CONTROL-max-age=60}

if [[ ! -x $VENV/bin/redbot ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet redbot
fi
cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"

TMP=$(mktemp -d)
PID=""
cleanup() {
    [[ -n $PID ]] && kill -INT "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The demo site, plus a precompressed script and a larger file for ranges.
cp -r "$REPO/www" "$TMP/www"
python3 - "$TMP/www" <<'EOF'
import gzip, sys
root = sys.argv[1]
script = b"// demo\n" + b"console.log('simple-web-server');\n" * 200
open(f"{root}/app.js", "wb").write(script)
open(f"{root}/app.js.gz", "wb").write(gzip.compress(script))
# No sidecar: compressed on the fly (over 16 KiB: by a compression thread).
lines = [f"export const item{i} = {{ id: {i}, name: 'item {i}' }};\n" for i in range(1200)]
open(f"{root}/bundle.js", "w").write("".join(lines))
open(f"{root}/big.bin", "wb").write(bytes(range(256)) * 1024)
EOF

args=(--quiet --workers 2 --bind 127.0.0.1 --port 0 --precompressed)
[[ -n $CACHE_CONTROL ]] && args+=(--cache-control "$CACHE_CONTROL")
"$REPO/target/release/simple-web-server" "${args[@]}" "$TMP/www" 2>"$TMP/stderr" &
PID=$!
PORT=""
for _ in {1..100}; do
    PORT=$(sed -nE 's|^Serving .* at http://127\.0\.0\.1:([0-9]+)/.*|\1|p' "$TMP/stderr")
    [[ -n $PORT ]] && break
    sleep 0.1
done
[[ -n $PORT ]] || { cat "$TMP/stderr"; exit 1; }

# Until the on-the-fly variant is made, the file goes out as it is.
for _ in {1..100}; do
    curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/bundle.js" |
        grep -qi '^content-encoding: gzip' && break
    sleep 0.1
done

bad=0
for path in /style.css /big.bin /app.js /bundle.js /docs/ /missing.html; do
    echo "== http://127.0.0.1:$PORT$path"
    "$VENV/bin/redbot" -o har "http://127.0.0.1:$PORT$path" >"$TMP/har.json"
    python3 - "$TMP/har.json" <<'EOF' || bad=1
import json, sys
har = json.load(open(sys.argv[1]))
worst = 0
for entry in har["log"]["entries"]:
    status = entry["response"]["status"]
    print(f"   {entry['request']['method']} -> {status}")
    for note in entry.get("_red_messages", []):
        print(f"   {note['level']:5} {note['summary']}")
        about_coding = any(word in note["summary"].lower() for word in ("encod", "vary", "compress"))
        worst = max(worst, note["level"] == "BAD" or (note["level"] == "WARN" and about_coding))
sys.exit(worst)
EOF
done
exit "$bad"
