#!/usr/bin/env bash
# Lists every requirement id in SPEC.md and where code and tests cite it.
# Usage: ./scripts/spec-coverage.sh            (report only)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f SPEC.md ] || { echo "no SPEC.md"; exit 1; }
ids=$(grep -oE '\*\*HS-[A-Z]+-[0-9]+\*\*' SPEC.md | tr -d '*' | sort -u -V)
total=0; tested=0; untested=()
for id in $ids; do
    total=$((total + 1))
    # A citation in a test: files under tests/, or inside #[cfg(test)] modules (approximated by files containing #[test]).
    if grep -rlw --include='*.rs' "$id" . 2>/dev/null | grep -v '^./target' | xargs -r grep -l '#\[test\]\|proptest!' 2>/dev/null | grep -q . ; then
        tested=$((tested + 1))
    else
        untested+=("$id")
    fi
done
echo "requirement ids in SPEC.md: $total; cited by a test file: $tested"
if [ ${#untested[@]} -gt 0 ]; then
    echo "not yet cited by any test:"
    printf '  %s\n' "${untested[@]}"
fi
