// hostmath.cuh - Transcendental functions as the host kernels compute them
// (lib/birkhoff/Numerics.h expF32/log1pF32): evaluated in double and rounded
// once to float, so the results agree unless the two libraries' doubles
// straddle a float halfway point; the fp32 arithmetic around them uses
// explicit _rn intrinsics where the host's expression order matters.
#pragma once

namespace bk {

__device__ __forceinline__ float hostExp(float x) {
  return (float)exp((double)x);
}

// x / (1 + exp(-x)), as the host's silu.
__device__ __forceinline__ float hostSilu(float x) {
  return __fdiv_rn(x, __fadd_rn(1.0f, hostExp(-x)));
}

// PyTorch's softplus (beta 1, threshold 20) followed by sqrt, as the host's
// router: sqrt(x > 20 ? x : log1p(exp(x))).
__device__ __forceinline__ float hostSqrtSoftplus(float x) {
  float sp = x > 20.0f ? x : (float)log1p((double)hostExp(x));
  return __fsqrt_rn(sp);
}

// The host's dotF32 (runtime/host/WeightDecode.cpp): eight partial sums over
// k mod 8, combined ((0+4)+(1+5))+((2+6)+(3+7)), then the tail; no FMA. One
// thread's work; a and b may be any address space.
__device__ __forceinline__ float hostDot(const float *a, const float *b,
                                         int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int k = 0;
  for (; k + 8 <= n; k += 8)
#pragma unroll
    for (int j = 0; j < 8; ++j)
      acc[j] = __fadd_rn(acc[j], __fmul_rn(a[k + j], b[k + j]));
  float tail = 0.0f;
  for (; k < n; ++k)
    tail = __fadd_rn(tail, __fmul_rn(a[k], b[k]));
  return __fadd_rn(
      __fadd_rn(
          __fadd_rn(__fadd_rn(acc[0], acc[4]), __fadd_rn(acc[1], acc[5])),
          __fadd_rn(__fadd_rn(acc[2], acc[6]), __fadd_rn(acc[3], acc[7]))),
      tail);
}

// The same dot, computed by the 8 lanes of an aligned lane group (lane % 8 =
// j keeps partial j): each lane returns the full dot, bitwise equal to
// hostDot. All 32 lanes of the warp must call it.
__device__ __forceinline__ float hostDotGroup8(const float *a, const float *b,
                                               int n) {
  const int j = threadIdx.x % 8;
  float acc = 0.0f;
  const int whole = n / 8 * 8;
  for (int k = j; k < whole; k += 8)
    acc = __fadd_rn(acc, __fmul_rn(a[k], b[k]));
  // ((0+4)+(1+5))+((2+6)+(3+7)); fp add is commutative, so either lane of a
  // pair computes the same value.
  acc = __fadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, 4));
  acc = __fadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, 1));
  acc = __fadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, 2));
  float tail = 0.0f;
  for (int k = whole; k < n; ++k)
    tail = __fadd_rn(tail, __fmul_rn(a[k], b[k]));
  return __fadd_rn(acc, tail);
}

} // namespace bk
