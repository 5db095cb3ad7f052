#!/usr/bin/env bash
# Builds (if needed) and runs one libFuzzer target of test/fuzz for SECONDS seconds, on one core:
#   scripts/fuzz.sh safetensors|npy|config|artifact|tokenizer|serve_request SECONDS [libFuzzer flags]
# The targets build in build-fuzz/ with clang-22, ASan + UBSan and libFuzzer (-DBIRKHOFF_FUZZ=ON;
# the packages come from scripts/install-deps.sh --fuzz). The committed seeds in
# test/fuzz/TARGET/corpus/ are read, never written: what the run adds goes to
# build-fuzz/corpus/TARGET/. A crash ends the run with an error, its input in
# build-fuzz/crashes/TARGET/ (docs/fuzzing.md says what to do with it). The log, with libFuzzer's
# final statistics, is build-fuzz/logs/TARGET.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
targets="safetensors npy config artifact tokenizer serve_request"
if [ $# -lt 2 ] || [[ ! " $targets " =~ " $1 " ]] || [[ ! "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags]; TARGET is one of: $targets" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2

if [ "${BIRKHOFF_SKIP_DEPS:-0}" != "1" ]; then
  scripts/install-deps.sh --fuzz
fi
build=build-fuzz
mkdir -p "$build"
if [ ! -f "$build/build.ninja" ]; then
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DBIRKHOFF_FUZZ=ON -DBIRKHOFF_INSTALL=OFF > "$build/configure.log" 2>&1 || {
    cat "$build/configure.log"; exit 1; }
fi
cmake --build "$build" -j "${BIRKHOFF_JOBS:-2}" --target "fuzz_$target"

# What a target reads besides its input.
case $target in
  tokenizer)
    # The real DeepSeek-V3 tokenizer when ../shared has it; synth's otherwise.
    real=../shared/tokenizers/deepseek-v3/tokenizer.json
    if [ -f "$real" ]; then
      export BIRKHOFF_FUZZ_TOKENIZER="$(cd "$(dirname "$real")" && pwd)/tokenizer.json"
    fi
    ;;
  serve_request)
    # A one-layer tiny synth model with a tokenizer, compiled by the normal build's tool (the
    # compiler is not built with the fuzzing instrumentation).
    if [ ! -x build/bin/birkhoff ]; then
      scripts/build.sh
    fi
    export BIRKHOFF_FUZZ_ARTIFACT="$root/$build/serve-request-tiny.bkart"
    build/bin/birkhoff compile --synth-preset tiny --layers 1 -o "$BIRKHOFF_FUZZ_ARTIFACT" \
      --quiet
    ;;
esac

mkdir -p "$build/corpus/$target" "$build/crashes/$target" "$build/logs"
log="$build/logs/$target.log"
echo "fuzz: $target for $seconds s; log in $log"
status=0
"$build/fuzz/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$build/crashes/$target/" -timeout=30 -rss_limit_mb=4096 "$@" \
  "$build/corpus/$target" "test/fuzz/$target/corpus" > "$log" 2>&1 || status=$?
# The last status line (executions, coverage, features, corpus) and the final statistics.
grep -E '^#[0-9]+' "$log" | tail -1 || true
grep -E '^stat::' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "fuzz: $target failed (exit $status): see $log and $build/crashes/$target/" >&2
  exit "$status"
fi
echo "fuzz: $target ran $seconds s with no crash"
