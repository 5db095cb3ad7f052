// attention_official.cuh - sparse_attention in the `official` numerics
// (kv_format 1; lib/OfficialNumerics attendOneHead, runtime/host
// sparseAttentionOfficial, run per sequence): the window ring (the token's
// slot's rows) and the compressed entries (its slot's pages) hold
// KV entries (FP8 leading dims + e8m0 scale per 64, bf16 RoPE dims), decoded
// to their bf16 values; the key list is the host's (window slots oldest
// first, padded with empty slots to WINDOW before the window fills, then the
// compressed keys, -1 top-k slots empty); the online softmax runs over chunks
// of 64 keys in order with the host's roundings (sequential fp32 dots, P cast
// to bf16 before P·V, the sink in the denominator only), exp aside.
//
// One block per (token, head): the logits of up to CAP keys at once (a
// thread per key); then per chunk the max (a warp), the exponentials (a
// lane each) and their sum (one lane, in order); then o[d] += bf16(p_j)·k_j[d]
// per dimension, over the chunk's KV entries staged STAGE keys at a time in
// shared memory by the whole block. Without the stage each key of P·V was a
// dependent round trip to L2 (about 0.8 us a key: 0.5 ms of a decode step at
// 640 keys); without the parallel exponentials thread 0 ran 64 exps per
// chunk alone. Every value is computed as before, in the same order.
#pragma once
#include "bk/hostmath.cuh"
#include "bk/official.cuh"

namespace bk {

template <int H, int D, int R, int ENTRY, int WINDOW, int MODE, int RATIO,
          int TOPK, int SDT, int CAP, int BLOCK>
__device__ __forceinline__ void sparseAttentionOfficial(const BkLaunch &a,
                                                        float scale) {
  constexpr int NOPE = D - R;
  constexpr int SCALE_OFF = NOPE + 2 * R;
  constexpr int CHUNK = 64;
  constexpr int DPT = (D + BLOCK - 1) / BLOCK;
  // KV entries staged for P·V at once, as 8-byte words.
  constexpr int STAGE = 32, WORDS = (ENTRY + 7) / 8;
  static_assert(CAP % CHUNK == 0 && NOPE % 64 == 0, "chunks and blocks");
  static_assert(CHUNK % STAGE == 0 && BLOCK % 32 == 0, "stages and warps");
  static_assert(ENTRY % 8 == 0, "KV entries of whole 8-byte words");
  __shared__ float q[D];
  __shared__ float lg[CAP]; // logits, then exp(l - max)
  __shared__ float shared2[2];
  __shared__ uint2 stage[STAGE][WORDS];
  // Pool rows of the chunk's compressed keys (-1: a top-k slot naming no
  // entry), resolved once per chunk (top-k index, page table) rather than by
  // every thread that reads the key. A pool holds fewer than 2^31 rows.
  __shared__ int krow[MODE != 0 ? CAP : 1];
  const long long t = blockIdx.x / H;
  const int h = blockIdx.x % H;
  // Positions fit an int (BkToken).
  const int p = (int)bkPos(a, t), first = (int)bkFirstPos(a, t);
  const int slot = bkSlot(a, t);
  const float *kv = (const float *)a.in[1];
  const int *sel = MODE == 1 ? (const int *)a.in[2] + t * TOPK : nullptr;
  const unsigned char *pool = BkPagedRows<1, ENTRY>::pool(a);
  BkPagedRows<1, ENTRY> ents{};
  // The entries the sequence has once this call's compressor ran (the
  // host's per-call count, per sequence).
  int nEntries = 0;
  if constexpr (MODE != 0) {
    ents = bkPagedRows<1, ENTRY>(a, slot);
    nEntries = (int)((bkLastPos(a, t) + 1) / RATIO);
  }
  int nC = 0;
  if constexpr (MODE == 2) {
    const int v = (p + 1) / RATIO;
    nC = v < nEntries ? v : nEntries;
  } else if constexpr (MODE == 1) {
    nC = TOPK;
  }
  const int nKeys = WINDOW + nC;
  const int lo = p < WINDOW - 1 ? 0 : p - WINDOW + 1;
  // Key i: a float row (the call's kv), a KV entry, or nothing.
  struct Key {
    const float *row;
    const unsigned char *entry;
  };
  // krow for keys c0 .. c0 + n - 1 (the whole block; ends with a barrier).
  auto resolve = [&](int c0, int n) {
    if constexpr (MODE != 0)
      bkResolveKeyRows<MODE, BLOCK>(a, ents, sel, nEntries, WINDOW, c0, n,
                                    krow);
  };
  // Key c0 + i (i < n of the chunk krow was resolved for).
  auto key = [&](int c0, int i) -> Key {
    if (c0 + i < WINDOW) {
      const int j = lo + c0 + i;
      if (j > p)
        return {nullptr, nullptr}; // window not yet full
      if (j >= first)
        return {kv + (t - (p - j)) * D, nullptr};
      return {nullptr, bkFixedRow<ENTRY>(a, 0, slot, j % WINDOW)};
    }
    if constexpr (MODE != 0) {
      const int row = krow[i];
      if (row >= 0)
        return {nullptr, pool + (long long)row * ENTRY};
    }
    return {nullptr, nullptr};
  };
  // Element d of a key (decodeKvEntry for entries).
  auto value = [&](const Key &k, int d) -> float {
    if (k.row)
      return k.row[d];
    if (d < NOPE)
      return off::roundBf16(__fmul_rn(off::e4m3ToF32(k.entry[d]),
                                      e8m0ToF32(k.entry[SCALE_OFF + d / 64])));
    const unsigned lo8 = k.entry[NOPE + 2 * (d - NOPE)];
    const unsigned hi8 = k.entry[NOPE + 2 * (d - NOPE) + 1];
    return __uint_as_float((lo8 | (hi8 << 8)) << 16);
  };

  // Σ_d fl(q_d · k_d) in order, as value(k, d) would give it, but with 8-
  // (entries) or 16-byte (rows) loads: a thread walks a whole key, and byte
  // loads left the logits latency-bound.
  auto keyDot = [&](const Key &k) -> float {
    float dot = 0.0f;
    auto add = [&](int d, float v) {
      dot = __fadd_rn(dot, __fmul_rn(q[d], v));
    };
    if (k.row) {
      if constexpr (D % 4 == 0) {
        for (int d = 0; d < D; d += 4) {
          const float4 v = *(const float4 *)(k.row + d);
          add(d, v.x), add(d + 1, v.y), add(d + 2, v.z), add(d + 3, v.w);
        }
      } else {
        for (int d = 0; d < D; ++d)
          add(d, k.row[d]);
      }
      return dot;
    }
    if constexpr (ENTRY % 8 == 0 && R % 4 == 0) {
      const uint2 *e = (const uint2 *)k.entry;
      for (int blk = 0; blk < NOPE / 64; ++blk) {
        const float sc = e8m0ToF32(k.entry[SCALE_OFF + blk]);
#pragma unroll
        for (int u = 0; u < 8; ++u) {
          const uint2 w = e[blk * 8 + u];
          const int d0 = blk * 64 + u * 8;
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            const unsigned word = half ? w.y : w.x;
#pragma unroll
            for (int pr = 0; pr < 2; ++pr) {
              float lo, hi;
              e4m3x2ToF32((word >> (16 * pr)) & 0xffffu, lo, hi);
              const int d = d0 + half * 4 + pr * 2;
              add(d, off::roundBf16(__fmul_rn(lo, sc)));
              add(d + 1, off::roundBf16(__fmul_rn(hi, sc)));
            }
          }
        }
      }
      for (int u = 0; u < R / 4; ++u) { // 4 bf16 RoPE dims per load
        const uint2 w = e[NOPE / 8 + u];
        const int d = NOPE + 4 * u;
        add(d, __uint_as_float(w.x << 16));
        add(d + 1, __uint_as_float(w.x & 0xffff0000u));
        add(d + 2, __uint_as_float(w.y << 16));
        add(d + 3, __uint_as_float(w.y & 0xffff0000u));
      }
    } else {
      for (int d = 0; d < D; ++d)
        add(d, value(k, d));
    }
    return dot;
  };

  const float *qg = (const float *)a.in[0] + (t * H + h) * D;
  for (int d = threadIdx.x; d < D; d += BLOCK)
    q[d] = qg[d];
  const float sink = loadScalar<SDT>(a.weights[0], h);
  __syncthreads();

  float rowMax = __int_as_float(0xff800000), sumExp = 0.0f;
  float acc[DPT];
#pragma unroll
  for (int m = 0; m < DPT; ++m)
    acc[m] = 0.0f;
  for (int c0 = 0; c0 < nKeys; c0 += CAP) {
    const int n = min(CAP, nKeys - c0);
    resolve(c0, n);
    // Logits: s = fl(fl(Σ_d fl(q_d·k_d)) · scale), the sum in order.
    for (int i = threadIdx.x; i < n; i += BLOCK) {
      const Key k = key(c0, i);
      float s = __int_as_float(0xff800000);
      if (k.row || k.entry)
        s = __fmul_rn(keyDot(k), scale);
      lg[i] = s;
    }
    __syncthreads();
    for (int b0 = 0; b0 < n; b0 += CHUNK) {
      const int nb = min(CHUNK, n - b0);
      // The running max, alpha, the exponentials and their sum (host order;
      // the max is exact in any order, each exponential independent).
      if (threadIdx.x < 32) {
        const int lane = threadIdx.x;
        const float prevMax = rowMax;
        float m = rowMax;
        for (int j = lane; j < nb; j += 32)
          m = fmaxf(m, lg[b0 + j]);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
          m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
        for (int j = lane; j < nb; j += 32)
          lg[b0 + j] = hostExp(__fsub_rn(lg[b0 + j], m));
        __syncwarp();
        if (lane == 0) {
          const float alpha = hostExp(__fsub_rn(prevMax, m));
          float chunkSum = 0.0f;
          for (int j = 0; j < nb; ++j)
            chunkSum = __fadd_rn(chunkSum, lg[b0 + j]);
          sumExp = __fadd_rn(__fmul_rn(sumExp, alpha), chunkSum);
          shared2[0] = alpha;
          shared2[1] = m;
        }
      }
      __syncthreads();
      const float alpha = shared2[0];
      rowMax = shared2[1];
#pragma unroll
      for (int m = 0; m < DPT; ++m)
        acc[m] = __fmul_rn(acc[m], alpha);
      for (int s0 = 0; s0 < nb; s0 += STAGE) {
        const int ns = min(STAGE, nb - s0);
        // The stage's KV entries into shared memory, every load in flight
        // at once (rows of the call's kv stay where they are).
        for (int w = threadIdx.x; w < ns * WORDS; w += BLOCK) {
          const Key k = key(c0, b0 + s0 + w / WORDS);
          if (k.entry)
            stage[w / WORDS][w % WORDS] = ((const uint2 *)k.entry)[w % WORDS];
        }
        __syncthreads();
        for (int j = 0; j < ns; ++j) {
          const Key k = key(c0, b0 + s0 + j);
          if (!k.row && !k.entry)
            continue;
          const Key staged =
              k.row ? k : Key{nullptr, (const unsigned char *)stage[j]};
          const float pb = off::roundBf16(lg[b0 + s0 + j]);
#pragma unroll
          for (int m = 0; m < DPT; ++m) {
            const int d = threadIdx.x + m * BLOCK;
            if (d < D)
              acc[m] = __fadd_rn(acc[m], __fmul_rn(pb, value(staged, d)));
          }
        }
        __syncthreads(); // the stage and lg of the chunk are consumed
      }
    }
  }
  if (threadIdx.x == 0)
    shared2[0] = __fadd_rn(sumExp, hostExp(__fsub_rn(sink, rowMax)));
  __syncthreads();
  const float l = shared2[0];
  float *out = (float *)a.out[0] + (t * H + h) * D;
#pragma unroll
  for (int m = 0; m < DPT; ++m) {
    const int d = threadIdx.x + m * BLOCK;
    if (d < D)
      out[d] = off::roundBf16(__fdiv_rn(acc[m], l));
  }
}

} // namespace bk
