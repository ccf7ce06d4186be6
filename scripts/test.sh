#!/usr/bin/env bash
# The README's test command: install what the tests need (Chromium included, for the report
# rendering test), build the default preset and run the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# Test-only Python packages from PyPI (never runtime dependencies of the C++ product): nanobind
# builds the Python module, pytest runs its suite, onnxruntime / onnx check `genrenet export`.
# Without them (offline) those tests skip with a message.
if ! python3 -c "import nanobind, pytest, numpy, onnxruntime, onnx" 2>/dev/null; then
  python3 -m pip install --quiet nanobind pytest numpy onnxruntime onnx ||
    echo "test.sh: could not install the Python test packages; the Python and ONNX tests will skip" >&2
fi
scripts/bootstrap.sh default --with-browser
ctest --preset default -j 2 "$@"
