// router.cuh - Expert selection (V4_SPEC §3.7): route_select (scores given)
// and router (the gate GEMV fused in, one thread block cluster per token
// slice). One warp selects one token's experts; the arithmetic after the
// scores is the host's, so equal scores give bitwise equal idx and wts.
#pragma once
#include "bk/cluster.cuh"
#include "bk/gemv.cuh"
#include "bk/hostmath.cuh"

namespace bk {

// Token `tok`'s K experts and weights, by the calling warp. score(e) is the
// unbiased score of expert e. HASH: experts from table row tok (int64 or
// int32 [TROWS, K]); else the top K of score + bias (ties: lower index).
// wts = s / (Σ s + 1e-20) · routeScale over the chosen experts in order.
// Ids outside the table and table entries outside [0, E) give expert -1
// with weight 0 (the runtime validates token ids before the launch).
template <int E, int K, bool HASH, int TDT, long long TROWS, class Score>
__device__ __forceinline__ void
selectExperts(const Score &score, int tok, const void *table, float routeScale,
              int *idxOut, float *wtsOut) {
  static_assert(E <= 1024 && K >= 1 && K <= 32, "routing shape");
  const int lane = threadIdx.x % 32;
  int chosen[K];
  float chosenS[K];
  if constexpr (HASH) {
    if (lane != 0)
      return;
    const bool validTok = tok >= 0 && tok < TROWS;
#pragma unroll
    for (int j = 0; j < K; ++j) {
      long long e = -1;
      if (validTok) {
        if constexpr (TDT == 5) // I64
          e = ((const long long *)table)[(long long)tok * K + j];
        else
          e = ((const int *)table)[(long long)tok * K + j];
      }
      const bool ok = e >= 0 && e < E;
      chosen[j] = ok ? (int)e : -1;
      chosenS[j] = ok ? score((int)e) : 0.0f;
    }
  } else {
    constexpr int PER = (E + 31) / 32;
    float b[PER], s[PER];
#pragma unroll
    for (int q = 0; q < PER; ++q) {
      const int e = lane + 32 * q;
      s[q] = e < E ? score(e) : 0.0f;
      b[q] = e < E ? __fadd_rn(s[q], loadScalar<TDT>(table, e)) : 0.0f;
    }
    unsigned taken = 0;
#pragma unroll
    for (int j = 0; j < K; ++j) {
      // This lane's best untaken expert (ascending e: strict > keeps the
      // lower index on ties), then the warp's.
      bool have = false;
      float bv = 0.0f, bs = 0.0f;
      int be = 0x7fffffff;
#pragma unroll
      for (int q = 0; q < PER; ++q) {
        const int e = lane + 32 * q;
        if (e < E && !((taken >> q) & 1u) && (!have || b[q] > bv)) {
          have = true, bv = b[q], be = e, bs = s[q];
        }
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) {
        const bool oh = __shfl_xor_sync(0xffffffffu, (int)have, o) != 0;
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oe = __shfl_xor_sync(0xffffffffu, be, o);
        const float os = __shfl_xor_sync(0xffffffffu, bs, o);
        if (oh && (!have || ov > bv || (ov == bv && oe < be)))
          have = true, bv = ov, be = oe, bs = os;
      }
      if (have && (be & 31) == lane)
        taken |= 1u << (be >> 5);
      chosen[j] = have ? be : -1;
      chosenS[j] = have ? bs : 0.0f;
    }
    if (lane != 0)
      return;
  }
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < K; ++j)
    sum = __fadd_rn(sum, chosenS[j]);
  const float den = __fadd_rn(sum, 1e-20f);
#pragma unroll
  for (int j = 0; j < K; ++j) {
    idxOut[j] = chosen[j];
    wtsOut[j] = __fmul_rn(__fdiv_rn(chosenS[j], den), routeScale);
  }
}

// Scores read from global memory.
struct GlobalScores {
  const float *s;
  __device__ __forceinline__ float operator()(int e) const { return s[e]; }
};

// Each token's experts from its scores (rows of E floats at `scores`), a warp
// per token, WARPS tokens per block (grid.y); `table` is the bias [E] or
// tid2eid [TROWS, K]; token ids are input 1, idx and wts outputs 0 and 1.
template <int E, int K, bool HASH, int TDT, long long TROWS, int WARPS>
__device__ __forceinline__ void
selectTokensExperts(const BkLaunch &a, const float *scores, const void *table,
                    float routeScale) {
  const long long t = (long long)blockIdx.y * WARPS + threadIdx.x / 32;
  if (t >= a.tokens)
    return;
  const int tok = ((const int *)a.in[1])[t];
  selectExperts<E, K, HASH, TDT, TROWS>(
      GlobalScores{scores + t * E}, tok, table, routeScale,
      (int *)a.out[0] + t * K, (float *)a.out[1] + t * K);
}

// route_select: inputs scores [E], token ids; outputs idx [K] (i32), wts [K].
// Weight 0: bias [E] or tid2eid [TROWS, K].
template <int E, int K, bool HASH, int TDT, long long TROWS, int WARPS>
__device__ __forceinline__ void routeSelect(const BkLaunch &a,
                                            float routeScale) {
  selectTokensExperts<E, K, HASH, TDT, TROWS, WARPS>(a, (const float *)a.in[0],
                                                     a.weights[0], routeScale);
}

// router: the gate GEMV (gate [E, DIM], weight 0) by a cluster of C blocks
// per TPY-token slice, its rows split over the C·WARPS warps and kept in
// shared memory as sqrt(softplus) scores; after a cluster barrier the warps
// select the slice's tokens' experts reading the scores across the cluster.
template <int DIM, int E, int K, bool HASH, int GDT, int TDT, long long TROWS,
          int C, int WARPS, int TG, int TPY, int PF>
__device__ __forceinline__ void router(const BkLaunch &a, float routeScale) {
  constexpr int kRowStep = C * WARPS;
  constexpr int kRowsPerBlock = (E + kRowStep - 1) / kRowStep * WARPS;
  __shared__ __align__(16) float stage[TG * DIM]; // activations, swizzled
  __shared__ float sc[kRowsPerBlock][TPY];
  const unsigned rank = clusterRank();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float *x = (const float *)a.in[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const long long t0 = (long long)blockIdx.y * TPY;
  const int ns = (int)min((long long)TPY, a.tokens - t0);
  for (int g0 = 0; g0 < ns; g0 += TG) {
    const int ng = min(TG, ns - g0);
    __syncthreads(); // the stage is free
    stageRows<DIM, 32 * WARPS>(stage, ng,
                               [&](int j) { return x + (t0 + g0 + j) * DIM; });
    __syncthreads();
    const SwizzledRows<DIM> xs{stage};
    for (int n = rank * WARPS + warp, lr = warp; n < E;
         n += kRowStep, lr += WARPS) {
      float acc[TG];
      warpRowDots<DIM, GDT, TG, PF>(W, S, n, xs, ng, acc);
      if (lane == 0) {
#pragma unroll
        for (int j = 0; j < TG; ++j)
          if (j < ng)
            sc[lr][g0 + j] = hostSqrtSoftplus(acc[j]);
      }
    }
  }
  clusterSync();
  for (int j = rank + C * warp; j < ns; j += kRowStep) {
    auto score = [&](int e) {
      const int owner = (e % kRowStep) / WARPS;
      const int lr = (e / kRowStep) * WARPS + e % WARPS;
      return *clusterMap(&sc[lr][j], owner);
    };
    const long long t = t0 + j;
    const int tok = ((const int *)a.in[1])[t];
    selectExperts<E, K, HASH, TDT, TROWS>(score, tok, a.weights[1], routeScale,
                                          (int *)a.out[0] + t * K,
                                          (float *)a.out[1] + t * K);
  }
  // Other blocks may still read sc.
  clusterSync();
}

// router, schedule "scored" (entries of few tokens): routerGateScores computes
// the gate rows over the whole GPU (a warp per expert row, WARPS rows a
// block, TG tokens a y-slice) into scratch [t][E] as sqrt(softplus) scores,
// the same per-row arithmetic as the cluster's; routerSelect then selects
// each token's experts from them (a warp per token). One cluster streaming
// the gate (an fp32 [256, 4096] in V4-Flash) through 8 SMs was most of a
// decode step's router time.
template <int DIM, int E, int GDT, int WARPS, int TG, int PF>
__device__ __forceinline__ void routerGateScores(const BkLaunch &a) {
  __shared__ __align__(16) float stage[TG * DIM];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long t0 = (long long)blockIdx.y * TG;
  const int ng = (int)min((long long)TG, a.tokens - t0);
  const float *x = (const float *)a.in[0];
  stageRows<DIM, 32 * WARPS>(stage, ng,
                             [&](int j) { return x + (t0 + j) * DIM; });
  __syncthreads();
  const int n = blockIdx.x * WARPS + warp;
  if (n >= E)
    return;
  float acc[TG];
  warpRowDots<DIM, GDT, TG, PF>((const unsigned char *)a.weights[0],
                                (const unsigned char *)a.scales[0], n,
                                SwizzledRows<DIM>{stage}, ng, acc);
  if (lane == 0) {
#pragma unroll
    for (int j = 0; j < TG; ++j)
      if (j < ng)
        ((float *)a.scratch)[(t0 + j) * E + n] = hostSqrtSoftplus(acc[j]);
  }
}

template <int E, int K, bool HASH, int TDT, long long TROWS, int WARPS>
__device__ __forceinline__ void routerSelect(const BkLaunch &a,
                                             float routeScale) {
  selectTokensExperts<E, K, HASH, TDT, TROWS, WARPS>(
      a, (const float *)a.scratch, a.weights[1], routeScale);
}

} // namespace bk
