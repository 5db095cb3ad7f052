//===- LaunchAbi.h - Host mirror of the CUDA kernels' launch ABI
//-----------===//
//
// Every generated kernel takes one `BkLaunch` by value (the device definition
// is compiler/cuda/templates/abi.cuh; docs/cuda.md). The runtime fills it per
// launch and derives the grid from the token count with the launch's GridRule.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CUDA_LAUNCHABI_H
#define BIRKHOFF_CUDA_LAUNCHABI_H

#include <cstddef>
#include <cstdint>

namespace birkhoff::cuda {

struct BkLaunch {
  int64_t tokens = 0;                   // S
  int64_t start = 0;                    // position of the first token
  const int32_t *tokenIds = nullptr;    // device [S]
  const void *in[4] = {};               // device input buffers, launch order
  void *out[4] = {};                    // device output buffers, launch order
  const void *const *weights = nullptr; // device array of weight data pointers
  const void *const *scales = nullptr;  // device array of block-scale pointers
  void *states[4] = {};                 // device state buffers, launch order
  // Rows of each state buffer (StateView::rows). Kernels bound their state
  // row indices by it, as the host kernels do; 0 means "not given" (no
  // bound: the runtime guarantees every row the call touches exists).
  // Appended after the original 136-byte layout.
  int64_t stateRows[4] = {};
  // Device pointer to the position; when set, kernels read the position
  // from it instead of `start`, so a captured decode step replays at any
  // position (CUDA graphs). Appended after the 168-byte layout.
  const int64_t *startAt = nullptr;
  // Device scratch of the kernel's CudaKernel.scratch_bytes, zeroed when the
  // session starts; kernels that use it leave it zeroed again (counters) or
  // overwrite what they read (partial results). Null when the kernel needs
  // none.
  void *scratch = nullptr;
};

static_assert(sizeof(BkLaunch) == 184, "must match templates/abi.cuh");
static_assert(offsetof(BkLaunch, tokenIds) == 16);
static_assert(offsetof(BkLaunch, in) == 24);
static_assert(offsetof(BkLaunch, out) == 56);
static_assert(offsetof(BkLaunch, weights) == 88);
static_assert(offsetof(BkLaunch, scales) == 96);
static_assert(offsetof(BkLaunch, states) == 104);
static_assert(offsetof(BkLaunch, stateRows) == 136);
static_assert(offsetof(BkLaunch, startAt) == 168);
static_assert(offsetof(BkLaunch, scratch) == 176);

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
