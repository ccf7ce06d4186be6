#!/usr/bin/env bash
# Builds the loader fuzzers (libFuzzer + ASan + UBSan, clang) and runs each for a bounded time.
# Usage: .ci/fuzz.sh [SECONDS_PER_TARGET (default 30)] [BUILD_DIR (default build/fuzz)]
# Exit status non-zero when a target finds a crash, leak, sanitizer report or an exception that
# is not a gn::Error; the reproducer is left in BUILD_DIR/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
build=${2:-build/fuzz}
CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGENRENET_FUZZ=ON -DGENRENET_CUDA=OFF -DGENRENET_BUILD_TESTS=OFF -DGENRENET_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_checkpoint fuzz_keras_import -j 2

mkdir -p "$build/artifacts"
status=0
for target in checkpoint keras_import; do
  # Work on a copy of the committed seeds so new corpus entries never land in the repository.
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz_$target for ${seconds}s"
  # HDF5 keeps free lists alive until exit, which LeakSanitizer would report for every input.
  leaks=1
  [ "$target" = keras_import ] && leaks=0
  if ! ASAN_OPTIONS=detect_leaks=$leaks UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$build/fuzz/fuzz_$target" "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" 2>&1 | tail -n 25; then
    status=1
  fi
done
exit $status
