// abi.cuh - The launch ABI of every Birkhoff CUDA kernel (docs/cuda.md).
//
// Every generated kernel is `extern "C" __global__ void <name>(const BkLaunch
// args)`. The host mirror is lib/cuda/LaunchAbi.h; both sides check the size
// and offsets, so a change here must be made there too.
#pragma once

struct BkLaunch {
  long long tokens;             // S: tokens of this call
  long long start;              // absolute position of the first token
  const int *token_ids;         // [S] device i32 (input index -1)
  const void *in[4];            // input buffers, launch order; row t at t*elems
  void *out[4];                 // output buffers, launch order
  const void *const *weights;   // device array: data of launch weight i
  const void *const *scales;    // device array: e8m0 block scale of weight i
  void *states[4];              // per-session state buffers, launch order
  long long state_rows[4];      // rows of each state; 0: not given (no bound)
  const long long *start_at;    // device; non-null: the position (not start)
  void *scratch;                // device scratch of the kernel's scratch_bytes
};

static_assert(sizeof(BkLaunch) == 184, "BkLaunch layout changed");

// The position of the call's first token. A decode step replayed from a CUDA
// graph reads it from device memory: the captured launch keeps its
// parameters, the position changes every step.
__device__ __forceinline__ long long bkStart(const BkLaunch &a) {
  return a.start_at ? *a.start_at : a.start;
}
