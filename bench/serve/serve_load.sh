#!/usr/bin/env bash
# Load test of `genrenet serve`, loopback only and bounded: starts the server on a free port of
# 127.0.0.1, keeps CONNECTIONS uploads of one real song in flight for SECONDS with wrk (Debian's
# `wrk`; scripts/install-deps.sh --with-browser installs it), prints throughput and p50/p90/p99
# latency, stops the server with SIGTERM and fails unless every request got a 200.
# Usage: bench/serve/serve_load.sh BUILD_DIR [CONNECTIONS=8] [SECONDS=60] [THREADS=4]
#   (needs ../shared: the reference model is imported into a temporary folder)
set -euo pipefail
build=${1:?usage: serve_load.sh BUILD_DIR [CONNECTIONS] [SECONDS] [THREADS]}
connections=${2:-8}
seconds=${3:-60}
threads=${4:-4}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=$(cd "$repo/../shared" 2>/dev/null && pwd) || { echo "serve_load: ../shared is absent" >&2; exit 77; }
command -v wrk >/dev/null || { echo "serve_load: wrk is not installed (scripts/install-deps.sh --with-browser)" >&2; exit 77; }
genrenet="$build/bin/genrenet"
tmp=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$genrenet" import-keras "$shared/seed/model.json" "$shared/seed/model_weights.h5" -o "$tmp/ref.safetensors" >/dev/null
timeout $((seconds + 300)) "$genrenet" serve --model "$tmp/ref.safetensors" --host 127.0.0.1 --port 0 \
  --threads "$threads" --quiet >"$tmp/out" 2>"$tmp/err" &
server=$!
port=""
for _ in $(seq 600); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/out")
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "serve_load: the server did not start" >&2; exit 1; }

song="$shared/seed/gtzan-sample/blues.00001.wav"
echo "serve_load: $connections concurrent uploads of $(basename "$song") ($(stat -c %s "$song") bytes) for ${seconds}s," \
     "server with $threads worker threads, $(nproc) cores"
GN_SONG="$song" wrk --threads $(( connections < 2 ? 1 : 2 )) --connections "$connections" --duration "${seconds}s" --timeout 300s --latency \
  --script "$here/upload.lua" "http://127.0.0.1:$port" | tee "$tmp/wrk"
kill -TERM "$server"
wait "$server"
server=""
grep -q "serve-load: requests=[1-9][0-9]* failed=0 " "$tmp/wrk" || { echo "serve_load: FAILED requests" >&2; exit 1; }
echo "serve_load: zero failed requests; the server stopped cleanly on SIGTERM"
