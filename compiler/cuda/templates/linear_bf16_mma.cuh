// linear_bf16_mma.cuh - the official linear and grouped linear on the BF16
// tensor cores, in every entry (one token or many): y[t][n] = Σ_k x[t][g·K +
// k] · w[n][k] for the G groups of R rows each (row n is in group g = n / R;
// G = 1: a plain linear), bf16-rounded when ROUND. Weights are BF16, or FP8
// with 128x128 e8m0 block scales, dequantized exactly to bf16 while staged
// (an e4m3 value times a power of two is a bf16: the official grouped
// linear's bf16 weights, V4_SPEC).
//
// The host (and groupedLinear, the GEMV) sums fp32 products of the exact
// weights and the fp32 activations. Here each activation is split into
// three bf16 planes, x = hi + mid + lo, exactly (hi = bf16(x), mid =
// bf16(x - hi), lo = x - hi - mid: 24 significant bits in three 8-bit
// pieces), and mma.sync m16n8k16 multiplies each plane by the weights with
// fp32 accumulation: every product is the host's, only the order of the fp32
// sums differs, so outputs are within rounding of the host's. A token's
// outputs do not depend on the other tokens of the call (each output element
// is its own dot product in a fixed k order): the one-token and the batch
// entries give a sequence the same bits.
//
// Block: WARPS warps, MT = 16·WARPS weight rows of one group, the call's
// tokens from blockIdx.y·TMAX in tiles of 8. K in steps of 64: the block
// stages the step's weight tile [MT][64] (as bf16) and the three planes of
// its tokens' activations [3][TMAX][64] in shared memory (rows padded to 144
// bytes, so ldmatrix's eight rows fall in distinct banks) while the next
// step's wait in registers. The weights stream once per TMAX tokens.
#pragma once
#include "bk/mma.cuh"
#include "bk/official.cuh"

namespace bk {

namespace bf16mma {

constexpr int KS = 64;       // k per step
constexpr int PITCH = 144;   // bytes per staged row of KS bf16 (128 + 16)
constexpr int PLANES = 3;    // hi, mid, lo

__device__ __forceinline__ unsigned smemAddr(const void *p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void ldmatrixX4(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, "
               "[%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void ldmatrixX2(unsigned &r0, unsigned &r1,
                                           unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r0), "=r"(r1)
               : "r"(addr));
}

// The bf16 bits of x's three planes (off::roundBf16 rounds to nearest even).
__device__ __forceinline__ void splitPlanes(float x, unsigned short (&p)[3]) {
  const float hi = off::roundBf16(x);
  const float r = __fsub_rn(x, hi); // exact
  const float mid = off::roundBf16(r);
  const float lo = __fsub_rn(r, mid); // exact, and exactly a bf16
  p[0] = (unsigned short)(__float_as_uint(hi) >> 16);
  p[1] = (unsigned short)(__float_as_uint(mid) >> 16);
  p[2] = (unsigned short)(__float_as_uint(lo) >> 16);
}

} // namespace bf16mma

template <int G, int K, int R, int DT, int WARPS, int TMAX, bool ROUND>
__device__ __forceinline__ void linearBf16Mma(const BkLaunch &a) {
  using namespace bf16mma;
  static_assert(DT == kBF16 || DT == kF8E4M3, "BF16 or FP8 weights");
  constexpr bool FP8 = DT == kF8E4M3;
  constexpr int MT = 16 * WARPS, BLOCK = 32 * WARPS;
  constexpr int NT = TMAX / 8;             // token tiles
  constexpr int TILES = (R + MT - 1) / MT; // row tiles per group
  constexpr int PER_UNIT = FP8 ? 16 : 8;   // weights in a 16-byte unit
  constexpr int UNITS_PER_ROW = KS / PER_UNIT;
  constexpr int W_UNITS = MT * UNITS_PER_ROW; // of a weight tile
  constexpr int X_UNITS = TMAX * KS / 4;      // float4s of an activation tile
  constexpr int SCALE_COLS = (K + 127) / 128;
  static_assert(K % KS == 0, "whole 64-column steps");
  static_assert(TMAX % 8 == 0 && W_UNITS % BLOCK == 0 && X_UNITS % BLOCK == 0,
                "the staging loops");
  constexpr int WPT = W_UNITS / BLOCK, XPT = X_UNITS / BLOCK;
  __shared__ __align__(16) unsigned char ws[MT * PITCH];
  __shared__ __align__(16) unsigned char xs[PLANES][TMAX * PITCH];

  const int g = blockIdx.x / TILES;
  const int row0 = (blockIdx.x % TILES) * MT; // within the group
  const long long t0 = (long long)blockIdx.y * TMAX;
  const int nt = (int)min((long long)TMAX, a.tokens - t0);
  if (nt <= 0)
    return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // [G·R][K] weights (bf16, or fp8 with e8m0 scales [G·R/128][K/128]).
  const unsigned char *W = (const unsigned char *)a.weights[0];
  const unsigned char *S = (const unsigned char *)a.scales[0];
  const float *x = (const float *)a.in[0];
  float *y = (float *)a.out[0];

  // This thread's staging units: weight unit u = row u / UNITS_PER_ROW,
  // PER_UNIT weights at column (u % UNITS_PER_ROW)·PER_UNIT; activation unit
  // v = token v / 16, 4 floats at column (v % 16)·4. Rows past R and tokens
  // past the call read zeros.
  uint4 wr[WPT];
  float sr[WPT]; // FP8: the unit's block scale
  float4 xr[XPT];
  auto load = [&](int k0) {
#pragma unroll
    for (int i = 0; i < WPT; ++i) {
      const int u = threadIdx.x + i * BLOCK, r = row0 + u / UNITS_PER_ROW;
      const long long n = (long long)g * R + r; // the weight's row
      const int k = k0 + (u % UNITS_PER_ROW) * PER_UNIT;
      wr[i] = r < R ? __ldg((const uint4 *)(W + (n * K + k) * (FP8 ? 1 : 2)))
                    : make_uint4(0u, 0u, 0u, 0u);
      if constexpr (FP8)
        sr[i] = r < R ? e8m0ToF32(__ldg(S + (n / 128) * SCALE_COLS + k / 128))
                      : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < XPT; ++i) {
      const int v = threadIdx.x + i * BLOCK, t = v / 16;
      xr[i] = t < nt ? *(const float4 *)(x + (t0 + t) * (long long)(G * K) +
                                         (long long)g * K + k0 + (v % 16) * 4)
                     : make_float4(0.f, 0.f, 0.f, 0.f);
    }
  };
  auto stage = [&]() {
#pragma unroll
    for (int i = 0; i < WPT; ++i) {
      const int u = threadIdx.x + i * BLOCK;
      unsigned char *dst = ws + (u / UNITS_PER_ROW) * PITCH +
                           (u % UNITS_PER_ROW) * PER_UNIT * 2;
      if constexpr (FP8) {
        // code · 2^s is exactly a bf16: its top 16 bits.
        float w[16];
        decodeFp8Chunk(wr[i], w);
        unsigned h[8];
#pragma unroll
        for (int e = 0; e < 8; ++e)
          h[e] = (__float_as_uint(__fmul_rn(w[2 * e], sr[i])) >> 16) |
                 (__float_as_uint(__fmul_rn(w[2 * e + 1], sr[i])) & 0xffff0000u);
        *(uint4 *)dst = make_uint4(h[0], h[1], h[2], h[3]);
        *(uint4 *)(dst + 16) = make_uint4(h[4], h[5], h[6], h[7]);
      } else {
        *(uint4 *)dst = wr[i];
      }
    }
#pragma unroll
    for (int i = 0; i < XPT; ++i) {
      const int v = threadIdx.x + i * BLOCK;
      const float e[4] = {xr[i].x, xr[i].y, xr[i].z, xr[i].w};
      unsigned short p[4][3];
#pragma unroll
      for (int j = 0; j < 4; ++j)
        splitPlanes(e[j], p[j]);
#pragma unroll
      for (int q = 0; q < PLANES; ++q) {
        const uint2 packed = make_uint2(
            (unsigned)p[0][q] | ((unsigned)p[1][q] << 16),
            (unsigned)p[2][q] | ((unsigned)p[3][q] << 16));
        *(uint2 *)(xs[q] + (v / 16) * PITCH + (v % 16) * 8) = packed;
      }
    }
  };

  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      acc[j][e] = 0.0f;
  const int tiles = (nt + 7) / 8;

  load(0);
  for (int k0 = 0; k0 < K; k0 += KS) {
    __syncthreads(); // the previous step's fragments are read
    stage();
    __syncthreads();
    if (k0 + KS < K)
      load(k0 + KS); // in flight while this step multiplies
#pragma unroll
    for (int kk = 0; kk < KS / 16; ++kk) {
      unsigned af[4];
      ldmatrixX4(af, smemAddr(ws + (warp * 16 + lane % 16) * PITCH +
                              (kk * 16 + (lane / 16) * 8) * 2));
#pragma unroll
      for (int j = 0; j < NT; ++j)
        if (j < tiles) {
#pragma unroll
          for (int q = 0; q < PLANES; ++q) {
            unsigned b0, b1;
            ldmatrixX2(b0, b1,
                       smemAddr(xs[q] + (j * 8 + lane % 8) * PITCH +
                                (kk * 16 + ((lane / 8) % 2) * 8) * 2));
            mmaBf16(acc[j], af, b0, b1);
          }
        }
    }
  }

  // d0, d1: row lane/4, tokens 2·(lane%4) and +1; d2, d3: row lane/4 + 8.
  const int r = row0 + warp * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < NT; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int row = r + (e / 2) * 8, t = j * 8 + (lane % 4) * 2 + e % 2;
      if (j < tiles && row < R && t < nt)
        y[(t0 + t) * (long long)(G * R) + (long long)g * R + row] =
            ROUND ? off::roundBf16(acc[j][e]) : acc[j][e];
    }
}

} // namespace bk
