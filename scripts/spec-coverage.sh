#!/usr/bin/env bash
# Requirement traceability, both sides: every requirement id of SPEC.md must be cited
#   (1) by an implementation source — the code that does what the requirement says — and
#   (2) by a conformance vector or a test — something that fails when the behaviour breaks,
# or be listed, for that side, with a reason in conformance/coverage-exceptions.txt.
# Exits 1 on any id missing on either side without an exception, on an exception naming an id
# that is not in SPEC.md, and on a malformed exceptions line.
#
# What counts as an implementation citation (whole-word match of the id, e.g. HS-GATE-3):
#   - a .rs file under protocol/src, sansio/src (not sansio/src/testing: the simulation
#     harness), runtime-tokio/src, server/src or humandocs/src, read up to its first
#     `#[cfg(test)]` line (unit tests below it are tests, not implementation).
# What counts as a test citation:
#   - conformance/vectors/*.json        (the language-neutral vectors; ids in "requirements")
#   - a Rust test: a file under a tests/ directory, or any .rs file with #[test],
#     #[tokio::test] or proptest!
#   - the peer runner's checks (conformance/src/peer/checks/), run against live nodes by
#     conformance/tests/peer_library.rs and peer_server.rs
#   - the fuzz targets (fuzz/src/targets/), replayed and run by scripts/fuzz.sh in CI
# Ranges such as "HS-FRAME-1..3" do not count: cite each id.
#
# Exceptions file: one line per excepted side, `ID SIDE reason…`, SIDE `impl` or `test`
# (`#` starts a comment). An exception for an id that has become cited is reported so that
# the line can go.
#
# Usage: ./scripts/spec-coverage.sh            (prints the report; exit 1 on a gap)
#        ./scripts/spec-coverage.sh --table    (also one line per id: impl / test status)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f SPEC.md ] || { echo "no SPEC.md" >&2; exit 1; }
exceptions=conformance/coverage-exceptions.txt
table=0
[ "${1:-}" = "--table" ] && table=1

ids=$(grep -oE '^- \*\*HS-[A-Z]+-[0-9]+\*\*' SPEC.md | grep -oE 'HS-[A-Z]+-[0-9]+' | sort -u -V)
withdrawn=$(grep -oE '^- \*\*HS-[A-Z]+-[0-9]+\*\* \*\(withdrawn' SPEC.md | grep -oE 'HS-[A-Z]+-[0-9]+' || true)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Implementation text: every implementation file up to its first #[cfg(test)].
find protocol/src sansio/src runtime-tokio/src server/src humandocs/src -name '*.rs' \
    -not -path 'sansio/src/testing/*' -print0 | sort -z |
    xargs -0 awk 'FNR == 1 { on = 1 } /^[[:space:]]*#\[cfg\(test\)\]/ { on = 0 } on { print }' \
    >"$tmp/impl.txt"
grep -oE 'HS-[A-Z]+-[0-9]+' "$tmp/impl.txt" | sort -u >"$tmp/impl.ids" || true

# Test text: vectors, test files, peer checks and fuzz targets whole; of any other .rs file with
# unit tests only the part from its first #[cfg(test)] / #[test] / proptest! on (a citation in
# the code above it is an implementation citation, not a test).
mapfile -t whole < <(
    {
        ls conformance/vectors/*.json
        find . -path ./target -prune -o -path ./fuzz/target -prune -o -path '*/tests/*' -name '*.rs' -print
        find conformance/src/peer/checks fuzz/src/targets -name '*.rs' 2>/dev/null
    } | sed 's|^\./||' | sort -u
)
mapfile -t partial < <(
    grep -rlE --include='*.rs' '#\[(tokio::)?test|proptest!' . --exclude-dir=target --exclude-dir=tests |
        sed 's|^\./||' | sort -u
)
{
    cat "${whole[@]}"
    awk 'FNR == 1 { on = 0 } /#\[cfg\(test\)\]|#\[(tokio::)?test|proptest!/ { on = 1 } on { print }' "${partial[@]}"
} | grep -oE 'HS-[A-Z]+-[0-9]+' | sort -u >"$tmp/test.ids" || true

# Exceptions: `ID SIDE reason`.
touch "$tmp/exc.impl" "$tmp/exc.test"
if [ -f "$exceptions" ]; then
    lineno=0
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        case "$line" in '' | '#'*) continue ;; esac
        read -r id side reason <<<"$line"
        if ! grep -qx -- "$id" <<<"$ids"; then
            echo "coverage-exceptions.txt:$lineno: $id is not a SPEC.md requirement id" >&2
            exit 1
        fi
        case "$side" in impl | test) ;; *)
            echo "coverage-exceptions.txt:$lineno: side must be impl or test, got '$side'" >&2
            exit 1
            ;;
        esac
        [ -n "${reason:-}" ] || { echo "coverage-exceptions.txt:$lineno: $id $side has no reason" >&2; exit 1; }
        echo "$id" >>"$tmp/exc.$side"
    done <"$exceptions"
fi

has() { grep -qx -- "$1" "$2"; }

total=0; impl_ok=0; test_ok=0
excused=(); missing=(); stale=()
for id in $ids; do
    total=$((total + 1))
    row="$id"
    for side in impl test; do
        if has "$id" "$tmp/$side.ids"; then
            [ $side = impl ] && impl_ok=$((impl_ok + 1)) || test_ok=$((test_ok + 1))
            has "$id" "$tmp/exc.$side" && stale+=("$id ($side)")
            row="$row $side=cited"
        elif has "$id" "$tmp/exc.$side"; then
            excused+=("$id ($side)")
            row="$row $side=excepted"
        else
            missing+=("$id ($side)")
            row="$row $side=MISSING"
        fi
    done
    if grep -qx -- "$id" <<<"$withdrawn"; then row="$row (withdrawn)"; fi
    [ $table = 1 ] && echo "$row"
done

echo "requirement ids in SPEC.md: $total"
echo "  cited by an implementation source: $impl_ok"
echo "  cited by a vector, test, peer check or fuzz target: $test_ok"
echo "  exceptions in use: ${#excused[@]}"
if [ ${#excused[@]} -gt 0 ]; then
    echo "excepted (see $exceptions):"
    printf '  %s\n' "${excused[@]}"
fi
if [ ${#stale[@]} -gt 0 ]; then
    echo "note: cited now, the exception can go:"
    printf '  %s\n' "${stale[@]}"
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL: cited by nothing on that side and not excepted:" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi
