#!/usr/bin/env bash
# The first performance picture on the GPU machine: device ceilings and
# `birkhoff bench` of a 4-layer V4-Flash-shaped model in the same run.
#   1. builds the runtime side (-DBIRKHOFF_RUNTIME_ONLY=ON, as scripts/gpu-check.sh)
#      and tools/gpu-ceilings/Ceilings.cu with nvcc (cuBLASLt);
#   2. measures copy and read bandwidth and the cuBLASLt FP8 GEMM rate;
#   3. runs `birkhoff bench --device cuda` on .deps/bench/*.bkart (compiled on the
#      compile machine by scripts/prepare-gpu-carry.sh with --synth-preset flash
#      --layers 4: the weights are generated at load time, nothing is carried):
#      prefill of 8192 tokens, decode at context 4096 and 65536, with CUDA graphs
#      and without, and once more with --profile (time per kernel);
#   4. prints the numbers and writes them under $OUT (default build-gpu/bench).
#   scripts/gpu-bench.sh [bench args...]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" bench
report="$out/bench-report.txt"
export PATH="/usr/local/cuda/bin:$PATH"
{
  echo "# Birkhoff GPU bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), artifacts of commit $(cat .deps/commit 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
} > "$report"
start=$(date +%s)
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON \
  > "$out/configure.log" 2>&1 || { echo "configure FAILED" | tee -a "$report"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target birkhoff > "$out/build.log" 2>&1 ||
  { echo "build FAILED"; grep -E "error" "$out/build.log" | head -20; } >> "$report"
nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o "$build/gpu-ceilings" \
  tools/gpu-ceilings/Ceilings.cu -lcublasLt > "$out/ceilings-build.log" 2>&1 ||
  { echo "gpu-ceilings build FAILED"; cat "$out/ceilings-build.log"; } >> "$report"
echo "## build: $(( $(date +%s) - start )) s" >> "$report"

echo "## ceilings" >> "$report"
"$build/gpu-ceilings" >> "$report" 2>&1 || echo "gpu-ceilings FAILED" >> "$report"

bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(--prompt 8192 --contexts 4096,65536 --decode 64)
# Without graphs only the decode steps differ: timed at 4096 alone. Then the time per
# kernel (launched one by one between events) of the same prefill and decode.
plain_args=(--prompt 512 --contexts 4096 --decode 64 --no-cuda-graphs)
profile_args=(--prompt 2048 --contexts 4096 --decode 16 --profile)
for a in .deps/bench/*.bkart; do
  [ -f "$a" ] || { echo "no artifact in .deps/bench: run scripts/prepare-gpu-carry.sh" >> "$report"; break; }
  for args in "${bench_args[*]}" "${plain_args[*]}" "${profile_args[*]}"; do
    echo "## birkhoff bench $(basename "$a") --device cuda $args" >> "$report"
    # shellcheck disable=SC2086 # the words of $args are the options
    "$build/bin/birkhoff" bench "$a" --device cuda $args >> "$report" 2>&1 ||
      echo "bench FAILED" >> "$report"
  done
done
cat "$report"
