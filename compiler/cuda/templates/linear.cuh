// linear.cuh - b = a·Wᵀ with W [N, K] stored as F32, BF16, FP8 e4m3 (128x128
// e8m0 block scales) or FP4 e2m1 (packed low nibble first, per-32 e8m0
// scales), decoded in registers; fp32 accumulation.
//
// One warp per output row; a block holds WARPS rows and a y-slice of
// TOKENS_PER_Y tokens, walked in tiles of TT tokens so one decoded weight
// chunk serves TT tokens. Each lane reads the weight in 16-byte chunks
// (ld.global.nc.v4) and the activations as float4.
#pragma once
#include "bk/common.cuh"

namespace bk {

// Logical weight elements in one 16-byte chunk of each format.
template <int DT> struct LinearChunk;
template <> struct LinearChunk<kF32> { static constexpr int kElems = 4; };
template <> struct LinearChunk<kBF16> { static constexpr int kElems = 8; };
template <> struct LinearChunk<kF8E4M3> { static constexpr int kElems = 16; };
template <> struct LinearChunk<kFP4> { static constexpr int kElems = 32; };

// Decodes chunk `c` (elements [c*E, c*E+E)) of weight row n into w[], and
// returns the chunk's block scale (1 for F32/BF16): the dot product of a chunk
// is scaled once, exactly (scales are powers of two).
template <int DT, int K>
__device__ __forceinline__ float loadChunk(const unsigned char *W,
                                           const unsigned char *S, int n, int c,
                                           float *w) {
  constexpr int E = LinearChunk<DT>::kElems;
  if constexpr (DT == kF32) {
    float4 v = __ldg((const float4 *)(W + ((long long)n * K + c * E) * 4));
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
    return 1.0f;
  } else if constexpr (DT == kBF16) {
    uint4 v = __ldg((const uint4 *)(W + ((long long)n * K + c * E) * 2));
    unsigned int u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      w[2 * i] = bf16ToF32(u[i] & 0xffffu);
      w[2 * i + 1] = bf16ToF32(u[i] >> 16);
    }
    return 1.0f;
  } else if constexpr (DT == kF8E4M3) {
    uint4 v = __ldg((const uint4 *)(W + (long long)n * K + c * E));
    unsigned int u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      e4m3x2ToF32(u[i] & 0xffffu, w[4 * i], w[4 * i + 1]);
      e4m3x2ToF32(u[i] >> 16, w[4 * i + 2], w[4 * i + 3]);
    }
    constexpr int kScaleCols = (K + 127) / 128;
    return e8m0ToF32(__ldg(S + (n / 128) * kScaleCols + (c * E) / 128));
  } else {
    static_assert(DT == kFP4, "unsupported linear weight format");
    static_assert(K % 32 == 0, "FP4 rows hold whole 32-blocks");
    uint4 v = __ldg((const uint4 *)(W + (long long)n * (K / 2) + c * (E / 2)));
    unsigned int u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int b = 0; b < 8; ++b)
        w[8 * i + b] = e2m1ToF32((u[i] >> (4 * b)) & 15u);
    return e8m0ToF32(__ldg(S + (long long)n * (K / 32) + c));
  }
}

// Scalar decode of element k of row n (the tail when K is not a multiple of
// the chunk, and odd shapes).
template <int DT, int K>
__device__ __forceinline__ float loadElem(const unsigned char *W,
                                          const unsigned char *S, int n,
                                          int k) {
  if constexpr (DT == kF32) {
    return __ldg((const float *)W + (long long)n * K + k);
  } else if constexpr (DT == kBF16) {
    return bf16ToF32(__ldg((const unsigned short *)W + (long long)n * K + k));
  } else if constexpr (DT == kF8E4M3) {
    float lo, hi;
    e4m3x2ToF32(__ldg(W + (long long)n * K + k), lo, hi);
    constexpr int kScaleCols = (K + 127) / 128;
    return lo * e8m0ToF32(__ldg(S + (n / 128) * kScaleCols + k / 128));
  } else {
    unsigned int byte = __ldg(W + (long long)n * (K / 2) + k / 2);
    unsigned int code = (k & 1) ? (byte >> 4) : (byte & 15u);
    return e2m1ToF32(code) * e8m0ToF32(__ldg(S + (long long)n * (K / 32) + k / 32));
  }
}

template <int K, int N, int DT, int WARPS, int TT, int TOKENS_PER_Y>
__device__ __forceinline__ void linear(const BkLaunch &a) {
  constexpr int E = LinearChunk<DT>::kElems;
  // Chunks need a 16-byte aligned row start (K multiple of E) and float4
  // activations (K multiple of 4); other shapes take the scalar path.
  constexpr bool kVector = K % E == 0 && K % 4 == 0;
  constexpr int kChunks = kVector ? K / E : 0;
  const float *x = (const float *)a.in[0];
  float *y = (float *)a.out[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const int lane = threadIdx.x % 32;
  const int n = blockIdx.x * WARPS + threadIdx.x / 32;
  if (n >= N)
    return;
  const long long t0 = (long long)blockIdx.y * TOKENS_PER_Y;
  const long long t1 = min(t0 + TOKENS_PER_Y, a.tokens);
  for (long long tb = t0; tb < t1; tb += TT) {
    const int nt = (int)min((long long)TT, t1 - tb);
    float acc[TT];
#pragma unroll
    for (int j = 0; j < TT; ++j)
      acc[j] = 0.0f;
    if constexpr (kVector) {
      // Two chunks in flight for F32/FP8; BF16 and FP4 stay in the register
      // budget (minBlocksPerSm 3) with one.
#pragma unroll(DT == kFP4 || DT == kBF16 ? 1 : 2)
      for (int c = lane; c < kChunks; c += 32) {
        float w[E];
        float s = loadChunk<DT, K>(W, S, n, c, w);
#pragma unroll
        for (int j = 0; j < TT; ++j) {
          if (j < nt) {
            const float4 *xv =
                (const float4 *)(x + (tb + j) * K + (long long)c * E);
            float part = 0.0f;
#pragma unroll
            for (int q = 0; q < E / 4; ++q) {
              float4 v = xv[q];
              part += v.x * w[4 * q] + v.y * w[4 * q + 1] + v.z * w[4 * q + 2] +
                      v.w * w[4 * q + 3];
            }
            acc[j] += part * s;
          }
        }
      }
    } else {
      for (int k = lane; k < K; k += 32) {
        float w = loadElem<DT, K>(W, S, n, k);
#pragma unroll
        for (int j = 0; j < TT; ++j)
          if (j < nt)
            acc[j] += x[(tb + j) * K + k] * w;
      }
    }
#pragma unroll
    for (int j = 0; j < TT; ++j) {
      float v = warpSum(acc[j]);
      if (lane == 0 && j < nt)
        y[(tb + j) * N + n] = v;
    }
  }
}

} // namespace bk
