#!/usr/bin/env bash
# Installs Birkhoff's build dependencies from Debian's packages (Debian 12). Idempotent: it asks
# apt only for what is missing. `--fuzz` adds clang and libFuzzer for scripts/fuzz.sh.
set -euo pipefail

packages=(
  cmake ninja-build ccache g++ pkg-config python3
  llvm-22-dev libmlir-22-dev mlir-22-tools
  flatbuffers-compiler libflatbuffers-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libpcre2-dev libcpp-httplib-dev libcli11-dev
)
if [ "${1:-}" = "--fuzz" ]; then
  # The clang of the LLVM the compiler side uses; libclang-rt has libFuzzer and the sanitizers.
  packages+=(clang-22 libclang-rt-22-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
