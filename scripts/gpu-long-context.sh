#!/usr/bin/env bash
# One GPU call for long-context decode and the serve load, most important first (a call cut
# short keeps what it printed): builds the runtime and GPU tests (runtime-only); runs the
# indexer, attention and batch kernel tests ($1, default
# '*Indexer*:*SparseAttention*:GpuBatch.*'); measures the ceilings;
# times batch-1 decode of the 4-layer V4-Flash model (.deps/bench/flash4.official.cuda.bkart,
# and flash4.official.split.cuda.bkart, compiled with --split-decode-attention)
# at contexts 4,096 and 65,536 (CUDA graphs), then profiles the same steps per kernel; runs
# the model tests ($2, default all); scripts/gpu-serve-load.sh for at most
# $SERVE_LOAD_SECONDS (default 120) seconds; compute-sanitizer memcheck on the indexer's and
# attention's batch tests and on tiny_dq's official decode batches.
# PROFILE=0 leaves the profile out, SERVE_LOAD_SECONDS=0 the serve load,
# MEMCHECK=0 the memcheck; BATCHES="32 64" also times decode steps of
# those batches at context 4,096, BATCH_PROFILES="32" profiles those.
#   scripts/gpu-long-context.sh [kernel-test filter [model-test filter]]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" long-context
# Everything also goes to $out/report.txt: the tool returns only an output's tail.
exec > >(tee "$out/report.txt") 2>&1
kernels="${1:-*Indexer*:*SparseAttention*:GpuBatch.*}" models="${2:-*}"
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "artifacts of commit $(cat .deps/commit 2>/dev/null)"
build_gpu_tests 15
run_gtests gpu_kernel_tests "$kernels" kernel.log
wait
echo "## ceilings"
"$build/gpu-ceilings" 2>&1 | grep -E '^(read|copy|fp8)' || echo "gpu-ceilings FAILED"
flash=.deps/bench/flash4.official.cuda.bkart
bench() { # label, args...
  local label=$1; shift
  echo "## $label: birkhoff bench $* ($(elapsed))"
  "$build/bin/birkhoff" bench "$@" --device cuda 2>&1 |
    grep -E '^(decode|  *reads|launches|profile|  *[a-z_]+ +[0-9]+ launches)' || status=1
}
if [ -f "$flash" ]; then
  bench "batch 1, skipped contexts" "$flash" --batch 1 --contexts 4096,65536 --decode 32
  split=.deps/bench/flash4.official.split.cuda.bkart
  [ -f "$split" ] && bench "batch 1, split decode attention" "$split" --batch 1 \
    --contexts 4096,65536 --decode 32
  [ "${PROFILE:-1}" = 0 ] ||
    bench "batch 1 profile" "$flash" --batch 1 --contexts 4096,65536 --decode 4 --profile
  for b in ${BATCHES:-}; do
    bench "batch $b" "$flash" --batch "$b" --contexts 4096 --decode 16
  done
  for b in ${BATCH_PROFILES:-}; do
    bench "batch $b profile" "$flash" --batch "$b" --contexts 4096 --decode 2 --profile
  done
fi
run_gtests gpu_model_tests "$models" model.log
if [ "${SERVE_LOAD_SECONDS:-120}" != 0 ]; then
  echo "## serve load ($(elapsed))"
  timeout "${SERVE_LOAD_SECONDS:-120}" scripts/gpu-serve-load.sh 2000 64
  rc=$?
  # Cut by the timeout (124): the rate so far is the measure, not a failure.
  [ $rc = 124 ] && echo "## serve load cut at ${SERVE_LOAD_SECONDS:-120} s"
  [ $rc = 0 ] || [ $rc = 124 ] || status=1
fi
# compute-sanitizer memcheck on the indexer's and attention's kernels over batches.
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$sanitizer" ] && [ "${MEMCHECK:-1}" != 0 ]; then
  timeout 90 "$sanitizer" --tool memcheck --error-exitcode 9 \
    "$build/tests/gpu_kernel_tests" --gtest_filter='GpuBatch.IndexerTopk:GpuBatch.SparseAttention' \
    > "$out/memcheck.log" 2>&1
  rc=$?
  echo "## memcheck GpuBatch.IndexerTopk, GpuBatch.SparseAttention ($(elapsed)): exit $rc, $(grep -E 'ERROR SUMMARY' "$out/memcheck.log" | tail -1)"
  [ $rc = 0 ] || status=1
  # Whole decode batches through the batch entry (its kernels share scratch with
  # the one-token entry's).
  batchTest='*GpuEngine.DecodeIsBatchInvariantAndMatchesTheHost/tiny_dq_official'
  timeout 150 "$sanitizer" --tool memcheck --error-exitcode 9 \
    "$build/tests/gpu_model_tests" --gtest_filter="$batchTest" \
    > "$out/memcheck-model.log" 2>&1
  rc=$?
  echo "## memcheck $batchTest ($(elapsed)): exit $rc, $(grep -E 'ERROR SUMMARY' "$out/memcheck-model.log" | tail -1)"
  [ $rc = 0 ] || status=1
fi
echo "## gpu-long-context ($(elapsed)): $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
