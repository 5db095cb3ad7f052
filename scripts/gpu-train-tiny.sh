#!/usr/bin/env bash
# On the GPU machine: trains the default model (tools/tiny-model/train.py) from the corpus
# that tools/tiny-model/prepare.sh put in .deps/tiny/, and returns the checkpoint and the
# fidelity tests' reference data as $OUT/tiny-model.tar with the log in $OUT/train.log.
#   scripts/gpu-train-tiny.sh [train.py options, e.g. --seconds 240 or --steps N]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$root/build-gpu/train-tiny}"
work=/tmp/tiny-train
rm -rf "$work" && mkdir -p "$work" "$out"
xz -dc "$root/.deps/tiny/corpus.jsonl.xz" > "$work/corpus.jsonl" || exit 1
xz -dc "$root/.deps/tiny/template-tokenizer.json.xz" > "$work/template.json" || exit 1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
PYTHONUNBUFFERED=1 python3 "$root/tools/tiny-model/train.py" "$work/result" \
  --corpus "$work/corpus.jsonl" --tokenizer-template "$work/template.json" \
  --archive "$out/tiny-model.tar" "$@" 2>&1 |
  tee "$out/train.log"
status=${PIPESTATUS[0]}
ls -la "$out"
exit "$status"
