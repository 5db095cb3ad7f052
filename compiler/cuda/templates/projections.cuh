// projections.cuh - Linear projections beyond the plain `linear`:
// linear_rms_norm (a thread block cluster computes the GEMV and normalizes in
// its epilogue), grouped_linear (block-diagonal) and router_scores (the gate
// GEMV with sqrt(softplus) in its epilogue). The dot products are
// warpRowDots's, i.e. the `linear` kernel's arithmetic.
#pragma once
#include "bk/cluster.cuh"
#include "bk/gemv.cuh"
#include "bk/hostmath.cuh"
#include "bk/official.cuh"

namespace bk {

// b = rmsnorm(a·Wᵀ) · norm. One cluster of C blocks per TPY-token slice
// (grid = (C, ceil(S / TPY))): its C·WARPS warps split the N output rows,
// write the unnormalized rows and their per-token sums of squares; after a
// cluster barrier each block adds the C partial sums (in rank order, so the
// result is deterministic and independent of the other tokens of the call)
// and rescales its own rows. Activations are staged TG tokens at a time in
// swizzled shared memory.
template <int K, int N, int DT, int NWDT, int C, int WARPS, int TG, int TPY,
          int PF>
__device__ __forceinline__ void linearRmsNorm(const BkLaunch &a, float eps) {
  __shared__ __align__(16) float stage[TG * K];
  __shared__ float warpSq[WARPS][TPY];
  __shared__ float partSq[TPY];
  __shared__ float factor[TPY];
  const unsigned rank = clusterRank();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float *x = (const float *)a.in[0];
  float *y = (float *)a.out[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const void *g = a.weights[1];
  const long long t0 = (long long)blockIdx.y * TPY;
  const int ns = (int)min((long long)TPY, a.tokens - t0);
  constexpr int kRowStep = C * WARPS;
  for (int t = lane; t < TPY; t += 32)
    warpSq[warp][t] = 0.0f;
  __syncwarp();
  for (int g0 = 0; g0 < ns; g0 += TG) {
    const int ng = min(TG, ns - g0);
    __syncthreads(); // the stage is free
    stageRows<K, 32 * WARPS>(stage, ng,
                             [&](int j) { return x + (t0 + g0 + j) * K; });
    __syncthreads();
    const SwizzledRows<K> xs{stage};
    for (int n = rank * WARPS + warp; n < N; n += kRowStep) {
      float acc[TG];
      warpRowDots<K, DT, TG, PF>(W, S, n, xs, ng, acc);
      if (lane == 0) {
#pragma unroll
        for (int j = 0; j < TG; ++j)
          if (j < ng) {
            y[(t0 + g0 + j) * N + n] = acc[j];
            warpSq[warp][g0 + j] += acc[j] * acc[j];
          }
      }
    }
  }
  __syncthreads();
  for (int t = threadIdx.x; t < TPY; t += 32 * WARPS) {
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < WARPS; ++w)
      s += warpSq[w][t];
    partSq[t] = s;
  }
  clusterSync();
  for (int t = threadIdx.x; t < ns; t += 32 * WARPS) {
    float ss = 0.0f;
#pragma unroll
    for (int r = 0; r < C; ++r)
      ss += *clusterMap(&partSq[t], r);
    factor[t] = rmsFactor(ss, (float)N, eps);
  }
  __syncthreads();
  for (int n = rank * WARPS + warp; n < N; n += kRowStep) {
    const float gn = loadScalar<NWDT>(g, n);
    for (int t = lane; t < ns; t += 32) {
      float *p = y + (t0 + t) * N + n;
      *p = __fmul_rn(gn, __fmul_rn(*p, factor[t]));
    }
  }
  // Other blocks may still read partSq.
  clusterSync();
}

// z[t, g·R + r] = Σ_i W[g·R + r, i] · o[t, g·KG + i]: W is [G·R, KG]. One warp
// per output row, TPY-token slices in TT-token register tiles (as linear).
// ROUND (official numerics): outputs rounded to bf16. PF: weight chunks a
// lane loads before decoding the first (warpRowDots; the same sums).
template <int G, int KG, int R, int DT, int WARPS, int TT, int TPY,
          bool ROUND = false, int PF = 1>
__device__ __forceinline__ void groupedLinear(const BkLaunch &a) {
  const int lane = threadIdx.x % 32;
  const int n = blockIdx.x * WARPS + threadIdx.x / 32;
  if (n >= G * R)
    return;
  const float *o = (const float *)a.in[0] + (long long)(n / R) * KG;
  float *z = (float *)a.out[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const long long t0 = (long long)blockIdx.y * TPY;
  const long long t1 = min(t0 + TPY, a.tokens);
  for (long long tb = t0; tb < t1; tb += TT) {
    const int nt = (int)min((long long)TT, t1 - tb);
    RowPointers<TT> xr;
#pragma unroll
    for (int j = 0; j < TT; ++j)
      xr.rows[j] = o + (tb + min(j, nt - 1)) * (long long)(G * KG);
    float acc[TT];
    warpRowDots<KG, DT, TT, PF>(W, S, n, xr, nt, acc);
    if (lane == 0) {
#pragma unroll
      for (int j = 0; j < TT; ++j)
        if (j < nt)
          z[(tb + j) * (G * R) + n] = ROUND ? off::roundBf16(acc[j]) : acc[j];
    }
  }
}

// s = sqrt(softplus(x·gateᵀ)); gate [E, DIM]. Grid and split as linear.
template <int DIM, int E, int DT, int WARPS, int TT, int TPY>
__device__ __forceinline__ void routerScores(const BkLaunch &a) {
  const int lane = threadIdx.x % 32;
  const int n = blockIdx.x * WARPS + threadIdx.x / 32;
  if (n >= E)
    return;
  const float *x = (const float *)a.in[0];
  float *s = (float *)a.out[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const long long t0 = (long long)blockIdx.y * TPY;
  const long long t1 = min(t0 + TPY, a.tokens);
  for (long long tb = t0; tb < t1; tb += TT) {
    const int nt = (int)min((long long)TT, t1 - tb);
    RowPointers<TT> xr;
#pragma unroll
    for (int j = 0; j < TT; ++j)
      xr.rows[j] = x + (tb + min(j, nt - 1)) * DIM;
    float acc[TT];
    warpRowDots<DIM, DT, TT>(W, S, n, xr, nt, acc);
    if (lane == 0) {
#pragma unroll
      for (int j = 0; j < TT; ++j)
        if (j < nt)
          s[(tb + j) * E + n] = hostSqrtSoftplus(acc[j]);
    }
  }
}

} // namespace bk
