#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md at full size, release profile, one build for both binaries:
# humansync's `sync` (benchmarks 1–5, 7) then humansync-server's `server` (6, 8). Each prints its
# runs on stderr and its results table on stdout. Arguments go to both binaries:
#   ./scripts/bench.sh              # full size (~20 min after a release build)
#   ./scripts/bench.sh --runs 3     # fewer runs; --quick for the CI size
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p humansync -p humansync-server --bench sync --bench server -- "$@"
