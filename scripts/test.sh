#!/usr/bin/env bash
# The README's test command: install what the tests need (Chromium included, for the report
# rendering test), build the default preset and run the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh default --with-browser
ctest --preset default -j 2 "$@"
