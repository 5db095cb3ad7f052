#!/usr/bin/env bash
# Builds Birkhoff, compiles the bundled default model (models/deepseek_v4/tiny: a small
# DeepSeek-V4 trained on public-domain English, in DeepSeek's own FP8/FP4 layout with its
# tokenizer) and talks to it: a text prompt, a short chat, the perplexity of held-out text.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/build.sh
bk=build/bin/birkhoff
model=models/deepseek_v4/tiny
echo
echo "== compile =="
$bk compile $model -o build/demo.bkart
echo
echo "== inspect =="
$bk inspect build/demo.bkart
echo
echo "== run: a text prompt (sampled as the model's generation config says: temperature 0.7, top-p 0.9; seed 1) =="
$bk run build/demo.bkart --prompt "And God said" --generate 48 --seed 1
echo
echo
echo "== run --chat: three messages, one a line, in DeepSeek-V4's chat format =="
messages=$'What does kludge mean?\nQuote Genesis 1:3.\nDefine patience.'
echo "$messages" | sed 's/^/user: /'
echo "$messages" | $bk run build/demo.bkart --chat --seed 4
echo
echo "== perplexity of held-out text (transformers' float32 figure: 22.216) =="
$bk perplexity build/demo.bkart --tokens $model/reference/heldout_tokens.npy
