// indexer.cuh - indexer_topk (V4_SPEC §3.6, the host's fp32 scoring): for
// the query at p, score every visible compressed key e < (p+1) div RATIO of
// its sequence (the slot's pages) as
//   s_e = Σ_h max(q_h·K_e, 0) · Di^-½ · (w_h · Hi^-½)
// and keep the min(TOPK, visible) largest (ties: lower index), highest first,
// the rest -1.
//
// One cluster of C blocks per token; rank r scores a contiguous range of the
// visible entries. The scores are bitwise the host's (dotF32's partial sums
// by lane groups of 8, the head sum in order), so the selection is exactly
// the host's. Selection is a 4-pass radix select over order-preserving keys
// with cluster-wide histograms (distributed shared memory), then an ordered
// gather of the chosen entries into rank 0, which sorts them. A rank keeps
// its scores in shared memory when they fit (CACHE), else recomputes them in
// every pass.
//
// PRE > 0 (the "scored" schedule, entries of few tokens): indexerScore ran
// first, SPLIT blocks per token scoring the token's first PRE entries over
// the whole GPU into scratch, scores[t][j]; the cluster then only selects,
// reading those scores (bitwise the same: the same indexerScoreOf), and
// scores entries from PRE on itself. One cluster of 8 blocks scoring a long
// context alone leaves the GPU idle: 16K entries at 64K tokens.
//
// OFFICIAL (key_format 1, lib/OfficialNumerics): keys are FP4 codes + e8m0
// scales (fp4KeyBytes per row), decoded to bf16 values; per head the dot is
// rounded to bf16, ReLU'd, multiplied by the bf16 weight w_h · Di^-½ · Hi^-½
// and rounded, summed over heads in fp32 and the score rounded to bf16 (ties
// become common; the lower index still wins).
#pragma once
#include "bk/cluster.cuh"
#include "bk/common.cuh"
#include "bk/hostmath.cuh"
#include "bk/official.cuh"

namespace bk {

// Unsigned key with the order of the float (-0 and +0 equal, as the host's
// comparisons).
__device__ __forceinline__ unsigned orderedKey(float s) {
  unsigned u = __float_as_uint(s == 0.0f ? 0.0f : s);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Bytes of a key row: official rows are DI/2 bytes of FP4 codes, then DI/32
// e8m0 scales; reference rows DI floats.
template <int DI, bool OFFICIAL> constexpr long long indexerRowBytes() {
  return OFFICIAL ? DI / 2 + DI / 32 : 4ll * DI;
}

template <int DI, bool OFFICIAL>
using IndexerKeys = BkPagedRows<0, indexerRowBytes<DI, OFFICIAL>()>;

// The token's queries and head weights (w_h times weightScale, bf16 in the
// official profile) into shared memory; the caller synchronizes.
template <int HI, int DI, int BLOCK, bool OFFICIAL>
__device__ __forceinline__ void indexerLoadQuery(const BkLaunch &a, long long t,
                                                 float weightScale, float *q,
                                                 float *wsc) {
  const float *qg = (const float *)a.in[0] + t * HI * DI;
  for (int i = threadIdx.x; i < HI * DI; i += BLOCK)
    q[i] = qg[i];
  for (int h = threadIdx.x; h < HI; h += BLOCK) {
    const float w =
        __fmul_rn(((const float *)a.in[1])[t * HI + h], weightScale);
    wsc[h] = OFFICIAL ? off::roundBf16(w) : w;
  }
}

// The score of entry j, computed by the lane group of 8 that holds it (all 32
// lanes call it; j must be a valid entry for every group).
template <int HI, int DI, bool OFFICIAL>
__device__ __forceinline__ float
indexerScoreOf(const BkLaunch &a, const IndexerKeys<DI, OFFICIAL> &keys, int j,
               const float *q, const float *wsc, float scoreScale) {
  const int lane = threadIdx.x % 32;
  if constexpr (OFFICIAL) {
    // The group's lane g keeps key elements 8m + g, decoded once.
    const unsigned char *row = keys(a, j);
    const int g = lane % 8;
    float kr[DI / 8];
#pragma unroll
    for (int m = 0; m < DI / 8; ++m) {
      const int e = 8 * m + g;
      const unsigned byte = row[e / 2];
      const unsigned code = (e & 1) ? byte >> 4 : byte & 15u;
      kr[m] = off::roundBf16(
          __fmul_rn(e2m1ToF32(code), e8m0ToF32(row[DI / 2 + e / 32])));
    }
    float sum = 0.0f;
#pragma unroll 2
    for (int h = 0; h < HI; ++h) {
      float acc = 0.0f;
#pragma unroll
      for (int m = 0; m < DI / 8; ++m)
        acc = __fadd_rn(acc, __fmul_rn(q[h * DI + 8 * m + g], kr[m]));
      acc = __fadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, 4));
      acc = __fadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, 1));
      acc = __fadd_rn(acc, __shfl_xor_sync(0xffffffffu, acc, 2));
      // dotF32's empty tail is still added; then the einsum's bf16.
      const float dot = off::roundBf16(__fadd_rn(acc, 0.0f));
      sum = __fadd_rn(
          sum, off::roundBf16(__fmul_rn(dot < 0.0f ? 0.0f : dot, wsc[h])));
    }
    return off::roundBf16(sum);
  } else {
    float s = 0.0f;
    const float *k = (const float *)keys(a, j);
#pragma unroll 4
    for (int h = 0; h < HI; ++h) {
      const float dot = hostDotGroup8(q + h * DI, k, DI);
      const float term =
          __fmul_rn(__fmul_rn(dot < 0.0f ? 0.0f : dot, scoreScale), wsc[h]);
      s = __fadd_rn(s, term);
    }
    return s;
  }
}

// The "scored" schedule's first kernel: SPLIT blocks per token (grid.x =
// SPLIT·S) share the token's visible entries below ROWS, in chunks of at
// least 64 (a short context leaves blocks idle rather than have each load
// the queries for a few entries), and write their scores to scratch,
// scores[t][j] (ROWS floats a token).
template <int HI, int DI, int RATIO, int SPLIT, int ROWS, int BLOCK,
          bool OFFICIAL>
__device__ __forceinline__ void
indexerScore(const BkLaunch &a, float scoreScale, float weightScale) {
  static_assert(!OFFICIAL || DI % 32 == 0, "FP4 keys in whole 32-blocks");
  constexpr int NW = BLOCK / 32;
  __shared__ __align__(16) float q[HI * DI];
  __shared__ float wsc[HI];
  const long long t = blockIdx.x / SPLIT;
  const int chunk = blockIdx.x % SPLIT;
  const long long p = bkPos(a, t);
  const int n = (int)min((p + 1) / RATIO, (long long)ROWS);
  const int per = max(64, (n + SPLIT - 1) / SPLIT);
  const int lo = chunk * per, hi = min(n, lo + per);
  if (lo >= hi)
    return;
  indexerLoadQuery<HI, DI, BLOCK, OFFICIAL>(a, t, weightScale, q, wsc);
  __syncthreads();
  const IndexerKeys<DI, OFFICIAL> keys =
      bkPagedRows<0, indexerRowBytes<DI, OFFICIAL>()>(a, bkSlot(a, t));
  float *scores = (float *)a.scratch + t * ROWS;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int base = lo + warp * 4; base < hi; base += NW * 4) {
    const int j = base + lane / 8;
    const float s = indexerScoreOf<HI, DI, OFFICIAL>(a, keys, j < hi ? j : lo,
                                                     q, wsc, scoreScale);
    if (lane % 8 == 0 && j < hi)
      scores[j] = s;
  }
}

template <int HI, int DI, int TOPK, int RATIO, int C, int BLOCK, int CACHE,
          int KCAP, bool OFFICIAL = false, int PRE = 0>
__device__ __forceinline__ void indexerTopk(const BkLaunch &a, float scoreScale,
                                            float weightScale) {
  static_assert(!OFFICIAL || DI % 32 == 0, "FP4 keys in whole 32-blocks");
  static_assert((KCAP & (KCAP - 1)) == 0 && KCAP >= TOPK, "sort capacity");
  static_assert(BLOCK % 32 == 0, "whole warps");
  constexpr int NW = BLOCK / 32;
  __shared__ __align__(16) float q[HI * DI];
  __shared__ float wsc[HI];
  __shared__ float cache[CACHE > 0 ? CACHE : 1];
  __shared__ unsigned hist[2][256];
  __shared__ unsigned tot[256];
  __shared__ unsigned long long sel[KCAP]; // (key << 32) | ~index; rank 0
  __shared__ unsigned counts[2];           // this rank's (greater, ties)
  __shared__ unsigned selectState[2];      // radix prefix, still needed

  const unsigned rank = clusterRank();
  const long long t = blockIdx.x / C;
  const long long p = bkPos(a, t);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int visible = (int)((p + 1) / RATIO);
  const int keep = min(TOPK, visible);
  const int per = (visible + C - 1) / C;
  const int lo = min(visible, (int)rank * per);
  const int hi = min(visible, lo + per);
  const int nLocal = hi - lo;
  // Scores of this rank's entries: from indexerScore's scratch (PRE), from
  // the shared cache, or recomputed in every pass.
  const float *pre = PRE > 0 ? (const float *)a.scratch + t * PRE : nullptr;
  const bool prescored = PRE > 0 && hi <= PRE;
  const bool cached = !prescored && nLocal <= CACHE;
  // The keys of the token's sequence: its slot's pages.
  const IndexerKeys<DI, OFFICIAL> keys =
      bkPagedRows<0, indexerRowBytes<DI, OFFICIAL>()>(a, bkSlot(a, t));

  if (!prescored)
    indexerLoadQuery<HI, DI, BLOCK, OFFICIAL>(a, t, weightScale, q, wsc);
  if (rank == 0)
    for (int i = threadIdx.x; i < KCAP; i += BLOCK)
      sel[i] = 0ull; // sorts last
  __syncthreads();

  auto score = [&](int j) { // all 32 lanes; j valid for the group
    return indexerScoreOf<HI, DI, OFFICIAL>(a, keys, j, q, wsc, scoreScale);
  };
  // Calls fn(j, key) for every local entry j in [lo, hi) (any order, any
  // thread) from scratch, the cache, or by scoring it now (lane groups of 8).
  auto forEachKey = [&](auto &&fn) {
    if (prescored) {
      for (int j = lo + (int)threadIdx.x; j < hi; j += BLOCK)
        fn(j, orderedKey(pre[j]));
    } else if (cached) {
      for (int j = threadIdx.x; j < nLocal; j += BLOCK)
        fn(lo + j, orderedKey(cache[j]));
    } else {
      for (int base = lo + warp * 4; base < hi; base += NW * 4) {
        const int j = base + lane / 8;
        const float s = score(j < hi ? j : lo);
        if (lane % 8 == 0 && j < hi)
          fn(j, orderedKey(s));
      }
    }
  };
  if (cached) {
    for (int base = lo + warp * 4; base < hi; base += NW * 4) {
      const int j = base + lane / 8;
      const float s = score(j < hi ? j : lo);
      if (lane % 8 == 0 && j < hi)
        cache[j - lo] = s;
    }
  }
  __syncthreads();

  // Threshold key T and how many entries equal to T are kept.
  const bool takeAll = visible <= TOPK;
  unsigned T = 0, needTies = 0;
  if (!takeAll) {
    unsigned prefix = 0, remaining = (unsigned)keep;
    for (int pass = 0; pass < 4; ++pass) {
      const int shift = 24 - 8 * pass;
      const unsigned highMask = pass == 0 ? 0u : ~0u << (32 - 8 * pass);
      unsigned *hb = hist[pass & 1];
      for (int d = threadIdx.x; d < 256; d += BLOCK)
        hb[d] = 0;
      __syncthreads();
      forEachKey([&](int, unsigned k) {
        if ((k & highMask) == prefix)
          atomicAdd(&hb[(k >> shift) & 255u], 1u);
      });
      clusterSync(); // every rank's histogram is complete
      for (int d = threadIdx.x; d < 256; d += BLOCK) {
        unsigned s = 0;
        for (int r = 0; r < C; ++r)
          s += *clusterMap(&hb[d], r);
        tot[d] = s;
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        unsigned above = 0;
        int digit = 0;
        for (int d = 255; d >= 0; --d) {
          if (above + tot[d] >= remaining) {
            digit = d;
            break;
          }
          above += tot[d];
        }
        selectState[0] = prefix | ((unsigned)digit << shift);
        selectState[1] = remaining - above;
      }
      __syncthreads();
      prefix = selectState[0];
      remaining = selectState[1];
      __syncthreads();
    }
    T = prefix;
    needTies = remaining;
  }

  // Where this rank's chosen entries go in rank 0's list, and how many of its
  // ties (lowest index first) it keeps. Ranks hold increasing index ranges.
  unsigned offset = 0, takeTies = 0;
  if (takeAll) {
    // Every rank writes into rank 0's shared list below; the barrier makes
    // sure all blocks of the cluster have started (distributed shared memory
    // of a block that has not started may not be accessed). The other path
    // passes the cluster barriers of the radix select first.
    clusterSync();
    offset = (unsigned)lo;
  } else {
    if (threadIdx.x < 2)
      counts[threadIdx.x] = 0;
    __syncthreads();
    forEachKey([&](int, unsigned k) {
      if (k > T)
        atomicAdd(&counts[0], 1u);
      else if (k == T)
        atomicAdd(&counts[1], 1u);
    });
    clusterSync(); // counts of every rank are final
    unsigned tiesBefore = 0;
    for (unsigned r = 0; r < rank; ++r) {
      const unsigned g = *clusterMap(&counts[0], r);
      const unsigned x = *clusterMap(&counts[1], r);
      const unsigned take =
          needTies > tiesBefore ? min(x, needTies - tiesBefore) : 0u;
      offset += g + take;
      tiesBefore += x;
    }
    takeTies =
        needTies > tiesBefore ? min(counts[1], needTies - tiesBefore) : 0u;
  }

  // Ordered gather: the keys of BLOCK consecutive entries into shared memory
  // by every thread, then warp 0 picks from them 32 at a time.
  unsigned long long *sel0 = clusterMap(&sel[0], 0);
  __shared__ unsigned roundKey[BLOCK];
  unsigned taken = 0, tiesSeen = 0;
  for (int base = lo; base < hi; base += BLOCK) {
    if (prescored || cached) {
      const int j = base + (int)threadIdx.x;
      if (j < hi)
        roundKey[threadIdx.x] = orderedKey(prescored ? pre[j] : cache[j - lo]);
    } else {
      for (int b = warp * 4; b < BLOCK; b += NW * 4) {
        const int j = base + b + lane / 8;
        const float s = score(j < hi ? j : lo);
        if (lane % 8 == 0 && j < hi)
          roundKey[b + lane / 8] = orderedKey(s);
      }
    }
    __syncthreads();
    if (warp == 0) {
      for (int sub = 0; sub < BLOCK && base + sub < hi; sub += 32) {
        const int j = base + sub + lane;
        const bool valid = j < hi;
        const unsigned k = valid ? roundKey[sub + lane] : 0u;
        const bool isTie = !takeAll && valid && k == T;
        const unsigned tieMask = __ballot_sync(0xffffffffu, isTie);
        const unsigned below = (1u << lane) - 1u;
        const bool takeTie =
            isTie && tiesSeen + __popc(tieMask & below) < takeTies;
        const bool pick = valid && (takeAll || k > T || takeTie);
        const unsigned pickMask = __ballot_sync(0xffffffffu, pick);
        if (pick) {
          const unsigned pos = offset + taken + __popc(pickMask & below);
          sel0[pos] =
              ((unsigned long long)k << 32) | (0xffffffffu - (unsigned)j);
        }
        taken += __popc(pickMask);
        tiesSeen += __popc(tieMask);
      }
    }
    __syncthreads();
  }
  clusterSync(); // rank 0's list is complete; no remote access after this
  if (rank != 0)
    return;

  // Bitonic sort of sel, descending.
  for (int size = 2; size <= KCAP; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < KCAP; i += BLOCK) {
        const int partner = i ^ stride;
        if (partner > i) {
          const bool desc = (i & size) == 0;
          const unsigned long long x = sel[i], y = sel[partner];
          if (desc ? x < y : x > y) {
            sel[i] = y;
            sel[partner] = x;
          }
        }
      }
      __syncthreads();
    }
  }
  int *out = (int *)a.out[0] + t * TOPK;
  for (int i = threadIdx.x; i < TOPK; i += BLOCK)
    out[i] =
        i < keep ? (int)(0xffffffffu - (unsigned)(sel[i] & 0xffffffffull)) : -1;
}

} // namespace bk
