#!/usr/bin/env bash
# Builds Birkhoff, compiles the bundled demo checkpoint (models/deepseek_v4/demo: a small
# random-weight DeepSeek-V4 in DeepSeek's own FP8/FP4 layout) and generates from it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/build.sh
bk=build/bin/birkhoff
echo
echo "== compile =="
$bk compile models/deepseek_v4/demo -o build/demo.bkart
echo
echo "== inspect =="
$bk inspect build/demo.bkart
echo
echo "== run: 12-token prompt, greedy generation of 16 tokens =="
$bk run build/demo.bkart --tokens 0,17,42,7,99,3,250,11,64,128,5,300 --generate 16 --no-eos-stop
echo
echo "== run: the same prompt, sampled (temperature 0.8, top-p 0.9, seed 7) =="
$bk run build/demo.bkart --tokens 0,17,42,7,99,3,250,11,64,128,5,300 --generate 16 \
  --temperature 0.8 --top-p 0.9 --seed 7 --no-eos-stop
