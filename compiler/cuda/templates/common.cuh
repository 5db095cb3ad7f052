// common.cuh - Number decoding, vector loads and reductions shared by the
// Birkhoff device templates. fp32 math (the `reference` numerics profile).
#pragma once
#include "bk/abi.cuh"

namespace bk {

// Weight storage formats; the values are birkhoff::DType's.
enum WDType : int { kF32 = 0, kBF16 = 1, kF8E4M3 = 2, kFP4 = 4 };

__device__ __forceinline__ float bf16ToF32(unsigned int h16) {
  return __uint_as_float(h16 << 16);
}

// 2^(b-127); 0xFF is NaN, 0 the fp32 subnormal 2^-127 (exact).
__device__ __forceinline__ float e8m0ToF32(unsigned int b) {
  if (b == 0xffu)
    return __uint_as_float(0x7fc00000u);
  if (b == 0u)
    return __uint_as_float(0x00400000u);
  return __uint_as_float(b << 23);
}

__device__ __forceinline__ float f16ToF32(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}

// Two e4m3fn codes (low byte first) to floats, exact: the sm_89+ hardware
// conversion to f16x2, then f16 to f32.
__device__ __forceinline__ void e4m3x2ToF32(unsigned int pair, float &lo,
                                            float &hi) {
  unsigned int h2;
  unsigned short v = (unsigned short)pair;
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h2) : "h"(v));
  lo = f16ToF32((unsigned short)(h2 & 0xffffu));
  hi = f16ToF32((unsigned short)(h2 >> 16));
}

// One e2m1 code (bit 3 sign) to float, exact: magnitudes 0, .5, 1, 1.5, 2, 3,
// 4, 6. The code's 3 magnitude bits placed at fp32 bits [24:22] (exponent
// field e1e0, top mantissa bit m) read as e2m1 · 2^-126 for every code, the
// zero-exponent ones as subnormals; one exact multiply restores the scale.
// Four integer ops and a multiply, no branch (denormals are not flushed).
__device__ __forceinline__ float e2m1ToF32(unsigned int code) {
  return __fmul_rn(__uint_as_float(((code & 7u) << 22) | ((code & 8u) << 28)),
                   0x1p126f);
}

// Element i of a 1-D F32 or BF16 weight (norm weights, mHC fn/base/scale).
template <int DT>
__device__ __forceinline__ float loadScalar(const void *p, long long i) {
  static_assert(DT == kF32 || DT == kBF16, "scalar weights are F32 or BF16");
  if constexpr (DT == kF32)
    return __ldg((const float *)p + i);
  else
    return bf16ToF32(__ldg((const unsigned short *)p + i));
}

// Four consecutive elements [i, i+4) of an F32 or BF16 weight (i % 4 == 0).
template <int DT>
__device__ __forceinline__ float4 loadScalar4(const void *p, long long i) {
  if constexpr (DT == kF32) {
    return __ldg((const float4 *)((const float *)p + i));
  } else {
    uint2 v = __ldg((const uint2 *)((const unsigned short *)p + i));
    return make_float4(bf16ToF32(v.x & 0xffffu), bf16ToF32(v.x >> 16),
                       bf16ToF32(v.y & 0xffffu), bf16ToF32(v.y >> 16));
  }
}

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum of `v` over the block (BLOCK threads, a multiple of 32); every thread
// gets the result. `scratch` holds BLOCK/32 floats.
template <int BLOCK>
__device__ __forceinline__ float blockSum(float v, float *scratch) {
  static_assert(BLOCK % 32 == 0 && BLOCK <= 1024, "block of whole warps");
  constexpr int W = BLOCK / 32;
  v = warpSum(v);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads(); // scratch may still be read by a previous reduction
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  float s = lane < W ? scratch[lane] : 0.0f;
  return warpSum(s);
}

// The host's blockTreeDot order (runtime/host/WeightDecode.h), which makes
// a row-local reduction parallel and bitwise equal to the host: thread q of
// a 256-thread block owns the quads [4q + 1024c, +4) of the row; it adds a
// quad's products left to right (quadDot), then that to its partial. The
// partials then combine in blockTreeSums.
__device__ __forceinline__ float quadDot(float4 a, float4 b) {
  return __fadd_rn(
      __fadd_rn(__fadd_rn(__fmul_rn(a.x, b.x), __fmul_rn(a.y, b.y)),
                __fmul_rn(a.z, b.z)),
      __fmul_rn(a.w, b.w));
}

// total[m] = the block's sum of every thread's acc[m], for R sums at once:
// xor butterfly within each warp (warpSum), then the 8 warp totals in order
// from 0. `red` holds R·BLOCK/32 floats; total[] is shared.
template <int R, int BLOCK>
__device__ __forceinline__ void blockTreeSums(const float (&acc)[R], float *red,
                                              float *total) {
  static_assert(BLOCK == 256, "the host's blockTreeDot has 256 lanes");
  constexpr int W = BLOCK / 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads(); // red may still be read by a previous reduction
#pragma unroll
  for (int m = 0; m < R; ++m) {
    const float s = warpSum(acc[m]);
    if (lane == 0)
      red[m * W + warp] = s;
  }
  __syncthreads();
  for (int m = threadIdx.x; m < R; m += BLOCK) {
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < W; ++w)
      s = __fadd_rn(s, red[m * W + w]);
    total[m] = s;
  }
  __syncthreads();
}

// 1 / sqrt(ss / n + eps), rounded exactly as the host's
// `1.0f / std::sqrt(ss / float(n) + eps)`.
__device__ __forceinline__ float rmsFactor(float ss, float n, float eps) {
  return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, n), eps)));
}

// Σ x[i]² for i < n in the host's order (one sequential fp32 chain, no FMA):
// what makes the norms bitwise equal to runtime/host. One thread's work.
__device__ __forceinline__ float sumSquaresSequential(const float *x,
                                                      long long n) {
  float ss = 0.0f;
#pragma unroll 8
  for (long long i = 0; i < n; ++i) {
    float v = x[i];
    ss = __fadd_rn(ss, __fmul_rn(v, v));
  }
  return ss;
}

} // namespace bk
