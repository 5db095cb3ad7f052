#!/usr/bin/env bash
# The serve load test on the GPU: test/serve/serve_load.sh (tools/loadtest.py: streamed chat
# and completion requests, 64 at once) against `birkhoff serve --device cuda` on the 4-layer
# V4-Flash model (.deps/bench/flash4.official.cuda.bkart, weights generated at load), with
# the engine's --max-context 4096. Builds `birkhoff` runtime-only unless $build has it.
#   scripts/gpu-serve-load.sh [requests (2000)] [concurrency (64)]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" serve-load
requests=${1:-2000} concurrency=${2:-64}
if [ ! -x "$build/bin/birkhoff" ]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON \
    > "$out/serve-configure.log" 2>&1 &&
    cmake --build "$build" -j 16 --target birkhoff > "$out/serve-build.log" 2>&1 ||
    { echo "build FAILED"; grep error "$out/serve-build.log" | head; exit 1; }
fi
art=.deps/bench/flash4.official.cuda.bkart
[ -f "$art" ] || { echo "no $art: run scripts/prepare-gpu-carry.sh"; exit 1; }
echo "## serve load: $requests requests, $concurrency at once, $art on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
SERVE_START_SECONDS=300 SERVE_LOAD_PROGRESS=100 test/serve/serve_load.sh "$build/bin/birkhoff" "$root" "$out/serve-load" \
  "$requests" "$concurrency" "$art" --device cuda --max-context 4096
status=$?
grep -E 'engine|loaded|listening' "$out/serve-load/server.log" | head -5
exit $status
