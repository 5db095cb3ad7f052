// official_decode.cuh - the official FP8/FP4 linear for entries of few
// tokens (decode), where the weights are read once per token and the time
// is the weight stream: every lane loads all of its weight bytes before it
// decodes any (16-byte loads, up to 128 bytes per lane in flight), and
// narrow rows (K/128 blocks fewer than 32) share a warp, so no lane idles.
//
// Arithmetic and order are officialRowDots' (official_linear.cuh) with one
// token, so results are bitwise the host's: P5 activations, each 128-block's
// (FP4: 32-block's) products summed in order in fp32, scaled, and the block
// results added in block order, rounded to bf16.
#pragma once
#include "bk/official_linear.cuh"

namespace bk {

// The bf16 output of weight row n (K inputs) for one token's codes/scales in
// shared memory, by the LPR lanes of the calling lane group: lane l of the
// group owns the 128-blocks l, l + LPR, ... Every lane of the group gets the
// result.
template <int K, int DT, int LPR>
__device__ __forceinline__ float
orderedRowDot(const unsigned char *W, const unsigned char *S, int n,
              const unsigned char *codes, const unsigned char *scales) {
  static_assert(DT == kF8E4M3 || DT == kFP4, "FP8 or FP4 weights");
  constexpr int NB = K / 128;
  static_assert(K % 128 == 0 && NB % LPR == 0, "whole blocks per lane");
  constexpr int PER_LANE = NB / LPR;
  constexpr int Q = DT == kFP4 ? 4 : 1; // results per 128-block
  constexpr int CHUNKS = DT == kFP4 ? 4 : 8;
  const int l = threadIdx.x % LPR;
  // Every weight chunk of the lane first: PER_LANE·CHUNKS 16-byte loads.
  uint4 wv[PER_LANE][CHUNKS];
#pragma unroll
  for (int i = 0; i < PER_LANE; ++i) {
    const int b = l + LPR * i;
    const uint4 *wrow =
        DT == kFP4 ? (const uint4 *)(W + (long long)n * (K / 2) + b * 64)
                   : (const uint4 *)(W + (long long)n * K + b * 128);
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c)
      wv[i][c] = __ldg(wrow + c);
  }
  float part[PER_LANE][Q];
#pragma unroll
  for (int i = 0; i < PER_LANE; ++i) {
    const int b = l + LPR * i;
    const float sa = e8m0ToF32(scales[b]);
    if constexpr (DT == kF8E4M3) {
      const float sw = e8m0ToF32(__ldg(S + (n / 128) * (K / 128) + b));
      float inner = 0.0f;
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        float w[16], xa[16];
        decodeFp8Chunk(wv[i][c], w);
        decodeFp8Chunk(*(const uint4 *)(codes + b * 128 + c * 16), xa);
#pragma unroll
        for (int e = 0; e < 16; ++e) // exact products: fma == mul + add
          inner = __fmaf_rn(xa[e], w[e], inner);
      }
      part[i][0] = __fmul_rn(inner, __fmul_rn(sa, sw));
    } else {
      const unsigned char *srow = S + (long long)n * (K / 32) + b * 4;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const unsigned word[4] = {wv[i][q].x, wv[i][q].y, wv[i][q].z,
                                  wv[i][q].w};
        float inner = 0.0f;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          float xa[16];
          decodeFp8Chunk(*(const uint4 *)(codes + b * 128 + q * 32 + h * 16),
                         xa);
#pragma unroll
          for (int e = 0; e < 16; ++e)
            inner = __fmaf_rn(
                xa[e], e2m1ToF32((word[2 * h + e / 8] >> (4 * (e % 8))) & 15u),
                inner);
        }
        part[i][q] =
            __fmul_rn(__fmul_rn(inner, sa), e8m0ToF32(__ldg(srow + q)));
      }
    }
  }
  // The outer sum in block order: block b lives in group lane b % LPR.
  float acc = 0.0f;
#pragma unroll
  for (int i = 0; i < PER_LANE; ++i)
#pragma unroll
    for (int src = 0; src < LPR; ++src)
#pragma unroll
      for (int q = 0; q < Q; ++q)
        acc = __fadd_rn(acc, __shfl_sync(0xffffffffu, part[i][q], src, LPR));
  return off::roundBf16(acc);
}

// linear, official, FP8/FP4 weights [N, K], one token per grid.y: the block
// quantizes the token's activations (P5), then each lane group of LPR lanes
// computes rows, WARPS·32/LPR rows per block.
template <int K, int N, int DT, int WARPS, int LPR>
__device__ __forceinline__ void linearOfficialDecode(const BkLaunch &a) {
  constexpr int ROWS = WARPS * 32 / LPR;
  __shared__ __align__(16) unsigned char codes[1][K];
  __shared__ unsigned char actScale[1][K / 128];
  const long long t = blockIdx.y;
  quantizeActs<K, 1, WARPS>([&](int) { return (const float *)a.in[0] + t * K; },
                            1, codes, actScale);
  __syncthreads();
  // Rows past N compute row N - 1 again (the whole warp shuffles) and store
  // nothing.
  const int n = blockIdx.x * ROWS + threadIdx.x / LPR;
  const float out = orderedRowDot<K, DT, LPR>(
      (const unsigned char *)a.weights[0], (const unsigned char *)a.scales[0],
      min(n, N - 1), codes[0], actScale[0]);
  if (n < N && threadIdx.x % LPR == 0)
    ((float *)a.out[0])[t * N + n] = out;
}

} // namespace bk
