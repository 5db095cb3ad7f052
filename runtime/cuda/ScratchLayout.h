//===- ScratchLayout.h - Where each launch's kernel scratch lies -*- C++
//-*-===//
//
// A session's kernel scratch holds one region per distinct first kernel of a
// launch (LaunchDesc::cudaKernel), shared by that kernel's launches in turn
// (they are stream-ordered), so what a kernel keeps there between calls (the
// grouped moe's counters, left at zero) no other kernel writes over. One
// kernel can serve entries of different token counts (its source need not
// depend on them; the scored indexer's does not) while its scratch grows with
// them, so a region is as large as the largest need among the launches that
// share it, each launch's need being the largest of its kernels'.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_CUDA_SCRATCHLAYOUT_H
#define BIRKHOFF_RUNTIME_CUDA_SCRATCHLAYOUT_H

#include "../Program.h"

#include <cstdint>
#include <vector>

namespace birkhoff::rt {

struct ScratchLayout {
  struct Region {
    uint64_t offset = 0; // bytes from the scratch's start
    uint64_t bytes = 0;  // what the launch needs; 0: no scratch
  };
  std::vector<std::vector<Region>> launches; // [entry][launch]
  uint64_t bytes = 0;                        // the whole scratch
};

/// Regions start on 256-byte boundaries.
inline constexpr uint64_t kScratchAlign = 256;

/// The scratch of `program`'s launches. Kernel indices out of range count as
/// needing none (the loader refuses them).
ScratchLayout layoutScratch(const Program &program);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_CUDA_SCRATCHLAYOUT_H
