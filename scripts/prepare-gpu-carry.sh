#!/usr/bin/env bash
# Fills .deps/ (git-ignored) with what the GPU machine lacks, so that
# scripts/gpu-check.sh can build there with -DBIRKHOFF_RUNTIME_ONLY=ON:
#   .deps/include/flatbuffers, .deps/include/nlohmann   (headers)
#   .deps/include/pcre2.h                              (libpcre2-dev's header; the library,
#                                                       libpcre2-8.so.0, is the system's)
#   .deps/include/CLI                                  (libcli11-dev's headers: the birkhoff
#                                                       tool's command line; header only)
#   .deps/include/httplib.h, .deps/include/openssl     (libcpp-httplib-dev's header and the
#   .deps/lib/libcpp-httplib.so*, libbrotli*.so.1       OpenSSL headers it reads; its library
#                                                       and brotli's, for `birkhoff serve`;
#                                                       libssl/libcrypto/libz are the system's)
#   .deps/generated/artifact_generated.h               (flatc output of lib/schema/artifact.fbs)
#   .deps/artifacts/mini.{host,cuda}.bkart             (test/gpu's mini model, make_mini_artifacts)
#   .deps/artifacts/<case>[.official].{host,cuda}.bkart (each golden case, `birkhoff compile`,
#                                                       once --target cuda compiles it; why not
#                                                       yet goes to .deps/artifacts/MISSING.txt)
#   .deps/artifacts/tiny-model[.official].cuda.bkart  (the trained default model,
#                                                       models/deepseek_v4/tiny; only with
#                                                       BIRKHOFF_CARRY_TRAINED=1)
#   .deps/goldens/<case>/{manifest.json,*.npy}          (the goldens' reference logits)
#   .deps/bench/flash4.official.cuda.bkart            (scripts/gpu-bench.sh: 4 layers of
#                                                       V4-Flash, weights generated at load;
#                                                       plus $BIRKHOFF_BENCH_EXTRA's artifacts)
# The artifacts, bench and goldens folders are then packed into .deps/packed.tar.xz.
# Run on the compile machine (flatc, libflatbuffers-dev, nlohmann-json3-dev; NVRTC and a full
# build with the compiler in $BIRKHOFF_BUILD, default build/, for the artifacts), then carry
# .deps to the GPU machine with the working tree (no MLIR there: artifacts are compiled here).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
fb_include="${FLATBUFFERS_INCLUDE:-/usr/include}"
json_include="${NLOHMANN_INCLUDE:-/usr/include}"
[ -f "$fb_include/flatbuffers/flatbuffers.h" ] || { echo "no flatbuffers headers in $fb_include" >&2; exit 1; }
[ -f "$json_include/nlohmann/json.hpp" ] || { echo "no nlohmann/json.hpp in $json_include" >&2; exit 1; }
command -v flatc > /dev/null || { echo "flatc not found" >&2; exit 1; }
rm -rf .deps/include .deps/generated .deps/lib
mkdir -p .deps/include .deps/generated .deps/lib
cp -r "$fb_include/flatbuffers" .deps/include/
cp -r "$json_include/nlohmann" .deps/include/
[ -f /usr/include/pcre2.h ] || { echo "no /usr/include/pcre2.h: install libpcre2-dev" >&2; exit 1; }
cp /usr/include/pcre2.h .deps/include/
[ -f /usr/include/CLI/CLI.hpp ] || { echo "no /usr/include/CLI/CLI.hpp: install libcli11-dev" >&2; exit 1; }
cp -r /usr/include/CLI .deps/include/
# cpp-httplib: Debian ships it compiled, so the library travels with its header.
lib=/usr/lib/x86_64-linux-gnu
if [ -f /usr/include/httplib.h ] && [ -f "$lib/libcpp-httplib.so.0.11" ]; then
  cp /usr/include/httplib.h .deps/include/
  mkdir -p .deps/include/openssl
  cp /usr/include/openssl/*.h /usr/include/x86_64-linux-gnu/openssl/*.h .deps/include/openssl/
  cp -L "$lib/libcpp-httplib.so.0.11" .deps/lib/
  ln -s libcpp-httplib.so.0.11 .deps/lib/libcpp-httplib.so
  for l in libbrotlicommon.so.1 libbrotlidec.so.1 libbrotlienc.so.1; do cp -L "$lib/$l" .deps/lib/; done
else
  echo "prepare-gpu-carry: no libcpp-httplib-dev: the GPU build leaves out birkhoff serve" >&2
fi
# Same flags as lib/CMakeLists.txt's flatc rule.
flatc --cpp --scoped-enums -o .deps/generated lib/schema/artifact.fbs

# Artifacts for test/gpu/GpuModelTest.cpp.
build="${BIRKHOFF_BUILD:-$root/build}"
goldens="${BIRKHOFF_GOLDENS_DIR:-$root/../shared/goldens}"
rm -rf .deps/artifacts .deps/goldens
mkdir -p .deps/artifacts .deps/goldens
tool="$build/bin/birkhoff"
mini="$build/tests/make_mini_artifacts"
if [ ! -x "$tool" ] || ! "$tool" compile --help > /dev/null 2>&1 || [ ! -x "$mini" ]; then
  echo "prepare-gpu-carry: no compiler build in $build (birkhoff with compile, tests/make_mini_artifacts):" >&2
  echo "  no artifacts carried; build them (ninja birkhoff make_mini_artifacts) or set BIRKHOFF_BUILD" >&2
else
  "$mini" .deps/artifacts
  for case in tiny_mix tiny_rates tiny_quant tiny_dq tiny_dq2; do
    src="$goldens/$case"
    [ -f "$src/manifest.json" ] || { echo "prepare-gpu-carry: no golden case $src" >&2; continue; }
    if "$tool" compile "$src" -o ".deps/artifacts/$case.cuda.bkart" --target cuda \
         2> ".deps/artifacts/$case.log"; then
      "$tool" compile "$src" -o ".deps/artifacts/$case.host.bkart" 2>> ".deps/artifacts/$case.log"
      mkdir -p ".deps/goldens/$case"
      cp "$src/manifest.json" ".deps/goldens/$case/"
      cp "$src"/*.npy ".deps/goldens/$case/"
      # DeepSeek's numerics on the GPU, where the case allows them (tiny_dq, tiny_dq2).
      "$tool" compile "$src" -o ".deps/artifacts/$case.official.cuda.bkart" --target cuda \
        --numerics official 2>> ".deps/artifacts/$case.log" ||
        rm -f ".deps/artifacts/$case.official.cuda.bkart"
      [ -f ".deps/artifacts/$case.official.cuda.bkart" ] &&
        { "$tool" compile "$src" -o ".deps/artifacts/$case.official.host.bkart" \
            --numerics official 2>> ".deps/artifacts/$case.log" ||
          rm -f ".deps/artifacts/$case.official.host.bkart"; }
      rm -f ".deps/artifacts/$case.log"
    else
      rm -f ".deps/artifacts/$case.cuda.bkart"
      echo "$case: $(tail -1 ".deps/artifacts/$case.log")" >> .deps/artifacts/MISSING.txt
      rm -f ".deps/artifacts/$case.log"
    fi
  done
  # The trained default model (models/deepseek_v4/tiny; its reference data travels with the
  # tree), both profiles, with BIRKHOFF_CARRY_TRAINED=1: its two artifacts pack to about
  # 25 MB, which with everything else passes the carry's 64 MiB, so a call that runs
  # GpuTrainedModel carries them and little else.
  if [ "${BIRKHOFF_CARRY_TRAINED:-0}" = 1 ]; then
    "$tool" compile models/deepseek_v4/tiny -o .deps/artifacts/tiny-model.cuda.bkart --target cuda
    "$tool" compile models/deepseek_v4/tiny -o .deps/artifacts/tiny-model.official.cuda.bkart \
      --target cuda --numerics official
  fi
  [ -f .deps/artifacts/MISSING.txt ] && { echo "prepare-gpu-carry: golden cases not compiled for cuda:"; cat .deps/artifacts/MISSING.txt; }
  # The benchmark model: no weight bytes travel, the runtime generates them.
  rm -rf .deps/bench
  mkdir -p .deps/bench
  "$tool" compile --synth-preset flash --layers 4 --target cuda --numerics official \
    -o .deps/bench/flash4.official.cuda.bkart || rm -f .deps/bench/flash4.official.cuda.bkart
  # The same with the opt-in split decode attention (compile --split-decode-attention).
  "$tool" compile --synth-preset flash --layers 4 --target cuda --numerics official \
    --split-decode-attention -o .deps/bench/flash4.official.split.cuda.bkart ||
    rm -f .deps/bench/flash4.official.split.cuda.bkart
  # Artifacts to bench beside it in the same run, e.g. the same model compiled by an
  # earlier commit (a baseline): BIRKHOFF_BENCH_EXTRA="a.bkart b.bkart".
  for extra in ${BIRKHOFF_BENCH_EXTRA:-}; do
    cp "$extra" .deps/bench/ || exit 1
  done
  ls -la .deps/artifacts
fi
# A baseline to time against on the same machine (scripts/gpu-engine.sh): the source of
# revision $BIRKHOFF_BASELINE_REV, built there runtime-only next to this tree.
if [ -n "${BIRKHOFF_BASELINE_REV:-}" ]; then
  git archive --format=tar "$BIRKHOFF_BASELINE_REV" | xz -T0 -6 > .deps/baseline-src.tar.xz
  echo "$BIRKHOFF_BASELINE_REV $(git rev-parse --short "$BIRKHOFF_BASELINE_REV")" > .deps/baseline-rev
fi
# A carry holds 64 MiB with the working tree: the artifacts (mostly cubins) and
# goldens travel xz-packed; the GPU scripts unpack them (scripts/gpu-unpack-carry.sh).
packed=()
for d in artifacts bench goldens; do [ -d ".deps/$d" ] && packed+=("$d"); done
if [ ${#packed[@]} -gt 0 ]; then
  rm -f .deps/packed.tar.xz
  tar -C .deps -cf - "${packed[@]}" | xz -T0 -6 > .deps/packed.tar.xz
  (cd .deps && rm -rf "${packed[@]}")
fi
# The GPU machine's copy of the tree has no history: record what was packed.
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!.deps' || echo '+uncommitted changes')" > .deps/commit
echo "prepare-gpu-carry: $(du -sh .deps | cut -f1) in $root/.deps"
