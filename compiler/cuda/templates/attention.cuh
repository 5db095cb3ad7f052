// attention.cuh - sparse_attention and window_write (V4_SPEC §3.4).
//
// sparse_attention: one block per (token, head). The keys are, in the host's
// order, the window positions max(0, p-W+1)..p (before the sequence's first
// token of the call: its slot's ring, row j mod W; from it on: the call's kv
// rows), then the compressed entries of the slot's pages (mode 1: the top-k
// list, skipping -1; mode 2: every visible entry, (p+1) div RATIO). Values
// are the keys. The arithmetic follows runtime/host/AttentionKernels.cpp in
// order: dotF32 logits (lane groups of 8 with the host's partial sums), one
// max, the denominator summed sequentially from the sink term, probabilities
// p_j = e_j / den, and o[d] accumulated over the keys in order without FMA.
// exp is the host's (hostmath.cuh: double-evaluated on both sides).
#pragma once
#include "bk/common.cuh"
#include "bk/hostmath.cuh"

namespace bk {

template <int H, int D, int WINDOW, int MODE, int RATIO, int TOPK, int SDT,
          int CAP, int BLOCK>
__device__ __forceinline__ void sparseAttention(const BkLaunch &a,
                                                float scale) {
  static_assert(BLOCK % 32 == 0, "whole warps");
  static_assert(MODE == 0 || RATIO > 0, "compressed keys need their ratio");
  constexpr int NW = BLOCK / 32;
  constexpr int DPT = (D + BLOCK - 1) / BLOCK; // output dims per thread
  __shared__ __align__(16) float q[D];
  __shared__ float lg[CAP]; // logits, then exp(l - max), then probabilities
  __shared__ float red[NW];
  __shared__ float bcast;
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
  const float *pool = (const float *)BkPagedRows<1, 4ll * D>::pool(a);
  BkPagedRows<1, 4ll * D> ents{};
  if constexpr (MODE != 0)
    ents = bkPagedRows<1, 4ll * D>(a, slot);
  const int lo = p - WINDOW + 1 > 0 ? p - WINDOW + 1 : 0;
  const int nW = p - lo + 1;
  int nC = 0;
  // Top-k indices name entries the sequence has once this call's compressor
  // ran (the runtime maps their rows); others are empty slots.
  int nEntries = 0;
  if constexpr (MODE == 2) {
    nC = (p + 1) / RATIO;
  } else if constexpr (MODE == 1) {
    nC = TOPK;
    nEntries = (int)((bkLastPos(a, t) + 1) / RATIO);
  }
  const int nKeys = nW + nC;
  // krow for keys c0 .. c0 + n - 1 (the whole block; ends with a barrier).
  auto resolve = [&](int c0, int n) {
    if constexpr (MODE != 0)
      bkResolveKeyRows<MODE, BLOCK>(a, ents, sel, nEntries, nW, c0, n, krow);
  };
  // Key c0 + i of the list (i < n of the chunk krow was resolved for), or
  // nullptr for a top-k slot that names no entry. Window key j is the call's
  // kv row of position j from the sequence's first token in this call on,
  // else the row j mod W of its slot's ring.
  auto key = [&](int c0, int i) -> const float * {
    if (c0 + i < nW) {
      const int j = lo + c0 + i;
      return j >= first
                 ? kv + (t - (p - j)) * D
                 : (const float *)bkFixedRow<4ll * D>(a, 0, slot, j % WINDOW);
    }
    if constexpr (MODE != 0) {
      const int row = krow[i];
      return row >= 0 ? pool + (long long)row * D : nullptr;
    }
    return nullptr;
  };

  const float *qg = (const float *)a.in[0] + (t * H + h) * D;
  for (int d = threadIdx.x; d < D; d += BLOCK)
    q[d] = qg[d];
  const float sink = loadScalar<SDT>(a.weights[0], h);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();

  // lg[i] = logit of key c0 + i for i < n (-inf for an absent key); the 8
  // lanes of a group compute one key's dot.
  auto logits = [&](int c0, int n) {
    resolve(c0, n);
    for (int base = warp * 4; base < n; base += NW * 4) {
      const int i = base + lane / 8;
      const float *k = i < n ? key(c0, i) : nullptr;
      const float dot = hostDotGroup8(q, k ? k : q, D);
      if (lane % 8 == 0 && i < n)
        lg[i] = k ? __fmul_rn(dot, scale) : __int_as_float(0xff800000);
    }
    __syncthreads();
  };
  const bool single = nKeys <= CAP;

  // Pass 1: the maximum (exact in any order), starting from the sink.
  float mx = sink;
  for (int c0 = 0; c0 < nKeys; c0 += CAP) {
    const int n = min(CAP, nKeys - c0);
    logits(c0, n);
    float m = __int_as_float(0xff800000);
    for (int i = threadIdx.x; i < n; i += BLOCK)
      m = fmaxf(m, lg[i]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0)
      red[warp] = m;
    __syncthreads();
    for (int w = 0; w < NW; ++w)
      mx = fmaxf(mx, red[w]);
    __syncthreads();
  }

  // Pass 2: e_i = exp(l_i - max); den = exp(sink - max) + Σ e_i in order.
  float den = 0.0f;
  if (threadIdx.x == 0)
    den = hostExp(__fsub_rn(sink, mx));
  for (int c0 = 0; c0 < nKeys; c0 += CAP) {
    const int n = min(CAP, nKeys - c0);
    if (!single)
      logits(c0, n);
    for (int i = threadIdx.x; i < n; i += BLOCK)
      lg[i] = hostExp(__fsub_rn(lg[i], mx));
    __syncthreads();
    if (threadIdx.x == 0)
      for (int i = 0; i < n; ++i)
        den = __fadd_rn(den, lg[i]);
    __syncthreads();
  }
  if (threadIdx.x == 0)
    bcast = den;
  __syncthreads();
  den = bcast;

  // Pass 3: o[d] = Σ_i (e_i / den) · k_i[d], keys in order.
  float o[DPT];
#pragma unroll
  for (int m = 0; m < DPT; ++m)
    o[m] = 0.0f;
  for (int c0 = 0; c0 < nKeys; c0 += CAP) {
    const int n = min(CAP, nKeys - c0);
    if (!single) {
      logits(c0, n);
      for (int i = threadIdx.x; i < n; i += BLOCK)
        lg[i] = hostExp(__fsub_rn(lg[i], mx));
      __syncthreads();
    }
    for (int i = threadIdx.x; i < n; i += BLOCK)
      lg[i] = __fdiv_rn(lg[i], den);
    __syncthreads();
    // Keys in groups of KB: their loads are issued together, then added in
    // key order (the sum's order is unchanged).
    constexpr int KB = 8;
    for (int i0 = 0; i0 < n; i0 += KB) {
      float kv[KB][DPT];
      bool valid[KB];
#pragma unroll
      for (int u = 0; u < KB; ++u) {
        const float *k = i0 + u < n ? key(c0, i0 + u) : nullptr;
        valid[u] = k != nullptr;
#pragma unroll
        for (int m = 0; m < DPT; ++m) {
          const int d = threadIdx.x + m * BLOCK;
          kv[u][m] = k && d < D ? k[d] : 0.0f;
        }
      }
#pragma unroll
      for (int u = 0; u < KB; ++u) {
        if (!valid[u])
          continue;
        const float pi = lg[i0 + u];
#pragma unroll
        for (int m = 0; m < DPT; ++m)
          o[m] = __fadd_rn(o[m], __fmul_rn(pi, kv[u][m]));
      }
    }
    __syncthreads();
  }
  float *out = (float *)a.out[0] + (t * H + h) * D;
#pragma unroll
  for (int m = 0; m < DPT; ++m) {
    const int d = threadIdx.x + m * BLOCK;
    if (d < D)
      out[d] = o[m];
  }
}

// The last min(tokens, WINDOW) kv rows of each sequence of the call into its
// slot's ring (row p mod WINDOW), after the attention read the previous ones;
// rows of one sequence never collide. One block per token.
template <int D, int WINDOW, int BLOCK>
__device__ __forceinline__ void windowWrite(const BkLaunch &a) {
  const long long t = blockIdx.x;
  if (a.tok[t].last - t >= WINDOW)
    return;
  const float *src = (const float *)a.in[0] + t * D;
  float *dst =
      (float *)bkFixedRow<4ll * D>(a, 0, bkSlot(a, t), bkPos(a, t) % WINDOW);
  if constexpr (D % 4 == 0) {
    for (int i = threadIdx.x * 4; i < D; i += BLOCK * 4)
      *(float4 *)(dst + i) = *(const float4 *)(src + i);
  } else {
    for (int i = threadIdx.x; i < D; i += BLOCK)
      dst[i] = src[i];
  }
}

} // namespace bk
