#!/usr/bin/env bash
# The whole test suite: formatting, lints, purity of the core, every test.
# Usage: ./scripts/test.sh        (SIM_SEEDS=5000 for more simulation seeds)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "sansio purity: no tokio / iroh / sqlx / axum in humansync-sansio's normal dependencies"
if cargo tree -p humansync-sansio -e normal --prefix none | grep -E '^(tokio|iroh|iroh-blobs|sqlx|axum|mio) ' ; then
    echo "humansync-sansio must stay free of I/O crates" >&2
    exit 1
fi

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "tests"
cargo test --workspace --all-features

step "benchmarks at the quick size (test profile, no release build; asserts counts, never times)"
cargo test -p humansync --bench sync -- --quick

step "requirement coverage (report)"
./scripts/spec-coverage.sh || true
