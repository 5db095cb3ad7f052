#!/usr/bin/env bash
# Special files as inputs (docs/cli.md, "Inputs"): a FIFO as a shard, config.json, tokenizer,
# artifact, prompt file, text file or token file is refused at once ("... is a FIFO, not a
# regular file"), never waited on; `timeout` turns a hang into a failure.
set -euo pipefail
birkhoff=$1 demo=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
expect_fifo_refusal() {
  local status=0
  timeout 60 "$@" > /dev/null 2> "$work/err.txt" || status=$?
  [ "$status" != 124 ] || { echo "$*: blocked on a FIFO"; exit 1; }
  [ "$status" != 0 ] || { echo "$*: succeeded"; exit 1; }
  grep -q "is a FIFO, not a regular file" "$work/err.txt" || { echo "$*:"; cat "$work/err.txt"; exit 1; }
}
art="$work/demo.bkart"
"$birkhoff" compile "$demo" -o "$art" 2>/dev/null

for file in model-00001-of-00002.safetensors config.json tokenizer.json; do
  rm -rf "$work/ckpt" && cp -r "$demo" "$work/ckpt"
  rm -f "$work/ckpt/$file" && mkfifo "$work/ckpt/$file"
  expect_fifo_refusal "$birkhoff" compile "$work/ckpt" -o "$work/out.bkart"
done
mkfifo "$work/fifo"
expect_fifo_refusal "$birkhoff" inspect "$work/fifo"
expect_fifo_refusal "$birkhoff" run "$work/fifo" --tokens 1
expect_fifo_refusal "$birkhoff" run "$art" --batch "$work/fifo"
expect_fifo_refusal "$birkhoff" perplexity "$work/fifo" --text hi
expect_fifo_refusal "$birkhoff" perplexity "$art" --tokens "$work/fifo"
expect_fifo_refusal "$birkhoff" perplexity "$art" --file "$work/fifo"
expect_fifo_refusal "$birkhoff" compile "$demo" -o "$work/out.bkart" --tokenizer "$work/fifo"
"$birkhoff" synth --preset tiny --layers 1 -o "$work/tiny" > /dev/null   # for its tokenizer.json
expect_fifo_refusal "$birkhoff" tokenize "$work/tiny/tokenizer.json" --file "$work/fifo"
expect_fifo_refusal "$birkhoff" synth --config "$work/fifo" -o "$work/s"
rm -rf "$work"
echo "special inputs: PASS"
