# Sourced by the scripts/gpu-*.sh scripts after `set -uo pipefail`, with the report folder's
# default name as $1: runs from the repository root with the carried .deps unpacked
# (scripts/prepare-gpu-carry.sh packs them), sets $root, $build (the runtime-only build,
# $BIRKHOFF_GPU_BUILD or build-gpu/) and $out (the reports, $OUT or build-gpu/<name>), and puts
# NVRTC's folder on the loader path (a bare GPU machine may not have it there); defines
# elapsed, build_gpu_tests and run_gtests for the scripts' shared steps.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
"$root/scripts/gpu-unpack-carry.sh" > /dev/null || { echo "cannot unpack .deps/packed.tar.xz"; exit 1; }
build="${BIRKHOFF_GPU_BUILD:-$root/build-gpu}"
out="${OUT:-$root/build-gpu/$1}"
mkdir -p "$out" "$build"
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t0 )) s"; }
# Builds tools/gpu-ceilings in the background (the caller waits), then configures the
# runtime-only build and builds the GPU tests and birkhoff on $1 jobs; exits on failure.
build_gpu_tests() {
  nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o "$build/gpu-ceilings" \
    tools/gpu-ceilings/Ceilings.cu -lcublasLt > "$out/ceilings-build.log" 2>&1 &
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBIRKHOFF_RUNTIME_ONLY=ON \
    > "$out/configure.log" 2>&1 || { echo "configure FAILED"; tail -20 "$out/configure.log"; exit 1; }
  cmake --build "$build" -j "$1" --target gpu_kernel_tests gpu_model_tests birkhoff \
    > "$out/build.log" 2>&1 || { echo "build FAILED"; grep -E "error" "$out/build.log" | head -20; exit 1; }
  echo "## built ($(elapsed))"
}
# Runs test binary $1 with gtest filter $2 into $out/$3 and prints its summary, its failures
# and skips, and the figures the model tests print; a failure sets status=1.
run_gtests() {
  "$build/tests/$1" --gtest_filter="$2" > "$out/$3" 2>&1 || status=1
  echo "## $1 ($(elapsed)): $(grep -E '^\[  (PASSED|FAILED)  \]' "$out/$3" | tr '\n' ' ')"
  grep -E '^\[  FAILED  \]|^\[  SKIPPED \]' "$out/$3" | head -20
  grep -E 'Failure' -A5 "$out/$3" | head -30
  grep -E '^\[gpu-(engine|official|model)\]' "$out/$3" | head -20
}
