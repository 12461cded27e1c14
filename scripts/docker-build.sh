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
UID_GID=65532
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

rm -rf "$CTX"
mkdir -p "$CTX/rootfs/usr/local/bin" "$CTX/rootfs/etc" "$CTX/rootfs/tmp" "$CTX/data"
cp "$BIN" "$CTX/rootfs/usr/local/bin/humansync-server"
chmod 1777 "$CTX/rootfs/tmp"
printf 'root:x:0:0:root:/:/sbin/nologin\nhumansync:x:%s:%s:humansync:/data:/sbin/nologin\n' "$UID_GID" "$UID_GID" >"$CTX/rootfs/etc/passwd"
printf 'root:x:0:\nhumansync:x:%s:\n' "$UID_GID" >"$CTX/rootfs/etc/group"
if [ "$MODE" = debug ]; then
    # Copy every shared library the binary needs, and the loader, at the same paths.
    ldd "$BIN" | awk '/=> \//{print $3} /^[ \t]*\//{print $1}' | sort -u | while read -r lib; do
        mkdir -p "$CTX/rootfs$(dirname "$lib")"
        cp -L "$lib" "$CTX/rootfs$lib"
    done
fi
# Strip debug info from the copy: the image does not need it and it is most of the size.
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$CTX/rootfs/usr/local/bin/humansync-server"
fi
# The legacy builder: no buildx plugin is needed, and FROM scratch pulls nothing.
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" . >/dev/null
echo "built $IMAGE ($MODE): $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1/1e6}')"
