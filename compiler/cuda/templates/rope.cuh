// rope.cuh - RoPE on the trailing R dims of each of H heads of D dims, at the
// token's position (or its inverse). The inverse frequencies come from the
// code generator, computed on the host exactly as runtime/host/Rope.cpp does
// (same float expressions, same libm), so they are bit-identical. cos/sin are
// evaluated in double and rounded to float (correctly rounded in practice);
// the rotation uses the host's expressions without FMA contraction.
#pragma once
#include "bk/common.cuh"

namespace bk {

// One block per token. invFreq: R/2 floats (a __constant__ array).
template <int H, int D, int R, bool INVERSE, int BLOCK>
__device__ __forceinline__ void rope(const BkLaunch &a,
                                     const float *invFreq) {
  static_assert(R % 2 == 0 && R <= D, "rope_dim must be even and fit the head");
  constexpr int kHalf = R / 2;
  constexpr int kLead = D - R; // dims left unrotated
  __shared__ float cs[kHalf > 0 ? kHalf : 1], sn[kHalf > 0 ? kHalf : 1];
  const long long t = blockIdx.x;
  const float p = (float)bkPos(a, t);
  for (int i = threadIdx.x; i < kHalf; i += BLOCK) {
    float angle = __fmul_rn(p, invFreq[i]);
    cs[i] = (float)cos((double)angle);
    float s = (float)sin((double)angle);
    sn[i] = INVERSE ? -s : s;
  }
  __syncthreads();
  const float *x = (const float *)a.in[0] + t * H * D;
  float *y = (float *)a.out[0] + t * H * D;
  const bool inPlace = x == y;
  auto rotate = [&](float x0, float x1, int i, float &o0, float &o1) {
    float c = cs[i], s = sn[i];
    o0 = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    o1 = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, s));
  };
  if constexpr (D % 4 == 0 && kLead % 4 == 0) {
    // Two pairs per float4.
    constexpr int kQuads = D / 4;
    for (int e = threadIdx.x; e < H * kQuads; e += BLOCK) {
      const int q = e % kQuads;
      const int d = q * 4;
      if (d < kLead) {
        if (!inPlace)
          *(float4 *)(y + (long long)e * 4) = *(const float4 *)(x + (long long)e * 4);
        continue;
      }
      float4 v = *(const float4 *)(x + (long long)e * 4);
      const int i = (d - kLead) / 2;
      float4 o;
      rotate(v.x, v.y, i, o.x, o.y);
      rotate(v.z, v.w, i + 1, o.z, o.w);
      *(float4 *)(y + (long long)e * 4) = o;
    }
  } else {
    constexpr int kPairs = D / 2; // D may be odd only when R == 0
    for (int e = threadIdx.x; e < H * D; e += BLOCK) {
      const int h = e / D, d = e % D;
      const float *xs = x + (long long)h * D;
      float *ys = y + (long long)h * D;
      if (d < kLead) {
        if (!inPlace)
          ys[d] = xs[d];
      } else if ((d - kLead) % 2 == 0) {
        float o0, o1;
        rotate(xs[d], xs[d + 1], (d - kLead) / 2, o0, o1);
        ys[d] = o0;
        ys[d + 1] = o1;
      }
      (void)kPairs;
    }
  }
}

} // namespace bk
