#!/usr/bin/env bash
# One GPU-machine session's worth of checks in one command (the GPU tool returns at most 8
# files, so everything is packed): scripts/gpu-check.sh (build, GPU tests, CLI), then
# scripts/gpu-bench.sh (ceilings and `birkhoff bench` of the 4-layer V4-Flash model), then
# scripts/gpu-sanitize.sh, each under its own time limit in seconds. Reports go to $OUT
# (gpu-report.txt, bench-report.txt, sanitize.txt) and every log to $OUT/logs.tar.xz.
# A limit of 0 leaves that stage out.
#   scripts/gpu-all.sh [check_s bench_s sanitize_s [sanitize_what]]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${OUT:-$root/build-gpu/all}"
work="$(mktemp -d)"
mkdir -p "$out"
check_s="${1:-300}" bench_s="${2:-180}" sanitize_s="${3:-100}" what="${4:-all}"
status=0
if [ "$check_s" -gt 0 ]; then
  OUT="$work/check" timeout "$check_s" scripts/gpu-check.sh > "$work/check.out" 2>&1 || status=1
  cp "$work/check/gpu-report.txt" "$out/" 2>/dev/null || cp "$work/check.out" "$out/gpu-report.txt"
fi
if [ "$bench_s" -gt 0 ]; then
  OUT="$work/bench" timeout "$bench_s" scripts/gpu-bench.sh > "$work/bench.out" 2>&1 || status=1
  cp "$work/bench/bench-report.txt" "$out/" 2>/dev/null || cp "$work/bench.out" "$out/bench-report.txt"
fi
if [ "$sanitize_s" -gt 0 ]; then
  OUT="$work/sanitize" timeout "$sanitize_s" scripts/gpu-sanitize.sh "$what" > "$out/sanitize.txt" 2>&1 || status=1
fi
tar -C "$work" -cf - . | xz -T0 -3 > "$out/logs.tar.xz"
echo "## gpu-all: $([ $status = 0 ] && echo PASS || echo FAIL)"
grep -E '^## (build|result)|FAILED|Failure' "$out/gpu-report.txt" 2>/dev/null | head -40
grep -E '^(prefill|decode|fill|copy|read|fp8|device|weights) ' "$out/bench-report.txt" 2>/dev/null | head -40
cat "$out/sanitize.txt" 2>/dev/null | tail -12
exit $status
