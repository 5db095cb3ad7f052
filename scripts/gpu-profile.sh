#!/usr/bin/env bash
# Where a decode step's time goes, kernel by kernel, on the GPU machine: Nsight Compute over
# the launches of one decode step of each carried bench artifact (.deps/bench/*.bkart, from
# scripts/prepare-gpu-carry.sh), one line per launch with its time, DRAM bytes and achieved
# bandwidth next to the read ceiling measured in the same run (tools/gpu-ceilings).
#   1. builds `birkhoff` runtime-only and gpu-ceilings (as scripts/gpu-bench.sh);
#   2. for each artifact: `birkhoff run` of a 4-token prompt and 2 decode steps, launched
#      kernel by kernel (--no-cuda-graphs), under ncu with the launch window of the second
#      decode step (the launches per step come from `birkhoff inspect`);
#   3. writes $OUT/profile-report.txt (compact table, slowest first) and the raw CSVs.
#   [BIRKHOFF_PROFILE_ARTIFACTS="a.bkart ..."] scripts/gpu-profile.sh [ncu extra args]
set -uo pipefail
source "$(dirname "$0")/gpu-common.sh" profile
report="$out/profile-report.txt"
export PATH="/usr/local/cuda/bin:$PATH"
{
  echo "# Birkhoff GPU profile, $(date -u +%Y-%m-%dT%H:%M:%SZ), artifacts of commit $(cat .deps/commit 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader 2>&1
} > "$report"
if [ ! -x "$build/bin/birkhoff" ] || [ "${BIRKHOFF_PROFILE_REBUILD:-1}" = 1 ]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON \
    > "$out/configure.log" 2>&1 || { echo "configure FAILED" | tee -a "$report"; exit 1; }
  cmake --build "$build" -j "$(nproc)" --target birkhoff > "$out/build.log" 2>&1 ||
    { echo "build FAILED"; grep -E "error" "$out/build.log" | head -20; exit 1; } >> "$report"
fi
[ -x "$build/gpu-ceilings" ] || nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a \
  -o "$build/gpu-ceilings" tools/gpu-ceilings/Ceilings.cu -lcublasLt > "$out/ceilings-build.log" 2>&1
"$build/gpu-ceilings" > "$out/ceilings.txt" 2>&1
grep -E '^(device|read_bandwidth)' "$out/ceilings.txt" >> "$report"
read_gbs=$(awk '/^read_bandwidth_gbs/ {print $2}' "$out/ceilings.txt")

for a in ${BIRKHOFF_PROFILE_ARTIFACTS:-.deps/bench/*.bkart}; do
  [ -f "$a" ] || continue
  name=$(basename "$a" .bkart)
  # Launches per call of each entry (prefill of 4 tokens, then decode steps).
  "$build/bin/birkhoff" inspect "$a" > "$out/$name.inspect.txt" 2>&1
  # Kernels per call of each entry (`N CUDA kernels a call` after the entry's line;
  # older artifacts: one kernel per launch).
  kernels_of() {
    awk -v e="$1" '$1 == e && /launches/ { for (i = 1; i <= NF; ++i) if ($i ~ /^launches/) n = $(i-1); want = 1; next }
                   want && /CUDA kernels a call/ { n = $1 } { want = 0 } END { print n }' "$out/$name.inspect.txt"
  }
  pre=$(kernels_of prefill)
  dec=$(kernels_of decode)
  if [ -z "$pre" ] || [ -z "$dec" ]; then
    echo "## $name: cannot read the launch counts from birkhoff inspect" >> "$report"
    continue
  fi
  # The prompt's call, then decode step 1; step 2 is profiled.
  skip=$((pre + dec))
  echo "## $name: ncu over decode step 2 (launches $skip..$((skip + dec - 1)))" >> "$report"
  timeout 400 ncu --launch-skip "$skip" --launch-count "$dec" \
    --section SpeedOfLight --section LaunchStats --metrics dram__bytes_read.sum,dram__bytes_write.sum \
    --csv --page raw "$@" \
    "$build/bin/birkhoff" run "$a" --device cuda --tokens 11,12,13,14 --generate 3 --no-cuda-graphs \
    --no-eos-stop > "$out/$name.ncu.csv" 2> "$out/$name.ncu.log" ||
    { echo "ncu FAILED (exit $?)"; tail -5 "$out/$name.ncu.log"; } >> "$report"
  python3 - "$out/$name.ncu.csv" "$read_gbs" >> "$report" << 'EOF'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
start = next((i for i, r in enumerate(rows) if 'Kernel Name' in r), None)
if start is None:
    print("no ncu rows"); sys.exit(0)
head, data = rows[start], [r for r in rows[start + 2:] if len(r) == len(rows[start])]
col = {n: head.index(n) for n in head}
def val(r, n, scale=1.0):
    try: return float(r[col[n]].replace(',', '')) * scale
    except (KeyError, ValueError): return 0.0
ceiling = float(sys.argv[2] or 0)
lines, total_t, total_b, by_kernel = [], 0.0, 0.0, {}
for i, r in enumerate(data):
    t = val(r, 'gpu__time_duration.sum')  # ns
    b = val(r, 'dram__bytes_read.sum') + val(r, 'dram__bytes_write.sum')
    total_t += t; total_b += b
    name = r[col['Kernel Name']].split('(')[0]
    grid = r[col['launch__grid_size']] if 'launch__grid_size' in col else '?'
    regs = r[col['launch__registers_per_thread']] if 'launch__registers_per_thread' in col else '?'
    k = by_kernel.setdefault(name, [0, 0.0, 0.0, grid, regs])
    k[0] += 1; k[1] += t; k[2] += b
    gbs = b / t if t else 0
    lines.append((t, f"{i:3d} {name[:44]:44s} {t/1e3:9.2f} us {b/1e6:9.3f} MB {gbs:8.1f} GB/s "
                     f"{100*gbs/ceiling if ceiling else 0:5.1f} % grid {grid:>6s} regs {regs}"))
print(f"launches {len(data)}  kernel time {total_t/1e3:.1f} us  DRAM {total_b/1e6:.1f} MB  "
      f"{total_b/total_t if total_t else 0:.1f} GB/s (read ceiling {ceiling:.0f} GB/s)")
print("by kernel, slowest first: launches, time, DRAM bytes, bandwidth, share of the ceiling")
for name, (n, t, b, grid, regs) in sorted(by_kernel.items(), key=lambda x: -x[1][1]):
    gbs = b / t if t else 0
    print(f"    {name[:44]:44s} x{n:<3d} {t/1e3:9.1f} us {b/1e6:9.2f} MB {gbs:8.1f} GB/s "
          f"{100*gbs/ceiling if ceiling else 0:5.1f} % grid {grid:>6s} regs {regs}")
print("the 30 slowest launches (index in the step)")
for _, l in sorted(lines, key=lambda x: -x[0])[:30]:
    print(l)
EOF
done
cat "$report"
