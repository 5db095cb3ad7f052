#!/usr/bin/env bash
# Runs the whole-model GPU tests (golden cases on the CUDA backend) under compute-sanitizer:
# memcheck on every case, racecheck and synccheck on the smallest; racecheck on the kernel
# tests of the cross-block kernels (tensor-core linear, grouped moe). Needs the carried .deps/
# (scripts/prepare-gpu-carry.sh). Writes $OUT/sanitizer-*.log and prints a summary.
#   scripts/gpu-sanitize.sh [all|kernels|models]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/gpu-unpack-carry.sh" || { echo "cannot unpack .deps/packed.tar.xz"; exit 1; }
out="${OUT:-$root/build-gpu/report}"
build="${BIRKHOFF_GPU_BUILD:-$root/build-gpu}"
mkdir -p "$out"
export CUDA_CACHE_DISABLE=1
for d in /usr/local/cuda/lib64; do [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
[ -x "$sanitizer" ] || { echo "compute-sanitizer not found"; exit 1; }
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON > "$out/configure.log" 2>&1 &&
  cmake --build "$build" -j "$(nproc)" --target gpu_model_tests gpu_kernel_tests > "$out/build.log" 2>&1 ||
  { echo "build failed"; tail -20 "$out/build.log"; exit 1; }
status=0
run() { # tool tests filter
  local log="$out/sanitizer-$1-$2.log"
  "$sanitizer" --tool "$1" --error-exitcode 99 "$build/tests/$2" --gtest_filter="$3" > "$log" 2>&1
  local rc=$?
  echo "$1 $2 ($3): exit $rc, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1)"
  [ $rc = 0 ] || status=1
}
what="${1:-all}"
if [ "$what" = all ] || [ "$what" = kernels ]; then
  run racecheck gpu_kernel_tests '*TensorCore*:*Moe*'
  run synccheck gpu_kernel_tests '*TensorCore*:*Moe*'
fi
if [ "$what" = all ] || [ "$what" = models ]; then
  run memcheck gpu_model_tests '*GpuGolden*:*GpuOfficialGolden*:*MiniModel*:*DecodeGraphs*:*StatePages*'
  run racecheck gpu_model_tests '*GpuGolden*tiny_dq2*'
  run synccheck gpu_model_tests '*GpuGolden*tiny_dq2*'
fi
exit $status
