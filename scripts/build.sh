#!/usr/bin/env bash
# Installs what is missing, configures and builds Birkhoff into build/ (tools in build/bin/), or
# into $BIRKHOFF_BUILD_DIR when set (scripts/test.sh --sanitize builds build-sanitize/).
# Extra arguments go to CMake's configure step, e.g. -DBIRKHOFF_RUNTIME_ONLY=ON.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ "${BIRKHOFF_SKIP_DEPS:-0}" != "1" ]; then
  scripts/install-deps.sh
fi
jobs="${BIRKHOFF_JOBS:-$(nproc)}"
build="${BIRKHOFF_BUILD_DIR:-build}"
start=$(date +%s)
mkdir -p "$build"
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" > "$build/configure.log" 2>&1 || {
  cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "$jobs"
echo "build: done in $(( $(date +%s) - start )) s; tools in $root/$build/bin/"
