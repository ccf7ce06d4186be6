#!/usr/bin/env bash
# Inference side by side: `genrenet predict` / `serve` against the PyTorch predict peer, whole
# processes, rounds alternating so machine noise hits both sides alike. Needs ../shared.
#
#   bench/inference_compare.sh [--build DIR] [--also BIN] [--rounds R] [--songs K] [--python PY] [--out FILE]
#
# Rows: `genrenet --help` (process start; --also BIN measures another binary too, e.g. the
# CUDA-enabled build); predict one 30 s song, whole process, vs the peer's whole process and
# its time after imports; peak RSS of 1 and K songs (links to the seven real songs, cycled);
# songs/s over K songs vs the peer's loop; serve p50 latency at 1 connection and songs/s at 8
# connections (loopback, a bounded number of uploads, zero failures required). The peer runs
# when PY imports torch, librosa and soundfile; otherwise its columns say so. Medians of R.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/cpu"; also=""; rounds=3; songs=24; python=python3; out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --also) also="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --songs) songs="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "inference_compare.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || out="$root/bench/results/$(date -u +%Y-%m-%d-%H%M)-inference.md"
shared=$(cd "$root/../shared" 2>/dev/null && pwd) || { echo "inference_compare: ../shared is absent" >&2; exit 77; }
bin="$build/bin/genrenet"
tmp=$(mktemp -d)
server=""
cleanup() { [[ -n "$server" ]] && kill -TERM "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive  # both sides: 2 threads, sleeping idle workers
"$bin" import-keras "$shared/seed/model.json" "$shared/seed/model_weights.h5" -o "$tmp/ref.safetensors" >/dev/null
song="$shared/seed/gtzan-sample/blues.00001.wav"
mapfile -t real < <(ls "$shared"/seed/gtzan-sample/*.wav)
many=()
for i in $(seq 0 $((songs - 1))); do ln -s "${real[$((i % ${#real[@]}))]}" "$tmp/song$i.wav"; many+=("$tmp/song$i.wav"); done
peer=0
$python -c "import torch, librosa, soundfile" 2>/dev/null && peer=1
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
raw="$tmp/raw"; : >"$raw"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  for i in 1 2 3; do echo "help $(secs "$bin" --help)" >>"$raw"; done
  if [[ -n "$also" ]]; then for i in 1 2 3; do echo "help_also $(secs "$also" --help)" >>"$raw"; done; fi
  echo "predict1 $(secs "$bin" predict --model "$tmp/ref.safetensors" "$song")" >>"$raw"
  if ((peer)); then
    t0=$(date +%s.%N); line=$($python "$root/bench/peers/torch_predict_song.py" "$song" | tail -1); t1=$(date +%s.%N)
    echo "peer1 $(echo "$t1 - $t0" | bc -l)" >>"$raw"
    echo "peer1_after_imports $(sed -n 's/.* songs in \([0-9.]*\) s after.*/\1/p' <<<"$line")" >>"$raw"
  fi
  echo "rss1 $(rss "$bin" predict --model "$tmp/ref.safetensors" "$song")" >>"$raw"
  t0=$(date +%s.%N); rk=$(rss "$bin" predict --model "$tmp/ref.safetensors" "${many[@]}"); t1=$(date +%s.%N)
  echo "rssK $rk" >>"$raw"; echo "predictK $(echo "$t1 - $t0" | bc -l)" >>"$raw"
  if ((peer)); then
    line=$($python "$root/bench/peers/torch_predict_song.py" "${many[@]}" | tail -1)
    echo "peerK_songs_per_s $(sed -n 's/.*s per song, \([0-9.]*\) songs\/s.*/\1/p' <<<"$line")" >>"$raw"
  fi
done
# serve: one server, warm-up upload, then 1 connection x 6 uploads and 8 connections x 3 uploads
"$bin" serve --model "$tmp/ref.safetensors" --host 127.0.0.1 --port 0 --threads 8 --quiet >"$tmp/out" 2>"$tmp/err" &
server=$!
port=""
for _ in $(seq 600); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/out"); [[ -n "$port" ]] && break; sleep 0.1
done
[[ -n "$port" ]] || { echo "inference_compare: the server did not start" >&2; cat "$tmp/err" >&2; exit 1; }
python3 "$root/bench/peers/serve_client.py" "$port" "$song" 1 1 >/dev/null
python3 "$root/bench/peers/serve_client.py" "$port" "$song" 1 6 >"$tmp/serve1.json"
python3 "$root/bench/peers/serve_client.py" "$port" "$song" 8 3 >"$tmp/serve8.json"
serve_rss=$(awk '/VmHWM/ {print $2}' /proc/$server/status)
kill -TERM "$server"; wait "$server" || true; server=""
python3 - "$raw" "$tmp/serve1.json" "$tmp/serve8.json" "$serve_rss" "$songs" "$rounds" "$peer" "$load_start" "$out" "$also" <<'PY'
import json, statistics, subprocess, sys, os
raw, s1, s8, serve_rss, K, R, peer, load, out, also = sys.argv[1:]
K, R, peer = int(K), int(R), int(peer)
v = {}
for line in open(raw):
    k, x = line.split()
    v.setdefault(k, []).append(float(x))
m = lambda k: statistics.median(v[k]) if k in v and v[k] else None
s1, s8 = json.load(open(s1)), json.load(open(s8))
rows = ["| measure | GenreNet | PyTorch peer | ratio |", "|---|---|---|---|"]
row = lambda a, b, c="", d="": rows.append(f"| {a} | {b} | {c} | {d} |")
row("`genrenet --help`, process start (CPU-only build)", f"{1000 * m('help'):.0f} ms")
if m("help_also") is not None:
    row(f"`genrenet --help`, process start ({also})", f"{1000 * m('help_also'):.0f} ms")
p1 = m("predict1")
if peer:
    row("predict one 30 s song, whole process", f"{p1:.2f} s", f"{m('peer1'):.2f} s whole process, {m('peer1_after_imports'):.2f} s after imports",
        f"{m('peer1') / p1:.2f}x (whole), {m('peer1_after_imports') / p1:.2f}x (vs after imports)")
else:
    row("predict one 30 s song, whole process", f"{p1:.2f} s", "not run (torch not installed)")
row("peak RSS, predict 1 song", f"{m('rss1') / 1024:.0f} MiB")
row(f"peak RSS, predict {K} songs in one call", f"{m('rssK') / 1024:.0f} MiB", "", f"{m('rssK') / m('rss1'):.2f}x of 1 song")
gk = K / m("predictK")
if peer:
    row(f"predict {K} songs, songs/s (whole process)", f"{gk:.2f}", f"{m('peerK_songs_per_s'):.2f} (loop after imports)", f"{gk / m('peerK_songs_per_s'):.2f}x")
else:
    row(f"predict {K} songs, songs/s (whole process)", f"{gk:.2f}", "not run (torch not installed)")
row("serve, 1 connection, p50 latency", f"{1000 * s1['p50_s']:.0f} ms ({s1['requests']} uploads, {s1['failed']} failed)")
row("serve, 8 connections, songs/s", f"{s8['songs_per_s']:.2f} ({s8['requests']} uploads, {s8['failed']} failed; p50 {s8['p50_s']:.2f} s)")
row("serve, peak RSS after the load", f"{int(serve_rss) / 1024:.0f} MiB")
table = "\n".join(rows)
print(table)
git = subprocess.run(["git", "-C", os.path.dirname(out), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
with open(out, "w") as f:
    f.write(f"# Inference: GenreNet vs the PyTorch predict peer\n\nCommand: `bench/inference_compare.sh --rounds {R} --songs {K}` at commit {git}; "
            f"2 threads, OMP_WAIT_POLICY=passive on both sides; medians of {R} alternating rounds.\n"
            f"Load average at the start: {load} (a shared 2-core machine: absolute times are inflated, compare within the run).\n\n")
    f.write(table + "\n\nRaw samples:\n\n```\n" + open(raw).read() + json.dumps(s1) + "\n" + json.dumps(s8) + "\n```\n")
print(f"written to {out}")
PY
