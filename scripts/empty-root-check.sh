#!/usr/bin/env bash
# Proves the static binary works where the filesystem has nothing but itself (issue 12): a
# `FROM scratch` image, a distroless or slim image without ca-certificates, a minimal chroot.
# Runs the binary inside an EMPTY root directory holding only the binary and /etc/resolv.conf
# (`chroot`, so this needs root) and checks, against local fakes running outside the chroot:
#  1. an MCP session over stdio (initialize → tools/list → tools/call find_cheapest) reaching
#     `sandbox-api` over plain HTTP — the HTTP client builds with no CA bundle on disk, and logs
#     that it uses the Mozilla roots built into the binary;
#  2. a tools/call over HTTPS to a local server whose certificate (the test CA's) is not trusted:
#     the precise certificate error (unknown issuer), never "builder error";
#  3. the same call with SSL_CERT_FILE naming the test CA copied into the root: it succeeds;
#  4. SSL_CERT_FILE naming a file that does not exist: a setup error naming the variable and the
#     fix, reported once (not "after N attempts").
# Usage: scripts/empty-root-check.sh [BINARY]   (default: the release binary, see lib.sh)
# Idempotent: everything it writes is in a temp dir it removes; the fakes it starts are stopped.
source "$(dirname "$0")/lib.sh"
need node
need python3
need chroot
[ "$(id -u)" = 0 ] || die "chroot needs root (run as root, or skip this check)"

BIN="${1:-}"
if [ -z "$BIN" ]; then
  BIN="$(VIRTUALSMS_RELEASE_TARGET="${VIRTUALSMS_RELEASE_TARGET:-musl}" release_binary)"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
is_static "$BIN" || die "$BIN is not statically linked: it cannot run in an empty root (build the musl target)"
SMOKE="$ROOT/tests/clients/mcp_smoke.mjs"
FIXTURES="$ROOT/tests/fixtures/tls"

TMP="$(mktemp -d -t virtualsms-root.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap 'rc=$?; cleanup; [ $rc -eq 0 ] || printf "[%s] FAILED (exit %s)\n" "$SCRIPT" "$rc" >&2' EXIT

R="$TMP/root"
mkdir -p "$R/etc"
cp "$BIN" "$R/virtualsms-mcp"
cp /etc/resolv.conf "$R/etc/resolv.conf"
log "empty root $R holds only: $(cd "$R" && find . -mindepth 1 -not -type d | sort | tr '\n' ' ')"

# The fakes run outside the chroot and listen on 127.0.0.1 (the chroot shares the network).
"$BIN" sandbox-api --port 0 2>"$TMP/sandbox.log" &
PIDS+=($!)
python3 "$ROOT/scripts/testdata/https_fake.py" "$FIXTURES" >"$TMP/https.port" 2>"$TMP/https.log" &
PIDS+=($!)
SANDBOX_URL="" HTTPS_PORT=""
for _ in $(seq 100); do
  SANDBOX_URL="$(grep -o 'http://127.0.0.1:[0-9]*/api/v2' "$TMP/sandbox.log" | head -n1 || true)"
  HTTPS_PORT="$(head -n1 "$TMP/https.port" 2>/dev/null || true)"
  [ -n "$SANDBOX_URL" ] && [ -n "$HTTPS_PORT" ] && break
  sleep 0.1
done
[ -n "$SANDBOX_URL" ] || die "sandbox-api did not start: $(cat "$TMP/sandbox.log")"
[ -n "$HTTPS_PORT" ] || die "the HTTPS fake did not start: $(cat "$TMP/https.log")"
HTTPS_URL="https://127.0.0.1:$HTTPS_PORT/api/v2"
log "fakes: $SANDBOX_URL (sandbox-api), $HTTPS_URL (HTTPS, test CA)"

# Only what each step sets: no SSL_CERT_* or key leaking in from this shell.
in_root() { env -i PATH=/ "$@"; }

log "1. MCP session in the empty root → sandbox-api over HTTP"
in_root VIRTUALSMS_BASE_URL="$SANDBOX_URL" VIRTUALSMS_LOG="warn,virtualsms_mcp::tls=debug" \
  "$(command -v node)" "$SMOKE" -- "$(command -v chroot)" "$R" /virtualsms-mcp 2>"$TMP/step1.log" \
  || die "MCP session in the empty root failed: $(cat "$TMP/step1.log")"
grep -q "mcp smoke: .* passed, 0 failed" "$TMP/step1.log" || die "no smoke summary: $(cat "$TMP/step1.log")"
grep "TLS trust roots" "$TMP/step1.log" | grep -q "Mozilla roots built into this binary" \
  || die "the client did not report the built-in roots: $(cat "$TMP/step1.log")"
log "   $(grep -c '^ok ' "$TMP/step1.log") checks passed; $(grep -o 'source=.*' "$TMP/step1.log" | head -n1)"

call_balance() {
  in_root VIRTUALSMS_API_KEY=anything VIRTUALSMS_BASE_URL="$HTTPS_URL" "$@" \
    "$(command -v chroot)" "$R" /virtualsms-mcp call get_balance '{}'
}

log "2. tools/call over HTTPS, the test CA not trusted (built-in roots only)"
rc=0
call_balance >"$TMP/out" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || die "expected exit 1, got $rc: $(cat "$TMP/err")"
grep -q "invalid peer certificate: UnknownIssuer" "$TMP/err" || die "not the certificate error: $(cat "$TMP/err")"
! grep -q "builder error" "$TMP/err" || die "'builder error' reached the user: $(cat "$TMP/err")"
log "   $(head -c 300 "$TMP/err")"

log "3. the same call with SSL_CERT_FILE=/ca.pem (the test CA copied into the root)"
cp "$FIXTURES/ca.pem" "$R/ca.pem"
out="$(call_balance SSL_CERT_FILE=/ca.pem 2>"$TMP/err")" || die "HTTPS call failed: $(cat "$TMP/err")"
node -e 'const r = JSON.parse(process.argv[1]); if (r.balance !== 1.5) process.exit(1)' "$out" \
  || die "get_balance printed: $out"
log "   get_balance → $out"
rm "$R/ca.pem"

log "4. SSL_CERT_FILE naming a missing file: one precise setup error"
rc=0
call_balance SSL_CERT_FILE=/missing.pem >"$TMP/out" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || die "expected exit 1, got $rc: $(cat "$TMP/err")"
grep -q "SSL_CERT_FILE=/missing.pem cannot be read" "$TMP/err" || die "imprecise: $(cat "$TMP/err")"
! grep -q "attempt" "$TMP/err" || die "a setup error was retried: $(cat "$TMP/err")"
log "   $(head -c 300 "$TMP/err")"

log "OK: $(basename "$BIN") builds its client, serves MCP and reaches HTTPS from an empty root"
