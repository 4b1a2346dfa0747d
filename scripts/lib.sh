# Shared by scripts/*.sh (sourced, not run). Every step says what it does on stderr; any failure
# stops the script with a message.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$(basename "$0" .sh)"
MUSL_TARGET="x86_64-unknown-linux-musl"

log() { printf '[%s] %s\n' "$SCRIPT" "$*" >&2; }
die() { printf '[%s] FAILED: %s\n' "$SCRIPT" "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "[%s] FAILED (exit %s)\n" "$SCRIPT" "$rc" >&2' EXIT
# Name the command that failed (set -e alone stops silently).
trap 'printf "[%s] command failed (exit %s): %s\n" "$SCRIPT" "$?" "$BASH_COMMAND" >&2' ERR

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required but not on PATH"; }

# The crate version, from Cargo.toml's [package] section.
crate_version() {
  sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' "$ROOT/Cargo.toml" | head -n1
}

# Builds the release binary once (cargo is a no-op when it is up to date) and prints its path.
#
# Linux packages want a static musl binary (runs on any distro, Alpine included). That needs
#  - the x86_64-unknown-linux-musl Rust target (rustup, from the Rust dist server), and
#  - a musl C compiler for ring's C and assembly (`x86_64-linux-musl-gcc`, Debian's musl-tools,
#    installed with apt-get when this runs as root).
# When either cannot be had (an offline machine has only the gnu target), the glibc binary is
# used instead, with a warning, and the npm package then says `"libc": ["glibc"]` so npm never
# installs it on musl systems. VIRTUALSMS_RELEASE_TARGET=gnu|musl forces the choice.
musl_toolchain() {
  if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"; then
    log "installing the Rust target $MUSL_TARGET (for a static Linux binary)"
    timeout 300 rustup target add "$MUSL_TARGET" >&2 || { log "cannot install the Rust target $MUSL_TARGET"; return 1; }
  fi
  if ! command -v x86_64-linux-musl-gcc >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing musl-tools (a musl C compiler for ring) with apt-get"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools; } >&2 \
        || { log "cannot install musl-tools"; return 1; }
    fi
    command -v x86_64-linux-musl-gcc >/dev/null 2>&1 || { log "no x86_64-linux-musl-gcc (install musl-tools)"; return 1; }
  fi
}

release_binary() {
  local want="${VIRTUALSMS_RELEASE_TARGET:-auto}" target=""
  if [ "$want" != gnu ] && [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
    if musl_toolchain; then
      target="$MUSL_TARGET"
    elif [ "$want" = musl ]; then
      die "no musl toolchain (see above)"
    else
      log "WARNING: no musl toolchain here (see above): falling back to the glibc build"
    fi
  fi
  if [ -n "$target" ]; then
    log "cargo build --release --locked --target $target"
    (cd "$ROOT" && cargo build --release --locked --target "$target" >&2)
    echo "$ROOT/target/$target/release/virtualsms-mcp"
  else
    log "cargo build --release --locked (glibc)"
    (cd "$ROOT" && cargo build --release --locked >&2)
    echo "$ROOT/target/release/virtualsms-mcp"
  fi
}

# True when the binary is statically linked (musl).
is_static() { file -L "$1" 2>/dev/null | grep -q 'static' || ! ldd "$1" >/dev/null 2>&1; }

# Node >= 22 (MCP Inspector needs it; it also exercises the launcher's process.execve path).
# Uses `node` from PATH when it is new enough, else installs the `node@22` npm package (a Node
# binary shipped in a registry package) under target/tools/node22 and prints its bin dir.
node22_bin() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -ge 22 ]; then dirname "$(command -v node)"; return; fi
  local dir="$ROOT/target/tools/node22"
  if [ ! -x "$dir/node_modules/node/bin/node" ]; then
    log "installing Node 22 from npm into $dir (node on PATH is $(node --version 2>/dev/null || echo missing))"
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --no-save node@22 >&2)
  fi
  "$dir/node_modules/node/bin/node" --version >/dev/null || die "Node 22 did not install in $dir"
  echo "$dir/node_modules/node/bin"
}
