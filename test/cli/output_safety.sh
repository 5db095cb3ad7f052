#!/usr/bin/env bash
# How `compile` and `synth` write their outputs (docs/cli.md, "Outputs"): under a temporary
# name beside the target, renamed onto it when complete; an input as the output is refused
# (exit 2) before any work; SIGINT/SIGTERM leave no temporary or partial files behind.
set -euo pipefail
birkhoff=$1 demo=$2 work=$3 interrupt_shim=${4:-}
rm -rf "$work"
mkdir -p "$work"
ckpt="$work/ckpt"
cp -r "$demo" "$ckpt"
art="$work/demo.bkart"
"$birkhoff" compile "$ckpt" -o "$art" 2>/dev/null
cp "$art" "$work/good.bkart"
sums() { (cd "$ckpt" && sha256sum ./*); }
before=$(sums)

# A compile that fails while writing (the file-size limit makes write() fail with EFBIG)
# leaves the previous artifact as it was, and no temporary beside it.
if (trap '' XFSZ; ulimit -f 64; "$birkhoff" compile "$ckpt" -o "$art") 2> "$work/err.txt"; then
  echo "compile under a 64 KiB file-size limit succeeded"; exit 1
fi
grep -qE "writing|cannot write" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
cmp "$art" "$work/good.bkart" || { echo "a failed compile changed the artifact"; exit 1; }
if ls "$work" | grep -q partial; then echo "temporary left: $(ls "$work")"; exit 1; fi

# SIGINT with the new artifact written in full under its temporary name, just before it is
# renamed onto the target (the preloaded shim raises it at that rename): the temporary goes,
# the previous artifact stays (official numerics: the new one would differ). verify_asan_link_order: the sanitized build preloads the shim
# before ASan's runtime.
if [ -n "$interrupt_shim" ]; then
  status=0
  env --default-signal=INT LD_PRELOAD="$interrupt_shim" INTERRUPT_RENAMING=file \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$birkhoff" compile "$ckpt" -o "$art" --numerics official 2> /dev/null || status=$?
  [ "$status" = 130 ] || { echo "compile: exit $status, not 130 (SIGINT)"; exit 1; }
  cmp "$art" "$work/good.bkart" || { echo "an interrupted compile changed the artifact"; exit 1; }
  if ls "$work" | grep -q partial; then echo "SIGINT left: $(ls "$work")"; exit 1; fi
  echo "compile: SIGINT with the artifact written leaves the previous one and no temporary"
fi

# `-o` onto an input (a shard, config.json, the tokenizer given) is refused with exit 2.
refused() {
  local status=0
  "$birkhoff" compile "$@" 2> "$work/err.txt" || status=$?
  [ "$status" = 2 ] || { echo "compile $*: exit $status, not 2"; cat "$work/err.txt"; exit 1; }
  grep -q "it is the input" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
}
refused "$ckpt" -o "$ckpt/model-00001-of-00002.safetensors"
refused "$ckpt" -o "$ckpt/config.json"
refused "$ckpt" -o "$ckpt/model.safetensors.index.json"
ln "$ckpt/model-00002-of-00002.safetensors" "$work/alias"   # the same file, another name
refused "$ckpt" -o "$work/alias"
refused "$ckpt" -o "$ckpt/config.json" --compile-to v4
echo '{}' > "$work/gen.json"
refused "$ckpt" -o "$work/gen.json" --generation-config "$work/gen.json"
[ "$(sums)" = "$before" ] || { echo "a refused compile changed the checkpoint"; exit 1; }

# synth regenerating a checkpoint in place (its --config is the output's config.json)
# stays allowed: the config is read before anything is written (docs/cli.md).

# SIGINT (and SIGTERM) during synth (V4-Flash widths, ~1.3 GB in all): interrupted once the
# pattern `$2` is in its directory (a shard being written; a finished shard and the next
# one being written). Nothing of the checkpoint stays: no temporary, no finished shard, not
# the directory synth made. env --default-signal: a background job of a script starts with
# SIGINT ignored, which birkhoff (rightly) keeps.
interrupt() {
  local sig=$1 pattern=$2 out="$work/synth-$1"
  env --default-signal=INT "$birkhoff" synth --preset flash --layers 1 --experts 8 \
    --shard-mb 64 --threads 1 -o "$out" > /dev/null 2>&1 &
  local pid=$! n=0
  until ls "$out" 2>/dev/null | grep -qE "$pattern"; do
    kill -0 "$pid" 2>/dev/null || { echo "synth ended before $pattern appeared"; exit 1; }
    n=$((n + 1)); [ "$n" -lt 1800 ] || { kill -KILL "$pid"; echo "no $pattern after 180 s"; exit 1; }
    sleep 0.1
  done
  kill "-$sig" "$pid"
  local status=0
  wait "$pid" || status=$?
  [ "$status" -gt 128 ] || { echo "synth exited $status after SIG$sig"; exit 1; }
  if [ -e "$out" ]; then echo "SIG$sig left: $(ls -la "$out")"; exit 1; fi
  echo "SIG$sig: exit $status, nothing left"
}
interrupt INT 'model-00002-of-[0-9]+\.safetensors\.partial'
interrupt TERM 'safetensors\.partial'

# --dump-kernels (where NVRTC compiles the kernels) replaces a previous dump whole, once the
# artifact is written: a failed or interrupted compile leaves it as it was, and a file as DIR
# is refused.
dump="$work/dump"
if "$birkhoff" compile "$ckpt" -o "$work/cuda.bkart" --target cuda --dump-kernels "$dump" 2>/dev/null; then
  [ -f "$dump/resources.txt" ] || { echo "no resources.txt in the dump"; exit 1; }
  touch "$dump/stale.txt"
  "$birkhoff" compile "$ckpt" -o "$work/cuda.bkart" --target cuda --dump-kernels "$dump" 2>/dev/null
  [ -f "$dump/resources.txt" ] && [ ! -e "$dump/stale.txt" ] ||
    { echo "the dump was not replaced whole: $(ls "$dump")"; exit 1; }
  touch "$dump/mark"
  if (trap '' XFSZ; ulimit -f 64; "$birkhoff" compile "$ckpt" -o "$work/cuda.bkart" --target cuda \
        --dump-kernels "$dump") 2> /dev/null; then
    echo "compile under a 64 KiB file-size limit succeeded"; exit 1
  fi
  [ -e "$dump/mark" ] || { echo "a failed compile changed the dump"; exit 1; }
  if ls "$work" | grep -qE 'dump\.(partial|old)'; then echo "left beside the dump: $(ls "$work")"; exit 1; fi
  # SIGINT with the new dump written in full as DIR.partial.<pid>, just before it is swapped
  # in (the preloaded shim raises it at that rename): that folder goes with every file in it,
  # and the previous dump stays as it was.
  if [ -n "$interrupt_shim" ]; then
    status=0
    env --default-signal=INT LD_PRELOAD="$interrupt_shim" INTERRUPT_RENAMING=folder \
      ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
      "$birkhoff" compile "$ckpt" -o "$work/cuda.bkart" --target cuda --dump-kernels "$dump" \
      2> /dev/null || status=$?
    [ "$status" = 130 ] || { echo "compile --dump-kernels: exit $status, not 130 (SIGINT)"; exit 1; }
    [ -e "$dump/mark" ] || { echo "an interrupted compile changed the dump"; exit 1; }
    if ls "$work" | grep -qE 'dump\.(partial|old)'; then
      echo "SIGINT left beside the dump: $(ls "$work")"; exit 1
    fi
    echo "--dump-kernels: SIGINT with the dump written leaves nothing"
  fi
  status=0
  "$birkhoff" compile "$ckpt" -o "$work/cuda.bkart" --target cuda --dump-kernels "$work/gen.json" \
    2> "$work/err.txt" || status=$?
  [ "$status" != 0 ] && grep -q "is not a directory" "$work/err.txt" ||
    { echo "--dump-kernels onto a file: exit $status"; cat "$work/err.txt"; exit 1; }
  echo "--dump-kernels: replaced whole, kept on failure, a file refused"
fi
rm -rf "$work"
echo "output safety: PASS"
