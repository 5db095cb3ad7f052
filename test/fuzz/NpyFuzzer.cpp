//===- NpyFuzzer.cpp - Fuzzes the .npy reader -----------------------------===//
//
// An input is a whole .npy file. Reading it gives an array or an error; an
// array it accepts has a known dtype and exactly the bytes its shape needs,
// and converts to values without reading past them.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "birkhoff/Npy.h"

using namespace birkhoff;

extern "C" int LLVMFuzzerInitialize(int *, char ***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Expected<NpyArray> array = readNpy(fuzz::writeScratchFile(data, size));
  if (!array)
    return 0;
  const int64_t numel = array->numel();
  fuzz::check(numel >= 0, "an accepted shape has no element count");
  uint64_t itemBytes = 0;
  if (array->descr == "<f4" || array->descr == "<i4")
    itemBytes = 4;
  else if (array->descr == "<i8")
    itemBytes = 8;
  fuzz::check(itemBytes != 0, "accepted descr '" + array->descr + "'");
  fuzz::check(array->data.size() == uint64_t(numel) * itemBytes,
              "data size disagrees with the shape");
  fuzz::check(array->descr == "<f4"
                  ? array->asFloat().size() == uint64_t(numel)
                  : array->asInt64().size() == uint64_t(numel),
              "converted values disagree with the shape");
  return 0;
}
