// moe_mma.cuh - a tile of the grouped official moe (moe_grouped.cuh) on the
// FP8 tensor cores, for entries of many tokens (prefill chunks): up to 16 of
// an expert's tokens are one m16 row block of mma.sync.m16n8k32 e4m3.
//
// The arithmetic is the GEMV tile's (V4_SPEC P5, P8, P9): activations and h
// are quantized exactly as there (the same codes and scales), and
//   FP8 weights: acc += fl(inner_kb · fl(sa_kb · sw_kb)), inner over 128,
//   FP4 weights: acc += fl(fl(inner_kb32 · sa_kb) · sw_kb32),
// in K order, so only the inner sums (tensor-core summation of exact
// products) can differ from the host's sequential fp32 sums: outputs agree
// within a bf16 ulp, mostly bitwise (as official_gemm.cuh). FP4 weights stay
// packed in memory and shared memory; each B fragment's four e2m1 codes
// become e4m3 codes in registers (one byte permute: e2m1 values are exact in
// e4m3).
//
// Phase A: each rank's IPR h rows of w1 and w3, 8 warps of IPR/8 rows each,
// K = DIM streamed 32 bytes per row per step (32 FP8 / 64 FP4 elements),
// the next step's weights loaded into registers while this one multiplies;
// the activations of a 128-block quantized into shared memory when the step
// enters it. The SwiGLU epilogue writes bf16 h into shared memory, which is
// quantized per 128-block (P5) into this rank's h codes. Phase B, after a
// cluster barrier: this rank's DIM/C rows of w2 over K = INTER, each
// 128-block of h codes copied from the rank that owns it.
#pragma once
#include "bk/mma.cuh"
#include "bk/moe_grouped.cuh"

namespace bk {

namespace moemma {

constexpr int TM = 16;      // tokens per tile: one m16 row block
constexpr int STEP = 32;    // bytes of a weight row per step
constexpr int PITCH_B = 48; // bytes per staged weight row (bank spread)
constexpr int PITCH_A = 128 + 16;
constexpr int WARPS = 8;
constexpr int BLOCK = 32 * WARPS;

// Four e2m1 codes (element 0 in bits 0-3) as four e4m3 codes (element 0 in
// byte 0): magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6 are 0x00, 0x30, 0x38, 0x3C,
// 0x40, 0x44, 0x48, 0x4C; the sign moves from bit 3 to bit 7.
__device__ __forceinline__ unsigned e2m1x4ToE4m3x4(unsigned v) {
  const unsigned mag = __byte_perm(0x3C383000u, 0x4C484440u, v & 0x7777u);
  const unsigned spread = (v & 0xFu) | ((v & 0xF0u) << 4) |
                          ((v & 0xF00u) << 8) | ((v & 0xF000u) << 12);
  return mag | ((spread & 0x08080808u) << 4);
}

// The B fragment (b0: k = 4tq..4tq+3, b1: k = 16+4tq..) of k32 sub-step h of
// a staged row (STEP bytes: 32 FP8 or 64 FP4 elements).
template <int DT>
__device__ __forceinline__ void bFragment(const unsigned char *row, int h,
                                          int tq, unsigned &b0, unsigned &b1) {
  if constexpr (DT == kF8E4M3) {
    b0 = *(const unsigned *)(row + tq * 4);
    b1 = *(const unsigned *)(row + 16 + tq * 4);
  } else {
    b0 = e2m1x4ToE4m3x4(*(const unsigned short *)(row + h * 16 + tq * 2));
    b1 = e2m1x4ToE4m3x4(*(const unsigned short *)(row + h * 16 + 8 + tq * 2));
  }
}

// acc[ni] (+)= rows [n0 + 8ni, +8) of W (rows of KD elements) against the
// 16 quantized token rows of A, over K = KD. `kbBegin(kb, As, sa)` fills the
// A tile and its scales when a 128-block begins (all threads call it, then
// the block synchronizes). NT n8 tiles per warp; the block stages NROWS rows
// (all warps' rows, n0 = 0 .. NROWS) per step.
template <int KD, int DT, int NT, int NROWS, class KbBegin>
__device__ __forceinline__ void
gemmRows(const unsigned char *W, const unsigned char *S, int rowBase,
         unsigned char (&As)[TM][PITCH_A], float (&sa)[TM], unsigned char *Bs,
         float (&acc)[NT][4], KbBegin &&kbBegin) {
  constexpr int KB = DT == kFP4 ? 2 * STEP : STEP; // K elements per step
  constexpr int NSTEP = KD / KB;
  constexpr int SUBS = KB / 32;                  // k32 mmas per step
  constexpr int ROWB = DT == kFP4 ? KD / 2 : KD; // bytes of a row
  constexpr int CHUNKS = NROWS * (STEP / 16);    // 16-byte loads a step
  constexpr int PER_THREAD = (CHUNKS + BLOCK - 1) / BLOCK;
  static_assert(KD % 128 == 0 && 128 % KB == 0, "steps inside 128-blocks");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, tq = lane % 4;
  const int wrow = warp * NT * 8; // this warp's first staged row

  float inner[NT][4]; // FP8: the 128-block's inner sums
#pragma unroll
  for (int ni = 0; ni < NT; ++ni)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      inner[ni][e] = acc[ni][e] = 0.0f;

  uint4 wv[PER_THREAD];
  auto load = [&](int step) {
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
      const int c = threadIdx.x + i * BLOCK;
      const int r = c / (STEP / 16), part = c % (STEP / 16);
      wv[i] = c < CHUNKS
                  ? __ldg((const uint4 *)(W + (long long)(rowBase + r) * ROWB +
                                          step * STEP + part * 16))
                  : make_uint4(0, 0, 0, 0);
    }
  };
  load(0);
  for (int step = 0; step < NSTEP; ++step) {
    const int k0 = step * KB, kb = k0 / 128;
    if (k0 % 128 == 0) {
      kbBegin(kb, As, sa);
    }
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
      const int c = threadIdx.x + i * BLOCK;
      if (c < CHUNKS)
        *(uint4 *)(Bs + (c / (STEP / 16)) * PITCH_B + (c % (STEP / 16)) * 16) =
            wv[i];
    }
    __syncthreads();
    if (step + 1 < NSTEP)
      load(step + 1);
    // FP4: the scales of the step's k32 blocks for this thread's two
    // columns of each tile (adjacent bytes: k0 is a multiple of 64).
    float sw4[NT][2][SUBS];
    if constexpr (DT == kFP4) {
#pragma unroll
      for (int ni = 0; ni < NT; ++ni)
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int n = rowBase + wrow + ni * 8 + 2 * tq + c;
          const unsigned pair = __ldg(
              (const unsigned short *)(S + (long long)n * (KD / 32) + k0 / 32));
#pragma unroll
          for (int h = 0; h < SUBS; ++h)
            sw4[ni][c][h] = e8m0ToF32((pair >> (8 * h)) & 0xffu);
        }
    }
#pragma unroll
    for (int h = 0; h < SUBS; ++h) {
      const int ka = k0 % 128 + h * 32 + tq * 4;
      unsigned af[4];
      af[0] = *(const unsigned *)&As[g][ka];
      af[1] = *(const unsigned *)&As[g + 8][ka];
      af[2] = *(const unsigned *)&As[g][ka + 16];
      af[3] = *(const unsigned *)&As[g + 8][ka + 16];
#pragma unroll
      for (int ni = 0; ni < NT; ++ni) {
        unsigned b0, b1;
        bFragment<DT>(Bs + (wrow + ni * 8 + g) * PITCH_B, h, tq, b0, b1);
        if constexpr (DT == kF8E4M3) {
          mmaE4m3(inner[ni], af, b0, b1);
        } else {
          float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          mmaE4m3(d, af, b0, b1);
#pragma unroll
          for (int e = 0; e < 4; ++e)
            acc[ni][e] = __fadd_rn(
                acc[ni][e], __fmul_rn(__fmul_rn(d[e], sa[g + 8 * (e >> 1)]),
                                      sw4[ni][e & 1][h]));
        }
      }
    }
    if constexpr (DT == kF8E4M3) {
      if ((k0 + KB) % 128 == 0) { // the 128-block is complete
        // A warp's rows lie in one 128-row block of the scale grid.
        const float sw = e8m0ToF32(
            __ldg(S + (long long)((rowBase + wrow) / 128) * (KD / 128) + kb));
#pragma unroll
        for (int ni = 0; ni < NT; ++ni)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            acc[ni][e] = __fadd_rn(
                acc[ni][e],
                __fmul_rn(inner[ni][e], __fmul_rn(sa[g + 8 * (e >> 1)], sw)));
            inner[ni][e] = 0.0f;
          }
      }
    }
    __syncthreads(); // the staged rows (and at a block's end, A) are free
  }
}

// P5 of one token row's 128-block b of `src` (K floats) into codes/scale,
// by one warp; rows past the tile are zero codes with scale 1.
__device__ __forceinline__ void quantizeRow128(const float *src, bool valid,
                                               unsigned char *codes,
                                               float &scale) {
  const int lane = threadIdx.x % 32;
  unsigned word = 0, byte = 127;
  if (valid) {
    word = off::fp8Quantize128(*(const float4 *)(src + lane * 4), &byte);
  }
  *(unsigned *)(codes + lane * 4) = word;
  if (lane == 0)
    scale = e8m0ToF32(byte);
}

} // namespace moemma

template <int DIM, int INTER, int K, int DT13, int DT2, int DS13, int DS2,
          int C>
__device__ __forceinline__ void moeTileMma(const MoeTile &t) {
  using namespace moemma;
  constexpr int IPR = INTER / C; // h rows of this rank
  constexpr int DOUT = DIM / C;  // w2 rows of this rank
  constexpr int NTA = IPR / (8 * WARPS), NTB = DOUT / (8 * WARPS);
  static_assert(IPR % 128 == 0 && DOUT % 128 == 0 && DIM % 128 == 0,
                "whole 128-blocks (checked by the generator)");
  static_assert(128 % (IPR / WARPS) == 0 && 128 % (DOUT / WARPS) == 0,
                "a warp's rows lie in one 128-row scale block");
  constexpr int STAGE_A = IPR * PITCH_B, STAGE_B = DOUT * PITCH_B;
  constexpr int STAGE_H = TM * IPR * 4;
  constexpr int STAGE = STAGE_A > STAGE_B
                            ? (STAGE_A > STAGE_H ? STAGE_A : STAGE_H)
                            : (STAGE_B > STAGE_H ? STAGE_B : STAGE_H);
  __shared__ __align__(16) unsigned char stage[STAGE];
  __shared__ __align__(16) unsigned char As[TM][PITCH_A];
  __shared__ float sa[TM];
  __shared__ __align__(16) unsigned char hcodes[TM][IPR];
  __shared__ unsigned char hscales[TM][IPR / 128];
  auto &hbuf = *reinterpret_cast<float(*)[TM][IPR]>(stage);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, tq = lane % 4;
  const int rowA = (int)t.rank * IPR, rowB = (int)t.rank * DOUT;

  // Phase A: gate (w1), then up (w3), of this rank's h rows (the
  // activations are quantized again for w3: cheap beside its weights).
  float gate[NTA][4], up[NTA][4];
  auto xBlock = [&](int kb, unsigned char(&A)[TM][PITCH_A], float(&s)[TM]) {
    for (int j = warp; j < TM; j += WARPS)
      moemma::quantizeRow128(
          j < t.n ? t.x + (long long)t.tok[j] * DIM + kb * 128 : nullptr,
          j < t.n, &A[j][0], s[j]);
    __syncthreads();
  };
  if (t.shared) {
    gemmRows<DIM, DS13, NTA, IPR>(t.W1, t.S1, rowA, As, sa, stage, gate,
                                  xBlock);
    gemmRows<DIM, DS13, NTA, IPR>(t.W3, t.S3, rowA, As, sa, stage, up, xBlock);
  } else {
    gemmRows<DIM, DT13, NTA, IPR>(t.W1, t.S1, rowA, As, sa, stage, gate,
                                  xBlock);
    gemmRows<DIM, DT13, NTA, IPR>(t.W3, t.S3, rowA, As, sa, stage, up, xBlock);
  }
  // D fragment: e = 0, 1 at token g, columns 2tq, 2tq+1; e = 2, 3 at g + 8.
#pragma unroll
  for (int ni = 0; ni < NTA; ++ni)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int j = g + 8 * (e >> 1);
      const int c = warp * NTA * 8 + ni * 8 + 2 * tq + (e & 1);
      hbuf[j][c] = j < t.n ? moeHidden(off::roundBf16(gate[ni][e]),
                                       off::roundBf16(up[ni][e]), t.w[j], t.lim)
                           : 0.0f;
    }
  __syncthreads();
  quantizeActs<IPR, TM, WARPS>([&](int j) { return &hbuf[j][0]; }, t.n, hcodes,
                               hscales);
  clusterSync(); // every rank's h codes are readable

  // Phase B: this rank's w2 rows over the whole h, each 128-block of codes
  // (and its scales) copied from its owner.
  float out[NTB][4];
  auto hBlock = [&](int kb, unsigned char(&A)[TM][PITCH_A], float(&s)[TM]) {
    const unsigned owner = (unsigned)(kb * 128 / IPR);
    const int col = kb * 128 % IPR;
    for (int v = threadIdx.x; v < TM * 16; v += BLOCK) { // 8 bytes each
      const int j = v / 16, k = (v % 16) * 8;
      *(uint2 *)&A[j][k] =
          *(const uint2 *)clusterMap(&hcodes[j][col + k], owner);
    }
    for (int j = threadIdx.x; j < TM; j += BLOCK)
      s[j] = e8m0ToF32(*clusterMap(&hscales[j][col / 128], owner));
    __syncthreads();
  };
  if (t.shared)
    gemmRows<INTER, DS2, NTB, DOUT>(t.W2, t.S2, rowB, As, sa, stage, out,
                                    hBlock);
  else
    gemmRows<INTER, DT2, NTB, DOUT>(t.W2, t.S2, rowB, As, sa, stage, out,
                                    hBlock);
#pragma unroll
  for (int ni = 0; ni < NTB; ++ni)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      const int j = g + 8 * hh;
      if (j >= t.n)
        continue;
      const int c = rowB + warp * NTB * 8 + ni * 8 + 2 * tq;
      *(float2 *)&t
           .partial[moePartialAt<DIM, K, 1>(t.tok[j], t.slot[j], 0, c)] =
          make_float2(off::roundBf16(out[ni][2 * hh]),
                      off::roundBf16(out[ni][2 * hh + 1]));
    }
}

template <int DIM, int INTER, int E, int K, int DT13, int DT2, int DS13,
          int DS2, bool SHARED_CLAMP, int C, int MAXTOK, int NSH>
__device__ __forceinline__ void moeOfficialGroupedMma(const BkLaunch &a,
                                                      float limit) {
  moeGroupedFrame<DIM, E, K, C, 1, moemma::TM, MAXTOK, NSH, moemma::BLOCK>(
      a, limit, SHARED_CLAMP, [](const MoeTile &t) {
        moeTileMma<DIM, INTER, K, DT13, DT2, DS13, DS2, C>(t);
      });
}

} // namespace bk
