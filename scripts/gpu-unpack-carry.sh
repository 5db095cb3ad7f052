#!/usr/bin/env bash
# Unpacks .deps/packed.tar.xz (scripts/prepare-gpu-carry.sh packs the artifacts, bench
# model and goldens to fit a carry) into .deps/ on the GPU machine; safe to re-run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$root/.deps/packed.tar.xz" ]; then
  tar -C "$root/.deps" -xJf "$root/.deps/packed.tar.xz"
fi
