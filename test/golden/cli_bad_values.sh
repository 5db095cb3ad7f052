#!/usr/bin/env bash
# Every number given on the command line is range-checked (issue 15): a bad one is a usage
# error, exit 2, naming the option and the value; never narrowed (token 4294967301 ran as 5),
# wrapped into a size, or an uncaught exception. Bad files are exit 1 with a message, and
# nothing is allocated from a size the file does not hold.
set -uo pipefail
birkhoff=$1 work=$2
mkdir -p "$work"
art="$work/tiny.bkart"
"$birkhoff" compile --synth-preset tiny -o "$art" > /dev/null 2>&1 || { echo "compile failed"; exit 1; }
fails=0
# expect STATUS TEXT ARGS...: `birkhoff ARGS` exits with STATUS and says TEXT on stderr.
expect() {
  local want=$1 text=$2 err got
  shift 2
  err=$("$birkhoff" "$@" 2>&1 > /dev/null)
  got=$?
  if [ "$got" != "$want" ] || ! grep -qF -- "$text" <<< "$err"; then
    echo "FAIL: birkhoff $* exited $got (want $want, saying '$text'): $err"
    fails=$((fails + 1))
  fi
}
big=4611686018427387920
expect 0 "" run "$art" --tokens 1,2,3 --threads 1
# Integers: parsed into 64 bits, then checked against the option's range.
expect 2 "'4294967301'" run "$art" --tokens 1,4294967301
expect 2 "'-1'" run "$art" --tokens 1,-1
expect 2 "--top-k" run "$art" --tokens 1 --top-k 4294967301
expect 2 "--threads" run "$art" --tokens 1 --threads 4294967297
expect 2 "--threads expects an integer in [0, 4096], got '100000'" run "$art" --tokens 1 --threads 100000
expect 2 "--stop-ids" run "$art" --tokens 1 --stop-ids 1,4294967301
expect 2 "--max-context" run "$art" --tokens 1 --max-context $big
expect 2 "--generate" run "$art" --tokens 1 --generate 99999999999999999999
expect 2 "--chunks" run "$art" --tokens 1,2 --chunks $big,$big
# Floats: finite, and in the option's range.
expect 2 "--temperature expects a finite number" run "$art" --tokens 1 --temperature nan
expect 2 "--temperature" run "$art" --tokens 1 --temperature inf
expect 2 "--temperature" run "$art" --tokens 1 --temperature -1
expect 2 "--top-p" run "$art" --tokens 1 --top-p 0
expect 2 "--top-p" run "$art" --tokens 1 --top-p 1.5
expect 2 "--top-p" run "$art" --tokens 1 --top-p nan
# An id inside int32 but outside the vocabulary is the model's to refuse (exit 1).
expect 1 "vocabulary" run "$art" --tokens 1,2000000000
# The other commands' numbers.
expect 2 "--context" inspect "$art" --context $big
expect 2 "--max-context" compile --synth-preset tiny --max-context $big -o "$work/x.bkart"
expect 2 "--max-tokens" compile --synth-preset tiny --max-tokens 4294967296 -o "$work/x.bkart"
expect 2 "--threads" bench "$art" --threads 100000
expect 2 "--contexts" bench "$art" --contexts 1,$big
expect 2 "--decode" tokenize "$art" --decode 1,4294967301
expect 2 "--window" perplexity "$art" --text hi --window $big
expect 2 "--windows" perplexity "$art" --text hi --windows 4294967296
expect 2 "--max-context" perplexity "$art" --text hi --max-context $big
# .npy token files: sizes are checked against the file before anything is allocated, ids
# element by element; a bad file is exit 1.
python3 - "$work" <<'PY'
import struct, sys
def npy(path, descr, shape, data):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data)
npy(sys.argv[1] + "/huge.npy", "<i4", "(1099511627776,)", struct.pack("<2i", 1, 2))
npy(sys.argv[1] + "/wide.npy", "<i8", "(2,)", struct.pack("<2q", 1, 4294967301))
PY
ln -sf /dev/zero "$work/zero.npy"
expect 1 "need 4398046511104" run "$art" --tokens "$work/huge.npy"
expect 1 "token id 4294967301 at index 1" run "$art" --tokens "$work/wide.npy"
expect 1 "not a regular file" run "$art" --tokens "$work/zero.npy"
expect 1 "need 4398046511104" perplexity "$art" --tokens "$work/huge.npy"
expect 1 "token id 4294967301 at index 1" perplexity "$art" --tokens "$work/wide.npy"
expect 1 "not a regular file" perplexity "$art" --tokens "$work/zero.npy"
[ "$fails" = 0 ] || { echo "cli bad values: $fails failed"; exit 1; }
echo "cli bad values: PASS"
