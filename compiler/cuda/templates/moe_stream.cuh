// moe_stream.cuh - moe in the `official` numerics for decode batches (2 to
// 64 tokens): every distinct expert the call routes to streams its weights
// once, spread over the whole GPU, in five kernels:
//
//   moeStreamActs (x)  a block per token: P5 of its moe input, written to
//                      scratch in the forms the dot products read (below);
//                      also resets the work counters.
//   moeStreamHidden    persistent blocks take items from a counter: an item
//                      is RB rows of h of one expert (the shared expert's
//                      first, they carry every token), for all the tokens
//                      routed to it; h = the bf16 SwiGLU of the official
//                      w1/w3 rows, the routing weight inside.
//   moeStreamActs (h)  a block per (token, slot): P5 of its h row.
//   moeStreamDown      items of RD rows of w2 of one expert: out_e, bf16.
//   moeStreamCombine   a block per token: y = bf16(Σ_routed out_e (fp32,
//                      ascending expert id) + out_shared).
//
// Arithmetic: the host's (runtime/host/MoeKernels.cpp, InnerSum::Exact), so
// the results are bitwise moe_decode.cuh's and the host's whatever the
// batch holds. Each weight row's accumulation runs in K order in one group
// of four lanes; the lanes of a group own consecutive 16-byte chunks of the
// row, so a warp's load reads 64 contiguous bytes of each of 8 rows, and
// the group chains its four terms in order after every step. The exact
// inner sums are integer:
//   FP4: a 32-block is one 16-byte chunk. Each e2m1 code becomes
//     u = 2·value + 12 in [0, 24] (two byte permutes and an OR per four
//     codes); each e4m3 activation code times 2^9 is an integer a below
//     2^18, kept as three signed 7-bit planes, so
//       Σ 2·value·a = Σ_p 2^(7p)·dp4a(u, plane_p) - 12·Σa
//     exactly in int32 (|Σ| < 2^28), and inner = fl(that)·2^-10; then
//     acc += fl(fl(inner·sa)·sw) as the host does.
//   FP8: a 128-block is eight chunks (two steps of the group). Weights and
//     activations as integers times 2^9, products in int64, the block's sum
//     exact, fl(sum)·2^-18; acc += fl(inner·fl(sa·sw)).
// NaN codes (0x7f) are not representable and read as 480 (P5 makes one
// only from a NaN activation), as in moe_mma.cuh.
//
// Scratch (KernelSourceMoe.cpp sizes it alike): two work counters (256
// bytes), the activation rows of the tokens, h as floats per (token, slot),
// the h activation rows, out_e as floats per (token, slot); slot K is the
// shared expert.
#pragma once
#include "bk/moe_grouped.cuh"

namespace bk {
namespace moestream {

constexpr int TG = 4; // tokens a pass over an item's weights
constexpr int D = 8;  // weight chunks a lane keeps in flight

// One quantized row of KD values as the dot products read it.
template <int KD> struct ActRow {
  static_assert(KD % 128 == 0, "whole 128-blocks");
  static constexpr long long PLANES = 0;            // [3][KD] s8
  static constexpr long long INTS = 3LL * KD;       // [KD] int32
  static constexpr long long SUMS = INTS + 4LL * KD; // [KD/32] int32
  static constexpr long long SCALES = SUMS + KD / 8; // [KD/128] e8m0
  static constexpr long long BYTES = (SCALES + KD / 128 + 15) / 16 * 16;
};

template <int DIM, int INTER, int K, int MAXTOK> struct Scratch {
  static constexpr long long PAIRS = (long long)MAXTOK * (K + 1);
  static constexpr long long XA = 256;
  static constexpr long long H = XA + MAXTOK * ActRow<DIM>::BYTES;
  static constexpr long long HA = H + PAIRS * INTER * 4;
  static constexpr long long OUT = HA + PAIRS * ActRow<INTER>::BYTES;
  static constexpr long long BYTES = OUT + PAIRS * DIM * 4;
};

// An e4m3 code's value times 2^9, an integer below 2^18 in magnitude.
__device__ __forceinline__ int e4m3Int(unsigned c) {
  const unsigned e = (c >> 3) & 15u, m = c & 7u;
  const int v = (int)(e != 0u ? (8u | m) << (e - 1u) : m);
  return (c & 0x80u) != 0u ? -v : v;
}

// Four e2m1 codes (nibbles 0-3 of v) as bytes u = 2·value + 12: the
// positive codes from one table, the negative ones (selector bit 3 set
// selects the sign of a table byte, 0 here) from the other.
__device__ __forceinline__ unsigned e2m1x4ToU8x4(unsigned v) {
  unsigned pos, neg;
  asm("prmt.b32 %0, %1, %2, %3;"
      : "=r"(pos)
      : "r"(0x0F0E0D0Cu), "r"(0x18141210u), "r"(v));
  asm("prmt.b32 %0, %1, %2, %3;"
      : "=r"(neg)
      : "r"(0x090A0B0Cu), "r"(0x00040608u), "r"(v ^ 0x8888u));
  return pos | neg;
}

// P5 of one row of KD floats (x of a token, h of a pair) into `dst`'s
// ActRow, by the whole block (WARPS warps).
template <int KD, int WARPS>
__device__ __forceinline__ void quantizeRow(const float *src,
                                            unsigned char *dst) {
  using R = ActRow<KD>;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int b = warp; b < KD / 128; b += WARPS) {
    const int k = b * 128 + lane * 4;
    const float4 v = *(const float4 *)(src + k);
    unsigned byte;
    const unsigned codes = off::fp8Quantize128(v, &byte);
    int a[4];
    unsigned planes[3] = {0u, 0u, 0u};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const unsigned c = (codes >> (8 * i)) & 0xffu;
      a[i] = e4m3Int(c);
      const unsigned mag = (unsigned)abs(a[i]);
#pragma unroll
      for (int p = 0; p < 3; ++p) {
        const unsigned q = (mag >> (7 * p)) & 127u;
        planes[p] |= ((c & 0x80u) != 0u ? (0u - q) & 0xffu : q) << (8 * i);
      }
    }
#pragma unroll
    for (int p = 0; p < 3; ++p)
      *(unsigned *)(dst + R::PLANES + (long long)p * KD + k) = planes[p];
    *(int4 *)(dst + R::INTS + 4LL * k) = make_int4(a[0], a[1], a[2], a[3]);
    // A 32-block's sum: eight lanes' four values, exact.
    int s = a[0] + a[1] + a[2] + a[3];
    s += __shfl_xor_sync(0xffffffffu, s, 1);
    s += __shfl_xor_sync(0xffffffffu, s, 2);
    s += __shfl_xor_sync(0xffffffffu, s, 4);
    if (lane % 8 == 0)
      ((int *)(dst + R::SUMS))[k / 32] = s;
    if (lane == 0)
      dst[R::SCALES + b] = (unsigned char)byte;
  }
}

// The fp32 accumulators (not rounded) of weight row `row` (rows of KD
// elements) for nj <= TG activation rows, by the calling lane group of four
// (q: the lane's place in it); every lane of the group gets them.
template <int KD, int DT>
__device__ __forceinline__ void
rowDots(const unsigned char *W, const unsigned char *S, int row, int q,
        const unsigned char *const (&acts)[TG], int nj, float (&acc)[TG]) {
  using R = ActRow<KD>;
  static_assert(DT == kF8E4M3 || DT == kFP4, "FP8 or FP4 weights");
  constexpr int ROWB = DT == kFP4 ? KD / 2 : KD; // bytes of a row
  constexpr int NSTEP = ROWB / 64;               // 4 lanes x 16 bytes
  // FP8 rows hold 16 decoded weights and an int64 sum per token: fewer
  // chunks in flight keep the kernel within 128 registers.
  constexpr int DW = DT == kFP4 ? D : D / 4;
  constexpr int DD = NSTEP < DW ? NSTEP : DW;
  static_assert(NSTEP % DD == 0, "whole prefetch rounds");
  const uint4 *wrow = (const uint4 *)(W + (long long)row * ROWB) + q;
  const int base = threadIdx.x % 32 & ~3;
#pragma unroll
  for (int j = 0; j < TG; ++j)
    acc[j] = 0.0f;
  long long exact[TG]; // FP8: this lane's part of the 128-block's sum
#pragma unroll
  for (int j = 0; j < TG; ++j)
    exact[j] = 0;
  uint4 buf[DD];
#pragma unroll
  for (int i = 0; i < DD; ++i)
    buf[i] = __ldg(wrow + 4 * i);
  for (int s0 = 0; s0 < NSTEP; s0 += DD) {
#pragma unroll
    for (int i = 0; i < DD; ++i) {
      const int s = s0 + i;
      const uint4 wv = buf[i];
      if (s + DD < NSTEP)
        buf[i] = __ldg(wrow + 4 * (s + DD));
      if constexpr (DT == kFP4) {
        const int b = 4 * s + q; // this lane's 32-block
        const unsigned w4[4] = {wv.x, wv.y, wv.z, wv.w};
        unsigned u[8];
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          u[2 * c] = e2m1x4ToU8x4(w4[c] & 0xffffu);
          u[2 * c + 1] = e2m1x4ToU8x4(w4[c] >> 16);
        }
        const float sw = e8m0ToF32(__ldg(S + (long long)row * (KD / 32) + b));
#pragma unroll
        for (int j = 0; j < TG; ++j) {
          float term = 0.0f;
          if (j < nj) {
            const unsigned char *act = acts[j];
            int dp[3];
#pragma unroll
            for (int p = 0; p < 3; ++p) {
              const uint4 *pl =
                  (const uint4 *)(act + R::PLANES + (long long)p * KD + 32 * b);
              const uint4 lo = __ldg(pl), hi = __ldg(pl + 1);
              const unsigned a8[8] = {lo.x, lo.y, lo.z, lo.w,
                                      hi.x, hi.y, hi.z, hi.w};
              int d = 0;
#pragma unroll
              for (int c = 0; c < 8; ++c)
                d = __dp4a((int)u[c], (int)a8[c], d);
              dp[p] = d;
            }
            const int asum = __ldg((const int *)(act + R::SUMS) + b);
            const int inner =
                dp[0] + dp[1] * 128 + dp[2] * 16384 - 12 * asum;
            const float sa = e8m0ToF32(__ldg(act + R::SCALES + b / 4));
            term = __fmul_rn(__fmul_rn(__int2float_rn(inner) * 0x1p-10f, sa),
                             sw);
          }
          // The group's four 32-blocks in order.
#pragma unroll
          for (int l = 0; l < 4; ++l)
            acc[j] = __fadd_rn(acc[j],
                               __shfl_sync(0xffffffffu, term, base + l));
        }
      } else {
        const int c = 4 * s + q; // this lane's 16 weights
        const unsigned w4[4] = {wv.x, wv.y, wv.z, wv.w};
        // Four weights decoded at a time, used by every token.
#pragma unroll
        for (int v = 0; v < 4; ++v) {
          int w[4];
#pragma unroll
          for (int e = 0; e < 4; ++e)
            w[e] = e4m3Int((w4[v] >> (8 * e)) & 0xffu);
#pragma unroll
          for (int j = 0; j < TG; ++j) {
            if (j < nj) {
              const int4 a4 = __ldg(
                  (const int4 *)(acts[j] + R::INTS + 4LL * (16 * c)) + v);
              exact[j] += (long long)w[0] * a4.x + (long long)w[1] * a4.y +
                          (long long)w[2] * a4.z + (long long)w[3] * a4.w;
            }
          }
        }
        if (s % 2 == 1) { // the 128-block's eight chunks are in
          const int blk = s / 2;
          const float sw =
              e8m0ToF32(__ldg(S + (row / 128) * (KD / 128) + blk));
#pragma unroll
          for (int j = 0; j < TG; ++j) {
            long long t = exact[j];
            t += __shfl_xor_sync(0xffffffffu, t, 1);
            t += __shfl_xor_sync(0xffffffffu, t, 2);
            exact[j] = 0;
            if (j < nj) {
              const float sa =
                  e8m0ToF32(__ldg(acts[j] + R::SCALES + blk));
              acc[j] = __fadd_rn(
                  acc[j], __fmul_rn(__ll2float_rn(t) * 0x1p-18f,
                                    __fmul_rn(sa, sw)));
            }
          }
        }
      }
    }
  }
}

// The experts a call routes to, for a persistent block: a bitmap of the
// valid routed ids, counted by word. Expert index 0 is the shared expert,
// 1 + i the i-th routed expert in ascending id.
template <int E, int K, int MAXTOK, int BLOCK> struct Routes {
  static constexpr int NW = (E + 31) / 32;
  static_assert(NW <= 32, "a warp counts the bitmap");
  unsigned bits[NW];
  int before[NW + 1];       // set bits in words below w
  int ids[MAXTOK * K];        // the call's routes
  unsigned list[MAXTOK * K]; // an expert's pairs: t·(K+1) + slot
  int listLen;

  __device__ void build(const int *idx, int S) {
    for (int w = threadIdx.x; w < NW; w += BLOCK)
      bits[w] = 0u;
    __syncthreads();
    for (int i = threadIdx.x; i < S * K; i += BLOCK) {
      const int e = idx[i];
      ids[i] = e;
      if (e >= 0 && e < E)
        atomicOr(&bits[e / 32], 1u << (e % 32));
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      const int lane = threadIdx.x;
      int c = lane < NW ? __popc(bits[lane]) : 0;
      int incl = c;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const int v = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o)
          incl += v;
      }
      if (lane < NW)
        before[lane] = incl - c;
      if (lane == NW - 1)
        before[NW] = incl;
    }
    __syncthreads();
  }
  __device__ int experts(int S) const { return S > 0 ? before[NW] + 1 : 0; }
  // The id of expert index a >= 1.
  __device__ int routedId(int a) const {
    const int i = a - 1;
    int w = 0;
    while (before[w + 1] <= i)
      ++w;
    return w * 32 + (int)__fns(bits[w], 0, i - before[w] + 1);
  }
  // Fills list/listLen with expert e's pairs in token order (e == E: the
  // shared expert, every token); the whole block calls it.
  __device__ void pairs(int S, int e) {
    __syncthreads(); // the previous item's list is consumed
    if (e == E) {
      for (int t = threadIdx.x; t < S; t += BLOCK)
        list[t] = (unsigned)(t * (K + 1) + K);
      if (threadIdx.x == 0)
        listLen = S;
    } else if (threadIdx.x < 32) {
      const int lane = threadIdx.x;
      int n = 0;
      for (int b0 = 0; b0 < S * K; b0 += 32) {
        const int i = b0 + lane;
        const bool hit = i < S * K && ids[i] == e;
        const unsigned m = __ballot_sync(0xffffffffu, hit);
        if (hit)
          list[n + __popc(m & ((1u << lane) - 1u))] =
              (unsigned)(i / K * (K + 1) + i % K);
        n += __popc(m);
      }
      if (lane == 0)
        listLen = n;
    }
    __syncthreads();
  }
};

// The next item of a persistent block (counter in scratch), or -1.
__device__ __forceinline__ int nextItem(unsigned *counter, int items,
                                        int *slot) {
  __syncthreads(); // *slot is consumed
  if (threadIdx.x == 0)
    *slot = (int)atomicAdd(counter, 1u);
  __syncthreads();
  const int it = *slot;
  return it < items ? it : -1;
}

} // namespace moestream

// Kernel 1 (a block per token) and 3 (a block per (token, slot)).
template <int DIM, int INTER, int E, int K, int MAXTOK, int WARPS, bool HIDDEN>
__device__ __forceinline__ void moeStreamActs(const BkLaunch &a) {
  using Sc = moestream::Scratch<DIM, INTER, K, MAXTOK>;
  unsigned char *scratch = (unsigned char *)a.scratch;
  if constexpr (!HIDDEN) {
    const long long t = blockIdx.x;
    if (t == 0 && threadIdx.x < 2)
      ((unsigned *)scratch)[threadIdx.x] = 0u; // the two work counters
    moestream::quantizeRow<DIM, WARPS>(
        (const float *)a.in[0] + t * DIM,
        scratch + Sc::XA + t * moestream::ActRow<DIM>::BYTES);
  } else {
    const long long ts = blockIdx.x; // token · (K + 1) + slot
    const int slot = (int)(ts % (K + 1));
    if (slot < K) {
      const int e = ((const int *)a.in[1])[ts / (K + 1) * K + slot];
      if (e < 0 || e >= E)
        return;
    }
    moestream::quantizeRow<INTER, WARPS>(
        (const float *)(scratch + Sc::H) + ts * INTER,
        scratch + Sc::HA + ts * moestream::ActRow<INTER>::BYTES);
  }
}

// Kernel 2: items of RB = 4·WARPS rows of h. A warp's lanes 0-15 run four
// w1 rows, lanes 16-31 the same four w3 rows.
template <int DIM, int INTER, int E, int K, int DT13, int DS13,
          bool SHARED_CLAMP, int MAXTOK, int WARPS>
__device__ __forceinline__ void moeStreamHidden(const BkLaunch &a,
                                                float limit) {
  using namespace moestream;
  using Sc = Scratch<DIM, INTER, K, MAXTOK>;
  constexpr int BLOCK = 32 * WARPS, RB = 4 * WARPS;
  static_assert(INTER % RB == 0, "whole items");
  constexpr int PARTS = INTER / RB;
  __shared__ Routes<E, K, MAXTOK, BLOCK> routes;
  __shared__ int itemSlot;
  const int S = (int)a.tokens;
  const int *idx = (const int *)a.in[1];
  const float *wts = (const float *)a.in[2];
  unsigned char *scratch = (unsigned char *)a.scratch;
  routes.build(idx, S);
  const int items = routes.experts(S) * PARTS;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int q = lane % 4, up = lane / 16;
  for (int it; (it = nextItem((unsigned *)scratch, items, &itemSlot)) >= 0;) {
    const int ea = it / PARTS, part = it % PARTS;
    const int e = ea == 0 ? E : routes.routedId(ea);
    routes.pairs(S, e);
    const bool shared = e == E;
    const float lim = !shared || SHARED_CLAMP ? limit : 0.0f;
    const int row = part * RB + warp * 4 + lane % 16 / 4;
    const int m = up ? 2 : 0; // w1 or w3
    const unsigned char *W = (const unsigned char *)a.weights[3 * e + m];
    const unsigned char *Sw = (const unsigned char *)a.scales[3 * e + m];
    const int n = routes.listLen;
    for (int j0 = 0; j0 < n; j0 += TG) {
      const int nj = min(TG, n - j0);
      const unsigned char *acts[TG];
#pragma unroll
      for (int j = 0; j < TG; ++j) {
        const unsigned code = routes.list[j0 + (j < nj ? j : 0)];
        acts[j] = scratch + Sc::XA +
                  (long long)(code / (K + 1)) * ActRow<DIM>::BYTES;
      }
      float acc[TG];
      if (shared)
        rowDots<DIM, DS13>(W, Sw, row, q, acts, nj, acc);
      else
        rowDots<DIM, DT13>(W, Sw, row, q, acts, nj, acc);
#pragma unroll
      for (int j = 0; j < TG; ++j) {
        const float u = __shfl_down_sync(0xffffffffu, acc[j], 16);
        if (j < nj && lane < 16 && q == 0) {
          const unsigned code = routes.list[j0 + j];
          const int t = (int)(code / (K + 1)), slot = (int)(code % (K + 1));
          const float w = slot == K ? 1.0f : wts[t * K + slot];
          ((float *)(scratch + Sc::H))[(long long)code * INTER + row] =
              moeHidden(off::roundBf16(acc[j]), off::roundBf16(u), w, lim);
        }
      }
    }
  }
}

// Kernel 4: items of RD = 8·WARPS rows of w2, four lanes a row.
template <int DIM, int INTER, int E, int K, int DT2, int DS2, int MAXTOK,
          int WARPS>
__device__ __forceinline__ void moeStreamDown(const BkLaunch &a) {
  using namespace moestream;
  using Sc = Scratch<DIM, INTER, K, MAXTOK>;
  constexpr int BLOCK = 32 * WARPS, RD = 8 * WARPS;
  static_assert(DIM % RD == 0, "whole items");
  constexpr int PARTS = DIM / RD;
  __shared__ Routes<E, K, MAXTOK, BLOCK> routes;
  __shared__ int itemSlot;
  const int S = (int)a.tokens;
  const int *idx = (const int *)a.in[1];
  unsigned char *scratch = (unsigned char *)a.scratch;
  routes.build(idx, S);
  const int items = routes.experts(S) * PARTS;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q = lane % 4;
  for (int it;
       (it = nextItem((unsigned *)scratch + 1, items, &itemSlot)) >= 0;) {
    const int ea = it / PARTS, part = it % PARTS;
    const int e = ea == 0 ? E : routes.routedId(ea);
    routes.pairs(S, e);
    const int row = part * RD + warp * 8 + lane / 4;
    const unsigned char *W = (const unsigned char *)a.weights[3 * e + 1];
    const unsigned char *Sw = (const unsigned char *)a.scales[3 * e + 1];
    const int n = routes.listLen;
    for (int j0 = 0; j0 < n; j0 += TG) {
      const int nj = min(TG, n - j0);
      const unsigned char *acts[TG];
#pragma unroll
      for (int j = 0; j < TG; ++j)
        acts[j] = scratch + Sc::HA +
                  (long long)routes.list[j0 + (j < nj ? j : 0)] *
                      ActRow<INTER>::BYTES;
      float acc[TG];
      if (e == E)
        rowDots<INTER, DS2>(W, Sw, row, q, acts, nj, acc);
      else
        rowDots<INTER, DT2>(W, Sw, row, q, acts, nj, acc);
      if (q == 0)
#pragma unroll
        for (int j = 0; j < TG; ++j)
          if (j < nj)
            ((float *)(scratch + Sc::OUT))[(long long)routes.list[j0 + j] *
                                               DIM +
                                           row] = off::roundBf16(acc[j]);
    }
  }
}

// Kernel 5: a block per token.
template <int DIM, int INTER, int E, int K, int MAXTOK, int WARPS>
__device__ __forceinline__ void moeStreamCombine(const BkLaunch &a) {
  using Sc = moestream::Scratch<DIM, INTER, K, MAXTOK>;
  __shared__ int order[K]; // routed slots by ascending expert id, -1 after
  const long long t = blockIdx.x;
  const int *idx = (const int *)a.in[1] + t * K;
  if (threadIdx.x == 0) {
    int m = 0;
    for (int s = 0; s < K; ++s) {
      const int es = idx[s];
      if (es < 0 || es >= E)
        continue;
      int at = m++;
      while (at > 0 && idx[order[at - 1]] > es) {
        order[at] = order[at - 1];
        --at;
      }
      order[at] = s;
    }
    for (int s = m; s < K; ++s)
      order[s] = -1;
  }
  __syncthreads();
  const float *out =
      (const float *)((const unsigned char *)a.scratch + Sc::OUT) +
      t * (K + 1) * DIM;
  float *y = (float *)a.out[0] + t * DIM;
  for (int c = threadIdx.x; c < DIM; c += 32 * WARPS) {
    float sum = 0.0f;
    for (int j = 0; j < K && order[j] >= 0; ++j)
      sum = __fadd_rn(sum, out[order[j] * DIM + c]);
    y[c] = off::roundBf16(__fadd_rn(sum, out[K * DIM + c]));
  }
}

} // namespace bk
