#!/usr/bin/env bash
# Prepares the default model's training run for the GPU machine (scripts/gpu-train-tiny.sh):
# builds the corpus from Debian's packages (corpus.py; installs them when missing) and puts
# it, with DeepSeek-V3's tokenizer.json as the tokenizer's template, xz-packed in .deps/tiny/
# (git-ignored; carried with the working tree).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
template="${BIRKHOFF_TOKENIZER_TEMPLATE:-$root/../shared/tokenizers/deepseek-v3/tokenizer.json}"
[ -f "$template" ] || { echo "no tokenizer template $template" >&2; exit 1; }
mkdir -p "$root/.deps/tiny"
python3 "$root/tools/tiny-model/corpus.py" "$root/.deps/tiny/corpus.jsonl"
cp "$template" "$root/.deps/tiny/template-tokenizer.json"
xz -f -T0 -6 "$root/.deps/tiny/corpus.jsonl" "$root/.deps/tiny/template-tokenizer.json"
ls -la "$root/.deps/tiny"
