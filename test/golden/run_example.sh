#!/usr/bin/env bash
# Compiles a golden checkpoint and runs the session API example on it.
set -euo pipefail
birkhoff=$1 example=$2 checkpoint=$3 artifact=$4
[ -d "$checkpoint" ] || { echo "no golden case at $checkpoint"; exit 77; }
mkdir -p "$(dirname "$artifact")"
"$birkhoff" compile "$checkpoint" -o "$artifact"
out=$("$example" "$artifact")
echo "$out"
echo "$out" | grep -q '^greedy: [0-9]' && echo "$out" | grep -q 'bad token: .*outside the vocabulary'
