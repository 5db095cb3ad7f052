#!/usr/bin/env bash
# Builds Birkhoff and runs every suite: GoogleTest units, lit + FileCheck, golden end-to-end
# tests against ../shared/goldens, the fuzz targets' corpora. GPU tests (label gpu) skip
# themselves without a GPU.
#   scripts/test.sh [--sanitize] [ctest arguments]
# --sanitize builds build-sanitize/ with ASan + UBSan (-DBIRKHOFF_SANITIZE=ON) and runs the
# same suites there (docs/testing.md says which and why), with the suppressions of
# test/sanitizers/ for the system's uninstrumented libraries.
# Ends with ctest's summary line ("N% tests passed, M tests failed out of T").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build=build
if [ "${1:-}" = "--sanitize" ]; then
  shift
  build=build-sanitize
  # Leaks are errors too; UB stops the program (-fno-sanitize-recover) with a stack.
  export ASAN_OPTIONS="detect_leaks=1"
  export LSAN_OPTIONS="suppressions=$root/test/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # The install rules' test builds a consumer against the installed library, which would then
  # need the sanitizer runtimes too: packaging is the normal suite's to test.
  BIRKHOFF_BUILD_DIR=$build scripts/build.sh -DBIRKHOFF_SANITIZE=ON -DBIRKHOFF_INSTALL=OFF
  # Not the load test (label load): sanitized it takes 11 minutes, as long as all the other
  # tests together; the server's paths run under the sanitizers in serve_tests, serve.e2e and
  # serve.openai_sdk. `scripts/test.sh --sanitize -L load` runs it alone.
  set -- -LE load "$@"
else
  scripts/build.sh
fi
if [ ! -d ../shared/goldens ]; then
  echo "warning: ../shared/goldens is missing; golden tests will skip"
fi
ctest --test-dir "$build" --output-on-failure -j "${BIRKHOFF_TEST_JOBS:-2}" --timeout 1500 "$@"
