// official_gemm.cuh - the official FP8 linear of multi-token calls on the
// FP8 tensor cores (mma.sync m16n8k32 e4m3, sm_89+).
//
// Same arithmetic as official_linear.cuh (V4_SPEC P5 + P8): activations are
// quantized per token and 128-block exactly as there (bitwise the same codes
// and scales), and every output is
//   bf16( Σ_kb fl(inner_kb · fl(sa_kb · sw_kb)) )
// with the outer sum in block order. Only inner_kb, the sum of the block's
// 128 exact products, comes from the tensor cores, whose internal summation
// order and precision differ from the host's sequential fp32 sum: outputs
// agree with the host to within one bf16 ulp, not bitwise. DeepSeek's own
// FP8 GEMM promotes to fp32 at the same 128-block granularity.
//
// Tiles: a block computes BM = 64 tokens x BN = 128 outputs (one weight
// scale row, as the 128x128 weight blocks are aligned to it); 8 warps in a
// 2 x 4 grid, each 32 tokens x 32 outputs = 2 x 4 mma tiles. Per 128-block
// of K the block quantizes its tokens' activations into shared memory while
// the weight tile's global loads are in flight, then runs 4 k32 steps.
// Shared rows are padded to 144 bytes so the fragment loads (8 rows x 4
// words per warp) hit 32 distinct banks.
#pragma once
#include "bk/mma.cuh"
#include "bk/official.cuh"

namespace bk {

namespace gemm {

constexpr int BM = 64, BN = 128, BK = 128, PITCH = BK + 16, THREADS = 256;

} // namespace gemm

// linear, official, FP8 weights [N, K], for calls of many tokens:
// grid.x = ceil(N / 128), grid.y = ceil(S / 64), 256 threads.
template <int K, int N>
__device__ __forceinline__ void linearOfficialMma(const BkLaunch &a) {
  using namespace gemm;
  static_assert(K % BK == 0, "whole 128-blocks (checked by the generator)");
  constexpr int NB = K / BK;
  __shared__ __align__(16) unsigned char As[BM][PITCH];
  __shared__ __align__(16) unsigned char Bs[BN][PITCH];
  __shared__ float actScale[BM];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, tq = lane % 4; // mma group and thread in group
  const int wm = warp / 4, wn = warp % 4;
  const float *x = (const float *)a.in[0];
  float *y = (float *)a.out[0];
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const long long t0 = (long long)blockIdx.y * BM;
  const int n0 = blockIdx.x * BN;
  const int ns = (int)min((long long)BM, a.tokens - t0);

  float acc[2][4][4];
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        acc[mi][ni][e] = 0.0f;

  for (int kb = 0; kb < NB; ++kb) {
    // The weight tile's loads first (4 x 16 bytes per thread), so their
    // latency overlaps the activation quantization below.
    uint4 wv[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int c = threadIdx.x + i * THREADS, r = c / 8, col = (c % 8) * 16;
      wv[i] = n0 + r < N ? __ldg((const uint4 *)(W + (long long)(n0 + r) * K +
                                                 kb * BK + col))
                         : make_uint4(0, 0, 0, 0);
    }
    // P5 on the block's tokens: a warp per (token, 128-block), as in
    // quantizeActs, so codes and scales are bitwise the GEMV kernel's.
    for (int j = warp; j < BM; j += THREADS / 32) {
      unsigned word = 0, byte = 127;
      if (j < ns) {
        const float4 v =
            *(const float4 *)(x + (t0 + j) * K + kb * BK + lane * 4);
        word = off::fp8Quantize128(v, &byte);
      }
      *(unsigned *)&As[j][lane * 4] = word;
      if (lane == 0)
        actScale[j] = e8m0ToF32(byte);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int c = threadIdx.x + i * THREADS, r = c / 8, col = (c % 8) * 16;
      *(uint4 *)&Bs[r][col] = wv[i];
    }
    __syncthreads();

    float inner[2][4][4];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          inner[mi][ni][e] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < BK / 32; ++ks) {
      const int k = ks * 32 + tq * 4;
      unsigned af[2][4];
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        const int r = wm * 32 + mi * 16 + g;
        af[mi][0] = *(const unsigned *)&As[r][k];
        af[mi][1] = *(const unsigned *)&As[r + 8][k];
        af[mi][2] = *(const unsigned *)&As[r][k + 16];
        af[mi][3] = *(const unsigned *)&As[r + 8][k + 16];
      }
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) {
        const int n = wn * 32 + ni * 8 + g;
        const unsigned b0 = *(const unsigned *)&Bs[n][k];
        const unsigned b1 = *(const unsigned *)&Bs[n][k + 16];
#pragma unroll
        for (int mi = 0; mi < 2; ++mi)
          mmaE4m3(inner[mi][ni], af[mi], b0, b1);
      }
    }
    // fl(inner · fl(sa · sw)) added in block order, as the host does.
    const float sw = e8m0ToF32(__ldg(S + (n0 / 128) * NB + kb));
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float scale =
            __fmul_rn(actScale[wm * 32 + mi * 16 + g + 8 * h], sw);
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            acc[mi][ni][2 * h + e] =
                __fadd_rn(acc[mi][ni][2 * h + e],
                          __fmul_rn(inner[mi][ni][2 * h + e], scale));
      }
    __syncthreads(); // the tiles are free for the next block
  }

  // D fragment: c0, c1 at row g, columns 2tq, 2tq+1; c2, c3 at row g + 8.
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = wm * 32 + mi * 16 + g + 8 * h;
      if (r >= ns)
        continue;
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int n = n0 + wn * 32 + ni * 8 + 2 * tq + e;
          if (n < N)
            y[(t0 + r) * N + n] = off::roundBf16(acc[mi][ni][2 * h + e]);
        }
    }
}

} // namespace bk
