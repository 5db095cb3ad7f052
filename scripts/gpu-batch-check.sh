#!/usr/bin/env bash
# One short GPU call for a change to the decode kernels, most important first (a call cut
# short keeps what it printed, also in $OUT/report.txt): builds the runtime and GPU tests
# (runtime-only); runs the kernel tests of $1 (default '*Linear*:GpuBatch.*') and every model
# test (goldens, batch invariance, the official band); then times the 4-layer V4-Flash model
# (.deps/bench/flash4.official.cuda.bkart) at batch 1 and, per kernel and launch, at batch 32,
# then batches 32 and 64 unprofiled, at context 4,096.
#   scripts/gpu-batch-check.sh [kernel-test filter]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" batch-check
exec > >(tee "$out/report.txt") 2>&1
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "artifacts of commit $(cat .deps/commit 2>/dev/null)"
build_gpu_tests 16
run_gtests gpu_kernel_tests "${1:-*Linear*:GpuBatch.*}" kernel.log
run_gtests gpu_model_tests '*' model.log
wait
"$build/gpu-ceilings" 2>&1 | grep -E '^(read|copy)' || echo "gpu-ceilings FAILED"
flash=.deps/bench/flash4.official.cuda.bkart
bench() { # label, args...
  local label=$1; shift
  echo "## $label: birkhoff bench $* ($(elapsed))"
  "$build/bin/birkhoff" bench "$flash" "$@" --device cuda 2>&1 |
    grep -vE '^(device|weights|batch|launches) ' || status=1
}
bench "batch 1" --batch 1 --contexts 4096 --decode 32
bench "batch 32 profile" --batch 32 --contexts 4096 --decode 2 --profile
bench "batch 32" --batch 32 --contexts 4096 --decode 8
bench "batch 64" --batch 64 --contexts 4096 --decode 8
echo "## gpu-batch-check ($(elapsed)): $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
