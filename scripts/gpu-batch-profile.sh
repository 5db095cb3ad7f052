#!/usr/bin/env bash
# Where a batched decode step's time goes: builds `birkhoff` runtime-only, measures the
# ceilings, then for each artifact of $ARTIFACTS (default the 4-layer V4-Flash model,
# .deps/bench/flash4.official.cuda.bkart; e.g. the same model compiled with other schedules,
# carried by BIRKHOFF_BENCH_EXTRA) and each batch size given (default 1 32 64) profiles
# decode steps at the contexts of $CONTEXTS (default 4096): per catalogue kernel and the
# slowest launches (`bench --profile`), then times $DECODE (default 16) steps unprofiled.
#   [ARTIFACTS="a.bkart b.bkart"] [CONTEXTS=4096,65536] scripts/gpu-batch-profile.sh [batch sizes...]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" batch-profile
# Everything also goes to $out/report.txt: the tool returns only an output's tail.
exec > >(tee "$out/report.txt") 2>&1
nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o "$build/gpu-ceilings" \
  tools/gpu-ceilings/Ceilings.cu -lcublasLt > "$out/ceilings-build.log" 2>&1 &
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON \
  > "$out/configure.log" 2>&1 &&
  cmake --build "$build" -j 16 --target birkhoff > "$out/build.log" 2>&1 ||
  { echo "build FAILED"; grep error "$out/build.log" | head; exit 1; }
wait
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "artifacts of commit $(cat .deps/commit 2>/dev/null)"
"$build/gpu-ceilings" 2>&1 | grep -E '^(read|copy)' || echo "gpu-ceilings FAILED"
status=0
for a in ${ARTIFACTS:-.deps/bench/flash4.official.cuda.bkart}; do
  for b in ${@:-1 32 64}; do
    echo "## $(basename "$a") batch $b ($(elapsed))"
    "$build/bin/birkhoff" bench "$a" --device cuda --batch "$b" --contexts "${CONTEXTS:-4096}" \
      --decode 2 --profile 2>&1 | grep -vE '^(device|weights|batch|launches) ' || status=1
    "$build/bin/birkhoff" bench "$a" --device cuda --batch "$b" --contexts "${CONTEXTS:-4096}" \
      --decode "${DECODE:-16}" 2>&1 | grep -E '^decode|reads' || status=1
  done
done
echo "## gpu-batch-profile ($(elapsed)): $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
