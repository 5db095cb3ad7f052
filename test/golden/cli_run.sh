#!/usr/bin/env bash
# `birkhoff run --chunks P,C --dump-logits` against the manifest's cached run, and
# `--generate` against its greedy ids, through the command line only.
set -euo pipefail
birkhoff=$1 case=$2 work=$3
[ -f "$case/manifest.json" ] || { echo "no golden case at $case"; exit 77; }
mkdir -p "$work"
art="$work/$(basename "$case").bkart"
"$birkhoff" compile "$case" -o "$art"
read -r tokens prefill chunk logits prompt want < <(python3 - "$case" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
d, g = m["decode"], m["greedy"]
print(d["tokens"], d["prefill"], d["chunk"], d["logits"],
      ",".join(map(str, g["prompt"])), ",".join(map(str, g["generated"])))
PY
)
"$birkhoff" run "$art" --tokens "$case/$tokens" --chunks "$prefill,$chunk" \
  --dump-logits "$work/cached.npy"
python3 - "$work/cached.npy" "$case/$logits" <<'PY'
import sys, struct
def load(path):
    data = open(path, "rb").read()
    hlen = struct.unpack("<H", data[8:10])[0]
    return struct.unpack("<%df" % ((len(data) - 10 - hlen) // 4), data[10 + hlen:])
a, b = load(sys.argv[1]), load(sys.argv[2])
assert len(a) == len(b), (len(a), len(b))
err = max(abs(x - y) for x, y in zip(a, b)) / max(abs(y) for y in b)
print("cli chunked max-rel-err %.3e" % err)
sys.exit(0 if err <= 1e-4 else 1)
PY
n=$(echo "$want" | tr ',' '\n' | wc -l)
got=$("$birkhoff" run "$art" --tokens "$prompt" --generate "$n" --no-eos-stop | tr -s ' \n' ',' | sed 's/,$//')
echo "greedy: $got"
[ "$got" = "$want" ] || { echo "expected: $want"; exit 1; }
