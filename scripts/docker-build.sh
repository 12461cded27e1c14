#!/usr/bin/env bash
# Builds the humansync-server Docker image, tagged humansync-server:local, FROM scratch.
#
# Usage: ./scripts/docker-build.sh [--release]
#   (default)  the debug binary cargo builds for the tests (`cargo test --workspace
#              --all-features --no-run`, exactly as ./scripts/test.sh builds it, so after
#              ./scripts/test.sh nothing is recompiled: a `cargo build --bin` would resolve
#              features without the dev-dependencies and rebuild iroh and everything above it,
#              ~3 min), plus the shared libraries it links (from ldd) and the dynamic loader.
#   --release  a static release binary (RUSTFLAGS='-C target-feature=+crt-static', target
#              x86_64-unknown-linux-gnu): the production image, one file. Compiles the release
#              profile (~6-8 min cold on 2 cores).
# Env: IMAGE (default humansync-server:local), CARGO_TARGET_DIR (honoured),
#      DOCKER_NO_BUILD=1 (use the binary as it is, no cargo call; e.g. right after the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-humansync-server:local}"
MODE="${1:-debug}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
CTX=target/docker

case "$MODE" in
    debug)
        [ -n "${DOCKER_NO_BUILD:-}" ] || cargo test --workspace --all-features --no-run
        BIN="$TARGET_DIR/debug/humansync-server"
        ;;
    --release|release)
        [ -n "${DOCKER_NO_BUILD:-}" ] || RUSTFLAGS='-C target-feature=+crt-static' \
            cargo build --release --target x86_64-unknown-linux-gnu -p humansync-server --bin humansync-server
        BIN="$TARGET_DIR/x86_64-unknown-linux-gnu/release/humansync-server"
        ;;
    *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

# shellcheck source=scripts/scratch-rootfs.sh
. scripts/scratch-rootfs.sh
scratch_rootfs "$CTX" "$BIN" humansync-server humansync /data "$MODE"
mkdir -p "$CTX/data"
# The legacy builder: no buildx plugin is needed, and FROM scratch pulls nothing.
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" . >/dev/null
echo "built $IMAGE ($MODE): $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1/1e6}')"
