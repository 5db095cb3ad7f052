#!/usr/bin/env bash
# One GPU call for the batched engine: builds the runtime and GPU tests (runtime-only), runs
# every GPU kernel and model test, measures the device's ceilings, then times the 4-layer
# V4-Flash model (.deps/bench/flash4.official.cuda.bkart): decode at batch 1 (contexts 4,096
# and 65,536) and at batch 32 and 64 (context 4,096), with a per-kernel profile at batch 1.
# With a baseline carried (BIRKHOFF_BASELINE_REV and BIRKHOFF_BENCH_EXTRA at
# scripts/prepare-gpu-carry.sh), builds that revision's runtime too and times its artifact
# (.deps/bench/*-base*.bkart) the same way at batch 1, on the same machine.
#   scripts/gpu-engine.sh [kernel-test filter [model-test filter]]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" engine
kernels="${1:-*}" models="${2:-*}"
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "artifacts of commit $(cat .deps/commit 2>/dev/null)"
# The baseline builds in the background while this tree builds and tests.
if [ -f .deps/baseline-src.tar.xz ]; then
  base="$(mktemp -d)"
  (tar -C "$base" -xJf .deps/baseline-src.tar.xz && ln -s "$root/.deps" "$base/.deps" &&
   cmake -G Ninja -S "$base" -B "$base/build" -DCMAKE_BUILD_TYPE=Release \
     -DBIRKHOFF_RUNTIME_ONLY=ON > "$out/base-configure.log" 2>&1 &&
   cmake --build "$base/build" -j 4 --target birkhoff > "$out/base-build.log" 2>&1) &
  basePid=$!
fi
build_gpu_tests 14
run_gtests gpu_kernel_tests "$kernels" kernel.log
run_gtests gpu_model_tests "$models" model.log
wait
echo "## ceilings"
"$build/gpu-ceilings" 2>&1 | grep -E '^(read|copy|fp8)' || echo "gpu-ceilings FAILED"
flash=.deps/bench/flash4.official.cuda.bkart
bench() { # label, binary, args...
  local label=$1 bin=$2; shift 2
  echo "## $label: birkhoff bench $*"
  "$bin" bench "$@" --device cuda 2>&1 | grep -E '^(decode|  *reads|launches|profile|  *[a-z_]+ +[0-9]+ launches)' || status=1
}
if [ -f "$flash" ]; then
  bench "batch 1" "$build/bin/birkhoff" "$flash" --prompt 64 --contexts 4096 --decode 64
  bench "batch 1, skipped contexts" "$build/bin/birkhoff" "$flash" --batch 1 --contexts 4096,65536 --decode 32
  bench "batch 32" "$build/bin/birkhoff" "$flash" --batch 32 --contexts 4096 --decode 16
  bench "batch 64" "$build/bin/birkhoff" "$flash" --batch 64 --contexts 4096 --decode 16
  bench "batch 1 profile" "$build/bin/birkhoff" "$flash" --batch 1 --contexts 4096 --decode 8 --profile
fi
# `birkhoff serve --device cuda` on a golden artifact: one chat request and one streamed
# completion over loopback, then SIGTERM (a build without cpp-httplib has no serve).
serveArt=.deps/artifacts/tiny_dq.official.cuda.bkart
if "$build/bin/birkhoff" serve --help > /dev/null 2>&1 && [ -f "$serveArt" ]; then
  port=$((20000 + RANDOM % 20000))
  "$build/bin/birkhoff" serve "$serveArt" --device cuda --port "$port" --max-sequences 8 \
    > "$out/serve.log" 2>&1 &
  servePid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
  chat=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/v1/completions" \
    -H 'Content-Type: application/json' -d '{"prompt": [1, 2, 3, 4], "max_tokens": 8}')
  stream=$(curl -sN "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt": [5, 6, 7], "max_tokens": 6, "stream": true}' | grep -c '^data: ')
  kill -TERM "$servePid"; wait "$servePid"; rc=$?
  echo "## serve --device cuda: completion [${chat: -3}], streamed $stream data lines, exit $rc"
  [ "${chat: -3}" = 200 ] && [ "$stream" -ge 2 ] && [ $rc = 0 ] || { status=1; tail -5 "$out/serve.log"; }
else
  echo "## serve: not built here (no cpp-httplib) or no $serveArt"
fi
for a in .deps/bench/*-base*.bkart; do
  [ -f "$a" ] && [ -x "$base/build/bin/birkhoff" ] || { [ -f "$a" ] && echo "baseline build FAILED: $(tail -3 "$out/base-build.log")"; continue; }
  bench "baseline $(cat .deps/baseline-rev)" "$base/build/bin/birkhoff" "$a" --prompt 64 --contexts 4096 --decode 64
done
echo "## gpu-engine ($(elapsed)): $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
