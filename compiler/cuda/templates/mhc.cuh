// mhc.cuh - Manifold-constrained hyper-connections (V4_SPEC §3.2):
// mhc_pre(+norm), mhc_post, mhc_head(+norm). Inputs are HC streams of DIM.
#pragma once
#include "bk/cluster.cuh"
#include "bk/common.cuh"
#include "bk/hostmath.cuh"
#include "bk/official.cuh"

namespace bk {

// Every mHC kernel follows runtime/host/MhcKernels.cpp operation for
// operation: the mixing and norm sums in the host's block-tree order
// (quadDot + blockTreeSums), exp as hostExp, explicit _rn arithmetic (no FMA
// contraction), so all outputs are bitwise equal to the host's in both
// numerics profiles.

// 1 / (1 + exp(-x)), as the host's sigmoid.
__device__ __forceinline__ float hostSigmoid(float x) {
  return __fdiv_rn(1.0f, __fadd_rn(1.0f, hostExp(-x)));
}

// mix[m] = (fn[m,:] · x) · rsqrt(mean(x²) + normEps) for m < ROWS over the
// n = HC·DIM stream values of token t. C > 1 (small entries such as decode,
// where one block would read the ROWS·n weights alone): a cluster of C
// blocks per token, rank r summing rows r, r + C, ... and every rank Σ x²,
// each row in the same tree order as one block would, so the result does
// not depend on C. The totals land in rank 0's `mix` (ROWS + 1 floats), the
// only rank that goes on: returns whether this block does. `red` holds
// (ROWS/C + 1) · BLOCK/32 floats, `local` ROWS/C + 1.
template <int DIM, int HC, int ROWS, int FNDT, int BLOCK, int C>
__device__ __forceinline__ bool hcMix(const float *x, const void *fn,
                                      float normEps, float *mix, float *red,
                                      float *local) {
  static_assert(ROWS % C == 0,
                "whole rows per rank (checked by the generator)");
  constexpr long long kN = (long long)HC * DIM;
  constexpr int R = ROWS / C; // rows of this rank; acc[R] is Σ x²
  const unsigned rank = C > 1 ? clusterRank() : 0;
  if constexpr (C > 1)
    clusterArrive(); // waited for before writing into rank 0
  float acc[R + 1];
#pragma unroll
  for (int r = 0; r <= R; ++r)
    acc[r] = 0.0f;
  auto row = [&](int r) { return (long long)(r * C + (int)rank) * kN; };
  // One pass over x in the tree order.
  for (long long i = threadIdx.x * 4; i < kN; i += 1024) {
    if constexpr (kN % 4 == 0) {
      const float4 v = *(const float4 *)(x + i);
      acc[R] = __fadd_rn(acc[R], quadDot(v, v));
#pragma unroll
      for (int r = 0; r < R; ++r)
        acc[r] =
            __fadd_rn(acc[r], quadDot(loadScalar4<FNDT>(fn, row(r) + i), v));
    } else {
      float q[R + 1];
#pragma unroll
      for (int r = 0; r <= R; ++r) {
        const float v = x[i];
        q[r] = __fmul_rn(r == R ? v : loadScalar<FNDT>(fn, row(r) + i), v);
      }
      for (long long j = 1; j < 4 && i + j < kN; ++j) {
        const float v = x[i + j];
#pragma unroll
        for (int r = 0; r <= R; ++r)
          q[r] = __fadd_rn(
              q[r],
              __fmul_rn(r == R ? v : loadScalar<FNDT>(fn, row(r) + i + j), v));
      }
#pragma unroll
      for (int r = 0; r <= R; ++r)
        acc[r] = __fadd_rn(acc[r], q[r]);
    }
  }
  if constexpr (C == 1) {
    blockTreeSums<R + 1, BLOCK>(acc, red, mix);
  } else {
    blockTreeSums<R + 1, BLOCK>(acc, red, local);
    clusterWait(); // rank 0 has started
    for (int r = threadIdx.x; r < R; r += BLOCK)
      *clusterMap(&mix[r * C + (int)rank], 0) = local[r];
    if (rank == 0 && threadIdx.x == 0)
      mix[ROWS] = local[R];
    clusterSync(); // every rank's rows are in rank 0's mix
    if (rank != 0)
      return false;
  }
  const float f = rmsFactor(mix[ROWS], (float)kN, normEps);
  for (int m = threadIdx.x; m < ROWS; m += BLOCK)
    mix[m] = __fmul_rn(mix[m], f);
  __syncthreads();
  return true;
}

// mhc_pre(_norm) of entries of few tokens (decode), first kernel: block
// (t, m) sums mixing row m of token t (m = ROWS: Σ x²) in the tree order
// hcMix uses, so each sum has the bits one block would give it, into scratch
// [t][ROWS + 1]; a block per row spreads the ROWS·HC·DIM weights over ROWS+1
// SMs instead of the 8 of a cluster. mhcPre<..., SPLIT = true> goes on from
// there, a block per token.
template <int DIM, int HC, int FNDT, int BLOCK>
__device__ __forceinline__ void mhcMixRow(const BkLaunch &a) {
  constexpr int ROWS = (2 + HC) * HC;
  constexpr long long kN = (long long)HC * DIM;
  __shared__ float red[BLOCK / 32];
  __shared__ float total[1];
  const long long t = blockIdx.x / (ROWS + 1);
  const int m = blockIdx.x % (ROWS + 1);
  const float *x = (const float *)a.in[0] + t * kN;
  const void *fn = a.weights[0];
  const bool squares = m == ROWS;
  const long long row = (long long)m * kN;
  float acc[1] = {0.0f};
  for (long long i = threadIdx.x * 4; i < kN; i += 1024) {
    if constexpr (kN % 4 == 0) {
      const float4 v = *(const float4 *)(x + i);
      acc[0] = __fadd_rn(
          acc[0], quadDot(squares ? v : loadScalar4<FNDT>(fn, row + i), v));
    } else {
      float q = __fmul_rn(squares ? x[i] : loadScalar<FNDT>(fn, row + i), x[i]);
      for (long long j = 1; j < 4 && i + j < kN; ++j) {
        const float v = x[i + j];
        q = __fadd_rn(
            q, __fmul_rn(squares ? v : loadScalar<FNDT>(fn, row + i + j), v));
      }
      acc[0] = __fadd_rn(acc[0], q);
    }
  }
  blockTreeSums<1, BLOCK>(acc, red, total);
  if (threadIdx.x == 0)
    ((float *)a.scratch)[t * (ROWS + 1) + m] = total[0];
}

// hcMix's result from mhcMixRow's sums in scratch.
template <int DIM, int HC, int ROWS, int BLOCK>
__device__ __forceinline__ void hcMixFromScratch(const float *sums,
                                                 float normEps, float *mix) {
  for (int m = threadIdx.x; m <= ROWS; m += BLOCK)
    mix[m] = sums[m];
  __syncthreads();
  const float f = rmsFactor(mix[ROWS], (float)((long long)HC * DIM), normEps);
  __syncthreads();
  for (int m = threadIdx.x; m < ROWS; m += BLOCK)
    mix[m] = __fmul_rn(mix[m], f);
  __syncthreads();
}

// u = Σ_k pre[k]·x_k (k in order), then (NORM) u = w ⊙ u · rsqrt(mean(u²) +
// eps), the sum over the values this thread wrote in the tree order.
// OFFICIAL: u is rounded to bf16 and the norm is P1 (bf16 output).
// `red` holds BLOCK/32 floats, `total` one.
template <int DIM, int HC, bool NORM, int NWDT, int BLOCK,
          bool OFFICIAL = false>
__device__ __forceinline__ void
hcCollapse(const float *x, const float (&pre)[HC], float *u, const void *normW,
           float eps, float *red, float *total) {
  auto collapse = [&](long long i) {
    float o = 0.0f;
#pragma unroll
    for (int k = 0; k < HC; ++k)
      o = __fadd_rn(o, __fmul_rn(pre[k], x[k * DIM + i]));
    return OFFICIAL ? off::roundBf16(o) : o;
  };
  float ss[1] = {0.0f};
  for (long long i = threadIdx.x * 4; i < DIM; i += 1024) {
    if constexpr (DIM % 4 == 0) {
      const float4 o = make_float4(collapse(i), collapse(i + 1),
                                   collapse(i + 2), collapse(i + 3));
      ss[0] = __fadd_rn(ss[0], quadDot(o, o));
      *(float4 *)(u + i) = o;
    } else {
      float quad = 0.0f;
      for (long long j = 0; j < 4 && i + j < DIM; ++j) {
        const float o = collapse(i + j);
        quad = j == 0 ? __fmul_rn(o, o) : __fadd_rn(quad, __fmul_rn(o, o));
        u[i + j] = o;
      }
      ss[0] = __fadd_rn(ss[0], quad);
    }
  }
  if constexpr (NORM) {
    blockTreeSums<1, BLOCK>(ss, red, total);
    // P1: mean = sum · fl(1/n), r = 1 / sqrtf(mean + eps).
    const float r = OFFICIAL
                        ? off::rsqrtF32(__fadd_rn(
                              __fmul_rn(total[0], off::meanFactor(DIM)), eps))
                        : rmsFactor(total[0], (float)DIM, eps);
    // Each thread rescales the elements it wrote itself.
    for (long long i = threadIdx.x * 4; i < DIM; i += 1024)
      for (long long j = 0; j < 4 && i + j < DIM; ++j) {
        const float o =
            __fmul_rn(loadScalar<NWDT>(normW, i + j), __fmul_rn(u[i + j], r));
        u[i + j] = OFFICIAL ? off::roundBf16(o) : o;
      }
  }
}

// mhc_pre / mhc_pre_norm: one block per token, or a cluster of C (hcMix).
// Weights: fn [(2+HC)·HC, HC·DIM], base [(2+HC)·HC], scale [3], (norm
// [DIM]). Outputs u[DIM], post[HC], comb[HC·HC] (comb[j·HC + k] = C[j][k]).
// SPLIT: the mixing sums come from mhcMixRow's kernel (scratch); a block per
// token.
template <int DIM, int HC, int ITERS, bool NORM, int FNDT, int BDT, int SDT,
          int NWDT, int BLOCK, bool OFFICIAL = false, int C = 1,
          bool SPLIT = false>
__device__ __forceinline__ void mhcPre(const BkLaunch &a, float hcEps,
                                       float normEps, float eps) {
  constexpr int ROWS = (2 + HC) * HC;
  __shared__ float red[(ROWS / C + 1) * (BLOCK / 32)];
  __shared__ float mix[ROWS + 1];
  __shared__ float local[ROWS / C + 1];
  __shared__ float pre[HC];
  const long long t = blockIdx.x / C;
  const float *x = (const float *)a.in[0] + t * HC * DIM;
  float *u = (float *)a.out[0] + t * DIM;
  float *post = (float *)a.out[1] + t * HC;
  float *comb = (float *)a.out[2] + t * HC * HC;
  const void *fn = a.weights[0], *base = a.weights[1], *scale = a.weights[2];
  if constexpr (SPLIT)
    hcMixFromScratch<DIM, HC, ROWS, BLOCK>(
        (const float *)a.scratch + t * (ROWS + 1), normEps, mix);
  else if (!hcMix<DIM, HC, ROWS, FNDT, BLOCK, C>(x, fn, normEps, mix, red,
                                                 local))
    return;
  // Sigmoids, the row softmax and Sinkhorn's alternating normalizations: a
  // thread per element of comb (and per pre/post weight), each doing the
  // host's operations on it in the host's order, the row and column sums
  // read from shared memory in index order by every thread of the row or
  // column; so the results are the one-thread loop's bits without its
  // 2·ITERS·HC² dependent divisions.
  __shared__ float cs[HC * HC];
  constexpr int NC = HC * HC;
  static_assert(NC <= BLOCK, "a thread per element of comb");
  const int tid = threadIdx.x;
  const int j = tid / HC, k = tid % HC;
  const float s0 = loadScalar<SDT>(scale, 0), s1 = loadScalar<SDT>(scale, 1),
              s2 = loadScalar<SDT>(scale, 2);
  auto affine = [&](int m, float sc) {
    return __fadd_rn(__fmul_rn(mix[m], sc), loadScalar<BDT>(base, m));
  };
  if (tid < HC) {
    pre[tid] = __fadd_rn(hostSigmoid(affine(tid, s0)), hcEps);
    post[tid] = __fmul_rn(2.0f, hostSigmoid(affine(HC + tid, s1)));
  }
  if (tid < NC)
    cs[tid] = affine(2 * HC + tid, s2);
  __syncthreads();
  // The row softmax: max, exponentials, their sum in order, then + hcEps.
  float v = 0.0f;
  if (tid < NC) {
    float mx = __uint_as_float(0xff800000u); // -inf
#pragma unroll
    for (int kk = 0; kk < HC; ++kk)
      mx = fmaxf(mx, cs[j * HC + kk]);
    v = hostExp(__fsub_rn(cs[tid], mx));
  }
  __syncthreads();
  if (tid < NC)
    cs[tid] = v;
  __syncthreads();
  if (tid < NC) {
    float sum = 0.0f;
#pragma unroll
    for (int kk = 0; kk < HC; ++kk)
      sum = __fadd_rn(sum, cs[j * HC + kk]);
    v = __fadd_rn(__fdiv_rn(cs[tid], sum), hcEps);
  }
  __syncthreads();
  if (tid < NC)
    cs[tid] = v;
  __syncthreads();
  // Sinkhorn: rows (after the first iteration), then columns.
#pragma unroll 1
  for (int it = 0; it < ITERS; ++it) {
#pragma unroll 1
    for (int pass = it > 0 ? 0 : 1; pass < 2; ++pass) {
      if (tid < NC) {
        float sum = 0.0f;
#pragma unroll
        for (int i = 0; i < HC; ++i)
          sum = __fadd_rn(sum, pass == 0 ? cs[j * HC + i] : cs[i * HC + k]);
        v = __fdiv_rn(cs[tid], __fadd_rn(sum, hcEps));
      }
      __syncthreads();
      if (tid < NC)
        cs[tid] = v;
      __syncthreads();
    }
  }
  if (tid < NC)
    comb[tid] = cs[tid];
  __syncthreads();
  float preReg[HC];
#pragma unroll
  for (int k = 0; k < HC; ++k)
    preReg[k] = pre[k];
  hcCollapse<DIM, HC, NORM, NWDT, BLOCK, OFFICIAL>(
      x, preReg, u, NORM ? a.weights[3] : nullptr, eps, red, mix);
}

// mhc_head / mhc_head_norm: the head collapse (pre weights only, no
// Sinkhorn). Weights: fn [HC, HC·DIM], base [HC], scale [>=1], (norm [DIM]).
template <int DIM, int HC, bool NORM, int FNDT, int BDT, int SDT, int NWDT,
          int BLOCK, bool OFFICIAL = false, int C = 1>
__device__ __forceinline__ void mhcHead(const BkLaunch &a, float hcEps,
                                        float normEps, float eps) {
  __shared__ float red[(HC / C + 1) * (BLOCK / 32)];
  __shared__ float mix[HC + 1];
  __shared__ float local[HC / C + 1];
  const long long t = blockIdx.x / C;
  const float *x = (const float *)a.in[0] + t * HC * DIM;
  float *u = (float *)a.out[0] + t * DIM;
  const void *fn = a.weights[0], *base = a.weights[1], *scale = a.weights[2];
  if (!hcMix<DIM, HC, HC, FNDT, BLOCK, C>(x, fn, normEps, mix, red, local))
    return;
  const float s0 = loadScalar<SDT>(scale, 0);
  float pre[HC];
#pragma unroll
  for (int k = 0; k < HC; ++k)
    pre[k] = __fadd_rn(
        hostSigmoid(__fadd_rn(__fmul_rn(mix[k], s0), loadScalar<BDT>(base, k))),
        hcEps);
  hcCollapse<DIM, HC, NORM, NWDT, BLOCK, OFFICIAL>(
      x, pre, u, NORM ? a.weights[3] : nullptr, eps, red, mix);
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
