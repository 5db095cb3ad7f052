// mhc.cuh - Manifold-constrained hyper-connections (V4_SPEC §3.2):
// mhc_pre(+norm), mhc_post, mhc_head(+norm). Inputs are HC streams of DIM.
#pragma once
#include "bk/common.cuh"
#include "bk/official.cuh"

namespace bk {

__device__ __forceinline__ float sigmoidF(float x) {
  return 1.0f / (1.0f + expf(-x));
}

// mix[m] = (fn[m,:] · x) · rsqrt(mean(x²) + normEps) for m < ROWS over the
// n = HC·DIM stream values of token t; every thread of the block gets mix[].
// `red` holds (ROWS + 1) · BLOCK/32 floats.
template <int DIM, int HC, int ROWS, int FNDT, int BLOCK>
__device__ __forceinline__ void hcMix(const float *x, const void *fn,
                                      float normEps, float *mix, float *red) {
  constexpr long long kN = (long long)HC * DIM;
  constexpr int W = BLOCK / 32;
  float acc[ROWS + 1];
#pragma unroll
  for (int m = 0; m <= ROWS; ++m)
    acc[m] = 0.0f;
  if constexpr (kN % 4 == 0) {
    for (long long i = threadIdx.x * 4; i < kN; i += BLOCK * 4) {
      float4 v = *(const float4 *)(x + i);
      acc[ROWS] += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
#pragma unroll
      for (int m = 0; m < ROWS; ++m) {
        float4 f = loadScalar4<FNDT>(fn, m * kN + i);
        acc[m] += f.x * v.x + f.y * v.y + f.z * v.z + f.w * v.w;
      }
    }
  } else {
    for (long long i = threadIdx.x; i < kN; i += BLOCK) {
      float v = x[i];
      acc[ROWS] += v * v;
#pragma unroll
      for (int m = 0; m < ROWS; ++m)
        acc[m] += loadScalar<FNDT>(fn, m * kN + i) * v;
    }
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int m = 0; m <= ROWS; ++m) {
    float s = warpSum(acc[m]);
    if (lane == 0)
      red[m * W + warp] = s;
  }
  __syncthreads();
  if (threadIdx.x <= ROWS) {
    float s = 0.0f;
    for (int w = 0; w < W; ++w)
      s += red[threadIdx.x * W + w];
    red[threadIdx.x * W] = s; // column 0 now holds the total
  }
  __syncthreads();
  const float r = rmsFactor(red[ROWS * W], (float)kN, normEps);
  for (int m = threadIdx.x; m < ROWS; m += BLOCK)
    mix[m] = red[m * W] * r;
  __syncthreads();
}

// u = Σ_k pre[k]·x_k, then (NORM) u = w ⊙ u · rsqrt(mean(u²) + eps).
// OFFICIAL: u is rounded to bf16 and the norm is P1 (bf16 output).
template <int DIM, int HC, bool NORM, int NWDT, int BLOCK,
          bool OFFICIAL = false>
__device__ __forceinline__ void hcCollapse(const float *x, const float (&pre)[HC],
                                           float *u, const void *normW,
                                           float eps, float *scratch) {
  float ss = 0.0f;
  if constexpr (DIM % 4 == 0) {
    for (int i = threadIdx.x * 4; i < DIM; i += BLOCK * 4) {
      float4 o = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
      for (int k = 0; k < HC; ++k) {
        float4 v = *(const float4 *)(x + k * DIM + i);
        o.x += pre[k] * v.x, o.y += pre[k] * v.y;
        o.z += pre[k] * v.z, o.w += pre[k] * v.w;
      }
      if constexpr (OFFICIAL) {
        o.x = off::roundBf16(o.x), o.y = off::roundBf16(o.y);
        o.z = off::roundBf16(o.z), o.w = off::roundBf16(o.w);
      }
      ss += o.x * o.x + o.y * o.y + o.z * o.z + o.w * o.w;
      *(float4 *)(u + i) = o;
    }
  } else {
    for (int i = threadIdx.x; i < DIM; i += BLOCK) {
      float o = 0.0f;
#pragma unroll
      for (int k = 0; k < HC; ++k)
        o += pre[k] * x[k * DIM + i];
      if constexpr (OFFICIAL)
        o = off::roundBf16(o);
      ss += o * o;
      u[i] = o;
    }
  }
  if constexpr (NORM) {
    const float total = blockSum<BLOCK>(ss, scratch);
    // P1: mean = sum · fl(1/n), r = 1 / sqrtf(mean + eps).
    const float r =
        OFFICIAL ? off::rsqrtF32(__fadd_rn(__fmul_rn(total, off::meanFactor(DIM)),
                                           eps))
                 : rmsFactor(total, (float)DIM, eps);
    // Each thread rescales the elements it wrote itself.
    if constexpr (DIM % 4 == 0) {
      for (int i = threadIdx.x * 4; i < DIM; i += BLOCK * 4) {
        float4 o = *(float4 *)(u + i);
        float4 g = loadScalar4<NWDT>(normW, i);
        o.x = g.x * (o.x * r), o.y = g.y * (o.y * r);
        o.z = g.z * (o.z * r), o.w = g.w * (o.w * r);
        if constexpr (OFFICIAL) {
          o.x = off::roundBf16(o.x), o.y = off::roundBf16(o.y);
          o.z = off::roundBf16(o.z), o.w = off::roundBf16(o.w);
        }
        *(float4 *)(u + i) = o;
      }
    } else {
      for (int i = threadIdx.x; i < DIM; i += BLOCK)
        u[i] = OFFICIAL ? off::roundBf16(loadScalar<NWDT>(normW, i) * (u[i] * r))
                        : loadScalar<NWDT>(normW, i) * (u[i] * r);
    }
  }
}

// mhc_pre / mhc_pre_norm: one block per token. Weights: fn [(2+HC)·HC, HC·DIM],
// base [(2+HC)·HC], scale [3], (norm [DIM]). Outputs u[DIM], post[HC],
// comb[HC·HC] (comb[j·HC + k] = C[j][k]).
template <int DIM, int HC, int ITERS, bool NORM, int FNDT, int BDT, int SDT,
          int NWDT, int BLOCK, bool OFFICIAL = false>
__device__ __forceinline__ void mhcPre(const BkLaunch &a, float hcEps,
                                       float normEps, float eps) {
  constexpr int ROWS = (2 + HC) * HC;
  __shared__ float red[(ROWS + 1) * (BLOCK / 32)];
  __shared__ float mix[ROWS];
  __shared__ float pre[HC];
  const long long t = blockIdx.x;
  const float *x = (const float *)a.in[0] + t * HC * DIM;
  float *u = (float *)a.out[0] + t * DIM;
  float *post = (float *)a.out[1] + t * HC;
  float *comb = (float *)a.out[2] + t * HC * HC;
  const void *fn = a.weights[0], *base = a.weights[1], *scale = a.weights[2];
  hcMix<DIM, HC, ROWS, FNDT, BLOCK>(x, fn, normEps, mix, red);
  if (threadIdx.x == 0) {
    const float s0 = loadScalar<SDT>(scale, 0), s1 = loadScalar<SDT>(scale, 1),
                s2 = loadScalar<SDT>(scale, 2);
#pragma unroll
    for (int k = 0; k < HC; ++k) {
      pre[k] = sigmoidF(mix[k] * s0 + loadScalar<BDT>(base, k)) + hcEps;
      post[k] = 2.0f * sigmoidF(mix[HC + k] * s1 + loadScalar<BDT>(base, HC + k));
    }
    // Row softmax, then alternate column and row normalization (Sinkhorn).
    float c[HC * HC];
#pragma unroll
    for (int j = 0; j < HC; ++j) {
      float mx = __uint_as_float(0xff800000u); // -inf
#pragma unroll
      for (int k = 0; k < HC; ++k) {
        c[j * HC + k] = mix[2 * HC + j * HC + k] * s2 +
                        loadScalar<BDT>(base, 2 * HC + j * HC + k);
        mx = fmaxf(mx, c[j * HC + k]);
      }
      float sum = 0.0f;
#pragma unroll
      for (int k = 0; k < HC; ++k)
        sum += (c[j * HC + k] = expf(c[j * HC + k] - mx));
#pragma unroll
      for (int k = 0; k < HC; ++k)
        c[j * HC + k] = c[j * HC + k] / sum + hcEps;
    }
#pragma unroll 1
    for (int it = 0; it < ITERS; ++it) {
      if (it > 0) {
#pragma unroll
        for (int j = 0; j < HC; ++j) {
          float sum = 0.0f;
#pragma unroll
          for (int k = 0; k < HC; ++k)
            sum += c[j * HC + k];
#pragma unroll
          for (int k = 0; k < HC; ++k)
            c[j * HC + k] /= sum + hcEps;
        }
      }
#pragma unroll
      for (int k = 0; k < HC; ++k) {
        float sum = 0.0f;
#pragma unroll
        for (int j = 0; j < HC; ++j)
          sum += c[j * HC + k];
#pragma unroll
        for (int j = 0; j < HC; ++j)
          c[j * HC + k] /= sum + hcEps;
      }
    }
#pragma unroll
    for (int i = 0; i < HC * HC; ++i)
      comb[i] = c[i];
  }
  __syncthreads();
  float preReg[HC];
#pragma unroll
  for (int k = 0; k < HC; ++k)
    preReg[k] = pre[k];
  hcCollapse<DIM, HC, NORM, NWDT, BLOCK, OFFICIAL>(x, preReg, u,
                                         NORM ? a.weights[3] : nullptr, eps, red);
}

// mhc_head / mhc_head_norm: the head collapse (pre weights only, no
// Sinkhorn). Weights: fn [HC, HC·DIM], base [HC], scale [>=1], (norm [DIM]).
template <int DIM, int HC, bool NORM, int FNDT, int BDT, int SDT, int NWDT,
          int BLOCK, bool OFFICIAL = false>
__device__ __forceinline__ void mhcHead(const BkLaunch &a, float hcEps,
                                        float normEps, float eps) {
  __shared__ float red[(HC + 1) * (BLOCK / 32)];
  __shared__ float mix[HC];
  const long long t = blockIdx.x;
  const float *x = (const float *)a.in[0] + t * HC * DIM;
  float *u = (float *)a.out[0] + t * DIM;
  const void *fn = a.weights[0], *base = a.weights[1], *scale = a.weights[2];
  hcMix<DIM, HC, HC, FNDT, BLOCK>(x, fn, normEps, mix, red);
  const float s0 = loadScalar<SDT>(scale, 0);
  float pre[HC];
#pragma unroll
  for (int k = 0; k < HC; ++k)
    pre[k] = sigmoidF(mix[k] * s0 + loadScalar<BDT>(base, k)) + hcEps;
  hcCollapse<DIM, HC, NORM, NWDT, BLOCK, OFFICIAL>(x, pre, u,
                                         NORM ? a.weights[3] : nullptr, eps, red);
}

// x'[k] = post[k]·y + Σ_j C[j][k]·x[j], in the host's order without FMA
// contraction (bitwise equal). grid.x = tokens · ceil(DIM / (4·BLOCK)).
// OFFICIAL: the streams stay bf16 (each output rounded once).
template <int DIM, int HC, int BLOCK, bool OFFICIAL = false>
__device__ __forceinline__ void mhcPost(const BkLaunch &a) {
  constexpr int kPer = 4 * BLOCK;
  constexpr int kSlices = (DIM + kPer - 1) / kPer;
  const long long t = blockIdx.x / kSlices;
  const int i0 = (blockIdx.x % kSlices) * kPer + threadIdx.x * 4;
  const float *y = (const float *)a.in[0] + t * DIM;
  const float *x = (const float *)a.in[1] + t * HC * DIM;
  const float *post = (const float *)a.in[2] + t * HC;
  const float *comb = (const float *)a.in[3] + t * HC * HC;
  float *out = (float *)a.out[0] + t * HC * DIM;
  float c[HC * HC], p[HC];
#pragma unroll
  for (int i = 0; i < HC * HC; ++i)
    c[i] = comb[i];
#pragma unroll
  for (int k = 0; k < HC; ++k)
    p[k] = post[k];
  if constexpr (DIM % 4 == 0) {
    if (i0 >= DIM)
      return;
    const float4 yv = *(const float4 *)(y + i0);
    float4 xv[HC];
#pragma unroll
    for (int j = 0; j < HC; ++j)
      xv[j] = *(const float4 *)(x + j * DIM + i0);
#pragma unroll
    for (int k = 0; k < HC; ++k) {
      float4 o = make_float4(__fmul_rn(p[k], yv.x), __fmul_rn(p[k], yv.y),
                             __fmul_rn(p[k], yv.z), __fmul_rn(p[k], yv.w));
#pragma unroll
      for (int j = 0; j < HC; ++j) {
        const float cj = c[j * HC + k];
        o.x = __fadd_rn(o.x, __fmul_rn(cj, xv[j].x));
        o.y = __fadd_rn(o.y, __fmul_rn(cj, xv[j].y));
        o.z = __fadd_rn(o.z, __fmul_rn(cj, xv[j].z));
        o.w = __fadd_rn(o.w, __fmul_rn(cj, xv[j].w));
      }
      if constexpr (OFFICIAL) {
        o.x = off::roundBf16(o.x), o.y = off::roundBf16(o.y);
        o.z = off::roundBf16(o.z), o.w = off::roundBf16(o.w);
      }
      *(float4 *)(out + k * DIM + i0) = o;
    }
  } else {
    for (int i = i0; i < min(i0 + 4, DIM); ++i) {
#pragma unroll
      for (int k = 0; k < HC; ++k) {
        float o = __fmul_rn(p[k], y[i]);
#pragma unroll
        for (int j = 0; j < HC; ++j)
          o = __fadd_rn(o, __fmul_rn(c[j * HC + k], x[j * DIM + i]));
        out[k * DIM + i] = OFFICIAL ? off::roundBf16(o) : o;
      }
    }
  }
}

} // namespace bk
