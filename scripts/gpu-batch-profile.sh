#!/usr/bin/env bash
# Where a batched decode step's time goes: builds `birkhoff` runtime-only and profiles decode
# steps of the 4-layer V4-Flash model (.deps/bench/flash4.official.cuda.bkart) at context 4,096
# for each batch size given (default 1 32 64), per catalogue kernel (`bench --profile`), at the
# contexts of $CONTEXTS (default 4096; a comma-separated list).
#   [CONTEXTS=4096,65536] scripts/gpu-batch-profile.sh [batch sizes...]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" batch-profile
mkdir -p "$build"
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON > /dev/null 2>&1 &&
  cmake --build "$build" -j 16 --target birkhoff > "$build/batch-profile-build.log" 2>&1 ||
  { echo "build FAILED"; grep error "$build/batch-profile-build.log" | head; exit 1; }
nvidia-smi --query-gpu=name --format=csv,noheader
for n in "${@:-1 32 64}"; do
  for b in $n; do
    "$build/bin/birkhoff" bench .deps/bench/flash4.official.cuda.bkart --device cuda --batch "$b" \
      --contexts "${CONTEXTS:-4096}" --decode 4 --profile 2>&1 | grep -vE '^(device|weights|batch) '
  done
done
