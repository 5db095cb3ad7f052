// moe_mma.cuh - a tile of the grouped official moe (moe_grouped.cuh) on the
// integer tensor cores, for entries of many tokens (prefill chunks): up to 16
// of an expert's tokens are one m16 row block of mma.sync.m16n8k32 s8.
//
// The arithmetic is the GEMV tile's (V4_SPEC P5, P8, P9 with exact inner
// sums, InnerSum::Exact): activations and h are quantized exactly as there
// (the same codes and scales), and
//   FP8 weights: acc += fl(inner_kb · fl(sa_kb · sw_kb)), inner over 128,
//   FP4 weights: acc += fl(fl(inner_kb32 · sa_kb) · sw_kb32),
// in K order, inner = the exact sum of the block's products rounded once to
// fp32, so outputs are bitwise the host's. The exact sums come from integer
// MMAs: an e4m3 code times 2^9 is an integer below 2^18, taken as three
// signed 7-bit planes; an e2m1 code times 2 is an s8. FP4 blocks take three
// MMAs (one per activation plane), FP8 blocks nine (plane by plane), in s32,
// which cannot overflow: |Σ| ≤ 32·229376·12 < 2^31 for FP4, each plane pair
// ≤ 128·127² for FP8 (combined in 64 bits). FP4 weights stay packed in
// memory and shared memory; each B fragment's four codes become s8 values
// in registers (two byte permutes). A NaN code (0x7f) is not representable
// and reads as 480: P5 only makes one from a NaN activation.
//
// Phase A: each rank's IPR h rows of w1 and w3, 8 warps of IPR/8 rows each,
// K = DIM streamed 32 bytes per row per step (32 FP8 / 64 FP4 elements),
// the next step's weights loaded into registers while this one multiplies;
// the activations of a 128-block quantized into shared memory (as planes)
// when the step enters it. The SwiGLU epilogue writes bf16 h into shared
// memory, which is quantized per 128-block (P5) into this rank's h codes.
// Phase B, after a cluster barrier: this rank's DIM/C rows of w2 over
// K = INTER, each 128-block of h codes copied from the rank that owns it.
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
constexpr int PLANES = 3;

// The A tile of a 128-block: PLANES signed 7-bit planes of each code.
using APlanes = signed char[PLANES][TM][PITCH_A];

// Four e4m3 codes (element 0 in byte 0) as their values times 2^9, split
// into planes: v = p0 + 2^7·p1 + 2^14·p2 (subnormals: v = m; normals:
// v = (8 + m) << (e - 1)), each plane's byte signed as the code.
__device__ __forceinline__ void e4m3x4ToPlanes(unsigned codes,
                                               unsigned (&p)[PLANES]) {
#pragma unroll
  for (int i = 0; i < PLANES; ++i)
    p[i] = 0u;
#pragma unroll
  for (int b = 0; b < 4; ++b) {
    const unsigned c = (codes >> (8 * b)) & 0xffu;
    const unsigned e = (c >> 3) & 15u, m = c & 7u;
    const unsigned v = e != 0u ? (8u | m) << (e - 1u) : m;
#pragma unroll
    for (int i = 0; i < PLANES; ++i) {
      const unsigned q = (v >> (7 * i)) & 127u;
      p[i] |= ((c & 0x80u) != 0u ? (0u - q) & 0xffu : q) << (8 * b);
    }
  }
}

// Four e2m1 codes (element 0 in bits 0-3) as four s8 values of twice their
// value (element 0 in byte 0): magnitudes 0, 1, 2, 3, 4, 6, 8, 12, negated
// where bit 3 is set.
__device__ __forceinline__ unsigned e2m1x4ToS8x4(unsigned v) {
  const unsigned sel = v & 0x7777u;
  const unsigned pos = __byte_perm(0x03020100u, 0x0C080604u, sel);
  const unsigned neg = __byte_perm(0xFDFEFF00u, 0xF4F8FAFCu, sel);
  const unsigned spread = (v & 0xFu) | ((v & 0xF0u) << 4) |
                          ((v & 0xF00u) << 8) | ((v & 0xF000u) << 12);
  const unsigned mask = ((spread >> 3) & 0x01010101u) * 0xFFu;
  return (pos & ~mask) | (neg & mask);
}

// Writes four codes of row j, columns k.. of the A tile as planes.
__device__ __forceinline__ void storePlanes(APlanes &A, int j, int k,
                                            unsigned codes) {
  unsigned p[PLANES];
  e4m3x4ToPlanes(codes, p);
#pragma unroll
  for (int i = 0; i < PLANES; ++i)
    *(unsigned *)&A[i][j][k] = p[i];
}

// acc[ni] (+)= rows [n0 + 8ni, +8) of W (rows of KD elements) against the
// 16 quantized token rows of A, over K = KD. `kbBegin(kb, A, sa)` fills the
// A planes and their scales when a 128-block begins (all threads call it,
// then the block synchronizes). NT n8 tiles per warp; the block stages
// NROWS rows (all warps' rows, n0 = 0 .. NROWS) per step.
template <int KD, int DT, int NT, int NROWS, class KbBegin>
__device__ __forceinline__ void
gemmRows(const unsigned char *W, const unsigned char *S, int rowBase,
         APlanes &A, float (&sa)[TM], unsigned char *Bs, float (&acc)[NT][4],
         KbBegin &&kbBegin) {
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

  // FP8: the 128-block's exact inner sums, in units of 2^-18.
  long long exact[DT == kF8E4M3 ? NT : 1][4];
#pragma unroll
  for (int ni = 0; ni < NT; ++ni)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      acc[ni][e] = 0.0f;
      if constexpr (DT == kF8E4M3)
        exact[ni][e] = 0;
    }

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
      kbBegin(kb, A, sa);
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
      unsigned af[PLANES][4];
#pragma unroll
      for (int i = 0; i < PLANES; ++i) {
        af[i][0] = *(const unsigned *)&A[i][g][ka];
        af[i][1] = *(const unsigned *)&A[i][g + 8][ka];
        af[i][2] = *(const unsigned *)&A[i][g][ka + 16];
        af[i][3] = *(const unsigned *)&A[i][g + 8][ka + 16];
      }
#pragma unroll
      for (int ni = 0; ni < NT; ++ni) {
        const unsigned char *row = Bs + (wrow + ni * 8 + g) * PITCH_B;
        if constexpr (DT == kF8E4M3) {
          unsigned b0[PLANES], b1[PLANES];
          e4m3x4ToPlanes(*(const unsigned *)(row + tq * 4), b0);
          e4m3x4ToPlanes(*(const unsigned *)(row + 16 + tq * 4), b1);
          // Plane pairs (i, j) by shift i + j, each shift's sum added to
          // the 64-bit total before the next (fewer live registers).
#pragma unroll
          for (int s = 0; s < 2 * PLANES - 1; ++s) {
            int d[4] = {0, 0, 0, 0};
#pragma unroll
            for (int i = 0; i < PLANES; ++i)
              if (s - i >= 0 && s - i < PLANES)
                mmaS8(d, af[i], b0[s - i], b1[s - i]);
#pragma unroll
            for (int e = 0; e < 4; ++e)
              exact[ni][e] += (long long)d[e] << (7 * s);
          }
        } else {
          const unsigned b0 =
              e2m1x4ToS8x4(*(const unsigned short *)(row + h * 16 + tq * 2));
          const unsigned b1 = e2m1x4ToS8x4(
              *(const unsigned short *)(row + h * 16 + 8 + tq * 2));
          int d[PLANES][4] = {};
#pragma unroll
          for (int i = 0; i < PLANES; ++i)
            mmaS8(d[i], af[i], b0, b1);
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            // Units of 2^-10 (codes · 2^9 times weights · 2).
            const int sum = d[0][e] + (d[1][e] << 7) + (d[2][e] << 14);
            const float inner = __fmul_rn(__int2float_rn(sum), 0x1p-10f);
            acc[ni][e] = __fadd_rn(
                acc[ni][e], __fmul_rn(__fmul_rn(inner, sa[g + 8 * (e >> 1)]),
                                      sw4[ni][e & 1][h]));
          }
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
            const float inner =
                __fmul_rn(__ll2float_rn(exact[ni][e]), 0x1p-18f);
            acc[ni][e] = __fadd_rn(
                acc[ni][e],
                __fmul_rn(inner, __fmul_rn(sa[g + 8 * (e >> 1)], sw)));
            exact[ni][e] = 0;
          }
      }
    }
    __syncthreads(); // the staged rows (and at a block's end, A) are free
  }
}

// P5 of one token row's 128-block b of `src` (K floats) into row j of the
// A planes and its scale, by one warp; rows past the tile are zero codes
// with scale 1.
__device__ __forceinline__ void
quantizeRow128(const float *src, bool valid, APlanes &A, int j, float &scale) {
  const int lane = threadIdx.x % 32;
  unsigned word = 0, byte = 127;
  if (valid) {
    word = off::fp8Quantize128(*(const float4 *)(src + lane * 4), &byte);
  }
  storePlanes(A, j, lane * 4, word);
  if (lane == 0)
    scale = e8m0ToF32(byte);
}

// Phase B's rows [base, base + NROWS) of w2 for the tile's tokens, into
// their partial rows (bf16, as the host's expert output).
template <int DIM, int INTER, int K, int DT, int NT, int NROWS, class HBlock>
__device__ __forceinline__ void w2Rows(const MoeTile &t, int base, APlanes &A,
                                       float (&sa)[TM], unsigned char *stage,
                                       HBlock &hBlock) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, tq = lane % 4;
  float out[NT][4];
  gemmRows<INTER, DT, NT, NROWS>(t.W2, t.S2, base, A, sa, stage, out, hBlock);
#pragma unroll
  for (int ni = 0; ni < NT; ++ni)
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      const int j = g + 8 * hh;
      if (j >= t.n)
        continue;
      const int c = base + warp * NT * 8 + ni * 8 + 2 * tq;
      *(float2 *)&t
           .partial[moePartialAt<DIM, K, 1>(t.tok[j], t.slot[j], 0, c)] =
          make_float2(off::roundBf16(out[ni][2 * hh]),
                      off::roundBf16(out[ni][2 * hh + 1]));
    }
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
  __shared__ __align__(16) APlanes As;
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
  auto xBlock = [&](int kb, APlanes &A, float(&s)[TM]) {
    for (int j = warp; j < TM; j += WARPS)
      moemma::quantizeRow128(
          j < t.n ? t.x + (long long)t.tok[j] * DIM + kb * 128 : nullptr,
          j < t.n, A, j, s[j]);
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
  auto hBlock = [&](int kb, APlanes &A, float(&s)[TM]) {
    const unsigned owner = (unsigned)(kb * 128 / IPR);
    const int col = kb * 128 % IPR;
    for (int v = threadIdx.x; v < TM * 32; v += BLOCK) { // 4 codes each
      const int j = v / 32, k = (v % 32) * 4;
      storePlanes(A, j, k,
                  *(const unsigned *)clusterMap(&hcodes[j][col + k], owner));
    }
    for (int j = threadIdx.x; j < TM; j += BLOCK)
      s[j] = e8m0ToF32(*clusterMap(&hscales[j][col / 128], owner));
    __syncthreads();
  };
  // FP8 w2 rows keep a 64-bit exact sum per output beside its accumulator:
  // more than 4 n8 tiles a warp would spill, so they take two passes over
  // h, half the rows each.
  if (t.shared) {
    constexpr int H = DS2 == kF8E4M3 && NTB > 4 ? 2 : 1;
    for (int half = 0; half < H; ++half)
      moemma::w2Rows<DIM, INTER, K, DS2, NTB / H, DOUT / H>(
          t, rowB + half * (DOUT / H), As, sa, stage, hBlock);
  } else {
    moemma::w2Rows<DIM, INTER, K, DT2, NTB, DOUT>(t, rowB, As, sa, stage,
                                                  hBlock);
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
