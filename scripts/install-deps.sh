#!/usr/bin/env bash
# Installs GenreNet's build and test dependencies from Debian's packages. Idempotent: packages
# already present are not touched, and `apt-get update` runs only when something is missing.
# Usage: scripts/install-deps.sh [--with-browser] [--with-fuzz] [--with-mpi]
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config git
          libopenblas-dev libsndfile1-dev libsamplerate0-dev libkissfft-dev libhdf5-dev
          nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
          libonnx-dev libprotobuf-dev)
for arg in "$@"; do
  case "$arg" in
    --with-browser) packages+=(chromium chromium-driver wrk) ;;
    --with-fuzz) packages+=(clang libclang-rt-dev libomp-dev) ;;  # clang needs libomp for -fopenmp
    --with-mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
