#!/usr/bin/env bash
# Fills .deps/ (git-ignored) with what the GPU machine lacks, so that
# scripts/gpu-check.sh can build there with -DBIRKHOFF_RUNTIME_ONLY=ON:
#   .deps/include/flatbuffers, .deps/include/nlohmann   (headers)
#   .deps/generated/artifact_generated.h               (flatc output of lib/schema/artifact.fbs)
# Run on the compile machine (flatc, libflatbuffers-dev, nlohmann-json3-dev), then carry
# .deps to the GPU machine with the working tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
fb_include="${FLATBUFFERS_INCLUDE:-/usr/include}"
json_include="${NLOHMANN_INCLUDE:-/usr/include}"
[ -f "$fb_include/flatbuffers/flatbuffers.h" ] || { echo "no flatbuffers headers in $fb_include" >&2; exit 1; }
[ -f "$json_include/nlohmann/json.hpp" ] || { echo "no nlohmann/json.hpp in $json_include" >&2; exit 1; }
command -v flatc > /dev/null || { echo "flatc not found" >&2; exit 1; }
rm -rf .deps/include .deps/generated
mkdir -p .deps/include .deps/generated
cp -r "$fb_include/flatbuffers" .deps/include/
cp -r "$json_include/nlohmann" .deps/include/
# Same flags as lib/CMakeLists.txt's flatc rule.
flatc --cpp --scoped-enums -o .deps/generated lib/schema/artifact.fbs
echo "prepare-gpu-carry: $(du -sh .deps | cut -f1) in $root/.deps"
