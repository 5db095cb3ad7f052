#!/usr/bin/env bash
# A service's view of Birkhoff: install the build into a fresh prefix, then build
# consumer/Consumer.cpp outside the tree against only what was installed, with
# find_package(Birkhoff) (shared and static) and with pkg-config, and run each on a one-layer
# artifact (full builds; runtime-only ones have no `compile`: version only). Then the .deb that
# cpack makes of this build: its files, and the consumer built against it unpacked. Last,
# configure a project that add_subdirectory()s the source tree and checks the commands that
# would build the consumer (building it would compile the runtime again).
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
consumer=$src/test/install/consumer

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
"$prefix/bin/birkhoff" --version

# From here on, only the prefix is on the include and library paths.
artifact=()
if "$prefix/bin/birkhoff" compile --help > /dev/null 2>&1; then
  "$prefix/bin/birkhoff" compile --synth-preset tiny --layers 1 -o "$work/tiny.bkart" \
    > "$work/compile.log" 2>&1
  artifact=("$work/tiny.bkart")
fi

echo "== find_package(Birkhoff)"
cmake -G Ninja -S "$consumer" -B "$work/cmake" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake.log"
cmake --build "$work/cmake" > "$work/cmake-build.log"
# (ldd's output captured first: grep -q closing the pipe early would fail it under pipefail.)
libs=$(ldd "$work/cmake/consumer_shared")
[[ $libs == *"$prefix/lib"*"/libbirkhoff_runtime.so"* ]] || {
  echo "consumer_shared does not load the installed libbirkhoff_runtime.so:"; echo "$libs"; exit 1; }
libs=$(ldd "$work/cmake/consumer_static")
[[ $libs != *libbirkhoff_runtime* ]] || { echo "consumer_static loads libbirkhoff_runtime.so"; exit 1; }
"$work/cmake/consumer_shared" "${artifact[@]}"
"$work/cmake/consumer_static" "${artifact[@]}"

echo "== pkg-config birkhoff"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig:$prefix/lib64/pkgconfig
mkdir -p "$work/pkg-config"
# shellcheck disable=SC2046 # the flags are words
c++ -std=c++20 -O1 -o "$work/pkg-config/consumer" "$consumer/Consumer.cpp" \
  $(pkg-config --cflags --libs birkhoff) -Wl,-rpath,"$(pkg-config --variable=libdir birkhoff)"
"$work/pkg-config/consumer" "${artifact[@]}"

echo "== cpack"
# The .deb of this build, written under $work (not the build's package/), unpacked into a
# folder: it holds the library, headers, package files, tools and license under /usr, and
# its birkhoff.pc finds that prefix from its own folder.
if command -v cpack > /dev/null && command -v dpkg-deb > /dev/null; then
  cpack --config "$build/CPackConfig.cmake" -B "$work/cpack" \
    -D CPACK_OUTPUT_FILE_PREFIX="$work/cpack" > "$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log"; exit 1; }
  deb=$(ls "$work"/cpack/birkhoff_*.deb)
  info=$(dpkg-deb -I "$deb") # (whole, before grep: see ldd above)
  grep -q '^ Package: birkhoff$' <<< "$info" || { echo "$info"; exit 1; }
  dpkg-deb -x "$deb" "$work/deb-root"
  for f in usr/include/birkhoff/Runtime.h usr/lib/libbirkhoff_runtime.a \
           usr/lib/cmake/Birkhoff/BirkhoffConfig.cmake usr/lib/pkgconfig/birkhoff.pc \
           usr/bin/birkhoff usr/share/doc/birkhoff/LICENSE; do
    [ -e "$work/deb-root/$f" ] || { echo "the .deb has no /$f"; exit 1; }
  done
  [ -e "$work/deb-root/usr/lib/libbirkhoff_runtime.so" ] || { echo "the .deb has no .so"; exit 1; }
  mkdir -p "$work/deb-consumer"
  debpc=$work/deb-root/usr/lib/pkgconfig
  # shellcheck disable=SC2046 # the flags are words
  c++ -std=c++20 -O1 -o "$work/deb-consumer/consumer" "$consumer/Consumer.cpp" \
    $(PKG_CONFIG_PATH=$debpc pkg-config --cflags --libs birkhoff) \
    -Wl,-rpath,"$(PKG_CONFIG_PATH=$debpc pkg-config --variable=libdir birkhoff)"
  libs=$(ldd "$work/deb-consumer/consumer")
  [[ $libs == *"libbirkhoff_runtime.so.0.1 => $work/deb-root/usr/"* ]] || {
    echo "the consumer does not load the .deb's libbirkhoff_runtime.so:"; echo "$libs"; exit 1; }
  "$work/deb-consumer/consumer" "${artifact[@]}"
  echo "cpack: $(basename "$deb"), $(dpkg-deb -c "$deb" | wc -l) entries"
else
  echo "cpack: skipped (no cpack or dpkg-deb)"
fi

echo "== add_subdirectory"
cmake -G Ninja -S "$consumer" -B "$work/subdirectory" -DBIRKHOFF_SOURCE_DIR="$src" \
  -DBIRKHOFF_RUNTIME_ONLY=ON > "$work/subdirectory.log"
# The commands that would build each consumer: its last one links the subproject's library.
for kind in shared:so static:a; do
  link=$(ninja -C "$work/subdirectory" -t commands "consumer_${kind%%:*}" | tail -1)
  [[ $link == *"-o consumer_${kind%%:*} "*"birkhoff/lib/dist/libbirkhoff_runtime.${kind#*:}"* ]] || {
    echo "consumer_${kind%%:*} would not link the subproject's runtime:"; echo "$link"; exit 1; }
done
echo "add_subdirectory: configured; consumer_shared and consumer_static link its runtime"
