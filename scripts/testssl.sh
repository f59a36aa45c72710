#!/usr/bin/env bash
# Scans the server's HTTPS with testssl.sh (Debian package `testssl.sh`, the
# command `testssl` or `testssl.sh`): protocols, cipher suites, key exchange,
# session resumption, vulnerabilities (Heartbleed, ROBOT, renegotiation,
# CRIME, BREACH, …) and HTTP headers.
#
#   bash scripts/testssl.sh        # a few minutes; installs testssl.sh if missing (root)
#
# Builds the server (release), makes a throwaway ECDSA P-256 certificate for
# localhost and 127.0.0.1 (self-signed, 90 days like a Let's Encrypt one),
# serves the demo site (www/) with it on 127.0.0.1 and a free port (read from the "Serving" line),
# runs testssl against it with --warnings batch and --quiet, no DNS lookups
# and no contact with OCSP/CRL servers, stops the server by its PID, and
# prints every finding rated MEDIUM, HIGH or CRITICAL and the counts by
# severity (from testssl's JSON, kept in target/testssl/).
#
# Findings fall in three groups, reported separately:
#   - TLS: protocols, cipher suites and their order, key exchange, session
#     resumption, vulnerabilities. These are what the server's code and its
#     TLS configuration decide.
#   - HTTP response headers at "/" (HSTS, security headers, banner, cookies):
#     what the server sends, also the server's doing.
#   - the certificate's trust: chain of trust, OCSP/CRL/CT, OCSP stapling and
#     must-staple, CAA records, validity period, and the rest of testssl's
#     cert_* checks. These describe the test certificate made above, which
#     is self-signed, names no OCSP responder or CRL and is logged nowhere,
#     so testssl rates some of them HIGH or CRITICAL
#     ("chain of trust: self signed") for any server that presents it; they
#     say nothing about the server, which serves whatever certificate it is
#     given. In production they are a matter for the real certificate (and
#     its CA), not this server.
# So the script exits 1 if a finding of the first two groups (the server's)
# is MEDIUM or above; the certificate's findings are listed, and counted,
# but never fail it: failing on them would fail every run, whatever the
# server did, and hide the findings that are about it. It exits 2 if the
# scan itself failed (no JSON, or a FATAL from testssl).
#
# Only the server this script started is stopped, by its PID.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUTDIR=${CARGO_TARGET_DIR:-$REPO/target}/testssl
export PATH="$PATH:/usr/sbin:/sbin"

log() { echo "[testssl] $*" >&2; }
die() {
    log "error: $*"
    exit 2
}

# ---------------------------------------------------------------- tools
testssl_cmd() { command -v testssl || command -v testssl.sh; }
if ! testssl_cmd >/dev/null; then
    ((EUID == 0)) || die "testssl.sh is not installed; run as root to install it (apt-get install testssl.sh)"
    log "installing testssl.sh"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y testssl.sh
fi
TESTSSL=$(testssl_cmd) || die "no testssl or testssl.sh after installing testssl.sh"
for tool in openssl python3 cargo; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

log "building simple-web-server (release)"
cargo build --release --quiet --manifest-path "$REPO/Cargo.toml" --bin simple-web-server
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/simple-web-server
[[ -x $BIN ]] || die "no binary at $BIN"

# ---------------------------------------------------------------- server
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sws-testssl.XXXXXX")
PID=""
COMM=$(basename "$BIN" | cut -c1-15)
cleanup() {
    if [[ -n $PID && $(cat "/proc/$PID/comm" 2>/dev/null) == "$COMM" ]]; then
        kill -INT "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 90 \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>"$TMP/openssl.log" ||
    die "cannot make the test certificate: $(cat "$TMP/openssl.log")"

"$BIN" --quiet --workers 2 --bind 127.0.0.1 --port 0 \
    --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" "$REPO/www" 2>"$TMP/stderr" &
PID=$!
PORT=""
for _ in {1..100}; do
    PORT=$(sed -nE 's|^Serving .* at https://127\.0\.0\.1:([0-9]+)/.*|\1|p' "$TMP/stderr")
    [[ -n $PORT ]] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
[[ -n $PORT ]] || die "the server did not start HTTPS: $(tail -n3 "$TMP/stderr")"
log "serving www/ at https://127.0.0.1:$PORT/ (PID $PID)"

# ---------------------------------------------------------------- scan
mkdir -p "$OUTDIR"
JSON=$OUTDIR/testssl.json
rm -f "$JSON"
rc=0
"$TESTSSL" --warnings batch --quiet --nodns none --color 0 \
    --connect-timeout 10 --openssl-timeout 10 \
    --jsonfile "$JSON" "https://127.0.0.1:$PORT/" || rc=$?
log "testssl exited with status $rc; JSON in $JSON"

# Stop the server now (a graceful drain), and check it exits cleanly.
if [[ $(cat "/proc/$PID/comm" 2>/dev/null) == "$COMM" ]]; then
    kill -INT "$PID"
    server_rc=0
    wait "$PID" || server_rc=$?
    PID=""
    ((server_rc == 0)) || log "warning: the server exited with status $server_rc: $(tail -n2 "$TMP/stderr")"
else
    die "the server died during the scan: $(tail -n5 "$TMP/stderr")"
fi
[[ -s $JSON ]] || die "testssl wrote no JSON (status $rc)"

# ---------------------------------------------------------------- summary
version=$("$BIN" --version 2>/dev/null | awk '{print $2}' || true)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
git -C "$REPO" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
tversion=$("$TESTSSL" --version 2>/dev/null | sed -nE 's/.*testssl(\.sh)? +([0-9][^ ]*).*/\2/p' | head -n1 || true)
echo
echo "== testssl ${tversion:-?} against simple-web-server $version ($rev), $(openssl version | awk '{print $1, $2}')"
python3 - "$JSON" <<'EOF'
import json
import re
import sys

ORDER = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "OK", "INFO", "FATAL", "DEBUG"]
FAIL = {"MEDIUM", "HIGH", "CRITICAL"}
# testssl's checks of the certificate itself (its cert_*, certs_*,
# certificate_transparency and intermediate certificate ids, with a
# " <cert#1>" suffix when there are several) and of what only the
# certificate or DNS can provide (stapling needs an OCSP responder in the
# certificate; CAA records are DNS).
CERT = re.compile(r"^(cert|intermediate_cert|OCSP_stapling|DNS_CAArecord)")
# Its checks of the HTTP response at "/".
HEADERS = re.compile(r"^(HTTP_|HSTS|HPKP|banner_|cookie_|security_headers|[A-Z][A-Za-z]*-[A-Za-z-]+$)")

findings = json.load(open(sys.argv[1]))
if isinstance(findings, dict):  # the structured (pretty) format, just in case
    findings = [f for scan in findings.get("scanResult", []) for v in scan.values()
                if isinstance(v, list) for f in v]
tls, headers, cert, fatal = [], [], [], []
for f in findings:
    sev = str(f.get("severity", "")).upper()
    fid = str(f.get("id", ""))
    if sev == "FATAL" or fid == "scanProblem":
        fatal.append(f)
    (cert if CERT.match(fid) else headers if HEADERS.match(fid) else tls).append(f)


def counts(group):
    c = {}
    for f in group:
        sev = str(f.get("severity", "")).upper()
        c[sev] = c.get(sev, 0) + 1
    return ", ".join(f"{s} {c[s]}" for s in ORDER + sorted(set(c) - set(ORDER)) if s in c)


def show(group):
    bad = [f for f in group if str(f.get("severity", "")).upper() in FAIL]
    bad.sort(key=lambda f: ORDER.index(f["severity"].upper()))
    for f in bad:
        cve = f" [{f['cve']}]" if f.get("cve") else ""
        print(f"  {f['severity'].upper():8} {f['id']}: {f.get('finding', '')}{cve}")
    if not bad:
        print("  (none rated MEDIUM or above)")
    return len(bad)


print(f"TLS (protocols, ciphers, key exchange, resumption, vulnerabilities): {counts(tls)}")
ntls = show(tls)
print(f"HTTP response headers at /: {counts(headers)}")
nheaders = show(headers)
print(f"Certificate trust (the throwaway self-signed test certificate, not the server; never fails the run): {counts(cert)}")
show(cert)
warns = [f for f in tls + headers + cert if str(f.get("severity", "")).upper() == "WARN"]
for f in warns:
    print(f"  scan warning: {f['id']}: {f.get('finding', '')}")
if fatal:
    for f in fatal:
        print(f"  scan problem: {f['id']}: {f.get('finding', '')}")
    print("Result: the scan failed")
    sys.exit(2)
nserver = ntls + nheaders
print(f"Result: {'FAIL' if nserver else 'PASS'}: {ntls} TLS and {nheaders} HTTP-header finding(s) "
      "rated MEDIUM or above")
sys.exit(1 if nserver else 0)
EOF
