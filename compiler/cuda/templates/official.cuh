// official.cuh - The `official` numerics primitives (lib/birkhoff/
// OfficialNumerics.h, V4_SPEC P1-P10) in device code, each performing the
// host's sequence of roundings with explicit _rn intrinsics (no FMA
// contraction), so elementwise results are bit-identical to the host's.
#pragma once
#include "bk/common.cuh"
#include "bk/hostmath.cuh"

namespace bk {
namespace off {

// floatToBf16 + back: round to nearest even; NaN stays NaN (quiet bit set).
__device__ __forceinline__ float roundBf16(float f) {
  unsigned b = __float_as_uint(f);
  if ((b & 0x7fffffffu) > 0x7f800000u)
    return __uint_as_float(((b >> 16) | 0x40u) << 16);
  b += 0x7fffu + ((b >> 16) & 1u);
  return __uint_as_float(b & 0xffff0000u);
}

// P4: the e8m0 byte of 2^ceil(log2(amax · fl(1/qmax))) on the fp32 bits.
__device__ __forceinline__ unsigned pow2ScaleByte(float amax, float qmax) {
  const float a = __fmul_rn(amax, __fdiv_rn(1.0f, qmax));
  const unsigned bits = __float_as_uint(a) & 0x7fffffffu;
  const unsigned byte = (bits >> 23) + ((bits & 0x7fffffu) != 0u ? 1u : 0u);
  return byte > 0xffu ? 0xffu : byte;
}

// e4m3fn code of x·inv clamped to ±448, round to nearest even (the hardware
// conversion saturates as floatToE4m3 does).
__device__ __forceinline__ unsigned fp8Code(float x, float inv) {
  float q = __fmul_rn(x, inv);
  q = q < -448.0f ? -448.0f : (q > 448.0f ? 448.0f : q);
  unsigned short pair;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;"
      : "=h"(pair)
      : "f"(0.0f), "f"(q));
  return pair & 0xffu;
}

__device__ __forceinline__ float e4m3ToF32(unsigned code) {
  float lo, hi;
  e4m3x2ToF32(code & 0xffu, lo, hi);
  return lo;
}

// 16 e4m3 codes (low byte first) to floats, exact.
__device__ __forceinline__ void decodeFp8ChunkImpl(uint4 v, float *w) {
  const unsigned u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    e4m3x2ToF32(u[i] & 0xffffu, w[4 * i], w[4 * i + 1]);
    e4m3x2ToF32(u[i] >> 16, w[4 * i + 2], w[4 * i + 3]);
  }
}

// floatToE2m1: nearest, ties to the even code, saturating at ±6; then, as
// fp4QuantCode, a zero result keeps the sign of x·inv (code 8).
__device__ __forceinline__ unsigned fp4Code(float x, float inv) {
  float q = __fmul_rn(x, inv);
  q = q < -6.0f ? -6.0f : (q > 6.0f ? 6.0f : q);
  const float a = fabsf(q);
  unsigned code;
  if (q != q)
    code = 7u;
  else if (a <= 0.25f)
    code = 0u;
  else if (a < 0.75f)
    code = 1u;
  else if (a <= 1.25f)
    code = 2u;
  else if (a < 1.75f)
    code = 3u;
  else if (a <= 2.5f)
    code = 4u;
  else if (a < 3.5f)
    code = 5u;
  else if (a <= 5.0f)
    code = 6u;
  else
    code = 7u;
  if (q == q && (__float_as_uint(q) & 0x80000000u))
    code |= 8u; // also -0 for a negative value rounding to zero
  return code;
}

// The scale of a block whose amax is `amax`: FP8 (floor 1e-4, qmax 448) or
// FP4 (floor 6·2^-126, qmax 6). Returns s; *byte gets its e8m0 byte.
__device__ __forceinline__ float fp8BlockScale(float amax, unsigned *byte) {
  *byte = pow2ScaleByte(fmaxf(amax, 1e-4f), 448.0f);
  return e8m0ToF32(*byte);
}
__device__ __forceinline__ float fp4BlockScale(float amax, unsigned *byte) {
  *byte = pow2ScaleByte(fmaxf(amax, 6.0f * 0x1p-126f), 6.0f);
  return e8m0ToF32(*byte);
}

// One simulated value (P6 / P7): bf16(decode(code(x / s)) · s).
__device__ __forceinline__ float fp8Sim(float x, float s) {
  const float inv = __fdiv_rn(1.0f, s);
  return roundBf16(__fmul_rn(e4m3ToF32(fp8Code(x, inv)), s));
}
__device__ __forceinline__ float fp4Sim(float x, float s) {
  const float inv = __fdiv_rn(1.0f, s);
  return roundBf16(__fmul_rn(e2m1ToF32(fp4Code(x, inv)), s));
}

// Max |v| over the lanes of an aligned group of G lanes (G a power of two
// up to 32); exact in any order.
template <int G> __device__ __forceinline__ float groupAmax(float v) {
  v = fabsf(v);
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// P5 of one 128-element block by a whole warp, 4 values a lane: the lane's
// four e4m3 codes (low byte first) and, in `byte`, the block's e8m0 scale.
__device__ __forceinline__ unsigned fp8Quantize128(float4 v, unsigned *byte) {
  const float m =
      fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
  const float s = fp8BlockScale(groupAmax<32>(m), byte);
  const float inv = __fdiv_rn(1.0f, s);
  return fp8Code(v.x, inv) | (fp8Code(v.y, inv) << 8) |
         (fp8Code(v.z, inv) << 16) | (fp8Code(v.w, inv) << 24);
}

// PyTorch's MeanOps factor fl(1/n) and rsqrt as 1/sqrtf.
__device__ __forceinline__ float meanFactor(int n) {
  return __fdiv_rn(1.0f, (float)n);
}
__device__ __forceinline__ float rsqrtF32(float v) {
  return __fdiv_rn(1.0f, __fsqrt_rn(v));
}

// P1's factor: r = rsqrt(fl(Σ fl(x²)) · fl(1/n) + eps), the sum sequential.
// One thread's work.
__device__ __forceinline__ float rmsFactorP1(const float *x, int n, float eps) {
  float sum = 0.0f;
#pragma unroll 8
  for (int i = 0; i < n; ++i)
    sum = __fadd_rn(sum, __fmul_rn(x[i], x[i]));
  return rsqrtF32(__fadd_rn(__fmul_rn(sum, meanFactor(n)), eps));
}

// P2's factor (bf16 tensor ops): sum of bf16(v²) in order, bf16 mean, bf16
// (mean + eps), bf16 rsqrt. One thread's work.
__device__ __forceinline__ float rmsFactorP2(const float *x, int n, float eps) {
  float sum = 0.0f;
#pragma unroll 8
  for (int i = 0; i < n; ++i)
    sum = __fadd_rn(sum, roundBf16(__fmul_rn(x[i], x[i])));
  const float mean = roundBf16(__fmul_rn(sum, meanFactor(n)));
  const float shifted = roundBf16(__fadd_rn(mean, eps));
  return roundBf16(rsqrtF32(shifted));
}

// P3's rotation of one pair by (c + j·s), then bf16.
__device__ __forceinline__ void ropePairBf16(float &x0, float &x1, float c,
                                             float s) {
  const float ac = __fmul_rn(x0, c), bd = __fmul_rn(x1, s);
  const float ad = __fmul_rn(x0, s), bc = __fmul_rn(x1, c);
  x0 = roundBf16(__fsub_rn(ac, bd));
  x1 = roundBf16(__fadd_rn(ad, bc));
}

} // namespace off

// 16 e4m3 codes / 32 e2m1 codes (low nibble first) of a 16-byte chunk to
// floats, exact.
__device__ __forceinline__ void decodeFp8Chunk(uint4 v, float *w) {
  off::decodeFp8ChunkImpl(v, w);
}
__device__ __forceinline__ void decodeFp4Chunk(uint4 v, float *w) {
  const unsigned u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int b = 0; b < 8; ++b)
      w[8 * i + b] = e2m1ToF32((u[i] >> (4 * b)) & 15u);
}

} // namespace bk
