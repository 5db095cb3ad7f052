#!/usr/bin/env bash
# Builds Birkhoff and runs every suite: GoogleTest units, lit + FileCheck, golden end-to-end
# tests against ../shared/goldens. GPU tests (label gpu) skip themselves without a GPU.
# Ends with ctest's summary line ("N% tests passed, M tests failed out of T").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/build.sh
if [ ! -d ../shared/goldens ]; then
  echo "warning: ../shared/goldens is missing; golden tests will skip"
fi
ctest --test-dir build --output-on-failure -j "${BIRKHOFF_TEST_JOBS:-2}" --timeout 1500 "$@"
