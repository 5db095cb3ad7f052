#!/usr/bin/env bash
# Runs the whole-model GPU tests (golden cases on the CUDA backend) under compute-sanitizer:
# memcheck on every case, synccheck on tiny_dq2 official, racecheck over a short run of
# every case (mode race-whole: the official cases whole); then kernel tests (below); each
# run under a time limit (seconds) of its own. Needs the carried .deps/
# (scripts/prepare-gpu-carry.sh). Writes $OUT/sanitizer-*.log and prints a summary.
# Mode runs takes its runs from BIRKHOFF_SANITIZE_RUNS, ';'-separated "seconds tool binary
# filter [sanitizer options]" entries, e.g. "60 racecheck gpu_kernel_tests *Mhc*;60 memcheck
# gpu_kernel_tests *Mhc*".
#   scripts/gpu-sanitize.sh [all|kernels|models|race|race-whole|runs]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" report
export CUDA_CACHE_DISABLE=1
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
[ -x "$sanitizer" ] || { echo "compute-sanitizer not found"; exit 1; }
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON > "$out/configure.log" 2>&1 &&
  cmake --build "$build" -j "$(nproc)" --target gpu_model_tests gpu_kernel_tests > "$out/build.log" 2>&1 ||
  { echo "build failed"; tail -20 "$out/build.log"; exit 1; }
status=0
run() { # seconds tool tests filter [more sanitizer options]
  local secs="$1" tool="$2" tests="$3" filter="$4"
  shift 4
  local log="$out/sanitizer-$tool-$tests-$(printf %s "$filter $*" | tr -c 'A-Za-z0-9_' _ | cut -c1-80).log"
  local start=$SECONDS
  timeout "$secs" "$sanitizer" --tool "$tool" --error-exitcode 99 "$@" "$build/tests/$tests" --gtest_filter="$filter" > "$log" 2>&1
  local rc=$?
  # The time says whether a kernel filter matched anything: instrumented launches are slow.
  echo "$tool $tests ($filter${*:+ $*}): exit $rc$([ $rc = 124 ] && echo ' (time limit)') after $((SECONDS - start)) s, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|SYNCCHECK SUMMARY' "$log" | tail -1), $(grep -cE '^\[       OK \]' "$log") tests passed"
  [ $rc = 0 ] || status=1
}
what="${1:-all}"
# The whole-model runs first: every golden case in both profiles (the official
# ones run the tensor-core linears and the grouped moe of their prefill entries).
if [ "$what" = all ] || [ "$what" = models ]; then
  run 240 memcheck gpu_model_tests '*GpuGolden*:*GpuOfficialGolden*:*MiniModel*:*DecodeGraphs*:*StatePages*'
  run 60 synccheck gpu_model_tests '*GpuOfficialGolden*tiny_dq2*'
fi
# racecheck walks every shared-memory access and slows a launch 10^4-10^5 times (H200:
# 13 s for a decode step of tiny_dq): a whole golden case takes longer than a GPU command
# may run. So it goes through a short run of every golden case in both profiles (every
# kernel the case uses, prefill and decode, compression closing at every rate;
# BIRKHOFF_RACECHECK_CASES picks cases, BIRKHOFF_SHORT_RUN_TOKENS shortens the run,
# BIRKHOFF_SHORT_RUN_ROUNDS=1 runs it once instead of twice); mode race-whole tries the
# official golden runs whole.
if [ "$what" = all ] || [ "$what" = models ] || [ "$what" = race ]; then
  for c in ${BIRKHOFF_RACECHECK_CASES:-tiny_mix tiny_rates tiny_quant tiny_dq tiny_dq2 tiny_dq_official tiny_dq2_official}; do
    run "${BIRKHOFF_RACECHECK_S:-90}" racecheck gpu_model_tests "*GpuShortRun*/$c"
  done
fi
if [ "$what" = race-whole ]; then
  for c in tiny_dq tiny_dq2; do
    run "${BIRKHOFF_RACECHECK_S:-90}" racecheck gpu_model_tests "*GpuOfficialGolden*/$c"
  done
fi
# The kernel tests of the cross-block kernels: racecheck on the tensor-core linear and
# the smallest tensor-core moe case; memcheck on every grouped moe path (GEMV tiles, split
# experts, tensor-core tiles).
if [ "$what" = all ] || [ "$what" = kernels ] || [ "$what" = race ]; then
  run 90 racecheck gpu_kernel_tests '*MoeOnTensorCores*dim256*'
fi
if [ "$what" = all ] || [ "$what" = kernels ]; then
  run 60 racecheck gpu_kernel_tests '*Mhc*'
  run 120 racecheck gpu_kernel_tests '*TensorCoreLinear*'
  run 150 memcheck gpu_kernel_tests 'GpuOfficial.MoeMatchesHost:*MoeOnTensorCores*dim256*'
fi
# (Instrumenting one kernel family of a whole golden run, --kernel-name kns=bk_<kernel>_,
# stopped inside compute-sanitizer on the H200 for every family tried: "failed to handle a
# hardware exception", docs/cuda.md. The short runs above are what racecheck covers.)
if [ "$what" = runs ]; then
  IFS=';' read -ra runs <<< "${BIRKHOFF_SANITIZE_RUNS:-}"
  for r in "${runs[@]}"; do
    read -r secs tool binary filter options <<< "$r"
    # shellcheck disable=SC2086 # the options are words
    run "$secs" "$tool" "$binary" "$filter" $options
  done
fi
exit $status
