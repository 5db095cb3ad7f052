#!/usr/bin/env bash
# The shortest GPU-machine check of a kernel change, for when device time is short: builds the
# GPU tests and `birkhoff` runtime-only (as scripts/gpu-check.sh), runs the GPU kernel and model
# tests matching the given gtest filters, then times decode steps at context 4,096 of every
# carried bench artifact (.deps/bench/*.bkart, scripts/prepare-gpu-carry.sh; add a baseline
# with BIRKHOFF_BENCH_EXTRA). Prints a short report; logs go to $OUT.
#   scripts/gpu-quick.sh [kernel-test filter [model-test filter]]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" quick
kernels="${1:-*}" models="${2:-*GpuOfficialGolden*}"
status=0
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON \
  > "$out/configure.log" 2>&1 || { echo "configure FAILED"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target gpu_kernel_tests gpu_model_tests birkhoff \
  > "$out/build.log" 2>&1 || { echo "build FAILED"; grep -E "error" "$out/build.log" | head -20; exit 1; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "## gpu_kernel_tests --gtest_filter=$kernels"
"$build/tests/gpu_kernel_tests" --gtest_filter="$kernels" > "$out/kernel.log" 2>&1 || status=1
grep -E '^\[  (PASSED|FAILED) |agreement' "$out/kernel.log" | sort | uniq -c | head -40
grep -E 'Failure' -A4 "$out/kernel.log" | head -20
echo "## gpu_model_tests --gtest_filter=$models"
"$build/tests/gpu_model_tests" --gtest_filter="$models" > "$out/model.log" 2>&1 || status=1
grep -E '^\[  (PASSED|FAILED) |gpu-official|gpu-model\]' "$out/model.log" | head -20
grep -E 'Failure' -A4 "$out/model.log" | head -20
for a in .deps/bench/*.bkart; do
  [ -f "$a" ] || continue
  echo "## birkhoff bench $(basename "$a") --prompt 64 --contexts 4096 --decode 64"
  "$build/bin/birkhoff" bench "$a" --device cuda --prompt 64 --contexts 4096 --decode 64 2>&1 |
    grep -E '^(decode|  *reads)' || status=1
done
echo "## gpu-quick: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
