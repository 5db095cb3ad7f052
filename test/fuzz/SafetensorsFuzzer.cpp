//===- SafetensorsFuzzer.cpp - Fuzzes the safetensors header parser -------===//
//
// An input is a whole safetensors file. Whatever it holds, opening it gives a
// file or an error; a file it accepts has every tensor inside its data area,
// its byte size that of its dtype and shape, and no two tensors sharing a
// byte.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "birkhoff/Safetensors.h"

#include <algorithm>
#include <vector>

using namespace birkhoff;

extern "C" int LLVMFuzzerInitialize(int *, char ***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = fuzz::writeScratchFile(data, size);
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file)
    return 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto &[name, info] : file->tensors()) {
    uint64_t elements = 1;
    for (int64_t d : info.shape)
      elements *= uint64_t(d);
    fuzz::check(elements * uint64_t(dtypeStorageBytes(info.dtype)) ==
                    info.byteSize,
                name + ": byte size disagrees with dtype and shape");
    fuzz::check(info.dataOffset >= 8 && info.dataOffset <= size &&
                    info.byteSize <= size - info.dataOffset,
                name + ": data outside the file");
    Expected<std::span<const uint8_t>> bytes = file->bytes(name);
    fuzz::check(bytes && bytes->size() == info.byteSize,
                name + ": bytes() disagrees with its entry");
    if (info.byteSize > 0)
      ranges.emplace_back(info.dataOffset, info.dataOffset + info.byteSize);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    fuzz::check(ranges[i - 1].second <= ranges[i].first, "tensors overlap");
  return 0;
}
