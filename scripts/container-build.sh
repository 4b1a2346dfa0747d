#!/usr/bin/env bash
# Builds the container image (Containerfile: FROM scratch + the static musl binary, non-root) with
# podman and proves the image's binary serves MCP (issue 10 §5):
#  1. the static release binary (musl; see lib.sh), staged as the only file of the build context;
#  2. `podman build` → virtualsms-mcp:<version> and :latest (podman is installed with apt-get when missing
#     and this runs as root);
#  3. checks the image: one layer holding only /virtualsms-mcp, a numeric non-root user, the
#     binary as entrypoint with no command (stdio by default);
#  4. takes the binary OUT of the built image (`podman create` + `podman cp`), checks it is
#     byte-identical to what went in, and runs scripts/empty-root-check.sh with it: an MCP
#     session from an empty root filesystem, HTTPS with and without trust roots.
# Why not `podman run`: these build machines cannot run containers — crun stops before the
# entrypoint ("setrlimit `RLIMIT_NOFILE`: Operation not permitted"; with `--ulimit` given,
# RLIMIT_NPROC the same; cgroups are refused too) — while building, creating and copying out work. Step 4 runs the very same file the image holds
# in the same kind of empty root a FROM scratch container gives it.
# Idempotent: the image tag is replaced; temp files and the created container are removed.
source "$(dirname "$0")/lib.sh"
need cargo
VERSION="$(crate_version)"
IMAGE="virtualsms-mcp:$VERSION"
OUT="$ROOT/target/container"

if ! command -v podman >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing podman with apt-get (Debian package)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman; } >&2 \
      || die "cannot install podman"
  fi
  need podman
fi
log "$(podman --version)"

BIN="$(VIRTUALSMS_RELEASE_TARGET=musl release_binary)"
is_static "$BIN" || die "$BIN is not static: a FROM scratch image needs the musl build"

log "build context: $OUT/context (the binary only)"
rm -rf "$OUT"
mkdir -p "$OUT/context"
cp "$BIN" "$OUT/context/virtualsms-mcp"

CTR=""
cleanup() {
  [ -z "$CTR" ] || podman rm -f "$CTR" >/dev/null 2>&1 || true
}
trap 'rc=$?; cleanup; [ $rc -eq 0 ] || printf "[%s] FAILED (exit %s)\n" "$SCRIPT" "$rc" >&2' EXIT

log "podman build -t $IMAGE"
start=$(date +%s)
podman build --quiet -f "$ROOT/Containerfile" -t "$IMAGE" -t virtualsms-mcp:latest "$OUT/context" >"$OUT/image-id" \
  || die "podman build failed"
log "built $(cut -c1-12 "$OUT/image-id") in $(( $(date +%s) - start )) s"

log "the image: one layer, a non-root numeric user, the binary as entrypoint, stdio by default"
user="$(podman image inspect "$IMAGE" --format '{{.Config.User}}')"
entry="$(podman image inspect "$IMAGE" --format '{{json .Config.Entrypoint}}')"
cmd="$(podman image inspect "$IMAGE" --format '{{json .Config.Cmd}}')"
layers="$(podman image inspect "$IMAGE" --format '{{len .RootFS.Layers}}')"
size="$(podman image inspect "$IMAGE" --format '{{.Size}}')"
[ "$user" = "65532:65532" ] || die "user is '$user', expected 65532:65532"
[ "$entry" = '["/virtualsms-mcp"]' ] || die "entrypoint is $entry"
[ "$cmd" = "null" ] || [ "$cmd" = "[]" ] || die "a default command ($cmd) would replace stdio"
[ "$layers" = 1 ] || die "$layers layers, expected 1 (FROM scratch + the binary)"
log "  user $user, entrypoint $entry, $layers layer, $size bytes"

log "taking the binary out of the image (podman create + podman cp)"
CTR="$(podman create "$IMAGE")"
podman export "$CTR" | tar -t | grep -v '/$' | sort >"$OUT/files" || true
[ "$(cat "$OUT/files")" = "virtualsms-mcp" ] || die "the image holds more than the binary: $(tr '\n' ' ' <"$OUT/files")"
podman cp "$CTR:/virtualsms-mcp" "$OUT/from-image"
cmp "$BIN" "$OUT/from-image" || die "the binary in the image differs from the one built"
[ -x "$OUT/from-image" ] || die "the binary in the image is not executable"
log "  /virtualsms-mcp is the only file, byte-identical to $BIN"

log "an MCP session with the image's binary in an empty root (scripts/empty-root-check.sh)"
bash "$ROOT/scripts/empty-root-check.sh" "$OUT/from-image"

log "OK: $IMAGE builds FROM scratch and its binary serves MCP from an empty root"
