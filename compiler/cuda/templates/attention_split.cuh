// attention_split.cuh - sparse_attention in the `official` numerics, schedule
// "split" (opt-in for the one-token entry: compile --split-decode-attention):
// the keys of a token split over blocks, and the KV entry of a key, shared by
// every head, decoded once for HB heads. The kernels take calls of any size
// (the tests run batches of sequences and prefill chunks through them).
//
// The key list is sparseAttentionOfficial's (window slots oldest first, empty
// slots before the window fills, then the compressed keys; -1 top-k slots
// empty). A token's list splits into at most S ranges of whole STAGE-key
// stages; block (token, split, head group) stages each STAGE keys of its
// range decoded to bf16 in shared memory (the same values decodeKvEntry
// gives), computes the logits of its HB heads (a warp per key group, the
// dims over the lanes), and runs the online softmax over the stages with the
// official roundings (fp32 exponentials summed, P cast to bf16 before P·V).
// Its unnormalized output and (max, sum) go to scratch; the combine kernel
// rescales the splits of each (token, head) in split order, adds the sink to
// the denominator and rounds to bf16.
//
// Not the host's order: the logits' dots run as lane partial sums and a
// tree, P is rounded against the split's running max, not the whole list's,
// and the splits are combined at the end; within 2 bf16 ulps of each row's
// largest value of the host kernel, not bitwise, which is why it is opt-in
// (the "fixed" kernel of the other entries is bitwise, so batch-1 and
// batched decode agree only within that tolerance with it). The split of a
// token's keys depends only on its own key count, so a token's output does
// not depend on the other tokens of the call, and every sum has a fixed
// order (deterministic).
//
// The "fixed" kernel has a block per (token, head) read every key once per
// head: 64 heads read each KV entry 64 times, on 64 blocks.
#pragma once
#include "bk/hostmath.cuh"
#include "bk/official.cuh"

namespace bk {

// Keys of token t's list (WINDOW slots, then its compressed keys) and the
// entries its sequence has once this call's compressor ran.
template <int WINDOW, int MODE, int RATIO, int TOPK>
__device__ __forceinline__ int splitAttentionKeys(const BkLaunch &a,
                                                  long long t, int &nEntries) {
  nEntries = 0;
  int nC = 0;
  if constexpr (MODE != 0)
    nEntries = (int)((bkLastPos(a, t) + 1) / RATIO);
  if constexpr (MODE == 2) {
    const int v = (int)((bkPos(a, t) + 1) / RATIO);
    nC = v < nEntries ? v : nEntries;
  } else if constexpr (MODE == 1) {
    nC = TOPK;
  }
  return WINDOW + nC;
}

// Keys per split of a list of n keys: whole stages, at most S splits.
template <int S, int STAGE>
__device__ __forceinline__ int splitAttentionRange(int n) {
  const int stages = (n + STAGE - 1) / STAGE;
  return (stages + S - 1) / S * STAGE;
}

// The partial results in scratch: MAXT·S·H rows of D floats (unnormalized
// outputs), then MAXT·S·H (max, sum) pairs.
template <int H, int D, int S, int MAXT> struct SplitPartials {
  float *base;
  __device__ __forceinline__ float *acc(long long t, int s, int h) const {
    return base + ((t * S + s) * H + h) * D;
  }
  __device__ __forceinline__ float *ml(long long t, int s, int h) const {
    return base + (long long)MAXT * S * H * D + ((t * S + s) * H + h) * 2;
  }
};

template <int H, int D, int R, int ENTRY, int WINDOW, int MODE, int RATIO,
          int TOPK, int HB, int S, int MAXT, int BLOCK>
__device__ __forceinline__ void sparseAttentionSplit(const BkLaunch &a,
                                                     float scale) {
  constexpr int NOPE = D - R, SCALE_OFF = NOPE + 2 * R;
  constexpr int STAGE = 32, NW = BLOCK / 32, KPW = STAGE / NW;
  constexpr int C8 = D / 8, CPL = (C8 + 31) / 32; // 8-dim chunks, per lane
  constexpr int PAIRS = D / 2, PPT = (PAIRS + BLOCK - 1) / BLOCK;
  constexpr int G = H / HB;
  static_assert(NOPE % 64 == 0 && R % 8 == 0 && ENTRY % 8 == 0,
                "KV entries of whole 8-dim chunks");
  static_assert(H % HB == 0 && HB <= NW && STAGE % NW == 0, "heads, warps");
  __shared__ __align__(16) unsigned short kst[STAGE][D]; // bf16 bits
  __shared__ float pb[HB][STAGE]; // the stage's logits, then bf16(p)
  __shared__ float alphaS[HB];
  __shared__ int krow[MODE != 0 ? STAGE : 1];
  __shared__ bool present[STAGE];

  const long long t = blockIdx.x / (G * S);
  const int s = (int)(blockIdx.x % (G * S)) / G;
  const int h0 = (int)(blockIdx.x % G) * HB;
  const int p = (int)bkPos(a, t), first = (int)bkFirstPos(a, t);
  const int slot = bkSlot(a, t);
  int nEntries;
  const int nKeys =
      splitAttentionKeys<WINDOW, MODE, RATIO, TOPK>(a, t, nEntries);
  const int per = splitAttentionRange<S, STAGE>(nKeys);
  const int k0 = s * per;
  if (k0 >= nKeys)
    return; // the combine reads only the splits that have keys
  const int k1 = min(k0 + per, nKeys);
  const int lo = p < WINDOW - 1 ? 0 : p - WINDOW + 1;
  const float *kv = (const float *)a.in[1];
  const int *sel = MODE == 1 ? (const int *)a.in[2] + t * TOPK : nullptr;
  const unsigned char *pool = BkPagedRows<1, ENTRY>::pool(a);
  BkPagedRows<1, ENTRY> ents{};
  if constexpr (MODE != 0)
    ents = bkPagedRows<1, ENTRY>(a, slot);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  // The lane's query chunks of the block's heads, in registers.
  float qr[HB][CPL][8];
#pragma unroll
  for (int h = 0; h < HB; ++h)
#pragma unroll
    for (int u = 0; u < CPL; ++u) {
      const int c = lane + 32 * u;
      const float *qg = (const float *)a.in[0] + (t * H + h0 + h) * D + 8 * c;
#pragma unroll
      for (int e = 0; e < 8; ++e)
        qr[h][u][e] = c < C8 ? qg[e] : 0.0f;
    }

  float acc[HB][PPT][2];
#pragma unroll
  for (int h = 0; h < HB; ++h)
#pragma unroll
    for (int m = 0; m < PPT; ++m)
      acc[h][m][0] = acc[h][m][1] = 0.0f;
  // Warp h < HB keeps head h0 + h's running max and sum (every lane).
  float mRun = __int_as_float(0xff800000), lRun = 0.0f;

  for (int c0 = k0; c0 < k1; c0 += STAGE) {
    const int n = min(STAGE, k1 - c0);
    if constexpr (MODE != 0)
      bkResolveKeyRows<MODE, BLOCK>(a, ents, sel, nEntries, WINDOW, c0, n,
                                    krow);
    // Key c0 + i: a float row of this call, a KV entry, or nothing.
    auto keyOf = [&](int i, const float *&row) -> const unsigned char * {
      row = nullptr;
      if (c0 + i < WINDOW) {
        const int j = lo + c0 + i;
        if (j > p)
          return nullptr; // window not yet full
        if (j >= first) {
          row = kv + (t - (p - j)) * D;
          return nullptr;
        }
        return bkFixedRow<ENTRY>(a, 0, slot, j % WINDOW);
      }
      if constexpr (MODE != 0) {
        const int r = krow[i];
        if (r >= 0)
          return pool + (long long)r * ENTRY;
      }
      return nullptr;
    };
    // Stage the keys as bf16 (zeros for an absent key), 8 dims per word.
    // Keys i >= n of a last, short stage are not staged and not read.
    for (int w = threadIdx.x; w < n * C8; w += BLOCK) {
      const int i = w / C8, d0 = 8 * (w % C8);
      uint4 out = make_uint4(0u, 0u, 0u, 0u);
      const float *row;
      const unsigned char *e = keyOf(i, row);
      if (d0 == 0)
        present[i] = e || row;
      unsigned v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      if (row) {
        const float4 x = *(const float4 *)(row + d0);
        const float4 y = *(const float4 *)(row + d0 + 4);
        const float f[8] = {x.x, x.y, x.z, x.w, y.x, y.y, y.z, y.w};
#pragma unroll
        for (int k = 0; k < 8; ++k)
          v[k] = __float_as_uint(off::roundBf16(f[k])) >> 16;
      } else if (e && d0 < NOPE) {
        const uint2 codes = *(const uint2 *)(e + d0);
        const float sc = e8m0ToF32(e[SCALE_OFF + d0 / 64]);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          float lo8, hi8;
          e4m3x2ToF32(((k < 2 ? codes.x : codes.y) >> (16 * (k % 2))) & 0xffffu,
                      lo8, hi8);
          v[2 * k] = __float_as_uint(off::roundBf16(__fmul_rn(lo8, sc))) >> 16;
          v[2 * k + 1] =
              __float_as_uint(off::roundBf16(__fmul_rn(hi8, sc))) >> 16;
        }
      } else if (e) { // RoPE dims: bf16 already
        const uint2 *r2 = (const uint2 *)(e + NOPE + 2 * (d0 - NOPE));
        const uint2 x = r2[0], y = r2[1];
        out = make_uint4(x.x, x.y, y.x, y.y);
      }
      if (row || (e && d0 < NOPE))
        out = make_uint4(v[0] | v[1] << 16, v[2] | v[3] << 16,
                         v[4] | v[5] << 16, v[6] | v[7] << 16);
      *(uint4 *)&kst[i][d0] = out;
    }
    __syncthreads();

    // Logits: warp w takes keys w·KPW ..; a lane sums its chunks, the warp
    // reduces. A key counts if it is present (an absent one stays -inf).
#pragma unroll
    for (int kk = 0; kk < KPW; ++kk) {
      const int i = warp * KPW + kk;
      float dot[HB];
#pragma unroll
      for (int h = 0; h < HB; ++h)
        dot[h] = 0.0f;
#pragma unroll
      for (int u = 0; u < CPL; ++u) {
        const int c = lane + 32 * u;
        if (c < C8) {
          const uint4 w4 = *(const uint4 *)&kst[i][8 * c];
          const unsigned ws[4] = {w4.x, w4.y, w4.z, w4.w};
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const float lo16 = __uint_as_float(ws[k] << 16);
            const float hi16 = __uint_as_float(ws[k] & 0xffff0000u);
#pragma unroll
            for (int h = 0; h < HB; ++h) {
              dot[h] = fmaf(qr[h][u][2 * k], lo16, dot[h]);
              dot[h] = fmaf(qr[h][u][2 * k + 1], hi16, dot[h]);
            }
          }
        }
      }
#pragma unroll
      for (int h = 0; h < HB; ++h)
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
          dot[h] += __shfl_xor_sync(0xffffffffu, dot[h], o);
      if (lane < HB && i < n) {
        float d = dot[0];
#pragma unroll
        for (int h = 1; h < HB; ++h)
          d = lane == h ? dot[h] : d;
        pb[lane][i] = present[i] ? d * scale : __int_as_float(0xff800000);
      }
    }
    __syncthreads();

    // The online softmax of head h0 + warp over the stage: one key a lane.
    if (warp < HB) {
      const float l = lane < n ? pb[warp][lane] : __int_as_float(0xff800000);
      float m = l;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1)
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
      const float mNew = fmaxf(mRun, m);
      float alpha = 1.0f, pv = 0.0f;
      if (mNew != __int_as_float(0xff800000)) { // some key so far
        alpha = hostExp(mRun - mNew);           // 0 on the first
        pv = hostExp(l - mNew);                 // 0 for an absent key
      }
      float sum = pv;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
      lRun = lRun * alpha + sum;
      mRun = mNew;
      pb[warp][lane] = off::roundBf16(pv);
      if (lane == 0)
        alphaS[warp] = alpha;
    }
    __syncthreads();

    // P·V: thread owns dims 2·(tid + BLOCK·m) and +1 of every head.
#pragma unroll
    for (int h = 0; h < HB; ++h) {
      const float al = alphaS[h];
#pragma unroll
      for (int m = 0; m < PPT; ++m)
        acc[h][m][0] *= al, acc[h][m][1] *= al;
    }
    for (int j = 0; j < n; ++j) {
      float ph[HB];
#pragma unroll
      for (int h = 0; h < HB; ++h)
        ph[h] = pb[h][j];
#pragma unroll
      for (int m = 0; m < PPT; ++m) {
        const int pi = threadIdx.x + BLOCK * m;
        if (PAIRS % BLOCK == 0 || pi < PAIRS) {
          const unsigned w2 = *(const unsigned *)&kst[j][2 * pi];
          const float v0 = __uint_as_float(w2 << 16);
          const float v1 = __uint_as_float(w2 & 0xffff0000u);
#pragma unroll
          for (int h = 0; h < HB; ++h) {
            acc[h][m][0] = fmaf(ph[h], v0, acc[h][m][0]);
            acc[h][m][1] = fmaf(ph[h], v1, acc[h][m][1]);
          }
        }
      }
    }
    __syncthreads(); // the stage, pb and alphaS are consumed
  }

  const SplitPartials<H, D, S, MAXT> part{(float *)a.scratch};
#pragma unroll
  for (int h = 0; h < HB; ++h)
#pragma unroll
    for (int m = 0; m < PPT; ++m) {
      const int pi = threadIdx.x + BLOCK * m;
      if (PAIRS % BLOCK == 0 || pi < PAIRS)
        *(float2 *)(part.acc(t, s, h0 + h) + 2 * pi) =
            make_float2(acc[h][m][0], acc[h][m][1]);
    }
  if (warp < HB && lane == 0) {
    float *ml = part.ml(t, s, h0 + warp);
    ml[0] = mRun;
    ml[1] = lRun;
  }
}

// Block (token, head): the splits' outputs rescaled to their common max and
// summed in split order, divided by the sum with the sink's term, rounded to
// bf16.
template <int H, int D, int WINDOW, int MODE, int RATIO, int TOPK, int SDT,
          int S, int MAXT, int BLOCK>
__device__ __forceinline__ void sparseAttentionCombine(const BkLaunch &a) {
  constexpr int STAGE = 32;
  const long long t = blockIdx.x / H;
  const int h = blockIdx.x % H;
  int nEntries;
  const int nKeys =
      splitAttentionKeys<WINDOW, MODE, RATIO, TOPK>(a, t, nEntries);
  const int per = splitAttentionRange<S, STAGE>(nKeys);
  const int used = (nKeys + per - 1) / per;
  const SplitPartials<H, D, S, MAXT> part{(float *)a.scratch};
  float mx = __int_as_float(0xff800000);
  for (int s = 0; s < used; ++s)
    mx = fmaxf(mx, part.ml(t, s, h)[0]);
  float w[S], l = 0.0f;
#pragma unroll
  for (int s = 0; s < S; ++s) {
    w[s] = 0.0f;
    if (s < used) {
      const float ms = part.ml(t, s, h)[0];
      if (ms != __int_as_float(0xff800000))
        w[s] = hostExp(ms - mx);
      l += part.ml(t, s, h)[1] * w[s];
    }
  }
  l += hostExp(loadScalar<SDT>(a.weights[0], h) - mx);
  float *out = (float *)a.out[0] + (t * H + h) * D;
  for (int d = threadIdx.x; d < D; d += BLOCK) {
    float o = 0.0f;
#pragma unroll
    for (int s = 0; s < S; ++s)
      if (s < used)
        o = fmaf(part.acc(t, s, h)[d], w[s], o);
    out[d] = off::roundBf16(__fdiv_rn(o, l));
  }
}

} // namespace bk
