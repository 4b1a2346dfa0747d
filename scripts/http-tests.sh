#!/usr/bin/env bash
# `virtualsms-mcp http` (MCP over Streamable HTTP) driven by real third-party clients, in sandbox
# mode (no key, no network):
#  1. the official MCP conformance suite (npm @modelcontextprotocol/conformance, pinned, Node >= 22)
#     against `--sandbox http --listen 127.0.0.1:PORT`, with the baseline of scenarios that need
#     the suite's own fixtures (tests/clients/conformance-baseline.yml): first with no key (the
#     discovery tools), then with --use-env-key (all 18 tools through tools/list's schema checks).
#     The summaries are recorded in target/http-tests/conformance-*.txt; the server must exit 0
#     on SIGTERM afterwards;
#  2. the official Python SDK (PyPI `mcp`, pinned) over Streamable HTTP through purchase flows,
#     two keys that share nothing, and a client without a key — tests/clients/test_http_client.py.
# The binary is the release build the packaging scripts ship (VIRTUALSMS_MCP_BIN=path overrides).
# Installs into target/http-tests (a venv and node_modules; pip and npm caches make reruns fast).
source "$(dirname "$0")/lib.sh"
need python3
need npm
need curl

PY_MCP_VERSION="2.3.0"
CONFORMANCE_VERSION="0.1.16"
DIR="$ROOT/target/http-tests"
VENV="$DIR/venv"
mkdir -p "$DIR"

if [ -n "${VIRTUALSMS_MCP_BIN:-}" ]; then
  BIN="$VIRTUALSMS_MCP_BIN"
else
  BIN="$(release_binary)"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
log "binary under test: $BIN ($("$BIN" --version))"

# --- MCP conformance suite (Node >= 22) -----------------------------------------------------------
NODE22="$(node22_bin)"
export PATH="$NODE22:$PATH"
CONF_DIR="$DIR/conformance"
CONFORMANCE="$CONF_DIR/node_modules/.bin/conformance"
installed="$(node -p "require('$CONF_DIR/node_modules/@modelcontextprotocol/conformance/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$CONFORMANCE_VERSION" ]; then
  log "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $CONF_DIR (Node $(node --version))"
  mkdir -p "$CONF_DIR"
  (cd "$CONF_DIR" && npm install --no-audit --no-fund --loglevel=error --prefix . "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >&2)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

FAILED=()
SERVER_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  return $rc
}
trap 'stop_server || true' EXIT

# conformance NAME [extra server flags...]: one run of the suite against a fresh server.
conformance() {
  local name="$1"
  shift
  local port out
  port="$(free_port)"
  out="$DIR/conformance-$name.txt"
  log "== conformance suite ($name): $BIN --sandbox http --listen 127.0.0.1:$port $* =="
  "$BIN" --sandbox http --listen "127.0.0.1:$port" "$@" 2>"$DIR/server-$name.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null || die "the server did not start (see $DIR/server-$name.log)"
  local rc=0
  (cd "$CONF_DIR" && timeout 600 "$CONFORMANCE" server --url "http://127.0.0.1:$port/mcp" \
    --expected-failures "$ROOT/tests/clients/conformance-baseline.yml") >"$out" 2>&1 || rc=$?
  sed -n '/=== SUMMARY ===/,$p' "$out" >&2
  local total
  total="$(grep -E '^Total: ' "$out" | tail -n1 || true)"
  log "conformance ($name): ${total:-no summary} (the baseline lists the fixture scenarios; full output: $out)"
  if [ $rc -ne 0 ]; then
    log "conformance ($name) failed beyond the baseline (exit $rc)"
    FAILED+=("conformance ($name)")
  fi
  if ! stop_server; then
    log "the server did not exit 0 on SIGTERM"
    FAILED+=("SIGTERM exit ($name)")
  fi
}

conformance no-key
conformance env-key --use-env-key

# --- Python SDK over Streamable HTTP ---------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import mcp, jsonschema" 2>/dev/null \
  || [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')" != "$PY_MCP_VERSION" ]; then
  log "creating the Python venv $VENV with mcp==$PY_MCP_VERSION, jsonschema"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$PY_MCP_VERSION" jsonschema >&2
fi
log "== Python mcp SDK $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))') over Streamable HTTP =="
if ! "$VENV/bin/python" "$ROOT/tests/clients/test_http_client.py" "$BIN"; then
  FAILED+=("Python mcp SDK over HTTP")
fi

if [ ${#FAILED[@]} -gt 0 ]; then
  die "HTTP test suites failed: ${FAILED[*]}"
fi
log "OK: conformance suite (within its baseline) and Python SDK over Streamable HTTP"
