#!/usr/bin/env bash
# The chaos soak (issue 20): the server binary and Humandocs apps, each in its own network
# namespace behind an emulated link (linkem: tbf rates, seeded loss/delay/jitter, links down),
# under a seeded fault schedule (loss and delay changes, partitions including the server's,
# kill -9 anywhere including mid-pairing, mid-blob-transfer and during a revocation, graceful
# restarts, a full disk on one device, clock jumps on another, server restarts, a server
# restored from an older copy of its volume) and a seeded workload (notes created, edited
# concurrently, deleted; attachments added and removed; a device paired mid-run, one revoked).
# Invariants are checked continuously and after every heal; see README, *Chaos soak*.
#
# Usage: sudo ./scripts/soak.sh               (3 minutes, a seed from the clock)
#        SOAK_MINUTES=30 SOAK_SEED=7 sudo ./scripts/soak.sh
# Env: SOAK_SEED (replays a run's schedule exactly), SOAK_MINUTES (default 3), SOAK_SKIP (fault
#      kinds to leave out, comma-separated), SOAK_NO_BUILD=1 (use the binaries as they are),
#      SOAK_ARGS (more humansync-soak flags, e.g. "--keep --max-attachment-mib 50"),
#      CARGO_TARGET_DIR.
# Exit status: 0 passed, 1 an invariant failed (seed, schedule and journal are printed), 2 the
# run could not be set up. Skips (exit 0, with a message) when not root.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "soak: SKIPPED — needs root (network namespaces, TUN devices, tc, tmpfs)"
    exit 0
fi
for tool in ip tc mount; do
    command -v "$tool" >/dev/null 2>&1 || { echo "soak: needs $tool (iproute2, mount)" >&2; exit 2; }
done
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || {
    echo "soak: needs libfaketime (apt-get install faketime)" >&2
    exit 2
}

TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${SOAK_NO_BUILD:-}" ]; then
    # The test build's own binaries (same features as ./scripts/test.sh: nothing is rebuilt).
    cargo test --workspace --all-features --no-run || exit 2
fi

# shellcheck disable=SC2086
"$TARGET_DIR/debug/humansync-soak" --bin-dir "$TARGET_DIR/debug" --minutes "${SOAK_MINUTES:-3}" ${SOAK_ARGS:-} &
SOAK_PID=$!
# The soak removes its lab and processes itself, also on SIGINT/SIGTERM; should it die, its lab
# (named after its pid) is removed here.
cleanup() {
    kill -INT "$SOAK_PID" 2>/dev/null && wait "$SOAK_PID"
    "$TARGET_DIR/debug/linkem" cleanup "sk$((SOAK_PID % 100000))" >/dev/null 2>&1
}
trap cleanup INT TERM
wait "$SOAK_PID"
status=$?
"$TARGET_DIR/debug/linkem" cleanup "sk$((SOAK_PID % 100000))" >/dev/null 2>&1
exit "$status"
