#!/usr/bin/env bash
# Real third-party MCP clients against the real binary in sandbox mode (no key, no network):
#  1. the official Python SDK (PyPI `mcp`, pinned): the classic initialize handshake and the
#     high-level Client (server/discover), listing and calling tools, results validated against
#     their outputSchema — tests/clients/test_python_client.py;
#  2. smithery.yaml: configSchema is JSON Schema, commandFunction (run by node) sets only
#     variables the binary reads — tests/clients/test_smithery.py;
#  3. the MCP Inspector CLI (npm, pinned, Node >= 22): tools/list --strict, tools/call, and every
#     README client snippet loaded with --config — tests/clients/test_inspector.py.
# The binary is the release build the packaging scripts ship (VIRTUALSMS_MCP_BIN=path overrides).
# Installs into target/client-tests (a venv and node_modules; pip and npm caches make reruns
# fast, but nothing depends on them). Idempotent; prints what it does; fails loudly.
source "$(dirname "$0")/lib.sh"
need python3
need npm
need node

PY_MCP_VERSION="2.3.0"
INSPECTOR_VERSION="2.12.0"
DIR="$ROOT/target/client-tests"
VENV="$DIR/venv"
mkdir -p "$DIR"

if [ -n "${VIRTUALSMS_MCP_BIN:-}" ]; then
  BIN="$VIRTUALSMS_MCP_BIN"
else
  BIN="$(release_binary)"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
log "binary under test: $BIN ($("$BIN" --version))"

# --- Python SDK ---------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import mcp, jsonschema, yaml" 2>/dev/null \
  || [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')" != "$PY_MCP_VERSION" ]; then
  log "creating the Python venv $VENV with mcp==$PY_MCP_VERSION, jsonschema, pyyaml"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$PY_MCP_VERSION" jsonschema pyyaml >&2
fi
log "Python SDK: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"), "/ jsonschema", m.version("jsonschema"))')"

FAILED=()
run_suite() {
  local name="$1"
  shift
  log "== $name =="
  if ! "$@"; then FAILED+=("$name"); fi
}

run_suite "Python mcp SDK" "$VENV/bin/python" "$ROOT/tests/clients/test_python_client.py" "$BIN"
run_suite "smithery.yaml" "$VENV/bin/python" "$ROOT/tests/clients/test_smithery.py" "$BIN"

# --- MCP Inspector CLI (Node >= 22) -------------------------------------------------------------
NODE22="$(node22_bin)"
export PATH="$NODE22:$PATH"
INSPECTOR_DIR="$DIR/inspector"
INSPECTOR="$INSPECTOR_DIR/node_modules/.bin/mcp-inspector"
installed="$(node -p "require('$INSPECTOR_DIR/node_modules/@modelcontextprotocol/inspector/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$INSPECTOR_VERSION" ]; then
  log "installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $INSPECTOR_DIR (Node $(node --version))"
  mkdir -p "$INSPECTOR_DIR"
  (cd "$INSPECTOR_DIR" && npm install --no-audit --no-fund --loglevel=error --prefix . "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >&2)
fi
run_suite "MCP Inspector CLI" "$VENV/bin/python" "$ROOT/tests/clients/test_inspector.py" "$BIN" "$INSPECTOR"

if [ ${#FAILED[@]} -gt 0 ]; then
  die "client test suites failed: ${FAILED[*]}"
fi
log "OK: Python SDK, smithery.yaml and MCP Inspector suites all passed"
