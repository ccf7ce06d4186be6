#!/usr/bin/env bash
# One command that builds, tests and benchmarks GenreNet's whole CUDA path on a GPU machine and
# writes what it saw into OUTDIR (summary.md + 6 logs, flat). It never stops at a failure: every
# step is bounded by `timeout` and reported. Total wall time stays under GPU_CHECK_BUDGET_S
# (default 470 s: 8 minutes with room to copy the results).
#
#   scripts/gpu-check.sh OUTDIR
#
# Dependencies: with .gpu-kit/deps.tar.xz present (scripts/gpu-kit.sh, made on Debian 12) the
# build uses only that kit, the CUDA toolkit and the machine's compiler, CMake and ninja; cuDNN,
# cuBLAS, cuFFT and NCCL are taken from the toolkit or else from NVIDIA's Python wheels
# (site-packages/nvidia/*). Without a kit it uses the system's packages (scripts/install-deps.sh).
# On a machine where no GPU answers it still builds and runs everything it can: the CUDA test
# cases report themselves skipped and the CUDA-only steps say "skipped (no GPU)".
# Environment: GPU_CHECK_BUDGET_S, GPU_CHECK_ARCH (default 90), GPU_CHECK_JOBS (default nproc),
# GPU_CHECK_TARGETS (default: everything), GPU_CHECK_BUILD (default build/gpu-check),
# GPU_CHECK_BUILD_S (the build's limit, default 330 s).
set -uo pipefail

if [ $# -ne 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: scripts/gpu-check.sh OUTDIR" >&2; exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" || { echo "gpu-check.sh: cannot create $1" >&2; exit 2; }
out=$(cd "$1" && pwd)
build=${GPU_CHECK_BUILD:-$root/build/gpu-check}
budget=${GPU_CHECK_BUDGET_S:-470}
arch=${GPU_CHECK_ARCH:-90}
jobs=${GPU_CHECK_JOBS:-$(nproc)}
start=$SECONDS
mkdir -p "$build"
summary=$out/summary.md envlog=$out/env.log buildlog=$out/build.log testlog=$out/tests.log
benchlog=$out/bench.log demolog=$out/demo.log predictlog=$out/predict.log
: >"$envlog"; : >"$buildlog"; : >"$testlog"; : >"$benchlog"; : >"$demolog"; : >"$predictlog"
steps=()      # "| step | status | seconds |" rows
failures=0

left() { echo $((budget - (SECONDS - start))); }
# bounded LIMIT LOG CMD...: runs CMD with stdout+stderr appended to LOG, for at most LIMIT
# seconds and never past the budget (minus 10 s for the summary). Returns CMD's status, 124
# on timeout, 125 when no time is left.
bounded() {
  local limit=$1 log=$2; shift 2
  local avail=$(( $(left) - 10 ))
  [ "$avail" -lt "$limit" ] && limit=$avail
  if [ "$limit" -le 0 ]; then echo "[gpu-check] no time left for: $*" >>"$log"; return 125; fi
  echo "[gpu-check] \$ $* (limit ${limit}s)" >>"$log"
  timeout -k 5 "$limit" "$@" >>"$log" 2>&1
}
record() {  # NAME STATUS_CODE SECONDS [note]
  local name=$1 rc=$2 secs=$3 note=${4:-} st
  case $rc in
    0) st="ok" ;; 124) st="TIMEOUT"; failures=$((failures + 1)) ;; 125) st="not run (budget spent)"; failures=$((failures + 1)) ;;
    skip) st="skipped" ;; *) st="FAILED (exit $rc)"; failures=$((failures + 1)) ;;
  esac
  steps+=("| $name | $st${note:+: $note} | $secs |")
}
step_start() { step_t0=$SECONDS; }
step_secs() { echo $((SECONDS - step_t0)); }

# ---- 1. the machine ---------------------------------------------------------------------------
step_start
gpu=0
{
  echo "# date: $(date -u +%FT%TZ)  host: $(uname -srm)"
  echo "# glibc: $(ldd --version 2>&1 | head -1)"
  echo "# compiler: $(c++ --version 2>&1 | head -1)"
  echo "# cmake: $(cmake --version 2>&1 | head -1)  ninja: $(ninja --version 2>&1)"
  echo "# nvidia-smi"
  timeout 30 nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || true
} >>"$envlog"
timeout 30 nvidia-smi -L >/dev/null 2>&1 && gpu=1
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || nvcc=""
cuda_home=${nvcc:+$(cd "$(dirname "$nvcc")/.." && pwd)}
echo "# nvcc: ${nvcc:-none} $( [ -n "$nvcc" ] && "$nvcc" --version | tail -2 | tr '\n' ' ')" >>"$envlog"

# cuDNN, cuBLAS, cuFFT, NCCL: the toolkit's when it has them, else NVIDIA's Python wheels. Wheels
# ship only versioned names (libcudnn.so.9) and their own include folders, so a shim folder of
# unversioned links and headers is made for CMake's find_library / find_path.
shim=$build/cuda-shim
rm -rf "$shim"; mkdir -p "$shim/lib" "$shim/include"
wheel_dirs=$(python3 -c 'import nvidia, sys; print("\n".join(nvidia.__path__))' 2>/dev/null || true)
runtime_dirs=""
for name in cudart cublas cublasLt cufft cudnn nccl; do
  found=""
  for d in "$cuda_home/lib64" "$cuda_home/lib" "$cuda_home/targets/x86_64-linux/lib"; do
    [ -s "$d/lib$name.so" ] && { found="$d/lib$name.so"; break; }  # -s: present and not empty
  done
  if [ -z "$found" ] && [ -n "$wheel_dirs" ]; then
    found=$(find $wheel_dirs -name "lib$name.so*" \( -type f -o -type l \) 2>/dev/null | sort | head -1)
    if [ -n "$found" ]; then
      ln -sf "$found" "$shim/lib/lib$name.so"
      inc=$(cd "$(dirname "$found")/../include" 2>/dev/null && pwd)
      [ -n "$inc" ] && ln -sf "$inc"/* "$shim/include/" 2>/dev/null
    fi
  fi
  [ -n "$found" ] && runtime_dirs="$runtime_dirs:$(dirname "$(readlink -f "$found")")"
  echo "# lib$name: ${found:-NOT FOUND}${found:+ -> $(readlink -f "$found")}" >>"$envlog"
done
for h in cudnn_version.h cublas_api.h cufft.h; do  # versions from the headers the build uses
  f=""
  for c in "$shim/include/$h" "$cuda_home/include/$h"; do [ -s "$c" ] && { f=$c; break; }; done
  [ -n "$f" ] && echo "# $h: $(grep -hE '#define (CUDNN_(MAJOR|MINOR|PATCHLEVEL)|CUBLAS_VER_(MAJOR|MINOR|PATCH)|CUFFT_VER_(MAJOR|MINOR|PATCH)) ' "$f" | awk '{printf "%s=%s ", $2, $3}')" >>"$envlog"
done
echo "# torch: $(timeout 60 python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "gpu", torch.cuda.is_available())' 2>&1 | tail -1)" >>"$envlog"
record "machine and versions (env.log)" 0 "$(step_secs)" "GPU $( [ $gpu = 1 ] && echo answers || echo 'does NOT answer')"

# ---- 2. dependencies and build ------------------------------------------------------------------
step_start
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DGENRENET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch"
            -DGENRENET_BUILD_TESTS=ON -DGENRENET_BUILD_BENCH=ON)
[ -n "$nvcc" ] && cmake_args+=(-DCMAKE_CUDA_COMPILER="$nvcc")
command -v ccache >/dev/null || unset CMAKE_CXX_COMPILER_LAUNCHER CMAKE_C_COMPILER_LAUNCHER CMAKE_CUDA_COMPILER_LAUNCHER
prefixes="$shim"
shared_dir=$root/../shared
kitlib=""
if [ -f "$root/.gpu-kit/deps.tar.xz" ]; then
  kit=$build/kit
  if [ ! -f "$kit/.unpacked" ] || [ "$root/.gpu-kit/deps.tar.xz" -nt "$kit/.unpacked" ]; then
    rm -rf "$kit"; mkdir -p "$kit"
    { tar -C "$kit" -xJf "$root/.gpu-kit/deps.tar.xz" ||
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
              "$root/.gpu-kit/deps.tar.xz" "$kit"; } >>"$buildlog" 2>&1 && touch "$kit/.unpacked"
  fi
  kitlib=$kit/usr/lib/x86_64-linux-gnu
  prefixes="$kit/usr;$shim"
  # pkg-config from the kit, reading only the kit's .pc files.
  cat >"$build/pkg-config" <<EOF
#!/bin/sh
PKG_CONFIG_LIBDIR="$kitlib/pkgconfig:$kit/usr/share/pkgconfig" LD_LIBRARY_PATH="$kitlib" exec "$kit/usr/bin/pkgconf" "\$@"
EOF
  chmod +x "$build/pkg-config"
  cmake_args+=(-DPKG_CONFIG_EXECUTABLE="$build/pkg-config" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu
               -DHDF5_ROOT="$kitlib/hdf5/serial" -DHDF5_C_COMPILER_EXECUTABLE=HDF5_C_COMPILER_EXECUTABLE-NOTFOUND)
  [ -d "$root/.gpu-kit/seed" ] && shared_dir=$root/.gpu-kit
  deps="the kit (.gpu-kit/deps.tar.xz: $(wc -l <"$root/.gpu-kit/MANIFEST" 2>/dev/null) Debian packages)"
else
  deps="the system's packages (no .gpu-kit)"
fi
# The kit's libraries (and the wheels') are found through an RPATH baked into our binaries, not
# LD_LIBRARY_PATH, so CMake, Python and PyTorch keep the machine's own copies. DT_RPATH (not
# RUNPATH) also covers the libraries those libraries load.
rpath="${kitlib:+$kitlib:$kitlib/openblas-pthread:$kitlib/hdf5/serial}$runtime_dirs"
rpath=${rpath#:}
[ -n "$rpath" ] && cmake_args+=(-DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags -Wl,-rpath,$rpath")
cmake_args+=(-DCMAKE_PREFIX_PATH="$prefixes" -DGENRENET_SHARED_DIR="$shared_dir"
             -DCMAKE_CXX_FLAGS="-I$shim/include" -DCMAKE_CUDA_FLAGS="-I$shim/include")  # -I: before the toolkit's -isystem
bounded 120 "$buildlog" cmake -S "$root" -B "$build" "${cmake_args[@]}"
rc=$?
record "configure (deps: $deps)" $rc "$(step_secs)"
built=0
if [ $rc -eq 0 ]; then
  step_start
  targets=()
  [ -n "${GPU_CHECK_TARGETS:-}" ] && targets=(--target $GPU_CHECK_TARGETS)
  bounded "${GPU_CHECK_BUILD_S:-330}" "$buildlog" cmake --build "$build" -j "$jobs" "${targets[@]}"
  rc=$?
  record "build (sm_$arch, $jobs jobs)" $rc "$(step_secs)" "$(grep -c ' error' "$buildlog") error lines in build.log"
  [ $rc -eq 0 ] && built=1
fi
bin=$build/bin

# ---- 3. every CUDA test case, then the rest of the fast suite -------------------------------------
cuda_regex='CUDA|Cuda|cuda'
# With GPU_CHECK_TARGETS, test programs left unbuilt appear as <program>_NOT_BUILT: left out.
unbuilt=(); [ -n "${GPU_CHECK_TARGETS:-}" ] && unbuilt=(-E _NOT_BUILT)
if [ $built = 1 ]; then
  step_start
  bounded 150 "$testlog" ctest --test-dir "$build" -R "$cuda_regex" "${unbuilt[@]}" --timeout 60 -j 4 --output-on-failure
  rc=$?; [ $rc -eq 8 ] && rc=1
  record "CUDA test cases (60 s each)" $rc "$(step_secs)"
  step_start
  if [ "$(left)" -gt 150 ]; then
    echo "[gpu-check] ---- the rest of the suite (no slow label) ----" >>"$testlog"
    bounded 120 "$testlog" ctest --test-dir "$build" -E "$cuda_regex${GPU_CHECK_TARGETS:+|_NOT_BUILT}" -LE slow --timeout 90 -j "$jobs" --output-on-failure
    record "other test cases (90 s each)" $? "$(step_secs)"
  else
    record "other test cases" skip 0 "less than 150 s left"
  fi
else
  record "tests" 1 0 "not run: the build failed"
fi

# ---- 4. benchmarks: GenreNet's CUDA cases and the PyTorch peer on the same GPU --------------------
bench_json=$build/bench-json
rm -rf "$bench_json"; mkdir -p "$bench_json"
if [ $built = 1 ] && [ $gpu = 1 ]; then
  step_start
  rc=0
  for b in "bench_e2e:CUDA" "bench_frontend:Cuda" "bench_bilstm:CUDA"; do
    prog=${b%%:*}
    [ -x "$bin/$prog" ] || { echo "[gpu-check] $prog not built" >>"$benchlog"; rc=1; continue; }
    bounded 90 "$benchlog" "$bin/$prog" --benchmark_filter="${b#*:}" --benchmark_min_time=0.5 \
            --benchmark_out="$bench_json/$prog.json" --benchmark_out_format=json || rc=$?
  done
  record "GenreNet CUDA benchmarks (bench.log)" $rc "$(step_secs)"
  step_start
  bounded 120 "$benchlog" env PYTHONUNBUFFERED=1 python3 "$root/bench/peers/torch_rcnn.py" --device cuda \
          --threads "$jobs" --repeats 20
  record "PyTorch peer on the GPU" $? "$(step_secs)"
else
  record "benchmarks" skip 0 "$( [ $gpu = 1 ] && echo 'nothing built' || echo 'no GPU')"
fi

# ---- 5. demo and predict on the GPU ----------------------------------------------------------------
if [ $built = 1 ] && [ $gpu = 1 ]; then
  step_start
  bounded 150 "$demolog" "$bin/genrenet" demo --device cuda --data "$build/demo-data" --out "$build/demo-run"
  record "genrenet demo --device cuda (demo.log)" $? "$(step_secs)" "$(grep -o 'song-level test accuracy [^,]*' "$demolog" | tail -1)"
else
  record "genrenet demo --device cuda" skip 0 "$( [ $gpu = 1 ] && echo 'nothing built' || echo 'no GPU')"
fi
songs=$shared_dir/seed/gtzan-sample
if [ $built = 1 ] && [ $gpu = 1 ] && [ -d "$songs" ]; then
  step_start
  ref=$build/reference.safetensors
  bounded 60 "$predictlog" "$bin/genrenet" import-keras "$shared_dir/seed/model.json" \
          "$shared_dir/seed/model_weights.h5" -o "$ref" &&
  bounded 60 "$build/predict-cpu.jsonl" "$bin/genrenet" predict --device cpu --json --model "$ref" "$songs"/*.wav &&
  bounded 60 "$build/predict-cuda.jsonl" "$bin/genrenet" predict --device cuda --json --model "$ref" "$songs"/*.wav &&
  python3 - "$build/predict-cpu.jsonl" "$build/predict-cuda.jsonl" >>"$predictlog" 2>&1 <<'EOF'
import json, sys
def load(path):  # genrenet's JSON lines (the bounded() header lines start with '[')
    return [json.loads(l) for l in open(path) if l.startswith("{")]
cpu, gpu = load(sys.argv[1]), load(sys.argv[2])
assert len(cpu) == len(gpu) > 0, f"{len(cpu)} CPU songs vs {len(gpu)} CUDA songs"
worst = 0.0
print("| song | clips | genre cpu / cuda | max over clips of max |dp| |")
print("|---|---|---|---|")
for c, g in zip(cpu, gpu):
    d = max(abs(pc["probabilities"][k] - pg["probabilities"][k])
            for pc, pg in zip(c["clips"], g["clips"]) for k in pc["probabilities"])
    worst = max(worst, d)
    print(f"| {c['file'].rsplit('/', 1)[-1]} | {len(c['clips'])} | {c['genre']} / {g['genre']} | {d:.2e} |")
print(f"worst per-clip max |dp| = {worst:.3e}")
EOF
  rc=$?
  record "predict --device cuda vs cpu on $(ls "$songs"/*.wav | wc -l) songs (predict.log)" $rc "$(step_secs)" \
         "$(grep -o 'worst per-clip.*' "$predictlog" | tail -1)"
else
  record "predict cuda vs cpu" skip 0 "$( [ -d "$songs" ] || echo "no songs at $songs; " )$( [ $gpu = 1 ] || echo 'no GPU')"
fi

# ---- 6. summary ----------------------------------------------------------------------------------
{
  echo "# GenreNet GPU check, $(date -u +%F)"
  echo
  echo "$(grep -m1 -E '^NVIDIA|^GPU ' "$envlog" 2>/dev/null || true)"
  grep -E '^# (glibc|compiler|cmake|nvcc|lib(cudart|cublas|cufft|cudnn|nccl)|cudnn_version|cublas_api|cufft.h|torch)' "$envlog" | sed 's/^# /- /'
  grep -A1 '^name, driver_version' "$envlog" | tail -1 | sed 's/^/- GPU, driver, memory, max SM clock: /'
  echo
  echo "| step | status | s |"
  echo "|---|---|---|"
  printf '%s\n' "${steps[@]}"
  echo
  echo "## Test cases"
  for kind in Passed Skipped Failed Timeout "Not Run"; do
    n=$(grep -cE "Test +#[0-9]+: .*(\*\*\*| )$kind" "$testlog")
    echo "- $kind: $n"
  done
  echo
  echo "CUDA cases (name: result):"
  echo '```'
  grep -E "Test +#[0-9]+: " "$testlog" | grep -E "$cuda_regex" |
    sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.*[* ]*([A-Za-z ]+[a-z]).*/\1: \2/' | sort
  echo '```'
  if grep -qE '\*\*\*(Failed|Timeout)|Exception' "$testlog"; then
    echo
    echo "Failures (first lines of each message; tests.log has all):"
    echo '```'
    awk '/Test +#[0-9]+: .*\*\*\*(Failed|Timeout)|Test +#[0-9]+: .*Exception/ {show=12; print; next}
         /Test +#[0-9]+: / {show=0}
         show > 0 && /Failure|Expected|Which is|Value of|Actual|error|Error|what\(\)|Timeout/ {print "    " $0; show--}' "$testlog"
    echo '```'
  fi
  echo
  echo "## Benchmarks (ms, real time; ratio = PyTorch / GenreNet, >1 means GenreNet is faster)"
  python3 - "$bench_json" "$benchlog" <<'EOF' 2>&1
import glob, json, os, sys
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        for b in json.load(open(path))["benchmarks"]:
            if b.get("run_type", "iteration") == "iteration":
                scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
                rows[b["name"]] = b["real_time"] * scale
    except Exception as e:
        print(f"- {os.path.basename(path)}: unreadable ({e})")
peer = {}
for line in open(sys.argv[2], errors="replace"):
    if line.startswith("{") and '"peer"' in line:
        peer = json.loads(line)
if not rows:
    print("(no GenreNet CUDA benchmark ran)")
else:
    pairs = {"train_step/CUDA": "train_step_ms", "infer_model/CUDA": "infer_song_ms"}
    print("| benchmark | GenreNet ms | PyTorch ms | ratio |")
    print("|---|---|---|---|")
    for name, ms in rows.items():
        key = next((v for k, v in pairs.items() if name.startswith(k)), None)
        p = peer.get(key) if key else None
        print(f"| {name} | {ms:.3f} | {'' if p is None else f'{p:.3f}'} | {'' if p is None else f'{p / ms:.2f}x'} |")
    if peer:
        print(f"\nPeer: PyTorch {peer.get('torch_version')} on {peer.get('device')}, medians of its repeats.")
EOF
  echo
  echo "Total: $((SECONDS - start)) s of a ${budget} s budget; $failures step(s) failed or timed out."
  [ $gpu = 1 ] || echo "No GPU answered on this machine: every CUDA case above could only skip."
} >"$summary"
cat "$summary"
[ $failures -eq 0 ]
