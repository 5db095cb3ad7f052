// norm.cuh - rms_norm (weighted, one row per token) and head_rms_norm
// (unweighted, per head). HOST_ORDER sums the squares in the host kernels'
// sequential order (bitwise equal results); otherwise a block/warp tree sum
// (faster, within an ulp of the factor).
#pragma once
#include "bk/common.cuh"

namespace bk {

// y[t] = w ⊙ x[t] · rsqrt(mean(x[t]²) + eps); one block per token.
template <int N, int WDT, int BLOCK, bool HOST_ORDER>
__device__ __forceinline__ void rmsNorm(const BkLaunch &a, float eps) {
  __shared__ float scratch[BLOCK / 32];
  __shared__ float factor;
  const long long t = blockIdx.x;
  const float *x = (const float *)a.in[0] + t * N;
  float *y = (float *)a.out[0] + t * N;
  const void *w = a.weights[0];
  constexpr bool kVec = N % 4 == 0;
  if constexpr (HOST_ORDER) {
    if (threadIdx.x == 0)
      factor = rmsFactor(sumSquaresSequential(x, N), (float)N, eps);
    __syncthreads();
  } else {
    float ss = 0.0f;
    for (int i = threadIdx.x; i < N; i += BLOCK)
      ss += x[i] * x[i];
    ss = blockSum<BLOCK>(ss, scratch);
    if (threadIdx.x == 0)
      factor = rmsFactor(ss, (float)N, eps);
    __syncthreads();
  }
  const float r = factor;
  if constexpr (kVec) {
    for (int i = threadIdx.x * 4; i < N; i += BLOCK * 4) {
      float4 v = *(const float4 *)(x + i);
      float4 g = loadScalar4<WDT>(w, i);
      v.x = __fmul_rn(g.x, __fmul_rn(v.x, r));
      v.y = __fmul_rn(g.y, __fmul_rn(v.y, r));
      v.z = __fmul_rn(g.z, __fmul_rn(v.z, r));
      v.w = __fmul_rn(g.w, __fmul_rn(v.w, r));
      *(float4 *)(y + i) = v;
    }
  } else {
    for (int i = threadIdx.x; i < N; i += BLOCK)
      y[i] = __fmul_rn(loadScalar<WDT>(w, i), __fmul_rn(x[i], r));
  }
}

// Per head: q *= rsqrt(mean(q²) + eps). A warp per head; HEADS_PER_BLOCK
// warps per block; grid.x = tokens * ceil(H / HEADS_PER_BLOCK).
template <int H, int D, int HEADS_PER_BLOCK, bool HOST_ORDER>
__device__ __forceinline__ void headRmsNorm(const BkLaunch &a, float eps) {
  constexpr int kGroups = (H + HEADS_PER_BLOCK - 1) / HEADS_PER_BLOCK;
  const long long t = blockIdx.x / kGroups;
  const int h = (blockIdx.x % kGroups) * HEADS_PER_BLOCK + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (h >= H)
    return;
  const float *x = (const float *)a.in[0] + (t * H + h) * D;
  float *y = (float *)a.out[0] + (t * H + h) * D;
  float r;
  if constexpr (HOST_ORDER) {
    float f = 0.0f;
    if (lane == 0)
      f = rmsFactor(sumSquaresSequential(x, D), (float)D, eps);
    r = __shfl_sync(0xffffffffu, f, 0);
  } else {
    float ss = 0.0f;
    for (int i = lane; i < D; i += 32)
      ss += x[i] * x[i];
    r = rmsFactor(warpSum(ss), (float)D, eps);
  }
  if constexpr (D % 4 == 0) {
    for (int i = lane * 4; i < D; i += 128) {
      float4 v = *(const float4 *)(x + i);
      v.x = __fmul_rn(v.x, r);
      v.y = __fmul_rn(v.y, r);
      v.z = __fmul_rn(v.z, r);
      v.w = __fmul_rn(v.w, r);
      *(float4 *)(y + i) = v;
    }
  } else {
    for (int i = lane; i < D; i += 32)
      y[i] = __fmul_rn(x[i], r);
  }
}

} // namespace bk
