#!/usr/bin/env bash
# Rehearses scripts/gpu-check.sh on this Debian build machine as if it were a bare CUDA image:
# in a private mount namespace every file of the Debian packages that .gpu-kit carries (and
# pkg-config, h5cc) is covered by an empty /dev/null bind mount, so any use of this machine's
# copies fails loudly; cuDNN and NCCL are moved out of the CUDA toolkit into a fake
# site-packages/nvidia/{cudnn,nccl} with only versioned names, as NVIDIA's wheels ship them.
# Needs root (unshare --mount). Usage: scripts/gpu-rehearse.sh OUTDIR  (env as gpu-check.sh)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/gpu-rehearse.sh OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$root/.gpu-kit/MANIFEST" ] || { echo "gpu-rehearse.sh: run scripts/gpu-kit.sh first" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "gpu-rehearse.sh: needs root (unshare --mount)" >&2; exit 1; }
mkdir -p "$1"
out=$(cd "$1" && pwd)

exec unshare --mount --propagation private bash -s "$root" "$out" <<'INNER'
set -euo pipefail
root=$1 out=$2
hidden=0
hide() {  # PATH: cover a file with /dev/null (a link's target is covered through the link)
  [ -e "$1" ] || return 0
  [ -d "$1" ] && return 0
  mount --bind /dev/null "$1" && hidden=$((hidden + 1))
}
# Fake wheels first (bind mounts keep the real files reachable there), then hide the originals.
cuda=$(readlink -f /usr/local/cuda)
site=$(mktemp -d /tmp/fake-site.XXXXXX)
for pkg in cudnn nccl; do
  mkdir -p "$site/nvidia/$pkg/lib" "$site/nvidia/$pkg/include"
  for f in "$cuda"/lib*/lib$pkg*.so.* "$cuda"/include/$pkg*.h; do
    [ -f "$f" ] || continue
    case "$f" in *.h) dest=$site/nvidia/$pkg/include ;; *) dest=$site/nvidia/$pkg/lib ;; esac
    touch "$dest/$(basename "$f")" && mount --bind "$f" "$dest/$(basename "$f")"
  done
  touch "$site/nvidia/$pkg/__init__.py"
done
# In the toolkit they are removed outright (overlay whiteouts), not emptied: an empty cudnn.h
# in the toolkit's include folder would still be found first, which no real image has.
for dir in "$cuda"/lib* "$cuda"/include; do
  [ -d "$dir" ] && [ ! -L "$dir" ] || continue
  ov=$(mktemp -d /tmp/rehearse-ov.XXXXXX)
  mkdir "$ov/up" "$ov/work"
  for f in "$dir"/libcudnn* "$dir"/libnccl* "$dir"/cudnn*.h "$dir"/nccl*; do
    [ -e "$f" ] && mknod "$ov/up/$(basename "$f")" c 0 0 && hidden=$((hidden + 1))
  done
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$ov/up,workdir=$ov/work" "$dir"
done
touch "$site/nvidia/__init__.py"
export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}

# The toolchain of this machine (CMake, the compiler, the linker, Python) loads some of the same
# runtime libraries (zlib, zstd, OpenSSL, curl) as its own: those stay; a CUDA image has its own.
tools=$(for t in cmake ctest ninja c++ ld as python3 tar xz nvcc; do command -v $t; done
        find /usr/lib/gcc -name 'cc1*' -o -name 'lto*' -o -name 'collect2' | head -20)
keep=" $(ldd $tools 2>/dev/null | awk '$3 ~ /^\// {print $3}' | sort -u | while read -r l; do
         r=$(readlink -f "$l")
         for c in "$l" "$r" "${r#/usr}" "/usr$l"; do dpkg-query -S "$c" 2>/dev/null && break; done | cut -d: -f1
       done | sort -u | tr '\n' ' ' || true) "
kept=()
while IFS='=' read -r pkg _; do
  case "$keep" in *" $pkg "*) kept+=("$pkg"); continue ;; esac
  while IFS= read -r f; do hide "$f"; done < <(dpkg-query -L "$pkg" 2>/dev/null)
done <"$root/.gpu-kit/MANIFEST"
echo "gpu-rehearse: left visible because the toolchain loads them: ${kept[*]}"
# MPI too: the CUDA image has none, so the rehearsal builds without it as the image will.
for pkg in hdf5-helpers pkgconf pkgconf-bin pkg-config libopenblas0 libopenblas-dev libopenmpi-dev openmpi-bin mpi-default-dev mpi-default-bin; do
  while IFS= read -r f; do hide "$f"; done < <(dpkg-query -L "$pkg" 2>/dev/null)
done
for f in /etc/alternatives/*openblas* /etc/alternatives/*blas* /etc/alternatives/*lapack*; do hide "$f"; done
echo "gpu-rehearse: $hidden host files hidden; fake wheels in $site"
# Spot checks that the hiding works (the build would silently use these otherwise).
for f in /usr/include/sndfile.h /usr/include/nlohmann/json.hpp /usr/include/hdf5/serial/hdf5.h \
         /usr/include/gtest/gtest.h "$cuda/include/cudnn.h" "$cuda/lib/libcudnn.so.9"; do
  [ -s "$f" ] && { echo "gpu-rehearse: $f is still visible" >&2; exit 1; }
done
command -v pkg-config >/dev/null && [ -s "$(command -v pkg-config)" ] && { echo "gpu-rehearse: pkg-config still visible" >&2; exit 1; }
cd "$root" && scripts/gpu-check.sh "$out"
INNER
