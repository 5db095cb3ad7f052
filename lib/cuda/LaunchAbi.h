//===- LaunchAbi.h - Host mirror of the CUDA kernels' launch ABI -*- C++ -*-===//
//
// Every generated kernel takes one `BkLaunch` by value (the device definition
// is compiler/cuda/templates/abi.cuh; docs/cuda.md). The runtime fills it per
// launch and derives the grid from the token count with the launch's GridRule.
//
// A call is a batch: its S tokens belong to one or more sequences, each
// sequence's tokens on consecutive rows with consecutive positions. Per token
// the kernels read where it belongs (BkToken); per sequence its state lives in
// the rows of its slot (fixed state: window ring, compressor tails) or in
// pages of a pool shared by all sequences (growing state: compressed KV
// entries, indexer keys), found through the slot's row of the page table.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CUDA_LAUNCHABI_H
#define BIRKHOFF_CUDA_LAUNCHABI_H

#include <cstddef>
#include <cstdint>

namespace birkhoff::cuda {

/// Where one token of a call belongs.
struct BkToken {
  int32_t pos = 0;   // its position in its sequence
  int32_t slot = 0;  // its sequence's slot (state rows, page-table row)
  int32_t first = 0; // the call row of its sequence's first token
  int32_t last = 0;  // the call row of its sequence's last token
};
static_assert(sizeof(BkToken) == 16);

struct BkLaunch {
  int64_t tokens = 0;                   // S
  const BkToken *tok = nullptr;         // device [S]
  const int32_t *tokenIds = nullptr;    // device [S]
  const void *in[4] = {};               // device input buffers, launch order
  void *out[4] = {};                    // device output buffers, launch order
  const void *const *weights = nullptr; // device array of weight data pointers
  const void *const *scales = nullptr;  // device array of block-scale pointers
  // Device state of every slot, launch order. A fixed state holds
  // stateRows[i] rows per slot, slot after slot. A growing (paged) state
  // holds stateRows[i] rows per page (a power of two), page after page; row r
  // of a slot is row r % stateRows[i] of page
  // pageTable[slot * pagesPerSlot + r / stateRows[i]].
  void *states[4] = {};
  int64_t stateRows[4] = {};
  const int32_t *pageTable = nullptr; // device [slots][pagesPerSlot]
  int64_t pagesPerSlot = 0;
  // Device scratch of the kernel's CudaKernel.scratch_bytes, zeroed when the
  // engine starts; kernels that use it leave it zeroed again (counters) or
  // overwrite what they read (partial results). Null when the kernel needs
  // none.
  void *scratch = nullptr;
};

static_assert(sizeof(BkLaunch) == 192, "must match templates/abi.cuh");
static_assert(offsetof(BkLaunch, tok) == 8);
static_assert(offsetof(BkLaunch, tokenIds) == 16);
static_assert(offsetof(BkLaunch, in) == 24);
static_assert(offsetof(BkLaunch, out) == 56);
static_assert(offsetof(BkLaunch, weights) == 88);
static_assert(offsetof(BkLaunch, scales) == 96);
static_assert(offsetof(BkLaunch, states) == 104);
static_assert(offsetof(BkLaunch, stateRows) == 136);
static_assert(offsetof(BkLaunch, pageTable) == 168);
static_assert(offsetof(BkLaunch, pagesPerSlot) == 176);
static_assert(offsetof(BkLaunch, scratch) == 184);

/// How a launch's grid follows its token count S (stored per launch, as
/// data): grid.x = xPerToken·S + xConst, grid.y = ceil(S / tokensPerY) (1 when
/// tokensPerY is 0), grid.z = 1, block = (block, 1, 1). S = 0 launches nothing.
struct GridRule {
  int64_t xPerToken = 0;
  int64_t xConst = 1;
  int64_t tokensPerY = 0;
  int block = 256;

  int64_t gridX(int64_t tokens) const { return xPerToken * tokens + xConst; }
  int64_t gridY(int64_t tokens) const {
    return tokensPerY > 0 ? (tokens + tokensPerY - 1) / tokensPerY : 1;
  }
  bool operator==(const GridRule &) const = default;
};

} // namespace birkhoff::cuda

#endif // BIRKHOFF_CUDA_LAUNCHABI_H
