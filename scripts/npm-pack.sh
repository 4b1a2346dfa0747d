#!/usr/bin/env bash
# Builds the npm packages and proves `npx virtualsms-mcp` works from them, offline:
#  1. the release binary (static musl when the target can be installed, else glibc: see lib.sh);
#  2. stages npm/virtualsms-mcp (launcher) and npm/platforms/linux-x64 (+ the binary) under
#     target/npm/stage, checks their versions equal Cargo.toml's;
#  3. `npm pack`s both into target/npm/;
#  4. in a temp dir with an EMPTY npm cache and --offline (nothing may come from the registry):
#     `npx -y --offline --package ./platform.tgz --package ./launcher.tgz virtualsms-mcp --sandbox`
#     runs an MCP session (initialize, tools/list, tools/call) — on the Node on PATH and on
#     Node 22 (the launcher's process.execve path);
#  5. a local `npm install` of both tarballs, then the launcher's contract: exit codes, the
#     VIRTUALSMS_MCP_BINARY override, signal forwarding, the unsupported-platform message, and
#     an empty stdout for everything but MCP / command output.
# Idempotent: everything it writes is under target/npm and a temp dir it removes.
source "$(dirname "$0")/lib.sh"
need npm
need node
need cargo

VERSION="$(crate_version)"
OUT="$ROOT/target/npm"
SMOKE="$ROOT/tests/clients/mcp_smoke.mjs"
log "virtualsms-mcp $VERSION"

BIN="$(release_binary)"
[ -x "$BIN" ] || die "no binary at $BIN"
"$BIN" --version >/dev/null || die "$BIN does not run"
STATIC=no
if is_static "$BIN"; then STATIC=yes; fi
log "binary: $BIN ($(du -h "$BIN" | cut -f1), static: $STATIC)"

log "staging packages in $OUT/stage"
rm -rf "$OUT"
mkdir -p "$OUT/stage"
cp -R "$ROOT/npm/virtualsms-mcp" "$OUT/stage/launcher"
cp -R "$ROOT/npm/platforms/linux-x64" "$OUT/stage/linux-x64"
mkdir -p "$OUT/stage/linux-x64/bin"
cp "$BIN" "$OUT/stage/linux-x64/bin/virtualsms-mcp"
chmod 755 "$OUT/stage/linux-x64/bin/virtualsms-mcp"
node - "$OUT/stage" "$VERSION" "$STATIC" <<'JS'
// Versions must already match Cargo.toml (tests/distribution.rs checks the sources); a glibc
// binary must not be installed on musl systems.
const fs = require("fs");
const [stage, version, isStatic] = process.argv.slice(2);
for (const dir of ["launcher", "linux-x64"]) {
  const file = `${stage}/${dir}/package.json`;
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  if (pkg.version !== version) throw new Error(`${dir}: version ${pkg.version} != Cargo.toml ${version}`);
  for (const [name, v] of Object.entries(pkg.optionalDependencies || {})) {
    if (v !== version) throw new Error(`${dir}: optionalDependencies ${name}@${v} != ${version}`);
  }
  if (dir === "linux-x64" && isStatic !== "yes") {
    pkg.libc = ["glibc"];
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  }
}
JS

log "npm pack → $OUT"
(cd "$OUT/stage/linux-x64" && npm pack --silent --pack-destination "$OUT" >/dev/null)
(cd "$OUT/stage/launcher" && npm pack --silent --pack-destination "$OUT" >/dev/null)
PLATFORM_TGZ="$OUT/virtualsms-mcp-linux-x64-$VERSION.tgz"
LAUNCHER_TGZ="$OUT/virtualsms-mcp-$VERSION.tgz"
[ -f "$PLATFORM_TGZ" ] && [ -f "$LAUNCHER_TGZ" ] || die "npm pack did not produce the expected tarballs: $(ls "$OUT")"
listing="$(tar -tvzf "$PLATFORM_TGZ")"
grep -q -- '^-rwxr-xr-x .* package/bin/virtualsms-mcp$' <<<"$listing" \
  || die "the binary in $PLATFORM_TGZ is missing or not executable: $listing"
log "packed: $(cd "$OUT" && ls -sh1 ./*.tgz | tr '\n' ' ')"

TMP="$(mktemp -d -t virtualsms-npm.XXXXXX)"
cleanup() { rm -rf "$TMP"; }
trap 'rc=$?; cleanup; [ $rc -eq 0 ] || printf "[%s] FAILED (exit %s)\n" "$SCRIPT" "$rc" >&2' EXIT
NODE22="$(node22_bin)"
# A fresh, empty cache: the installs below must need nothing from the registry.
export npm_config_cache="$TMP/npm-cache" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

cd "$TMP"
cp "$PLATFORM_TGZ" ./platform.tgz
cp "$LAUNCHER_TGZ" ./launcher.tgz
NPX=(npx -y --offline --package ./platform.tgz --package ./launcher.tgz virtualsms-mcp)

log "npx (Node $(node --version)): ${NPX[*]} --version"
out="$("${NPX[@]}" --version)" || die "npx virtualsms-mcp --version failed"
[ "$out" = "virtualsms-mcp $VERSION" ] || die "--version printed '$out'"

log "npx (Node $(node --version), launcher spawns the binary): MCP session with --sandbox"
node "$SMOKE" -- "${NPX[@]}" --sandbox
log "npx (Node $("$NODE22/node" --version), launcher execs the binary): MCP session with --sandbox"
PATH="$NODE22:$PATH" "$NODE22/node" "$SMOKE" -- "${NPX[@]}" --sandbox

log "npm install --offline of both tarballs into a project"
mkdir project && cd project
npm init -y >/dev/null
npm install --offline --no-save --loglevel=error ../platform.tgz ../launcher.tgz >&2
LAUNCHER=./node_modules/.bin/virtualsms-mcp
[ -x "$LAUNCHER" ] || die "npm did not link $LAUNCHER"

log "launcher: stdout is only the command's output, exit codes pass through"
out="$("$LAUNCHER" --sandbox call find_cheapest '{"service":"telegram","country":"us"}' 2>/dev/null)"
node -e 'const r = JSON.parse(process.argv[1]); if (!(r.price > 0)) process.exit(1)' "$out" \
  || die "call find_cheapest printed: $out"
rc=0
"$LAUNCHER" --sandbox call get_order '{"order_id":"ord_missing"}' >stdout.txt 2>stderr.txt || rc=$?
[ "$rc" = 1 ] || die "an error result must exit 1 through the launcher (got $rc)"
[ ! -s stdout.txt ] || die "an error result wrote to stdout: $(cat stdout.txt)"
grep -q "list_orders" stderr.txt || die "the error text is not on stderr: $(cat stderr.txt)"

log "launcher: VIRTUALSMS_MCP_BINARY overrides the package binary"
out="$(VIRTUALSMS_MCP_BINARY="$ROOT/scripts/testdata/fake-binary.sh" "$LAUNCHER" a 'b c')"
[ "$out" = "fake binary: a|b c" ] || die "override ran something else: '$out'"
rc=0
VIRTUALSMS_MCP_BINARY=/nonexistent/virtualsms-mcp "$LAUNCHER" >stdout.txt 2>stderr.txt || rc=$?
[ "$rc" != 0 ] && [ ! -s stdout.txt ] && grep -q "no such file" stderr.txt \
  || die "a missing override must fail on stderr (rc $rc): $(cat stderr.txt)"

log "launcher: an unsupported platform gets a clear message on stderr and nothing on stdout"
rc=0
node --require "$ROOT/scripts/testdata/pretend-platform.cjs" "$LAUNCHER" --version >stdout.txt 2>stderr.txt || rc=$?
[ "$rc" != 0 ] && [ ! -s stdout.txt ] || die "unsupported platform: rc $rc, stdout '$(cat stdout.txt)'"
grep -q "no prebuilt binary for freebsd-riscv64. Supported: linux-x64, linux-arm64" stderr.txt \
  || die "unsupported platform message: $(cat stderr.txt)"
log "  stderr: $(cat stderr.txt)"

log "launcher: SIGTERM reaches the binary (spawn path, Node $(node --version))"
node "$SMOKE" --signal SIGTERM -- node "$LAUNCHER" --sandbox
log "launcher: SIGTERM reaches the binary (execve path, Node $("$NODE22/node" --version))"
"$NODE22/node" "$SMOKE" --signal SIGTERM -- "$NODE22/node" "$LAUNCHER" --sandbox

log "OK: $(basename "$LAUNCHER_TGZ") + $(basename "$PLATFORM_TGZ") install offline and serve MCP through npx"
