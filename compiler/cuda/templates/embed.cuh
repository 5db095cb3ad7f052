// embed.cuh - x[t, s·d + i] = E[tok_t, i] for every stream s < HC. One block
// per token. Token ids outside [0, V) give a zero row: the runtime checks ids
// on the host before the launch (the host kernel's error), this only keeps the
// kernel from reading outside the table.
#pragma once
#include "bk/common.cuh"

namespace bk {

template <int V, int DIM, int HC, int WDT, int BLOCK>
__device__ __forceinline__ void embed(const BkLaunch &a) {
  const long long t = blockIdx.x;
  const int tok = a.token_ids[t];
  const bool valid = tok >= 0 && tok < V;
  float *x = (float *)a.out[0] + t * HC * DIM;
  const void *E = a.weights[0];
  if constexpr (DIM % 4 == 0) {
    for (int i = threadIdx.x * 4; i < DIM; i += BLOCK * 4) {
      float4 v = valid ? loadScalar4<WDT>(E, (long long)tok * DIM + i)
                       : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
      for (int s = 0; s < HC; ++s)
        *(float4 *)(x + s * DIM + i) = v;
    }
  } else {
    for (int i = threadIdx.x; i < DIM; i += BLOCK) {
      float v = valid ? loadScalar<WDT>(E, (long long)tok * DIM + i) : 0.0f;
#pragma unroll
      for (int s = 0; s < HC; ++s)
        x[s * DIM + i] = v;
    }
  }
}

} // namespace bk
