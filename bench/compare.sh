#!/usr/bin/env bash
# GenreNet vs its peers, back to back in one run. From a fresh clone:
#
#   bench/compare.sh [--repeats R] [--threads T] [--build DIR] [--out FILE]
#
# 1. builds the benchmarks (CPU-only unless nvidia-smi sees a GPU; Release, -j2),
# 2. makes sure the peers' Python packages exist (torch, numpy, librosa); when they are missing
#    it installs them from PyPI into a virtual environment under the build folder,
# 3. runs, R times and alternating so machine noise hits both sides alike: OpenBLAS's sgemm
#    peak, GenreNet's training step / song inference / front-ends, the PyTorch RCNN peer and
#    the librosa/NumPy front-end peer, all with T threads (the front-end peer is one process),
# 4. measures the peak resident memory of a batch-32 training run (/usr/bin/time -v),
# 5. prints a table (medians over the repeats, ratios to the peers, GFLOP/s as a share of
#    the sgemm peak) and writes it with the machine's details to bench/results/<date>.md.
# GenreNet makes its idle OpenMP workers sleep (engine/threads.h); the PyTorch peer gets the
# same OMP_WAIT_POLICY=passive, which on this busy 2-core machine made its step ~1.9x faster
# (1760 -> 929 ms in one probe): the comparison is against the peer at its best.
set -euo pipefail

repeats=3
threads=2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/compare"
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeats) repeats="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || out="$root/bench/results/$(date -u +%Y-%m-%d-%H%M).md"

# --- 1. build -------------------------------------------------------------------------------
cuda=OFF
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then cuda=ON; fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DGENRENET_CUDA=$cuda >/dev/null
fi
cmake --build "$build" --target bench_e2e bench_frontend bench_sgemm_peak -j2 >/dev/null
bin="$build/bin"

# --- 2. the peers' Python packages -----------------------------------------------------------
python=python3
if ! $python -c "import torch, numpy, librosa" 2>/dev/null; then
  venv="$build/peers-venv"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "installing the peers' packages (torch, numpy, librosa) from PyPI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch numpy librosa
  fi
  python="$venv/bin/python"
fi

# --- 3. the runs ----------------------------------------------------------------------------
raw="$build/compare-raw"
rm -rf "$raw" && mkdir -p "$raw"
export OMP_NUM_THREADS=$threads
# Idle OpenMP workers sleep on both sides: GenreNet sets this itself (engine/threads.h), the
# peers and bench_frontend get it here.
export OMP_WAIT_POLICY=passive
gbench=(--benchmark_format=json --benchmark_min_time=1)
for r in $(seq 1 "$repeats"); do
  echo "round $r/$repeats" >&2
  "$bin/bench_sgemm_peak" "${gbench[@]}" --benchmark_filter='sgemm/2048' >"$raw/sgemm.$r.json"
  "$bin/bench_e2e" "${gbench[@]}" --benchmark_filter='/CPU' >"$raw/e2e.$r.json"
  $python "$root/bench/peers/torch_rcnn.py" --threads "$threads" --repeats 5 >"$raw/torch.$r.json"
  "$bin/bench_frontend" "${gbench[@]}" --benchmark_filter='Cpu' >"$raw/frontend.$r.json"
  $python "$root/bench/peers/librosa_frontends.py" --seconds 3 >"$raw/librosa.$r.json"
done

# --- 4. peak resident memory of a batch-32 training run ------------------------------------
/usr/bin/time -v "$bin/bench_e2e" --benchmark_filter='train_step/CPU' --benchmark_min_time=0.5 \
  >/dev/null 2>"$raw/time.txt"

# --- 5. the table ---------------------------------------------------------------------------
$python - "$raw" "$repeats" "$threads" "$out" <<'EOF'
import json, os, platform, re, statistics, subprocess, sys
raw, repeats, threads, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
load = lambda f: json.load(open(os.path.join(raw, f)))
med = statistics.median

def gb(files, name, key):
    vals = []
    for f in files:
        for b in load(f)["benchmarks"]:
            if b["name"].startswith(name):
                vals.append(b[key])
    return med(vals)

R = range(1, repeats + 1)
e2e = [f"e2e.{r}.json" for r in R]
fe = [f"frontend.{r}.json" for r in R]
peak = gb([f"sgemm.{r}.json" for r in R], "sgemm/2048", "FLOP/s") / 1e9
train_ms = gb(e2e, "train_step/CPU", "real_time")
train_flops = gb(e2e, "train_step/CPU", "FLOP/s") / 1e9
model_ms = gb(e2e, "infer_model/CPU", "real_time")
model_flops = gb(e2e, "infer_model/CPU", "FLOP/s") / 1e9
song_seed_ms = gb(e2e, "infer_song/seed/CPU", "real_time")
song_log_ms = gb(e2e, "infer_song/logstft/CPU", "real_time")
seed_cps = gb(fe, "BM_SeedCpu", "items_per_second")
log_cps = gb(fe, "BM_LogStftCpu", "items_per_second")
torch = [load(f"torch.{r}.json") for r in R]
t_train = med([t["train_step_ms"] for t in torch])
t_song = med([t["infer_song_ms"] for t in torch])
lib = [load(f"librosa.{r}.json") for r in R]
l_seed = med([l["seed_clips_per_s"] for l in lib])
l_log = med([l["logstft_clips_per_s"] for l in lib])
rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(os.path.join(raw, "time.txt")).read()).group(1))
# Per-round ratios show how steady the comparison is on a busy machine.
def per_round(r):
    e = load(f"e2e.{r}.json")["benchmarks"]
    g = lambda n: next(b["real_time"] for b in e if b["name"].startswith(n))
    return torch[r - 1]["train_step_ms"] / g("train_step/CPU"), torch[r - 1]["infer_song_ms"] / g("infer_model/CPU")
rounds = [per_round(r) for r in R]

def verdict(ratio, target):
    return f"met ({ratio:.2f}x >= {target}x)" if ratio >= target else f"MISSED by {target / ratio:.2f}x ({ratio:.2f}x < {target}x)"

rows = [
    ("training step, batch 32 (fwd+bwd+Adam)", f"{train_ms:.0f} ms", f"{t_train:.0f} ms (PyTorch {torch[0]['torch_version']})", t_train / train_ms, 2,
     f"{train_flops:.1f} GFLOP/s = {100 * train_flops / peak:.0f}% of peak"),
    ("inference, one 30 s song (19 clips), model", f"{1000 / model_ms:.2f} songs/s", f"{1000 / t_song:.2f} songs/s", t_song / model_ms, 2,
     f"{model_flops:.1f} GFLOP/s = {100 * model_flops / peak:.0f}% of peak"),
    ("front-end seed", f"{seed_cps:.0f} clips/s", f"{l_seed:.0f} clips/s (librosa)", seed_cps / l_seed, 5, ""),
    ("front-end logstft", f"{log_cps:.0f} clips/s", f"{l_log:.0f} clips/s (librosa)", log_cps / l_log, 5, ""),
]
lines = []
lines.append(f"| measure | GenreNet | peer | ratio | target | compute |")
lines.append(f"|---|---|---|---|---|---|")
for name, g, p, ratio, target, extra in rows:
    lines.append(f"| {name} | {g} | {p} | {ratio:.2f}x | {verdict(ratio, target)} | {extra} |")
lines.append(f"| inference, one 30 s song incl. clips + seed front-end | {1000 / song_seed_ms:.2f} songs/s | | | | |")
lines.append(f"| inference, one 30 s song incl. clips + logstft front-end | {1000 / song_log_ms:.2f} songs/s | | | | |")
mem = "met" if rss_kib < 1024 * 1024 else "MISSED"
lines.append(f"| peak RSS, batch-32 training run (no spectrogram cache) | {rss_kib / 1024:.0f} MiB | | | < 1024 MiB: {mem} | |")
table = "\n".join(lines)
extra = (f"\nsgemm peak (OpenBLAS, 2048^3, same run): {peak:.1f} GFLOP/s; threads: {threads}; "
         f"medians of {repeats} rounds; per-round ratios (train, song): "
         + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in rounds) + "\n")
print(table + extra)

ctx = load("sgemm.1.json")["context"]
lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
keep = ("Architecture", "Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "L1d", "L2", "L3", "Flags")
lscpu = "\n".join(l if not l.startswith("Flags") else "Flags: ... " + " ".join(f for f in l.split() if f.startswith("avx"))
                  for l in lscpu.splitlines() if l.strip().startswith(keep))
git = subprocess.run(["git", "-C", os.path.dirname(out), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
with open(out, "w") as f:
    f.write(f"# GenreNet vs peers, {ctx.get('date', '')}\n\n")
    f.write(f"Command: `bench/compare.sh --repeats {repeats} --threads {threads}` at commit {git}.\n")
    f.write(f"Load average at the start of the run: {ctx.get('load_avg', '?')} (a busy shared machine: read the ratios, not the absolute times).\n\n")
    f.write(table + "\n" + extra + "\n")
    f.write("Notes: both sides run with OMP_WAIT_POLICY=passive (GenreNet sets it itself; the peer gets it from the script). The PyTorch peer's song inference excludes the front-end, so the ratio compares model with model;"
            " the rows 'incl. front-end' are GenreNet's whole `predict` path for one song.\n\n")
    f.write("## Machine\n\n```\n" + lscpu + f"\nOpenBLAS: {ctx.get('openblas', '?')}\nkernel: {platform.platform()}\n```\n")
print(f"written to {out}")
EOF
