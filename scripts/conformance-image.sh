#!/usr/bin/env bash
# Builds the conformance runner's Docker image, tagged humansync-conformance:local, FROM scratch
# (conformance/Dockerfile): the `humansync-conformance` binary and the vector files at /vectors,
# so another implementation can be checked without this repository's build.
#
# Usage: ./scripts/conformance-image.sh [--release]
#   (default)  the debug binary the tests build (`cargo test --workspace --all-features --no-run`,
#              as ./scripts/test.sh runs it, builds it for tests/cli.rs: nothing is recompiled
#              after the tests), plus the shared libraries it links (from ldd) and the loader.
#   --release  a static release binary (RUSTFLAGS='-C target-feature=+crt-static', target
#              x86_64-unknown-linux-gnu): one file, the image to publish. Compiles the release
#              profile (~6-8 min cold on 2 cores).
# Env: IMAGE (default humansync-conformance:local), CARGO_TARGET_DIR (honoured),
#      CONFORMANCE_NO_BUILD=1 (use the binary as it is, no cargo call).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-humansync-conformance:local}"
MODE="${1:-debug}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
CTX=target/docker-conformance

case "$MODE" in
    debug)
        if [ -z "${CONFORMANCE_NO_BUILD:-}" ]; then
            # The same command as ./scripts/test.sh and docker-build.sh, so features resolve alike.
            cargo test --workspace --all-features --no-run
        fi
        BIN="$TARGET_DIR/debug/humansync-conformance"
        ;;
    --release|release)
        if [ -z "${CONFORMANCE_NO_BUILD:-}" ]; then
            RUSTFLAGS='-C target-feature=+crt-static' \
                cargo build --release --target x86_64-unknown-linux-gnu -p humansync-conformance --bin humansync-conformance
        fi
        BIN="$TARGET_DIR/x86_64-unknown-linux-gnu/release/humansync-conformance"
        ;;
    *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

# shellcheck source=scripts/scratch-rootfs.sh
. scripts/scratch-rootfs.sh
scratch_rootfs "$CTX" "$BIN" humansync-conformance conformance /tmp "$MODE"
mkdir -p "$CTX/rootfs/vectors"
cp conformance/vectors/*.json "$CTX/rootfs/vectors/"
cp conformance/Dockerfile "$CTX/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$CTX" >/dev/null
echo "built $IMAGE ($MODE): $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1/1e6}')"
