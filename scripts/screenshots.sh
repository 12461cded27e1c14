#!/usr/bin/env bash
# Regenerates the README's screenshots of the Humandocs UI (docs/screenshots/*.png) by running the
# browser test (humandocs/tests/browser.rs) with HUMANDOCS_SCREENSHOTS set. Needs chromium and
# chromedriver (Debian: apt-get install chromium chromium-driver).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/screenshots
HUMANDOCS_SCREENSHOTS="$PWD/docs/screenshots" \
    cargo test --workspace --all-features --test browser -- --nocapture
ls -l docs/screenshots
