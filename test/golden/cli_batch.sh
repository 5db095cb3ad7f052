#!/usr/bin/env bash
# `birkhoff run --batch` against one `run` per prompt, through the command line only: on the
# host backend batching changes no bit, so each prompt's dumped logits are byte for byte those
# of its own run, and its greedy tokens the same.
set -euo pipefail
birkhoff=$1 case=$2 work=$3
[ -f "$case/manifest.json" ] || { echo "no golden case at $case"; exit 77; }
mkdir -p "$work"
art="$work/$(basename "$case").bkart"
"$birkhoff" compile "$case" -o "$art"
prompts=("5,17,3,99,42,7,7,1" "11" "250,251,252,253,254,255,256,257,258,259,260,261,262,263,264,265,266,267,268,269,270")
printf '[[%s],[%s],[%s]]\n' "${prompts[0]}" "${prompts[1]}" "${prompts[2]}" > "$work/prompts.json"
rm -rf "$work/logits" "$work/tokens"
"$birkhoff" run "$art" --batch "$work/prompts.json" --dump-logits "$work/logits"
batch=$("$birkhoff" run "$art" --batch "$work/prompts.json" --generate 5 --no-eos-stop \
  --dump-tokens "$work/tokens")
for i in 0 1 2; do
  "$birkhoff" run "$art" --tokens "${prompts[$i]}" --dump-logits "$work/alone-$i.npy" 2>/dev/null
  cmp "$work/logits/$i.npy" "$work/alone-$i.npy" || { echo "prompt $i: logits differ"; exit 1; }
  alone=$("$birkhoff" run "$art" --tokens "${prompts[$i]}" --generate 5 --no-eos-stop 2>/dev/null |
    tr -s ' \n' ' ' | sed 's/ $//')
  got=$(echo "$batch" | grep "^$i:" | sed "s/^$i: //")
  echo "prompt $i: batch [$got] alone [$alone]"
  [ "$got" = "$alone" ] || exit 1
  [ -s "$work/tokens/$i.npy" ] || { echo "no $work/tokens/$i.npy"; exit 1; }
done
# Malformed prompt files are clear errors.
echo '[[1,2],[-3]]' > "$work/bad.json"
if "$birkhoff" run "$art" --batch "$work/bad.json" 2> "$work/err.txt"; then exit 1; fi
grep -q "not a token id" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
echo '[[1,2],[' > "$work/bad.json"
if "$birkhoff" run "$art" --batch "$work/bad.json" 2> "$work/err.txt"; then exit 1; fi
grep -q "not valid JSON" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
echo "cli batch: PASS"
