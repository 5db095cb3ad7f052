#!/usr/bin/env bash
# Builds the runtime, the CUDA code generator and the GPU tests on the GPU machine
# (Ubuntu 24.04, g++ 13, CMake, Ninja, GoogleTest, CUDA 13 with NVRTC; no LLVM/MLIR,
# no flatbuffers: run scripts/prepare-gpu-carry.sh first and carry .deps/), runs the
# `gpu`-labelled tests (generated kernels vs host kernels; whole artifacts carried in
# .deps/artifacts on the CUDA backend vs the goldens and the host backend) and the CUDA
# codegen unit tests, and writes a report under $OUT (default: build-gpu/report).
#   scripts/gpu-check.sh [extra ctest args]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" report
report="$out/gpu-report.txt"
{
  echo "# Birkhoff GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), artifacts of commit $(cat .deps/commit 2>/dev/null || echo '?')"
  echo "## machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 || echo "nvidia-smi failed"
  (ldconfig -p | grep -E 'libcuda\.so\.1|libnvrtc\.so') 2>&1
  g++ --version | head -1; cmake --version | head -1
} > "$report"
[ -f .deps/generated/artifact_generated.h ] || {
  echo "missing .deps/generated/artifact_generated.h: run scripts/prepare-gpu-carry.sh and carry .deps" | tee -a "$report"
  exit 1; }
start=$(date +%s)
if ! cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON \
     > "$out/configure.log" 2>&1; then
  echo "## configure FAILED (configure.log)" >> "$report"; tail -30 "$out/configure.log" >> "$report"; exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" --target gpu_kernel_tests gpu_model_tests cuda_codegen_tests birkhoff-kernelgen birkhoff \
     > "$out/build.log" 2>&1; then
  echo "## build FAILED (build.log)" >> "$report"; grep -E "error|FAILED" "$out/build.log" | head -40 >> "$report"; exit 1
fi
echo "## build: $(( $(date +%s) - start )) s" >> "$report"
status=0
"$build/tests/gpu_kernel_tests" --gtest_output=xml:"$out/gpu_kernel_tests.xml" > "$out/gpu_kernel_tests.log" 2>&1 || status=1
"$build/tests/gpu_model_tests" --gtest_output=xml:"$out/gpu_model_tests.xml" > "$out/gpu_model_tests.log" 2>&1 || status=1
# BIRKHOFF_GPU_SKIP="codegen ctest" leaves out the NVRTC compile tests (the compile machine
# runs them too) and ctest's second run of the gpu-labelled tests, when device time is short.
skip="${BIRKHOFF_GPU_SKIP:-}"
case " $skip " in *" codegen "*) echo "skipped" > "$out/cuda_codegen_tests.log" ;;
  *) "$build/tests/cuda_codegen_tests" --gtest_output=xml:"$out/cuda_codegen_tests.xml" > "$out/cuda_codegen_tests.log" 2>&1 || status=1 ;;
esac
case " $skip " in *" ctest "*) echo "skipped" > "$out/ctest-gpu.log" ;;
  *) (cd "$build" && ctest -L gpu --output-on-failure "$@") > "$out/ctest-gpu.log" 2>&1 || status=1 ;;
esac
# The CLI on the GPU: run and bench of every carried cuda artifact.
for a in .deps/artifacts/*.cuda.bkart; do
  [ -f "$a" ] || continue
  {
    echo "## birkhoff run/bench --device cuda $(basename "$a")"
    "$build/bin/birkhoff" run "$a" --device cuda --tokens 1,2,3,4,5 --generate 8 --no-eos-stop 2>&1 || echo "run FAILED"
    "$build/bin/birkhoff" bench "$a" --device cuda --prompt 16 --decode 32 2>&1 || echo "bench FAILED"
  } >> "$out/cli.log"
done
grep -q FAILED "$out/cli.log" 2>/dev/null && status=1
{
  echo "## gpu_kernel_tests"; grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) *\]|Failure|gpu |SKIP' "$out/gpu_kernel_tests.log" | head -80
  echo "## per-op agreement (GPU kernel vs host kernel, identical inputs)"
  grep -h '^\[gpu\] ' "$out/gpu_kernel_tests.log" | sort | uniq -c | sort -k2 | head -400
  echo "## gpu_model_tests (carried: $(ls .deps/artifacts 2>/dev/null | tr '\n' ' '))"
  grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) *\]|Failure|gpu-model|Skipped|SKIP' "$out/gpu_model_tests.log" | head -80
  echo "## cuda_codegen_tests (resources at sm_90a)"; grep -E 'resources|PASSED|FAILED' "$out/cuda_codegen_tests.log"
  echo "## ctest -L gpu"; tail -5 "$out/ctest-gpu.log"
  [ -f "$out/cli.log" ] && cat "$out/cli.log"
  skipped=$(cat "$out/gpu_kernel_tests.log" "$out/gpu_model_tests.log" | grep -c "^\[  SKIPPED \]" || true)
  echo "## result: $([ $status = 0 ] && echo PASS || echo FAIL) (gpu tests skipped: ${skipped:-0})"
} >> "$report"
cat "$report"
exit $status
