#!/usr/bin/env bash
# One step from a fresh clone to built binaries: install dependencies (Debian packages),
# configure the default preset (the CUDA path is built when nvcc and cuDNN are present) and
# build. Safe to run again: each step only does what is missing.
# Usage: scripts/bootstrap.sh [preset] [install-deps options]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
shift || true
scripts/install-deps.sh "$@"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
echo "bootstrap: built build/$preset (genrenet at build/$preset/bin/genrenet)"
