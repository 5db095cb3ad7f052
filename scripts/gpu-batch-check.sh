#!/usr/bin/env bash
# One short GPU call for a change to the decode kernels, most important first (a call cut
# short keeps what it printed, also in $OUT/report.txt): builds the runtime and GPU tests
# (runtime-only); runs the kernel tests of $1 (default '*Linear*:GpuBatch.*'); times the
# 4-layer V4-Flash model (.deps/bench/flash4.official.cuda.bkart) at batch 32 and context
# 4,096, then $BASELINE's artifacts the same way; runs every model test (goldens, batch
# invariance, the official band); times batch 1, batch 32 per kernel and launch, batch 64,
# the baselines at batch 1; then Nsight Compute on the kernels of $NCU_RUNS.
#   scripts/gpu-batch-check.sh [kernel-test filter]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" batch-check
exec > >(tee "$out/report.txt") 2>&1
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "artifacts of commit $(cat .deps/commit 2>/dev/null)"
build_gpu_tests 16
run_gtests gpu_kernel_tests "${1:-*Linear*:GpuBatch.*}" kernel.log
"$build/gpu-ceilings" 2>&1 | grep -E '^(read|copy)' || echo "gpu-ceilings FAILED"
flash=.deps/bench/flash4.official.cuda.bkart
bench() { # artifact, label, args...
  local a=$1 label=$2; shift 2
  echo "## $label: birkhoff bench $a $* ($(elapsed))"
  "$build/bin/birkhoff" bench "$a" "$@" --device cuda 2>&1 |
    grep -vE '^(device|weights|batch|launches) ' || status=1
}
# The batch-32 step, then $BASELINE's artifacts (e.g. the same model compiled by an earlier
# commit) at batch 32 in the same run.
bench "$flash" "batch 32" --batch 32 --contexts 4096 --decode 8
for base in ${BASELINE:-}; do
  bench "$base" "baseline, batch 32" --batch 32 --contexts 4096 --decode 8
done
run_gtests gpu_model_tests '*' model.log
bench "$flash" "batch 1" --batch 1 --contexts 4096 --decode 32
bench "$flash" "batch 32 profile" --batch 32 --contexts 4096 --decode 2 --profile
bench "$flash" "batch 64" --batch 64 --contexts 4096 --decode 8
for base in ${BASELINE:-}; do
  bench "$base" "baseline, batch 1" --batch 1 --contexts 4096 --decode 32
done
# Nsight Compute, for each "BATCH:REGEX" of $NCU_RUNS (REGEX: cubin entry names, e.g.
# '32:bk_moe_3940f79ac291f36e'), on $NCU_COUNT (default 4) launches of those kernels in decode
# steps of BATCH sequences at context 64: speed of light, occupancy, the warps' stall reasons.
for run in ${NCU_RUNS:-}; do
  nb=${run%%:*} re=${run#*:}
  echo "## ncu $re, batch $nb ($(elapsed))"
  /usr/local/cuda/bin/ncu -k "regex:$re" --launch-count "${NCU_COUNT:-4}" \
    --section SpeedOfLight --section Occupancy --section LaunchStats \
    --section WarpStateStats --section MemoryWorkloadAnalysis \
    "$build/bin/birkhoff" bench "$flash" --device cuda --batch "$nb" --contexts 64 \
    --decode 2 --profile > "$out/ncu-$nb.txt" 2>&1 || echo "ncu FAILED"
  grep -E '^  bk_|Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit (Reg|Shared)|Stall|Warp Cycles Per Issued|Grid Size|L2 Hit|Compute \(SM\) Th' \
    "$out/ncu-$nb.txt" | head -120
done
echo "## gpu-batch-check ($(elapsed)): $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
