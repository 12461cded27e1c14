#!/usr/bin/env bash
# Requirement coverage: every requirement id of SPEC.md must be cited by a conformance vector or
# a test, or be listed with a reason in conformance/coverage-exceptions.txt. Exits 1 otherwise.
#
# What counts as a citation (whole-word match of the id, e.g. HS-GATE-3):
#   - conformance/vectors/*.json        (the language-neutral vectors; ids in "requirements")
#   - a Rust test: a file under a tests/ directory, or any .rs file with #[test],
#     #[tokio::test] or proptest!
#   - the peer runner's checks (conformance/src/peer/checks/), run against a live node by
#     conformance/tests/peer_library.rs
#   - the fuzz targets (fuzz/src/targets/), replayed and run by scripts/fuzz.sh in CI
# Ranges such as "HS-FRAME-1..3" do not count: cite each id.
#
# Usage: ./scripts/spec-coverage.sh            (prints the report; exit 1 on an uncited id)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f SPEC.md ] || { echo "no SPEC.md" >&2; exit 1; }
exceptions=conformance/coverage-exceptions.txt

ids=$(grep -oE '^- \*\*HS-[A-Z]+-[0-9]+\*\*' SPEC.md | grep -oE 'HS-[A-Z]+-[0-9]+' | sort -u -V)

# Every file whose citations count, once.
mapfile -t sources < <(
    {
        ls conformance/vectors/*.json
        find . -path ./target -prune -o -path ./fuzz/target -prune -o -path '*/tests/*' -name '*.rs' -print
        grep -rlE --include='*.rs' '#\[(tokio::)?test|proptest!' . --exclude-dir=target
        find conformance/src/peer/checks fuzz/src/targets -name '*.rs' 2>/dev/null
    } | sed 's|^\./||' | sort -u
)

excepted() { [ -f "$exceptions" ] && grep -qE "^$1[[:space:]]" "$exceptions"; }

total=0; cited=0; excused=(); missing=(); stale=()
for id in $ids; do
    total=$((total + 1))
    if grep -qw -- "$id" "${sources[@]}"; then
        cited=$((cited + 1))
        if excepted "$id"; then stale+=("$id"); fi
    elif excepted "$id"; then
        excused+=("$id")
    else
        missing+=("$id")
    fi
done

# Exceptions must name real ids.
if [ -f "$exceptions" ]; then
    while read -r id _; do
        case "$id" in ''|'#'*) continue ;; esac
        grep -qx -- "$id" <<<"$ids" || { echo "coverage-exceptions.txt: $id is not a SPEC.md requirement id" >&2; exit 1; }
    done <"$exceptions"
fi

echo "requirement ids in SPEC.md: $total; cited by a vector, test, peer check or fuzz target: $cited; excepted: ${#excused[@]}"
if [ ${#excused[@]} -gt 0 ]; then
    echo "excepted (see $exceptions):"
    printf '  %s\n' "${excused[@]}"
fi
if [ ${#stale[@]} -gt 0 ]; then
    echo "note: cited now, the exception can go:"
    printf '  %s\n' "${stale[@]}"
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL: cited by nothing and not excepted:" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi
