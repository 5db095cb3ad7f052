#!/usr/bin/env bash
# Fails when runtime/ or lib/ include an MLIR/LLVM header, or when a runtime-side target links
# an MLIR/LLVM library.
set -u
src=$1 build=$2
bad=$(grep -rnE '#include[[:space:]]*[<"](mlir|llvm)/' "$src/runtime" "$src/lib" 2>/dev/null)
if [ -n "$bad" ]; then
  echo "MLIR/LLVM include in runtime/ or lib/:"; echo "$bad"; exit 1
fi
for lib in "$build"/lib/libbirkhoff_runtime*.a "$build"/lib/libbirkhoff_lib.a \
           "$build"/lib/dist/libbirkhoff_runtime.a; do
  [ -f "$lib" ] || continue
  if nm -C "$lib" 2>/dev/null | grep -qE ' U (mlir|llvm)::'; then
    echo "$lib references MLIR/LLVM symbols"; exit 1
  fi
done
if [ -x "$build/bin/birkhoff-run" ] && ldd "$build/bin/birkhoff-run" | grep -qE 'libMLIR|libLLVM'; then
  echo "birkhoff-run links MLIR/LLVM"; exit 1
fi
so="$build/lib/dist/libbirkhoff_runtime.so"
if [ -f "$so" ] && readelf -d "$so" | grep -qE 'NEEDED.*(libMLIR|libLLVM)'; then
  echo "$so links MLIR/LLVM"; exit 1
fi
echo "runtime/ and lib/ are free of MLIR/LLVM"
