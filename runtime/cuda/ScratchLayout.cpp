//===- ScratchLayout.cpp - Where each launch's kernel scratch lies --------===//
#include "ScratchLayout.h"

#include <algorithm>
#include <map>

namespace birkhoff::rt {

ScratchLayout layoutScratch(const Program &program) {
  auto need = [&](const LaunchDesc &l) {
    uint64_t bytes = 0;
    for (int k : l.cudaKernelSequence())
      if (k >= 0 && size_t(k) < program.cudaKernels.size())
        bytes = std::max(bytes, program.cudaKernels[size_t(k)].scratchBytes);
    return bytes;
  };
  // Each first kernel's region: the largest need of its launches, placed in
  // the order the kernels first appear.
  std::map<int, uint64_t> regionBytes;
  std::vector<int> order;
  for (const EntryDesc &entry : program.entries)
    for (const LaunchDesc &l : entry.launches)
      if (uint64_t bytes = need(l)) {
        auto [it, added] = regionBytes.try_emplace(l.cudaKernel, bytes);
        if (added)
          order.push_back(l.cudaKernel);
        it->second = std::max(it->second, bytes);
      }
  ScratchLayout layout;
  std::map<int, uint64_t> regionAt;
  for (int k : order) {
    regionAt[k] = layout.bytes;
    layout.bytes +=
        (regionBytes[k] + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
  }
  for (const EntryDesc &entry : program.entries) {
    std::vector<ScratchLayout::Region> &regions =
        layout.launches.emplace_back();
    for (const LaunchDesc &l : entry.launches) {
      ScratchLayout::Region r;
      r.bytes = need(l);
      if (r.bytes > 0)
        r.offset = regionAt[l.cudaKernel];
      regions.push_back(r);
    }
  }
  return layout;
}

} // namespace birkhoff::rt
