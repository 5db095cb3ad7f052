// official_linear.cuh - linear with FP8 or FP4 weights in the `official`
// numerics (V4_SPEC P5, P8, P9; lib/OfficialQuant.cpp): each token's
// activations are quantized to FP8 in 128-blocks (power-of-two scales), then
// every output is
//   FP8 weights: bf16( Σ_kb fl(inner_kb · fl(sa_kb · sw_kb)) ),
//   FP4 weights: bf16( Σ_kb32 fl(fl(inner_kb32 · sa_kb32/4) · sw_kb32) ),
// inner = the block's products (exact in fp32) summed in order, the outer sum
// in block order: the host's arithmetic exactly, so results are bitwise.
//
// A warp per output row, WARPS rows per block, a TPY-token slice per block
// (grid.y); the slice's activations are quantized TG tokens at a time into
// shared memory by the block (codes, then the tokens' scale bytes). Lane l
// owns the 128-blocks l, l + 32, ...; the ordered outer sum gathers the lanes'
// block results by shuffles.
#pragma once
#include "bk/cluster.cuh"
#include "bk/official.cuh"

namespace bk {

// P5 for ng token rows (row(j): global pointer to K floats) into the
// block's shared codes/scales: a warp per (token, 128-block), 4 values per
// lane. The caller synchronizes before and after.
template <int K, int TG, int WARPS, class Row>
__device__ __forceinline__ void
quantizeActs(const Row &row, int ng, unsigned char (&codes)[TG][K],
             unsigned char (&scales)[TG][K / 128]) {
  constexpr int NB = K / 128;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int p = warp; p < ng * NB; p += WARPS) {
    const int j = p / NB, b = p % NB;
    const float4 v = *(const float4 *)(row(j) + b * 128 + lane * 4);
    unsigned byte;
    *(unsigned *)&codes[j][b * 128 + lane * 4] = off::fp8Quantize128(v, &byte);
    if (lane == 0)
      scales[j][b] = (unsigned char)byte;
  }
}

// Whole rows of codes that a cluster's ranks hold in slices (rank r: columns
// [r·IPR, (r+1)·IPR) of `codes`, with one scale byte per 128): rows from..
// from+n-1 gathered into rows 0..n-1 of `all`/`allScales` (COLS columns), by
// the whole block, through distributed shared memory.
template <int COLS, int IPR, int TILE, int ROWS, int BLOCK>
__device__ __forceinline__ void
gatherClusterCodes(const unsigned char (&codes)[TILE][IPR],
                   const unsigned char (&scales)[TILE][IPR / 128], int from,
                   int n, unsigned char (&all)[ROWS][COLS],
                   unsigned char (&allScales)[ROWS][COLS / 128]) {
  for (int v = threadIdx.x; v < n * (COLS / 16); v += BLOCK) {
    const int j = v / (COLS / 16), k = (v % (COLS / 16)) * 16;
    *(uint4 *)&all[j][k] =
        *(const uint4 *)clusterMap(&codes[from + j][k % IPR], k / IPR);
  }
  for (int v = threadIdx.x; v < n * (COLS / 128); v += BLOCK) {
    const int j = v / (COLS / 128), b = v % (COLS / 128);
    allScales[j][b] =
        *clusterMap(&scales[from + j][b % (IPR / 128)], b / (IPR / 128));
  }
}

// P8 / P9: out[j] = the bf16 output of weight row n for the ng quantized
// tokens, by the calling warp (every lane gets the results). The K inputs
// are columns [k0, k0 + K) of rows ROW long (a slice of a wider weight, k0 a
// multiple of 128); ROUND = false leaves the fp32 sum unrounded, for a caller
// that adds slices. FP4: each lane loads its 128-block's four weight chunks
// before decoding any, so a warp keeps 2 KB in flight (the moe's experts
// are latency-bound otherwise). FP8 loads chunk by chunk, two unrolled:
// holding all eight chunks took 80 instead of 62 registers, fewer blocks per
// SM, and made the FP8 GEMVs of a decode step 10-17 % slower (H200). The
// arithmetic and its order do not depend on the loads' order.
// EXACT: the inner sums exact, rounded once (InnerSum::Exact, the moe's
// experts): FP8 products summed in double, FP4 products four at a time in
// fp32 (four of them sum exactly: multiples of 2^-10 below 2^13.4), then in
// double.
template <int K, int DT, int TG, int ROW = K, bool ROUND = true,
          bool EXACT = false>
__device__ __forceinline__ void
officialRowDots(const unsigned char *W, const unsigned char *S, int n,
                const unsigned char (&codes)[TG][K],
                const unsigned char (&actScale)[TG][K / 128], int ng,
                float (&out)[TG], int k0 = 0) {
  static_assert(DT == kF8E4M3 || DT == kFP4, "FP8 or FP4 weights");
  static_assert(K % 128 == 0 && ROW % 128 == 0 && K <= ROW, "128-blocks");
  constexpr int NB = K / 128;
  constexpr int PER_LANE = (NB + 31) / 32;
  constexpr int Q = DT == kFP4 ? 4 : 1; // results per 128-block
  const int lane = threadIdx.x % 32;
  float part[PER_LANE][Q][TG];
#pragma unroll
  for (int i = 0; i < PER_LANE; ++i) {
    const int b = lane + 32 * i;
#pragma unroll
    for (int q = 0; q < Q; ++q)
#pragma unroll
      for (int j = 0; j < TG; ++j)
        part[i][q][j] = 0.0f;
    if (b >= NB)
      continue;
    if constexpr (DT == kF8E4M3) {
      const uint4 *wrow =
          (const uint4 *)(W + (long long)n * ROW + k0 + b * 128);
      constexpr int kScaleCols = ROW / 128;
      const float sw =
          e8m0ToF32(__ldg(S + (n / 128) * kScaleCols + k0 / 128 + b));
      float inner[TG];
      double exact[TG];
#pragma unroll
      for (int j = 0; j < TG; ++j) {
        inner[j] = 0.0f;
        exact[j] = 0.0;
      }
#pragma unroll 2
      for (int c = 0; c < 8; ++c) { // 16 weights per chunk
        float w[16];
        decodeFp8Chunk(__ldg(wrow + c), w);
#pragma unroll
        for (int j = 0; j < TG; ++j) {
          if (j < ng) {
            float xa[16];
            decodeFp8Chunk(*(const uint4 *)&codes[j][b * 128 + c * 16], xa);
#pragma unroll
            for (int e = 0; e < 16; ++e) { // exact products: fma == mul+add
              if constexpr (EXACT)
                exact[j] += (double)__fmul_rn(xa[e], w[e]);
              else
                inner[j] = __fmaf_rn(xa[e], w[e], inner[j]);
            }
          }
        }
      }
#pragma unroll
      for (int j = 0; j < TG; ++j)
        if (j < ng)
          part[i][0][j] =
              __fmul_rn(EXACT ? __double2float_rn(exact[j]) : inner[j],
                        __fmul_rn(e8m0ToF32(actScale[j][b]), sw));
    } else {
      const uint4 *wrow =
          (const uint4 *)(W + (long long)n * (ROW / 2) + k0 / 2 + b * 64);
      const unsigned char *srow =
          S + (long long)n * (ROW / 32) + k0 / 32 + b * 4;
      uint4 wv[4]; // the act block's four 32-blocks
      unsigned char sb[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        wv[q] = __ldg(wrow + q);
        sb[q] = __ldg(srow + q);
      }
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        float w[32];
        decodeFp4Chunk(wv[q], w);
        const float sw = e8m0ToF32(sb[q]);
#pragma unroll
        for (int j = 0; j < TG; ++j) {
          if (j < ng) {
            float inner = 0.0f;
            double exact = 0.0;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
              float xa[16];
              decodeFp8Chunk(
                  *(const uint4 *)&codes[j][b * 128 + q * 32 + h * 16], xa);
#pragma unroll
              for (int e = 0; e < 16; e += 4) {
                if constexpr (EXACT) {
                  float four = __fmul_rn(xa[e], w[h * 16 + e]);
#pragma unroll
                  for (int f = 1; f < 4; ++f)
                    four = __fmaf_rn(xa[e + f], w[h * 16 + e + f], four);
                  exact += (double)four;
                } else {
#pragma unroll
                  for (int f = 0; f < 4; ++f)
                    inner = __fmaf_rn(xa[e + f], w[h * 16 + e + f], inner);
                }
              }
            }
            if constexpr (EXACT)
              inner = __double2float_rn(exact);
            part[i][q][j] =
                __fmul_rn(__fmul_rn(inner, e8m0ToF32(actScale[j][b])), sw);
          }
        }
      }
    }
  }
  // The outer sum in block order: block b's results live in lane b % 32.
  float acc[TG];
#pragma unroll
  for (int j = 0; j < TG; ++j)
    acc[j] = 0.0f;
#pragma unroll
  for (int i = 0; i < PER_LANE; ++i)
    for (int src = 0; src < 32 && src + 32 * i < NB; ++src)
#pragma unroll
      for (int q = 0; q < Q; ++q)
#pragma unroll
        for (int j = 0; j < TG; ++j)
          acc[j] =
              __fadd_rn(acc[j], __shfl_sync(0xffffffffu, part[i][q][j], src));
#pragma unroll
  for (int j = 0; j < TG; ++j)
    out[j] = ROUND ? off::roundBf16(acc[j]) : acc[j];
}

// linear, official, FP8/FP4 weights [N, K]: a warp per output row, WARPS rows
// and a TPY-token slice per block, TG tokens quantized at a time.
template <int K, int N, int DT, int WARPS, int TG, int TPY>
__device__ __forceinline__ void linearOfficial(const BkLaunch &a) {
  static_assert(K % 128 == 0, "whole 128-blocks (checked by the generator)");
  __shared__ __align__(16) unsigned char codes[TG][K];
  __shared__ unsigned char actScale[TG][K / 128];
  const int lane = threadIdx.x % 32;
  const int n = blockIdx.x * WARPS + threadIdx.x / 32;
  const float *x = (const float *)a.in[0];
  float *y = (float *)a.out[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const long long t0 = (long long)blockIdx.y * TPY;
  const int ns = (int)min((long long)TPY, a.tokens - t0);
  for (int g0 = 0; g0 < ns; g0 += TG) {
    const int ng = min(TG, ns - g0);
    __syncthreads(); // codes are free
    quantizeActs<K, TG, WARPS>([&](int j) { return x + (t0 + g0 + j) * K; }, ng,
                               codes, actScale);
    __syncthreads();
    if (n >= N)
      continue;
    float out[TG];
    officialRowDots<K, DT, TG>(W, S, n, codes, actScale, ng, out);
    if (lane == 0)
#pragma unroll
      for (int j = 0; j < TG; ++j)
        if (j < ng)
          y[(t0 + g0 + j) * N + n] = out[j];
  }
}

// linear_rms_norm, official: the official linear (bf16 rows), then P1 over
// each token's row with the host's sequential sum. One cluster of C blocks
// per TPY-token slice: the blocks split the rows, then, after a cluster
// barrier, each block computes its tokens' factors from the whole rows in
// global memory and rescales its own rows.
template <int K, int N, int DT, int NWDT, int C, int WARPS, int TG, int TPY>
__device__ __forceinline__ void linearRmsNormOfficial(const BkLaunch &a,
                                                      float eps) {
  static_assert(K % 128 == 0, "whole 128-blocks (checked by the generator)");
  __shared__ __align__(16) unsigned char codes[TG][K];
  __shared__ unsigned char actScale[TG][K / 128];
  __shared__ float factor[TPY];
  const unsigned rank = clusterRank();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float *x = (const float *)a.in[0];
  float *y = (float *)a.out[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const long long t0 = (long long)blockIdx.y * TPY;
  const int ns = (int)min((long long)TPY, a.tokens - t0);
  constexpr int kRowStep = C * WARPS;
  for (int g0 = 0; g0 < ns; g0 += TG) {
    const int ng = min(TG, ns - g0);
    __syncthreads(); // codes are free
    quantizeActs<K, TG, WARPS>([&](int j) { return x + (t0 + g0 + j) * K; }, ng,
                               codes, actScale);
    __syncthreads();
    for (int n = rank * WARPS + warp; n < N; n += kRowStep) {
      float out[TG];
      officialRowDots<K, DT, TG>(W, S, n, codes, actScale, ng, out);
      if (lane == 0)
#pragma unroll
        for (int j = 0; j < TG; ++j)
          if (j < ng)
            y[(t0 + g0 + j) * N + n] = out[j];
    }
  }
  clusterSync(); // every rank's rows are in global memory
  for (int t = threadIdx.x; t < ns; t += 32 * WARPS)
    factor[t] = off::rmsFactorP1(y + (t0 + t) * N, N, eps);
  __syncthreads();
  // Every block has read all rows before any rescales its own.
  clusterSync();
  for (int n = rank * WARPS + warp; n < N; n += kRowStep) {
    const float g = loadScalar<NWDT>(a.weights[1], n);
    for (int t = lane; t < ns; t += 32) {
      float *p = y + (t0 + t) * N + n;
      *p = off::roundBf16(__fmul_rn(g, __fmul_rn(*p, factor[t])));
    }
  }
}

} // namespace bk
