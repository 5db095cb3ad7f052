// official_rows.cuh - Row-local kernels of the `official` numerics profile
// (docs/kernels.md, "official"): rms_norm (P1), head_rms_norm (P2), rope and
// head_rms_norm_rope (P3, with the after-rope quantization of the KV path P6
// or the indexer queries P10 + P7), window_write (KV entries). Each follows
// the host's runtime/host + lib/OfficialNumerics.cpp roundings in order, so
// results are bitwise equal (cos/sin aside: evaluated in double and rounded
// once, where the host calls cosf/sinf).
#pragma once
#include "bk/official.cuh"

namespace bk {

// P1: y = bf16(w · (x · r)), r from the sequential sum. Block per token; the
// row staged in shared memory first (as rmsNormRowsOfficial).
template <int N, int WDT, int BLOCK>
__device__ __forceinline__ void rmsNormOfficial(const BkLaunch &a, float eps) {
  constexpr bool kStage = N * 4 <= 16 * 1024;
  __shared__ __align__(16) float row[kStage ? N : 1];
  __shared__ float factor;
  const long long t = blockIdx.x;
  const float *x = (const float *)a.in[0] + t * N;
  float *y = (float *)a.out[0] + t * N;
  if constexpr (kStage) {
    for (int i = threadIdx.x; i < N; i += BLOCK)
      row[i] = x[i];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    factor = off::rmsFactorP1(kStage ? row : x, N, eps);
  __syncthreads();
  const float r = factor;
  for (int i = threadIdx.x; i < N; i += BLOCK)
    y[i] = off::roundBf16(
        __fmul_rn(loadScalar<WDT>(a.weights[0], i), __fmul_rn(x[i], r)));
}

// P1 in place on the output rows with weight 1: linear_rms_norm's second
// kernel (the first, the official linear, writes the bf16 rows over the whole
// GPU). Block per token; the same arithmetic as rmsNormOfficial. The row is
// staged in shared memory by the block first, so the one-thread sequential
// sum (the host's order) waits on shared-memory loads, not global ones.
template <int N, int WDT, int BLOCK>
__device__ __forceinline__ void rmsNormRowsOfficial(const BkLaunch &a,
                                                    float eps) {
  constexpr bool kStage = N * 4 <= 16 * 1024;
  __shared__ __align__(16) float row[kStage ? N : 1];
  __shared__ float factor;
  float *y = (float *)a.out[0] + (long long)blockIdx.x * N;
  if constexpr (kStage) {
    for (int i = threadIdx.x; i < N; i += BLOCK)
      row[i] = y[i];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    factor = off::rmsFactorP1(kStage ? row : y, N, eps);
  __syncthreads();
  const float r = factor;
  for (int i = threadIdx.x; i < N; i += BLOCK)
    y[i] = off::roundBf16(__fmul_rn(loadScalar<WDT>(a.weights[1], i),
                                    __fmul_rn(kStage ? row[i] : y[i], r)));
}

// A head of D values held by a warp, lane l owning the EPL = D/32
// consecutive values [l·EPL, (l+1)·EPL).
template <int D> struct WarpHead {
  static constexpr int EPL = D / 32;
  float v[EPL];
};

// Simulates the first `count` values of the head in blocks of B (FP8: P6,
// FP4: P7). count and B are multiples of EPL or B a multiple... see the
// generator: B % EPL == 0 or EPL % B == 0, count % B == 0.
template <int D, int B, bool FP4>
__device__ __forceinline__ void simulateBlocks(WarpHead<D> &h, int count) {
  constexpr int EPL = WarpHead<D>::EPL;
  const int lane = threadIdx.x % 32;
  if constexpr (EPL <= B) {
    static_assert(B % EPL == 0 && B / EPL <= 32, "block of whole lanes");
    float m = 0.0f;
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      m = fmaxf(m, fabsf(h.v[e]));
    const float amax = off::groupAmax<B / EPL>(m);
    if (lane * EPL < count) {
      unsigned byte;
      const float s = FP4 ? off::fp4BlockScale(amax, &byte)
                          : off::fp8BlockScale(amax, &byte);
#pragma unroll
      for (int e = 0; e < EPL; ++e)
        h.v[e] = FP4 ? off::fp4Sim(h.v[e], s) : off::fp8Sim(h.v[e], s);
    }
  } else {
    static_assert(EPL % B == 0, "whole blocks per lane");
#pragma unroll
    for (int b = 0; b < EPL / B; ++b) {
      if (lane * EPL + b * B >= count)
        continue;
      float m = 0.0f;
#pragma unroll
      for (int e = 0; e < B; ++e)
        m = fmaxf(m, fabsf(h.v[b * B + e]));
      unsigned byte;
      const float s =
          FP4 ? off::fp4BlockScale(m, &byte) : off::fp8BlockScale(m, &byte);
#pragma unroll
      for (int e = 0; e < B; ++e)
        h.v[b * B + e] = FP4 ? off::fp4Sim(h.v[b * B + e], s)
                             : off::fp8Sim(h.v[b * B + e], s);
    }
  }
}

// P10 over the warp's head (D a power of two): butterflies (a+b, a−b) with
// strides 1, 2, ..., D/2 in that order (within a lane, then across lanes),
// then bf16(v · scale).
template <int D>
__device__ __forceinline__ void hadamardWarp(WarpHead<D> &h, float scale) {
  constexpr int EPL = WarpHead<D>::EPL;
  static_assert((D & (D - 1)) == 0, "Hadamard size must be a power of two");
#pragma unroll
  for (int s = 1; s < EPL; s *= 2)
#pragma unroll
    for (int j = 0; j < EPL; ++j)
      if ((j & s) == 0) {
        const float a = h.v[j], b = h.v[j + s];
        h.v[j] = __fadd_rn(a, b);
        h.v[j + s] = __fsub_rn(a, b);
      }
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int ls = 1; ls < 32; ls *= 2) {
    const bool upper = (lane & ls) != 0;
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      const float other = __shfl_xor_sync(0xffffffffu, h.v[j], ls);
      h.v[j] = upper ? __fsub_rn(other, h.v[j]) : __fadd_rn(h.v[j], other);
    }
  }
#pragma unroll
  for (int j = 0; j < EPL; ++j)
    h.v[j] = off::roundBf16(__fmul_rn(h.v[j], scale));
}

// P2's factor of the head at x (D values), by the calling warp: the head
// staged in the warp's row of `staged` (when kStage) for lane 0's sequential
// sum over shared memory (over global memory it was a chain of L2 round
// trips, most of the kernel's time), broadcast to every lane.
template <int D, bool kStage>
__device__ __forceinline__ float warpHeadP2Factor(const float *x, float *row,
                                                  float eps) {
  const int lane = threadIdx.x % 32;
  const float *src = x;
  if constexpr (kStage) {
    for (int i = lane; i < D; i += 32)
      row[i] = x[i];
    __syncwarp();
    src = row;
  }
  float f = 0.0f;
  if (lane == 0)
    f = off::rmsFactorP2(src, D, eps);
  return __shfl_sync(0xffffffffu, f, 0);
}

// rope (NORM_FIRST false) / head_rms_norm_rope (true), official: per head,
// [P2], P3 on the trailing R dims (bf16), then AFTER = 1: P6 on the leading
// D − R dims; AFTER = 2: P10 over the head then P7. A warp per head, HPB heads
// per block; cos/sin of the block's token once in shared memory.
template <int H, int D, int R, bool INVERSE, bool NORM_FIRST, int AFTER,
          int HPB>
__device__ __forceinline__ void ropeOfficial(const BkLaunch &a, float eps,
                                             const float *invFreq,
                                             float hadamardScale) {
  constexpr int EPL = WarpHead<D>::EPL;
  static_assert(D % 32 == 0 && EPL % 2 == 0 && R % 2 == 0 && R <= D,
                "pairs within a lane");
  constexpr int kHalf = R / 2;
  constexpr int kLead = D - R;
  constexpr int kGroups = (H + HPB - 1) / HPB;
  __shared__ float cs[kHalf > 0 ? kHalf : 1], sn[kHalf > 0 ? kHalf : 1];
  // NORM_FIRST: each warp's head staged for the P2 sum (warpHeadP2Factor).
  constexpr bool kStage = NORM_FIRST && HPB * D * 4 <= 16 * 1024;
  __shared__ float staged[kStage ? HPB : 1][kStage ? D : 1];
  const long long t = blockIdx.x / kGroups;
  const int h = (blockIdx.x % kGroups) * HPB + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const float p = (float)bkPos(a, t);
  for (int i = threadIdx.x; i < kHalf; i += 32 * HPB) {
    const float angle = __fmul_rn(p, invFreq[i]);
    cs[i] = (float)cos((double)angle);
    const float s = (float)sin((double)angle);
    sn[i] = INVERSE ? -s : s;
  }
  __syncthreads();
  if (h >= H)
    return;
  const float *x = (const float *)a.in[0] + (t * H + h) * D;
  float *y = (float *)a.out[0] + (t * H + h) * D;
  float r = 0.0f;
  if constexpr (NORM_FIRST)
    r = warpHeadP2Factor<D, kStage>(x, staged[kStage ? threadIdx.x / 32 : 0],
                                    eps);
  WarpHead<D> hd;
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const float v = x[lane * EPL + e];
    hd.v[e] = NORM_FIRST ? off::roundBf16(__fmul_rn(v, r)) : v;
  }
#pragma unroll
  for (int e = 0; e < EPL; e += 2) {
    const int d = lane * EPL + e;
    if (d >= kLead) {
      const int i = (d - kLead) / 2;
      off::ropePairBf16(hd.v[e], hd.v[e + 1], cs[i], sn[i]);
    }
  }
  if constexpr (AFTER == 1)
    simulateBlocks<D, 64, false>(hd, kLead);
  if constexpr (AFTER == 2) {
    hadamardWarp<D>(hd, hadamardScale);
    simulateBlocks<D, 32, true>(hd, D);
  }
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    y[lane * EPL + e] = hd.v[e];
}

// P2 alone (head_rms_norm, official): a warp per head.
template <int H, int D, int HPB>
__device__ __forceinline__ void headRmsNormOfficial(const BkLaunch &a,
                                                    float eps) {
  constexpr int kGroups = (H + HPB - 1) / HPB;
  const long long t = blockIdx.x / kGroups;
  const int h = (blockIdx.x % kGroups) * HPB + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (h >= H)
    return;
  const float *x = (const float *)a.in[0] + (t * H + h) * D;
  float *y = (float *)a.out[0] + (t * H + h) * D;
  constexpr bool kStage = HPB * D * 4 <= 16 * 1024;
  __shared__ float staged[kStage ? HPB : 1][kStage ? D : 1];
  const float r = warpHeadP2Factor<D, kStage>(
      x, staged[kStage ? threadIdx.x / 32 : 0], eps);
  for (int i = lane; i < D; i += 32)
    y[i] = off::roundBf16(__fmul_rn(x[i], r));
}

// KV entry (KvEntryLayout) of a row of D values with R bf16 RoPE dims:
// [FP8 codes of the D−R leading dims | R bf16 | one e8m0 scale per 64 |
// zero padding to ENTRY bytes]. The leading dims are quantized as P6 (the
// stored codes decode to fp8SimulateInPlace's values). By the calling warp.
template <int D, int R, int ENTRY>
__device__ __forceinline__ void encodeKvEntryWarp(const float *kv,
                                                  unsigned char *entry) {
  constexpr int EPL = WarpHead<D>::EPL;
  constexpr int kNope = D - R;
  static_assert(kNope % 64 == 0 && (64 % EPL == 0 || EPL % 64 == 0),
                "64-blocks of whole lanes");
  const int lane = threadIdx.x % 32;
  WarpHead<D> hd;
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    hd.v[e] = kv[lane * EPL + e];
  // Per-64 scales of the leading dims (lanes beyond kNope compute unused
  // ones: the shuffles need the whole warp).
  constexpr int kScaleOff = kNope + 2 * R;
  if constexpr (EPL <= 64) {
    float m = 0.0f;
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      m = fmaxf(m, fabsf(hd.v[e]));
    const float amax = off::groupAmax<64 / EPL>(m);
    if (lane * EPL < kNope) {
      unsigned byte;
      const float s = off::fp8BlockScale(amax, &byte);
      const float inv = __fdiv_rn(1.0f, s);
#pragma unroll
      for (int e = 0; e < EPL; ++e)
        entry[lane * EPL + e] = (unsigned char)off::fp8Code(hd.v[e], inv);
      if ((lane * EPL) % 64 == 0)
        entry[kScaleOff + lane * EPL / 64] = (unsigned char)byte;
    }
  } else {
#pragma unroll
    for (int b = 0; b < EPL / 64; ++b) {
      const int base = lane * EPL + b * 64;
      if (base >= kNope)
        continue;
      float m = 0.0f;
#pragma unroll
      for (int e = 0; e < 64; ++e)
        m = fmaxf(m, fabsf(hd.v[b * 64 + e]));
      unsigned byte;
      const float s = off::fp8BlockScale(m, &byte);
      const float inv = __fdiv_rn(1.0f, s);
#pragma unroll
      for (int e = 0; e < 64; ++e)
        entry[base + e] = (unsigned char)off::fp8Code(hd.v[b * 64 + e], inv);
      entry[kScaleOff + base / 64] = (unsigned char)byte;
    }
  }
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const int d = lane * EPL + e;
    if (d >= kNope) {
      const unsigned bits = __float_as_uint(off::roundBf16(hd.v[e])) >> 16;
      entry[kNope + 2 * (d - kNope)] = (unsigned char)(bits & 0xffu);
      entry[kNope + 2 * (d - kNope) + 1] = (unsigned char)(bits >> 8);
    }
  }
  for (int i = kScaleOff + kNope / 64 + lane; i < ENTRY; i += 32)
    entry[i] = 0;
}

// Indexer key (encodeFp4Key): FP4 codes of the warp's head (P7's 32-blocks,
// element 2k in the low nibble) then one e8m0 scale byte per 32. EPL even.
template <int D>
__device__ __forceinline__ void encodeFp4KeyWarp(const WarpHead<D> &h,
                                                 unsigned char *bytes) {
  constexpr int EPL = WarpHead<D>::EPL;
  static_assert(EPL % 2 == 0 && 32 % EPL == 0, "bytes and blocks per lane");
  const int lane = threadIdx.x % 32;
  float m = 0.0f;
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    m = fmaxf(m, fabsf(h.v[e]));
  const float amax = off::groupAmax<32 / EPL>(m);
  unsigned byte;
  const float s = off::fp4BlockScale(amax, &byte);
  const float inv = __fdiv_rn(1.0f, s);
#pragma unroll
  for (int e = 0; e < EPL; e += 2)
    bytes[(lane * EPL + e) / 2] =
        (unsigned char)(off::fp4Code(h.v[e], inv) |
                        (off::fp4Code(h.v[e + 1], inv) << 4));
  if ((lane * EPL) % 32 == 0)
    bytes[D / 2 + lane * EPL / 32] = (unsigned char)byte;
}

// window_write, official: the last min(tokens, WINDOW) kv rows of each
// sequence of the call encoded as KV entries into its slot's ring (row p mod
// WINDOW). A warp per token, 4 tokens per block (grid.y).
template <int D, int R, int ENTRY, int WINDOW>
__device__ __forceinline__ void windowWriteOfficial(const BkLaunch &a) {
  const long long t = (long long)blockIdx.y * 4 + threadIdx.x / 32;
  if (t >= a.tokens || a.tok[t].last - t >= WINDOW)
    return;
  encodeKvEntryWarp<D, R, ENTRY>(
      (const float *)a.in[0] + t * D,
      bkFixedRow<ENTRY>(a, 0, bkSlot(a, t), bkPos(a, t) % WINDOW));
}

} // namespace bk
