#!/usr/bin/env bash
# Fuzz every target in fuzz/: replay its committed corpus, then fuzz it for a bounded time.
#
# Usage: scripts/fuzz.sh [TARGET ...]          (default: every target, `cargo fuzz list`)
#   FUZZ_SECONDS=20      seconds of fuzzing per target; 0 = replay the corpus only
#   FUZZ_SANITIZER=none  cargo fuzz --sanitizer (none|address|...); the code is unsafe-free,
#                        so the default trades ASan for executions
#   FUZZ_TIMEOUT=120     libFuzzer -timeout: seconds one input may take before it counts as a hang
#   FUZZ_RUNTIME=1       also the targets that link the humansync runtime crate (sealed_blob_files;
#                        cargo feature `runtime`): a cold build of iroh and iroh-blobs with fuzzing
#                        flags adds several minutes, so CI leaves them out
#
# New inputs found while fuzzing go to fuzz/target/corpus-work/<target>/ (not committed); the
# committed corpus in fuzz/corpus/<target>/ is only read. A crash leaves its input in
# fuzz/artifacts/<target>/ and makes the script exit non-zero (after trying every target).
# cargo-fuzz passes nightly-only flags to rustc; only stable is installed, hence RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
sanitizer=${FUZZ_SANITIZER:-none}
timeout=${FUZZ_TIMEOUT:-120}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# Targets that need the `runtime` feature (fuzz/Cargo.toml required-features).
runtime_targets=(sealed_blob_files)
features=()
if [ "${FUZZ_RUNTIME:-0}" = 1 ]; then
    features=(--features runtime)
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
    if [ "${#features[@]}" -eq 0 ]; then
        kept=()
        for t in "${targets[@]}"; do
            [[ " ${runtime_targets[*]} " == *" $t "* ]] || kept+=("$t")
        done
        targets=("${kept[@]}")
        echo "==> leaving out ${runtime_targets[*]} (links the runtime; FUZZ_RUNTIME=1 runs it)"
    fi
fi
for t in "${targets[@]}"; do
    if [[ " ${runtime_targets[*]} " == *" $t "* ]] && [ "${#features[@]}" -eq 0 ]; then
        features=(--features runtime)
    fi
done

echo "==> building ${#targets[@]} fuzz targets (sanitizer: $sanitizer)"
cargo fuzz build "${features[@]}" --sanitizer "$sanitizer"

logs=fuzz/target/fuzz-logs
work=fuzz/target/corpus-work
mkdir -p "$logs"

# The executions libFuzzer reports in a log: the final stats line, else the last "#N DONE".
executions() {
    local n
    n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$1" | tail -n1 | grep -o '[0-9]*$' || true)
    if [ -z "$n" ]; then
        n=$(grep -oE '^#[0-9]+[[:space:]]+DONE' "$1" | tail -n1 | grep -oE '[0-9]+' || true)
    fi
    echo "${n:-0}"
}

failed=()
summary=()
for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    mkdir -p "$corpus" "$work/$target"
    # The parser of peer Automerge bytes runs under a memory limit (HS-SYNC-12 bounds it).
    limits=()
    if [ "$target" = automerge_bytes ]; then
        limits=(-rss_limit_mb=1024 -malloc_limit_mb=512)
    fi
    inputs=$(find "$corpus" -type f | wc -l)

    echo "==> $target: replaying $inputs corpus inputs"
    if ! cargo fuzz run "${features[@]}" --sanitizer "$sanitizer" "$target" "$corpus" -- \
        -runs=0 -timeout="$timeout" -print_final_stats=1 "${limits[@]}" >"$logs/$target-replay.log" 2>&1; then
        echo "!! $target: a corpus input fails; see $logs/$target-replay.log" >&2
        tail -n 30 "$logs/$target-replay.log" >&2
        failed+=("$target (corpus)")
        summary+=("$(printf '%-16s corpus FAILED' "$target")")
        continue
    fi

    runs=0
    if [ "$seconds" -gt 0 ]; then
        echo "==> $target: fuzzing for ${seconds}s"
        if ! cargo fuzz run "${features[@]}" --sanitizer "$sanitizer" "$target" "$work/$target" "$corpus" -- \
            -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 "${limits[@]}" \
            >"$logs/$target.log" 2>&1; then
            echo "!! $target: crash; input in fuzz/artifacts/$target/, log $logs/$target.log" >&2
            grep -E 'panicked at|ERROR: libFuzzer|Test unit written to' "$logs/$target.log" >&2 || tail -n 30 "$logs/$target.log" >&2
            failed+=("$target")
        fi
        runs=$(executions "$logs/$target.log")
    fi
    summary+=("$(printf '%-16s corpus %4d inputs ok, %10d executions in %ss' "$target" "$inputs" "$runs" "$seconds")")
done

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
