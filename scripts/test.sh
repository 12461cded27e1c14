#!/usr/bin/env bash
# The whole test suite: formatting, lints, purity of the core, every test.
# Usage: ./scripts/test.sh        (SIM_SEEDS=5000 for more simulation seeds; FUZZ_SECONDS=N per fuzz target, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "requirement coverage: every SPEC.md id cited by a vector or test (exceptions: conformance/coverage-exceptions.txt)"
./scripts/spec-coverage.sh

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
# Same package selection and features as the test step, so no dependency is rebuilt.
cargo test --workspace --all-features --bench sync --bench server -- --quick

step "Docker image: build, run, pair, sync, restart, revoke (scripts/docker-test.sh; skips without a Docker engine)"
./scripts/docker-test.sh

step "conformance runner from its own image against humansync-server in Docker (scripts/conformance-docker.sh; skips without a Docker engine)"
# Reuses the test build's binaries (both images FROM scratch); reports in target/conformance-report/.
./scripts/conformance-docker.sh

step "acceptance test (PRD §13: server in Docker, laptop and phone in network namespaces)"
# Reuses the debug binaries the tests just built; skips with a message when not root or no Docker.
./scripts/acceptance.sh

step "chaos soak, 3 minutes (scripts/soak.sh; skips when not root)"
# Reuses the test build's binaries. A fixed seed (its schedule replays exactly; timing still
# varies), so that CI stays reproducible; on-demand runs draw new seeds. Every fault kind is in,
# the full disk too (SOAK_SKIP=kind leaves one out).
SOAK_SEED=${SOAK_SEED:-2} SOAK_MINUTES=${SOAK_MINUTES:-3} SOAK_NO_BUILD=1 \
    ./scripts/soak.sh

step "fuzz: replay every target's committed corpus, then fuzz each for ${FUZZ_SECONDS:-5} s"
# Its own cargo workspace (fuzz/, libFuzzer, nightly flags via RUSTC_BOOTSTRAP): a cold build of
# the 10 targets is ~180 CPU-seconds. FUZZ_SECONDS=0 replays the corpus only.
FUZZ_SECONDS=${FUZZ_SECONDS:-5} ./scripts/fuzz.sh
