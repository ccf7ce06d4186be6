#!/usr/bin/env bash
# Prepares .gpu-kit/: everything a bare CUDA machine lacks to build, test and benchmark GenreNet
# with scripts/gpu-check.sh, for machines that hold the CUDA toolkit, CMake, ninja and a C++
# compiler but no Debian -dev packages and no network (cuDNN / cuBLAS / cuFFT / NCCL may come as
# NVIDIA's Python wheels there; gpu-check.sh finds them).
#
#   .gpu-kit/deps.tar.xz   the Debian packages of scripts/install-deps.sh (headers, .so, .pc,
#                          CMake configs) plus every shared library they load that is not part of
#                          glibc or GCC's runtime, unpacked, made relocatable (relative symlinks,
#                          .pc files relative to ${pcfiledir}) and packed: unpacks to usr/
#   .gpu-kit/seed/         the reference Keras model and the real songs (from ../shared/seed), so
#                          that `predict --device cuda` vs `--device cpu` runs there
#   .gpu-kit/MANIFEST      package=version of everything in deps.tar.xz
#
# Run on Debian 12 (the build machine) after scripts/install-deps.sh; needs apt-get and
# dpkg-deb, no root. The libraries target glibc 2.36, so they load on any newer glibc
# (Ubuntu 24.04's 2.39 included). Prints the kit's size; fails if it reaches 60 MiB.
# Usage: scripts/gpu-kit.sh [--shared DIR]   (DIR defaults to ../shared beside the repository)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kit=$root/.gpu-kit
shared=$root/../shared
while [ $# -gt 0 ]; do
  case "$1" in
    --shared) shared=$2; shift 2 ;;
    *) echo "gpu-kit.sh: unknown option '$1' (usage: scripts/gpu-kit.sh [--shared DIR])" >&2; exit 2 ;;
  esac
done
limit_mib=60
arch=x86_64-linux-gnu

# The -dev packages the build needs (scripts/install-deps.sh's libraries) and the tool that reads
# their .pc files. Runtime packages are found below from what the libraries really load.
dev_packages=(libopenblas-pthread-dev libsndfile1-dev libsamplerate0-dev libkissfft-dev libhdf5-dev
              nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
              libonnx-dev libprotobuf-dev pkgconf-bin libpkgconf3 libopenblas0-pthread)
# Never carried: the C library and GCC's runtime come with the target's compiler.
system_packages=" libc6 libstdc++6 libgcc-s1 libgomp1 "

for tool in apt-get dpkg-deb dpkg-query tar xz; do
  command -v $tool >/dev/null || { echo "gpu-kit.sh: '$tool' not found (run on Debian)" >&2; exit 1; }
done
for p in "${dev_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { echo "gpu-kit.sh: package $p is not installed here: run scripts/install-deps.sh first" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-kit.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/stage  # becomes the kit's usr/ tree
mkdir -p "$stage" "$work/debs"

declare -A carried=()
fetch_and_unpack() {  # PACKAGE...: download the installed version of each, unpack into $stage
  local p v specs=()
  for p in "$@"; do
    [ -n "${carried[$p]:-}" ] && continue
    v=$(dpkg-query -W -f='${Version}' "$p")
    specs+=("$p=$v")
    carried[$p]=$v
  done
  [ ${#specs[@]} -eq 0 ] && return 0
  # As root apt's download sandbox user cannot write into a private temporary folder.
  if ! (cd "$work/debs" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "${specs[@]}" 2>/dev/null); then
    # apt's lists lack some installed version (a security update, lists not refreshed): fetch
    # one by one, and take what still cannot be fetched from the installed files themselves.
    for spec in "${specs[@]}"; do
      (cd "$work/debs" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "$spec" 2>/dev/null) ||
        copy_installed "${spec%%=*}"
    done
  fi
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$stage" && rm "$deb"; done
}

copy_installed() {  # PACKAGE: its installed files (same version as its headers here) into $stage
  echo "gpu-kit: $1: version not downloadable, copying the installed files"
  dpkg-query -L "$1" | while IFS= read -r f; do
    case "$f" in */lib/*) ;; *) continue ;; esac  # a runtime package: only its libraries matter
    f=$(readlink -f "$(dirname "$f")")/$(basename "$f")  # through usr-merge's /lib -> usr/lib
    if [ -f "$f" ] || [ -L "$f" ]; then cp -a --parents "$f" "$stage" 2>/dev/null || true; fi
  done
}

package_of() {  # LIBRARY_PATH -> the installed package that owns it (usr-merged paths too)
  local f=$1 real
  real=$(readlink -f "$f")
  for cand in "$f" "$real" "/usr${f}" "/usr${real}" "${f#/usr}" "${real#/usr}"; do
    dpkg-query -S "$cand" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 0
}

echo "gpu-kit: unpacking ${#dev_packages[@]} packages"
fetch_and_unpack "${dev_packages[@]}"
prune() {  # what the build never uses: HDF5's C++/Fortran bindings, the large static archives
  find "$stage" \( -name 'libhdf5*.a' -o -name 'libopenblas*.a' -o -name 'libblas*' -o -name 'liblapack*' \
                   -o -name '*.mod' -o -name 'libhdf5*fortran*' -o -name 'libhdf5*cpp*' \) -delete
}
prune

# Runtime closure: whatever a carried library loads from outside the kit is carried too, until
# nothing outside remains but glibc and GCC's runtime.
libpath="$stage/usr/lib/$arch:$stage/usr/lib/$arch/openblas-pthread:$stage/usr/lib/$arch/hdf5/serial:$stage/lib/$arch"
for round in 1 2 3 4 5 6; do
  wanted=()
  while read -r dep; do
    p=$(package_of "$dep")
    [ -z "$p" ] && { echo "gpu-kit.sh: no package owns $dep" >&2; exit 1; }
    case "$system_packages" in *" ${p%%:*} "*) continue ;; esac
    [ -z "${carried[${p%%:*}]:-}" ] && wanted+=("${p%%:*}")
  done < <(find "$stage" -name '*.so*' -type f -print0 |
           xargs -0 env LD_LIBRARY_PATH="$libpath" ldd 2>/dev/null |
           awk '$2 == "=>" && $3 ~ /^\// {print $3}' | grep -v "^$stage" | sort -u)
  # A -dev package's libfoo.so points at the runtime package's libfoo.so.N: dangling until carried.
  while IFS= read -r -d '' link; do
    host=/${link#"$stage"/}
    p=$(package_of "$(dirname "$host")/$(readlink "$link")")
    [ -n "$p" ] && [ -z "${carried[${p%%:*}]:-}" ] && wanted+=("${p%%:*}")
  done < <(find "$stage" -xtype l -name '*.so*' -print0)
  [ ${#wanted[@]} -eq 0 ] && break
  mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | sort -u)
  echo "gpu-kit: round $round carries ${wanted[*]}"
  fetch_and_unpack "${wanted[@]}"
done

# Debian's usr-merge: a few runtime packages still ship under /lib; fold them into usr/lib.
if [ -d "$stage/lib" ]; then
  cp -a "$stage/lib/." "$stage/usr/lib/" && rm -rf "$stage/lib"
fi
rm -rf "$stage/etc" "$stage/bin" "$stage/sbin" "$stage/var" "$stage/usr/src" "$stage/usr/share/doc" \
       "$stage/usr/share/man" "$stage/usr/share/lintian" "$stage/usr/share/bug" "$stage/usr/lib/$arch/sndfile"
prune  # GoogleTest/Benchmark's static archives stay: their CMake configs name them

# Debian's update-alternatives would make these links at install time.
ob=$stage/usr/lib/$arch/openblas-pthread
ln -sf openblas-pthread/libopenblas.so.0 "$stage/usr/lib/$arch/libopenblas.so.0"
ln -sf openblas-pthread/libopenblas.so "$stage/usr/lib/$arch/libopenblas.so"
mkdir -p "$stage/usr/lib/$arch/pkgconfig"
cp "$ob/pkgconfig/openblas.pc" "$stage/usr/lib/$arch/pkgconfig/openblas.pc"
ln -sf pkgconf "$stage/usr/bin/pkg-config"

# Absolute symlinks point into this machine: make them relative to the link's own folder.
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  case "$target" in
    /*) dir=$(dirname "$link")
        ln -sfn "$(realpath -m --relative-to="$dir" "$stage$target")" "$link" ;;
  esac
done < <(find "$stage" -type l -print0)

# .pc files: every /usr becomes relative to the .pc file's folder; Requires.private goes (the
# libraries are linked dynamically, so their private dependencies' .pc files are never needed).
while IFS= read -r -d '' pc; do
  rel=$(realpath -m --relative-to="$(dirname "$pc")" "$stage")
  sed -i -e "s#/usr/#\${pcfiledir}/$rel/usr/#g" -e "s#=/usr\$#=\${pcfiledir}/$rel/usr#" \
         -e '/^Requires.private:/d' "$pc"
done < <(find "$stage" -name '*.pc' -print0)

# No file of the kit may still name this machine's /usr (a CMake config or .pc that did would
# make the build silently use the host's copy). CMake's generated "/usr move" guards compare
# their own real path with the original one and never match a relocated copy: they may stay.
rm -rf "$ob/cmake" "$stage/usr/lib/$arch/cmake/openblas"  # the build finds OpenBLAS through pkg-config
if grep -rIn --include='*.pc' --include='*.cmake' -E '(^|[=[:space:]"(;]|-I|-L)/usr/(include|lib)' "$stage" |
   grep -v -E '_realOrig|set\((_IMPORT_PREFIX|PACKAGE_PREFIX_DIR) "/usr|^[^:]*:[0-9]+:#' >"$work/abs"; then
  echo "gpu-kit.sh: lines still naming /usr:" >&2; cat "$work/abs" >&2; exit 1
fi

rm -rf "$kit"
mkdir -p "$kit"
for p in "${!carried[@]}"; do echo "$p=${carried[$p]}"; done | sort >"$kit/MANIFEST"
echo "gpu-kit: packing $(du -sh "$stage" | cut -f1) of libraries"
tar -C "$stage" -cf - usr | xz -T0 -6 >"$kit/deps.tar.xz"

if [ -d "$shared/seed/gtzan-sample" ]; then
  mkdir -p "$kit/seed/gtzan-sample"
  cp "$shared"/seed/model.json "$shared"/seed/model_weights.h5 "$kit/seed/"
  cp "$shared"/seed/gtzan-sample/* "$kit/seed/gtzan-sample/"
else
  echo "gpu-kit: $shared/seed/gtzan-sample not found: the kit carries no songs (predict is skipped there)"
fi

size_kib=$(du -sk "$kit" | cut -f1)
echo "gpu-kit: .gpu-kit is $((size_kib / 1024)) MiB ($size_kib KiB; limit $limit_mib MiB): $(wc -l <"$kit/MANIFEST") packages"
if [ "$size_kib" -ge $((limit_mib * 1024)) ]; then
  echo "gpu-kit.sh: the kit exceeds $limit_mib MiB" >&2; exit 1
fi
