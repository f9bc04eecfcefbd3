#!/usr/bin/env bash
# setup.sh — install cardiotwin's build dependencies (Debian 12 packages) and build it into build/.
# Safe to re-run: apt-get skips what is installed, CMake rebuilds only what changed.
#
#   bash tools/setup.sh                 the packages to build, run and test cardiotwin
#   bash tools/setup.sh --sanitize      also clang and its runtimes, for tools/sanitize.sh (ASan/UBSan
#                                       tests and the libFuzzer targets); CI (.ci/run) uses this
set -euo pipefail
cd "$(dirname "$0")/.."

with_sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) with_sanitize=1 ;;
    *) echo "usage: bash tools/setup.sh [--sanitize]" >&2; exit 2 ;;
  esac
done

packages=(cmake make gcc g++ pkg-config libvtk9-dev libcjson-dev libcriterion-dev
          ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd libgmsh-dev zlib1g-dev
          openmpi-bin libopenmpi-dev libmetis-dev
          python3 python3-numpy python3-matplotlib fonts-dejavu-core
          chromium)  # chromium: only the report test opens report.html in it
# tools/sanitize.sh: clang builds the libFuzzer targets (libFuzzer and clang's ASan/UBSan runtimes are in
# libclang-rt-14-dev, its OpenMP in libomp-14-dev); the ASan/UBSan test build uses gcc, installed above.
sanitize_packages=(clang libclang-rt-14-dev libomp-14-dev)
[ $with_sanitize -eq 0 ] || packages+=("${sanitize_packages[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo "setup: built build/cardiotwin"
