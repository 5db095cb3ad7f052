// norm_rope.cuh - head_rms_norm_rope: per head, the unweighted RMS norm of
// head_rms_norm then RoPE at the token's position on the trailing R dims
// (the query path). Same arithmetic as norm.cuh and rope.cuh: bitwise equal
// to runtime/host with HOST_ORDER.
#pragma once
#include "bk/common.cuh"

namespace bk {

// A warp per head, HPB heads per block, grid.x = S · ceil(H / HPB). Each block
// evaluates its token's R/2 cos/sin pairs once (double, rounded to float, as
// the host). invFreq: R/2 floats from the generator.
template <int H, int D, int R, int HPB, bool HOST_ORDER>
__device__ __forceinline__ void headRmsNormRope(const BkLaunch &a, float eps,
                                                const float *invFreq) {
  static_assert(R % 2 == 0 && R <= D, "rope_dim must be even and fit the head");
  constexpr int kHalf = R / 2;
  constexpr int kLead = D - R;
  constexpr int kGroups = (H + HPB - 1) / HPB;
  __shared__ float cs[kHalf > 0 ? kHalf : 1], sn[kHalf > 0 ? kHalf : 1];
  const long long t = blockIdx.x / kGroups;
  const int h = (blockIdx.x % kGroups) * HPB + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const float p = (float)bkPos(a, t);
  for (int i = threadIdx.x; i < kHalf; i += 32 * HPB) {
    const float angle = __fmul_rn(p, invFreq[i]);
    cs[i] = (float)cos((double)angle);
    sn[i] = (float)sin((double)angle);
  }
  __syncthreads();
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
  // The host normalizes into y (1·(x·r)), then rotates y's pairs.
  auto rotate = [&](float x0, float x1, int i, float &o0, float &o1) {
    const float c = cs[i], s = sn[i];
    o0 = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    o1 = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, s));
  };
  if constexpr (D % 4 == 0 && kLead % 4 == 0) {
    for (int e = lane; e < D / 4; e += 32) {
      const int d = e * 4;
      float4 v = *(const float4 *)(x + d);
      v.x = __fmul_rn(v.x, r), v.y = __fmul_rn(v.y, r);
      v.z = __fmul_rn(v.z, r), v.w = __fmul_rn(v.w, r);
      if (d >= kLead) {
        const int i = (d - kLead) / 2;
        float4 o;
        rotate(v.x, v.y, i, o.x, o.y);
        rotate(v.z, v.w, i + 1, o.z, o.w);
        v = o;
      }
      *(float4 *)(y + d) = v;
    }
  } else {
    for (int d = lane; d < D; d += 32) {
      if (d < kLead) {
        y[d] = __fmul_rn(x[d], r);
      } else if ((d - kLead) % 2 == 0) {
        float o0, o1;
        rotate(__fmul_rn(x[d], r), __fmul_rn(x[d + 1], r), (d - kLead) / 2, o0,
               o1);
        y[d] = o0;
        y[d + 1] = o1;
      }
    }
  }
}

} // namespace bk
