// moe_decode.cuh - moe in the `official` numerics for entries of few tokens
// (decode), as three kernels, the two that stream weights spread over the
// whole GPU:
//
//   moeDecodeHidden: a block per (token, slot, RB rows of h); slot K is the
//     shared expert. Its warps compute h rows = the bf16 SwiGLU of the
//     official w1/w3 rows (P5 activations, P8/P9 with exact inner sums), the
//     routing weight inside, into scratch.
//   moeDecodeQuantize: a block per (token, slot): P5 of its h, 128 values at
//     a time, into FP8 codes and scale bytes for w2.
//   moeDecodeDown: a block per (token, RPB output rows); a group of LPR lanes
//     per output row (as many as the row's 128-blocks, up to 32) runs w2 of
//     every routed expert in ascending expert id, then the shared one, and
//     writes y = bf16(Σ_routed out_e + out_shared).
//
// The arithmetic and its order are moe_grouped.cuh's with G = 1 (and so the
// host's, runtime/host/MoeKernels.cpp): each result is made by one lane
// group in a fixed order whatever else the call holds. A slot naming no valid
// expert is skipped, as the host and the other moe kernels do. The kernels pass
// h through scratch and leave nothing there that a later launch relies on (the
// session's scratch is shared by all launches).
//
// Scratch per token and slot (K + 1 slots): INTER h floats, INTER codes and
// INTER/128 scale bytes padded to 16 (KernelSourceMoe.cpp sizes it alike).
#pragma once
#include "bk/moe_grouped.cuh"

namespace bk {

template <int INTER> struct MoeDecodeScratch {
  static constexpr int NB = INTER / 128;
  static constexpr int SCALES = (NB + 15) / 16 * 16;
  static constexpr long long PER_SLOT =
      4LL * INTER + INTER + SCALES; // a multiple of 16
  static_assert(INTER % 128 == 0, "whole 128-blocks of h");
  unsigned char *base;
  __device__ float *h(long long ts) const {
    return (float *)(base + ts * PER_SLOT);
  }
  __device__ unsigned char *codes(long long ts) const {
    return base + ts * PER_SLOT + 4LL * INTER;
  }
  __device__ unsigned char *scales(long long ts) const {
    return codes(ts) + INTER;
  }
};

// officialRowDots<K, DT, 1, ROW, true, true> for one token, with fewer live
// registers (that one holds a whole FP4 block decoded: 201 registers): the
// bf16 output of weight row n, exact inner sums rounded once, the outer sum
// in block order. The same arithmetic in the same order, so the same bits.
// codes/scales: the token's P5 activation codes and scale bytes (K of them,
// K / 128), in shared memory. A group of LPR lanes computes the row (lane l
// of it owns the 128-blocks l, l + LPR, ...); every lane of it gets the
// result.
template <int K, int DT, int LPR = 32, int ROW = K>
__device__ __noinline__ float
exactRowDot(const unsigned char *W, const unsigned char *S, int n,
            const unsigned char *codes, const unsigned char *scales) {
  static_assert(DT == kF8E4M3 || DT == kFP4, "FP8 or FP4 weights");
  static_assert(K % 128 == 0 && ROW % 128 == 0 && K <= ROW, "128-blocks");
  constexpr int NB = K / 128;
  constexpr int PER_LANE = (NB + LPR - 1) / LPR;
  constexpr int Q = DT == kFP4 ? 4 : 1; // results per 128-block
  const int lane = threadIdx.x % LPR;
  float part[PER_LANE][Q];
#pragma unroll
  for (int i = 0; i < PER_LANE; ++i) {
    const int b = lane + LPR * i;
#pragma unroll
    for (int q = 0; q < Q; ++q)
      part[i][q] = 0.0f;
    if (b >= NB)
      continue;
    const float sa = e8m0ToF32(scales[b]);
    if constexpr (DT == kF8E4M3) {
      const uint4 *wrow = (const uint4 *)(W + (long long)n * ROW + b * 128);
      const float sw = e8m0ToF32(__ldg(S + (n / 128) * (ROW / 128) + b));
      uint4 wv[8];
#pragma unroll
      for (int c = 0; c < 8; ++c)
        wv[c] = __ldg(wrow + c);
      double exact = 0.0;
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        float w[16], xa[16];
        decodeFp8Chunk(wv[c], w);
        decodeFp8Chunk(*(const uint4 *)(codes + b * 128 + c * 16), xa);
#pragma unroll
        for (int e = 0; e < 16; ++e) // exact products
          exact += (double)__fmul_rn(xa[e], w[e]);
      }
      part[i][0] = __fmul_rn(__double2float_rn(exact), __fmul_rn(sa, sw));
    } else {
      const uint4 *wrow =
          (const uint4 *)(W + (long long)n * (ROW / 2) + b * 64);
      const unsigned char *srow = S + (long long)n * (ROW / 32) + b * 4;
      uint4 wv[4];
      unsigned char sb[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        wv[q] = __ldg(wrow + q);
        sb[q] = __ldg(srow + q);
      }
      // One 32-block at a time (unrolled, the compiler hoists every decode
      // of the four and needs 122 registers).
#pragma unroll 1
      for (int q = 0; q < 4; ++q) {
        const uint4 wq = q == 0   ? wv[0]
                         : q == 1 ? wv[1]
                         : q == 2 ? wv[2]
                                  : wv[3];
        const unsigned word[4] = {wq.x, wq.y, wq.z, wq.w};
        double exact = 0.0;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          float xa[16];
          decodeFp8Chunk(*(const uint4 *)(codes + b * 128 + q * 32 + h * 16),
                         xa);
          // Four products at a time in fp32 (exact: multiples of 2^-10
          // below 2^13.4), then in double: officialRowDots' order.
#pragma unroll
          for (int g = 0; g < 4; ++g) {
            const unsigned u = word[2 * h + g / 2] >> (16 * (g % 2));
            float four = __fmul_rn(xa[4 * g], e2m1ToF32(u & 15u));
#pragma unroll
            for (int f = 1; f < 4; ++f)
              four = __fmaf_rn(xa[4 * g + f], e2m1ToF32((u >> (4 * f)) & 15u),
                               four);
            exact += (double)four;
          }
        }
        const unsigned char sq = q == 0   ? sb[0]
                                 : q == 1 ? sb[1]
                                 : q == 2 ? sb[2]
                                          : sb[3];
        const float pq =
            __fmul_rn(__fmul_rn(__double2float_rn(exact), sa), e8m0ToF32(sq));
#pragma unroll
        for (int r = 0; r < Q; ++r)
          if (r == q)
            part[i][r] = pq;
      }
    }
  }
  // The outer sum in block order: block b's results live in group lane
  // b % LPR.
  float acc = 0.0f;
#pragma unroll
  for (int i = 0; i < PER_LANE; ++i)
    for (int src = 0; src < LPR && src + LPR * i < NB; ++src)
#pragma unroll
      for (int q = 0; q < Q; ++q)
        acc = __fadd_rn(acc, __shfl_sync(0xffffffffu, part[i][q], src, LPR));
  return off::roundBf16(acc);
}

template <int DIM, int INTER, int E, int K, int DT13, int DS13,
          bool SHARED_CLAMP, int WARPS, int RB>
__device__ __forceinline__ void moeDecodeHidden(const BkLaunch &a,
                                                float limit) {
  static_assert(DIM % 128 == 0 && INTER % RB == 0 && RB % WARPS == 0,
                "RB rows of h split over the warps");
  constexpr int NHB = INTER / RB;
  constexpr int PER_TOKEN = (K + 1) * NHB;
  __shared__ __align__(16) unsigned char xCodes[1][DIM];
  __shared__ unsigned char xScales[1][DIM / 128];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long t = blockIdx.x / PER_TOKEN;
  const int slot = blockIdx.x % PER_TOKEN / NHB;
  const int hb = blockIdx.x % NHB;
  const bool shared = slot == K;
  const int *idx = (const int *)a.in[1];
  const float *wts = (const float *)a.in[2];
  int e = E;
  float w = 1.0f;
  if (!shared) {
    e = idx[t * K + slot];
    if (e < 0 || e >= E)
      return;
    w = wts[t * K + slot];
  }
  const float lim = !shared || SHARED_CLAMP ? limit : 0.0f;
  const MoeDecodeScratch<INTER> sc{(unsigned char *)a.scratch};
  const long long ts = t * (K + 1) + slot;

  quantizeActs<DIM, 1, WARPS>(
      [&](int) { return (const float *)a.in[0] + t * DIM; }, 1, xCodes,
      xScales);
  __syncthreads();
  const unsigned char *W1 = (const unsigned char *)a.weights[3 * e];
  const unsigned char *S1 = (const unsigned char *)a.scales[3 * e];
  const unsigned char *W3 = (const unsigned char *)a.weights[3 * e + 2];
  const unsigned char *S3 = (const unsigned char *)a.scales[3 * e + 2];
  float *h = sc.h(ts);
  for (int r = warp; r < RB; r += WARPS) {
    const int row = hb * RB + r;
    float g, u;
    if (shared) {
      g = exactRowDot<DIM, DS13>(W1, S1, row, xCodes[0], xScales[0]);
      u = exactRowDot<DIM, DS13>(W3, S3, row, xCodes[0], xScales[0]);
    } else {
      g = exactRowDot<DIM, DT13>(W1, S1, row, xCodes[0], xScales[0]);
      u = exactRowDot<DIM, DT13>(W3, S3, row, xCodes[0], xScales[0]);
    }
    if (lane == 0)
      h[row] = moeHidden(g, u, w, lim);
  }
}

template <int INTER, int E, int K, int WARPS>
__device__ __forceinline__ void moeDecodeQuantize(const BkLaunch &a) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long ts = blockIdx.x; // token · (K + 1) + slot
  const int slot = (int)(ts % (K + 1));
  if (slot < K) {
    const int e = ((const int *)a.in[1])[ts / (K + 1) * K + slot];
    if (e < 0 || e >= E)
      return;
  }
  const MoeDecodeScratch<INTER> sc{(unsigned char *)a.scratch};
  for (int b = warp; b < INTER / 128; b += WARPS) {
    const float4 v = *((const float4 *)(sc.h(ts) + b * 128) + lane);
    unsigned byte;
    const unsigned codes = off::fp8Quantize128(v, &byte);
    *(unsigned *)(sc.codes(ts) + b * 128 + lane * 4) = codes;
    if (lane == 0)
      sc.scales(ts)[b] = (unsigned char)byte;
  }
}

template <int DIM, int INTER, int E, int K, int DT2, int DS2, int WARPS,
          int LPR>
__device__ __forceinline__ void moeDecodeDown(const BkLaunch &a) {
  constexpr int RPB = WARPS * 32 / LPR; // a row per group of LPR lanes
  static_assert(DIM % RPB == 0, "whole row blocks");
  constexpr int PER_TOKEN = DIM / RPB;
  constexpr int BLOCK = 32 * WARPS;
  __shared__ __align__(16) unsigned char hCodes[K + 1][INTER];
  __shared__ unsigned char hScales[K + 1][INTER / 128];
  __shared__ int order[K]; // routed slots by ascending expert id, -1 after
  const long long t = blockIdx.x / PER_TOKEN;
  const int n0 = blockIdx.x % PER_TOKEN * RPB;
  const int *idx = (const int *)a.in[1] + t * K;
  const MoeDecodeScratch<INTER> sc{(unsigned char *)a.scratch};

  if (threadIdx.x == 0) {
    int m = 0;
    for (int s = 0; s < K; ++s) {
      const int es = idx[s];
      if (es < 0 || es >= E)
        continue;
      int at = m++;
      while (at > 0 && idx[order[at - 1]] > es) {
        order[at] = order[at - 1];
        --at;
      }
      order[at] = s;
    }
    for (int s = m; s < K; ++s)
      order[s] = -1;
  }
  // Every slot's h codes (an invalid slot's are never read).
  for (int v = threadIdx.x; v < (K + 1) * (INTER / 16); v += BLOCK) {
    const int s = v / (INTER / 16), c = v % (INTER / 16) * 16;
    *(uint4 *)&hCodes[s][c] = *(const uint4 *)(sc.codes(t * (K + 1) + s) + c);
  }
  for (int v = threadIdx.x; v < (K + 1) * (INTER / 128); v += BLOCK) {
    const int s = v / (INTER / 128), b = v % (INTER / 128);
    hScales[s][b] = sc.scales(t * (K + 1) + s)[b];
  }
  __syncthreads();
  float *y = (float *)a.out[0] + t * DIM;
  {
    const int n = n0 + (int)threadIdx.x / LPR;
    float sum = 0.0f;
    for (int j = 0; j < K; ++j) {
      const int s = order[j];
      if (s < 0)
        break;
      const int e = idx[s];
      sum = __fadd_rn(sum, exactRowDot<INTER, DT2, LPR>(
                               (const unsigned char *)a.weights[3 * e + 1],
                               (const unsigned char *)a.scales[3 * e + 1], n,
                               hCodes[s], hScales[s]));
    }
    const float shared = exactRowDot<INTER, DS2, LPR>(
        (const unsigned char *)a.weights[3 * E + 1],
        (const unsigned char *)a.scales[3 * E + 1], n, hCodes[K], hScales[K]);
    if (threadIdx.x % LPR == 0)
      y[n] = off::roundBf16(__fadd_rn(sum, shared));
  }
}

} // namespace bk
