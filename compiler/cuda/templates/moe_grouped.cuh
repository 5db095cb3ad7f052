// moe_grouped.cuh - moe in the `official` numerics, grouped by expert: one
// thread block cluster per routed expert (and NSH for the shared expert's
// tokens), each running only its expert's tokens, so a call reads every
// weight it needs once and the experts of a decode step run side by side
// instead of one after another in one cluster (moe_official.cuh). A
// one-token entry (decode) launches one cluster per routed slot instead of
// per expert, so none of its clusters is idle.
//
// Arithmetic per expert is moe_official.cuh's (P5 activations, P8/P9 rows,
// bf16 h and outputs). The experts' outputs go to device scratch,
// partial[t][slot][g][DIM] (slot K: the shared expert); a per-token counter
// there tells the last contributor of a token, which sums the token's row in
// the host's order,
//   y = bf16( Σ_routed out_e (fp32, ascending expert id) + out_shared ),
// and resets the counter, whatever order the clusters finish in.
//
// G > 1 (small entries such as decode, where the experts of one step leave
// most SMs idle) splits each expert over G clusters by h: cluster g computes
// h rows [g·INTER/G, (g+1)·INTER/G) and their share of w2, an unrounded fp32
// partial; the last contributor forms out_e = bf16(Σ_g partial_g) in g
// order. That splits w2's fp32 sum in two, so outputs may differ from the
// host's in the last bit of an fp32 sum before the bf16 rounding; with G = 1
// the result is bitwise moe_official.cuh's.
//
// The frame (moeGroupedFrame: lists, tiles of the list, counting, the sum)
// is shared by two ways of computing a tile: warp GEMVs (moeTileGemv below,
// every entry size) and the FP8 tensor cores (moe_mma.cuh, entries of many
// tokens).
//
// Scratch (CudaKernel.scratch_bytes, zeroed by the runtime at session start):
// MAXTOK·(K+1)·G·DIM floats, then MAXTOK counters (left at zero).
#pragma once
#include "bk/cluster.cuh"
#include "bk/hostmath.cuh"
#include "bk/official_linear.cuh"

namespace bk {

// One tile of a cluster's list: up to TILE (token, slot) pairs of one expert
// (or of the shared expert), and where its outputs go.
struct MoeTile {
  const float *x;  // [S, DIM] the moe input
  float *partial;  // scratch rows, see above
  const int *tok;  // [n] tokens (shared memory)
  const int *slot; // [n] their slots, K for the shared expert
  const float *w;  // [n] routing weights (1 for the shared expert)
  int n;           // pairs in the tile
  unsigned rank;   // this block's rank in the cluster
  int sub;         // which 1/G of h this cluster computes
  bool shared;     // the shared expert's tile
  float lim;       // SwiGLU clamp (0: none)
  const unsigned char *W1, *S1, *W2, *S2, *W3, *S3;
};

// SwiGLU of one h element as the host computes it: bf16 gate and up
// (P8/P9 outputs), the clamp, silu(gate)·up, then the routing weight, bf16.
__device__ __forceinline__ float moeHidden(float gate, float up, float w,
                                           float lim) {
  if (lim > 0.0f) {
    up = fminf(fmaxf(up, -lim), lim);
    gate = fminf(gate, lim);
  }
  const float act = __fmul_rn(hostSilu(gate), up);
  return off::roundBf16(__fmul_rn(w, act));
}

// The output row of pair (t, slot) and cluster sub for output column c.
template <int DIM, int K, int G>
__device__ __forceinline__ long long moePartialAt(int t, int slot, int sub,
                                                  int c) {
  return (((long long)t * (K + 1) + slot) * G + sub) * DIM + c;
}

// Lists the cluster's pairs, runs `tile(MoeTile)` on every TILE of them
// (it must write the tile's partial rows; every thread of the cluster calls
// it), and sums each finished token's row. Block = BLOCK threads.
template <int DIM, int E, int K, int C, int G, int TILE, int MAXTOK, int NSH,
          int BLOCK, class TileFn>
__device__ __forceinline__ void moeGroupedFrame(const BkLaunch &a, float limit,
                                                bool sharedClamp,
                                                TileFn &&tile) {
  constexpr int NLIST = MAXTOK * K; // a routed expert's slots, at most
  constexpr int SH_TOK = (MAXTOK + NSH - 1) / NSH;
  static_assert(TILE <= 32, "a warp counts a tile's tokens");
  __shared__ unsigned list[NLIST]; // t·(K+1) + slot, ascending
  __shared__ int listLen;
  __shared__ int tileTok[TILE], tileSlot[TILE];
  __shared__ float tileW[TILE];
  __shared__ int lastTok[TILE];
  __shared__ int routedOrder[K];

  const unsigned rank = clusterRank();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int *idx = (const int *)a.in[1];
  const float *wts = (const float *)a.in[2];
  float *y = (float *)a.out[0];
  float *partial = (float *)a.scratch;
  unsigned *counter =
      (unsigned *)(partial + (long long)MAXTOK * (K + 1) * G * DIM);
  const int S = (int)a.tokens;
  // Clusters in groups of G: one per expert and NSH for the shared one's
  // token ranges; a one-token entry (decode) has one per slot instead, so
  // its K + 1 experts are all the clusters it launches.
  constexpr bool kPerSlot = MAXTOK == 1;
  constexpr int kRoutedGroups = kPerSlot ? K : E;
  const int cl = blockIdx.x / (C * G);
  const int sub = blockIdx.x / C % G; // which h columns of it
  const bool shared = cl >= kRoutedGroups;
  // The routed expert, or -1 for none (an invalid id runs nowhere, as the
  // per-expert grid never lists it).
  int group = cl;
  if (kPerSlot && !shared) {
    const int id = S > 0 ? idx[cl] : -1;
    group = id >= 0 && id < E ? id : -1;
  }

  // This cluster's slots, in token order; every block of the cluster builds
  // the same list, so all ranks leave together when it is empty.
  if (shared) {
    const int t0 = (cl - kRoutedGroups) * SH_TOK, t1 = min(S, t0 + SH_TOK);
    for (int t = t0 + threadIdx.x; t < t1; t += BLOCK)
      list[t - t0] = (unsigned)(t * (K + 1) + K);
    if (threadIdx.x == 0)
      listLen = max(0, t1 - t0);
  } else if (kPerSlot) {
    if (threadIdx.x == 0) {
      list[0] = (unsigned)cl; // token 0, slot cl
      listLen = group >= 0 ? 1 : 0;
    }
  } else if (warp == 0) {
    int n = 0;
    for (int base = 0; base < S * K; base += 32) {
      const int i = base + lane;
      const bool hit = i < S * K && idx[i] == group;
      const unsigned mask = __ballot_sync(0xffffffffu, hit);
      if (hit)
        list[n + __popc(mask & ((1u << lane) - 1))] =
            (unsigned)((i / K) * (K + 1) + i % K);
      n += __popc(mask);
    }
    if (lane == 0)
      listLen = n;
  }
  __syncthreads();
  const int n = listLen;
  if (n == 0)
    return;

  const int e = shared ? E : group;
  MoeTile t;
  t.x = (const float *)a.in[0];
  t.partial = partial;
  t.tok = tileTok;
  t.slot = tileSlot;
  t.w = tileW;
  t.rank = rank;
  t.sub = sub;
  t.shared = shared;
  t.lim = !shared || sharedClamp ? limit : 0.0f;
  t.W1 = (const unsigned char *)a.weights[3 * e];
  t.S1 = (const unsigned char *)a.scales[3 * e];
  t.W2 = (const unsigned char *)a.weights[3 * e + 1];
  t.S2 = (const unsigned char *)a.scales[3 * e + 1];
  t.W3 = (const unsigned char *)a.weights[3 * e + 2];
  t.S3 = (const unsigned char *)a.scales[3 * e + 2];

  for (int e0 = 0; e0 < n; e0 += TILE) {
    const int nTile = min(TILE, n - e0);
    __syncthreads(); // the previous tile's pairs are consumed
    for (int i = threadIdx.x; i < nTile; i += BLOCK) {
      const unsigned code = list[e0 + i];
      const int tk = (int)(code / (K + 1)), slot = (int)(code % (K + 1));
      tileTok[i] = tk;
      tileSlot[i] = slot;
      tileW[i] = slot == K ? 1.0f : wts[tk * K + slot];
    }
    __syncthreads();
    t.n = nTile;
    tile(t);
    // Every rank's rows of the tile are visible device-wide before rank 0
    // counts the tile's tokens; the barrier also frees the tile's shared
    // buffers, which other ranks read.
    __threadfence();
    clusterSync();
    if (rank != 0)
      continue;
    if (warp == 0) {
      int last = -1;
      if (lane < nTile) {
        const int tk = tileTok[lane];
        unsigned expected = 1; // the shared expert
        for (int j = 0; j < K; ++j) {
          const int ej = idx[tk * K + j];
          expected += ej >= 0 && ej < E;
        }
        expected *= G; // each expert's clusters
        if (atomicAdd(&counter[tk], 1u) == expected - 1)
          last = tk;
      }
      if (lane < TILE)
        lastTok[lane] = last;
    }
    __syncthreads();
    for (int j = 0; j < nTile; ++j) {
      const int tk = lastTok[j];
      if (tk < 0)
        continue;
      __threadfence(); // the other clusters' partial rows
      if (threadIdx.x == 0) {
        // Routed slots by ascending expert id (then slot); invalid ones out.
        int m = 0;
        for (int s = 0; s < K; ++s) {
          const int es = idx[tk * K + s];
          if (es < 0 || es >= E)
            continue;
          int at = m++;
          while (at > 0 && idx[tk * K + routedOrder[at - 1]] > es) {
            routedOrder[at] = routedOrder[at - 1];
            --at;
          }
          routedOrder[at] = s;
        }
        for (int s = m; s < K; ++s)
          routedOrder[s] = -1;
        counter[tk] = 0; // ready for the next call
      }
      __syncthreads();
      // out_e of a slot: bf16 already when G = 1, else its clusters' fp32
      // partials added in order and rounded.
      auto expertOut = [&](int slot, int c) {
        const float *ps = partial + moePartialAt<DIM, K, G>(tk, slot, 0, c);
        if constexpr (G == 1)
          return __ldcg(ps);
        float v = __ldcg(ps);
#pragma unroll
        for (int g = 1; g < G; ++g)
          v = __fadd_rn(v, __ldcg(ps + g * DIM));
        return off::roundBf16(v);
      };
      for (int c = threadIdx.x; c < DIM; c += BLOCK) {
        float sum = 0.0f;
        for (int s = 0; s < K; ++s) {
          const int slot = routedOrder[s];
          if (slot >= 0)
            sum = __fadd_rn(sum, expertOut(slot, c));
        }
        y[(long long)tk * DIM + c] =
            off::roundBf16(__fadd_rn(sum, expertOut(K, c)));
      }
      __syncthreads(); // routedOrder is reused
    }
  }
}

// A tile by warp GEMVs: phase A, each rank's h rows for TG tokens at a time
// (a warp per row), quantized per 128-block (P5); phase B, after a cluster
// barrier, the w2 rows of this rank for TB tokens at a time, the tokens' h
// codes gathered from every rank.
template <int DIM, int INTER, int K, int DT13, int DT2, int DS13, int DS2,
          int C, int WARPS, int TG, int TILE, int TB, int G>
__device__ __forceinline__ void moeTileGemv(const MoeTile &t) {
  constexpr int HS = INTER / G; // h columns of one of an expert's clusters
  constexpr int IPR = HS / C;
  static_assert(DIM % 128 == 0 && IPR % 128 == 0 && HS == IPR * C,
                "whole 128-blocks");
  constexpr int STAGE_A = TG * DIM + TG * (DIM / 128);
  constexpr int STAGE_B = TB * HS + TB * (HS / 128);
  constexpr int STAGE = STAGE_A > STAGE_B ? STAGE_A : STAGE_B;
  __shared__ __align__(16) unsigned char stage[STAGE];
  __shared__ __align__(16) float hbuf[TILE][IPR];
  __shared__ __align__(16) unsigned char hcodes[TILE][IPR];
  __shared__ unsigned char hscales[TILE][IPR / 128];
  auto &xCodes = *reinterpret_cast<unsigned char(*)[TG][DIM]>(stage);
  auto &xScales =
      *reinterpret_cast<unsigned char(*)[TG][DIM / 128]>(stage + TG * DIM);
  auto &hCodesAll = *reinterpret_cast<unsigned char(*)[TB][HS]>(stage);
  auto &hScalesAll =
      *reinterpret_cast<unsigned char(*)[TB][HS / 128]>(stage + TB * HS);
  constexpr int BLOCK = 32 * WARPS;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int g0 = 0; g0 < t.n; g0 += TG) {
    const int ng = min(TG, t.n - g0);
    __syncthreads(); // the stage is free
    quantizeActs<DIM, TG, WARPS>(
        [&](int j) { return t.x + (long long)t.tok[g0 + j] * DIM; }, ng, xCodes,
        xScales);
    __syncthreads();
    for (int il = warp; il < IPR; il += WARPS) {
      const int row = t.sub * HS + (int)t.rank * IPR + il;
      float gs[TG], us[TG];
      if (t.shared) {
        officialRowDots<DIM, DS13, TG, DIM, true, true>(t.W1, t.S1, row, xCodes,
                                                        xScales, ng, gs);
        officialRowDots<DIM, DS13, TG, DIM, true, true>(t.W3, t.S3, row, xCodes,
                                                        xScales, ng, us);
      } else {
        officialRowDots<DIM, DT13, TG, DIM, true, true>(t.W1, t.S1, row, xCodes,
                                                        xScales, ng, gs);
        officialRowDots<DIM, DT13, TG, DIM, true, true>(t.W3, t.S3, row, xCodes,
                                                        xScales, ng, us);
      }
      if (lane == 0) {
#pragma unroll
        for (int j = 0; j < TG; ++j)
          if (j < ng)
            hbuf[g0 + j][il] = moeHidden(gs[j], us[j], t.w[g0 + j], t.lim);
      }
    }
  }
  __syncthreads();
  // P5 of this rank's h blocks (its IPR rows are whole 128-blocks).
  quantizeActs<IPR, TILE, WARPS>([&](int j) { return &hbuf[j][0]; }, t.n,
                                 hcodes, hscales);
  clusterSync(); // every rank's h codes are readable
  for (int tb = 0; tb < t.n; tb += TB) {
    const int nt = min(TB, t.n - tb);
    __syncthreads(); // the stage is free
    gatherClusterCodes<HS, IPR, TILE, TB, BLOCK>(hcodes, hscales, tb, nt,
                                                 hCodesAll, hScalesAll);
    __syncthreads();
    for (int nrow = (int)t.rank * WARPS + warp; nrow < DIM; nrow += C * WARPS) {
      float out[TB];
      if (t.shared)
        officialRowDots<HS, DS2, TB, INTER, G == 1, true>(
            t.W2, t.S2, nrow, hCodesAll, hScalesAll, nt, out, t.sub * HS);
      else
        officialRowDots<HS, DT2, TB, INTER, G == 1, true>(
            t.W2, t.S2, nrow, hCodesAll, hScalesAll, nt, out, t.sub * HS);
      if (lane == 0) {
#pragma unroll
        for (int j = 0; j < TB; ++j)
          if (j < nt)
            t.partial[moePartialAt<DIM, K, G>(t.tok[tb + j], t.slot[tb + j],
                                              t.sub, nrow)] = out[j];
      }
    }
  }
}

template <int DIM, int INTER, int E, int K, int DT13, int DT2, int DS13,
          int DS2, bool SHARED_CLAMP, int C, int WARPS, int TG, int TILE,
          int TB, int MAXTOK, int NSH, int G>
__device__ __forceinline__ void moeOfficialGrouped(const BkLaunch &a,
                                                   float limit) {
  moeGroupedFrame<DIM, E, K, C, G, TILE, MAXTOK, NSH, 32 * WARPS>(
      a, limit, SHARED_CLAMP, [](const MoeTile &t) {
        moeTileGemv<DIM, INTER, K, DT13, DT2, DS13, DS2, C, WARPS, TG, TILE, TB,
                    G>(t);
      });
}

} // namespace bk
