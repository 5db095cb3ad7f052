# Sourced by the scripts/gpu-*.sh scripts after `set -uo pipefail`, with the report folder's
# default name as $1: runs from the repository root with the carried .deps unpacked
# (scripts/prepare-gpu-carry.sh packs them), sets $root, $build (the runtime-only build,
# $BIRKHOFF_GPU_BUILD or build-gpu/) and $out (the reports, $OUT or build-gpu/<name>), and puts
# NVRTC's folder on the loader path (a bare GPU machine may not have it there).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
"$root/scripts/gpu-unpack-carry.sh" > /dev/null || { echo "cannot unpack .deps/packed.tar.xz"; exit 1; }
build="${BIRKHOFF_GPU_BUILD:-$root/build-gpu}"
out="${OUT:-$root/build-gpu/$1}"
mkdir -p "$out" "$build"
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
