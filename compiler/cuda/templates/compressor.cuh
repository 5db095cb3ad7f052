// compressor.cuh - The KV compressor of CSA and HCA layers (V4_SPEC §3.5,
// runtime/host/CompressorKernel.cpp): for each token of the call in order,
// project c = x·wkvᵀ and z = x·wgateᵀ + ape[p mod M] into the tail state, and
// when (p+1) mod M = 0 emit entry p div M: a per-feature softmax pooling of
// the block's rows (with OVERLAP the previous block's first feature half
// too), RMSNorm with `norm`, RoPE at (p div M)·M, stored into the entries.
//
// A call's tokens belong to sequences in their slots (BkToken): a token's
// tail is its slot's fixed rows, its entries the slot's pages. The tokens of
// a sequence depend on each other through the tail, so the whole call is one
// thread block cluster of C blocks walking the tokens in call order (each
// sequence's in order; sequences touch different slots). Rank r owns output
// features [r·D/C, (r+1)·D/C): it computes those features' projection rows
// (wkv and wgate, both halves with OVERLAP), writes those tail columns, pools
// those features and stores them; only the norm's sum of squares crosses ranks
// (a cluster barrier per emitted entry). Tokens are projected TTILE at a time
// into shared memory, then walked in order.
//
// PRE (schedule "projected", entries of few tokens): compressorProject first
// computes every projection row of the call's tokens over the whole GPU (the
// same warpRowDots per row, so the same values) into scratch, [t][2·WIDTH]
// (wkv rows, then wgate rows); the cluster then only walks the tokens. Its 8
// SMs streaming 2·WIDTH·DIM fp32 weights (32 MB for a CSA layer) were most
// of a decode step's compressor time.
//
// FORMAT (official numerics, entry_format): 1 KV entries, 2 FP4 indexer keys
// (ENTRY bytes per row). The pooled entry is rounded to bf16, normed by P1
// (the sum of squares sequential over the whole entry, read across the
// cluster), rotated by P3 in bf16, and rank 0 encodes it: as a KV entry (P6
// on the leading dims), or after the Hadamard rotation (P10) as FP4 (P7).
#pragma once
#include "bk/cluster.cuh"
#include "bk/gemv.cuh"
#include "bk/hostmath.cuh"
#include "bk/official_rows.cuh"

namespace bk {

// Block (x, y): projection rows x·WARPS .. of [wkv; wgate] (a warp each) for
// the TG tokens of y-slice y, into scratch.
template <int DIM, int WIDTH, int WDT, int WARPS, int TG, int PF>
__device__ __forceinline__ void compressorProject(const BkLaunch &a) {
  constexpr int BLOCK = 32 * WARPS;
  __shared__ __align__(16) float stage[TG * DIM];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long t0 = (long long)blockIdx.y * TG;
  const int ng = (int)min((long long)TG, a.tokens - t0);
  const float *x = (const float *)a.in[0];
  stageRows<DIM, BLOCK>(stage, ng, [&](int j) { return x + (t0 + j) * DIM; });
  __syncthreads();
  const int row = blockIdx.x * WARPS + warp;
  if (row >= 2 * WIDTH)
    return;
  const int mat = row / WIDTH, n = row % WIDTH;
  float acc[TG];
  warpRowDots<DIM, WDT, TG, PF>((const unsigned char *)a.weights[mat],
                                (const unsigned char *)a.scales[mat], n,
                                SwizzledRows<DIM>{stage}, ng, acc);
  if (lane == 0) {
    float *out = (float *)a.scratch + t0 * 2 * WIDTH + row;
#pragma unroll
    for (int j = 0; j < TG; ++j)
      if (j < ng)
        out[(long long)j * 2 * WIDTH] = acc[j];
  }
}

template <int DIM, int D, int M, bool OVERLAP, int R, int WDT, int ADT,
          int NWDT, int C, int WARPS, int TG, int TTILE, int PF, int FORMAT = 0,
          int ENTRY = 0, bool PRE = false>
__device__ __forceinline__ void compressor(const BkLaunch &a, float eps,
                                           const float *invFreq,
                                           float hadamardScale = 0.0f) {
  constexpr int COFF = OVERLAP ? 2 : 1;
  constexpr int WIDTH = COFF * D;
  constexpr int DPR = D / C;            // output features per rank
  constexpr int LROWS = 2 * COFF * DPR; // projection rows (= tail columns)
  constexpr int BLOCK = 32 * WARPS;
  static_assert(D % C == 0 && DPR % 2 == 0 && R % 2 == 0 && R <= D,
                "features split into whole RoPE pairs per rank");
  // Activations, swizzled, and their projections (computed here unless PRE).
  __shared__ __align__(16) float stage[PRE ? 1 : TG * DIM];
  __shared__ float proj[PRE ? 1 : LROWS][PRE ? 1 : TTILE];
  __shared__ float pooled[DPR];
  __shared__ float partSq[2];
  __shared__ float factorS;
  // Official: this rank's rounded pooled values and final values, by
  // emission parity (read by the other ranks), and rank 0's whole entry.
  __shared__ float pooledR[FORMAT != 0 ? 2 : 1][FORMAT != 0 ? DPR : 1];
  __shared__ float finalV[FORMAT != 0 ? 2 : 1][FORMAT != 0 ? DPR : 1];
  __shared__ __align__(16) float whole[FORMAT != 0 ? D : 1];

  const unsigned rank = clusterRank();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float *x = (const float *)a.in[0];
  const unsigned char *Wkv = (const unsigned char *)a.weights[0];
  const unsigned char *Skv = (const unsigned char *)a.scales[0];
  const unsigned char *Wg = (const unsigned char *)a.weights[1];
  const unsigned char *Sg = (const unsigned char *)a.scales[1];
  const void *ape = a.weights[2], *g = a.weights[3];

  // Local row lr: matrix (0 wkv, 1 wgate), weight row n, tail column.
  auto rowOf = [&](int lr, int &mat, int &n) {
    mat = lr / (COFF * DPR);
    const int rem = lr % (COFF * DPR);
    n = (rem / DPR) * D + (int)rank * DPR + rem % DPR;
  };

  int emitted = 0;
  for (long long tt0 = 0; tt0 < a.tokens; tt0 += TTILE) {
    const int ns = (int)min((long long)TTILE, a.tokens - tt0);
    if constexpr (!PRE)
      for (int g0 = 0; g0 < ns; g0 += TG) {
        const int ng = min(TG, ns - g0);
        __syncthreads(); // the stage is free
        stageRows<DIM, BLOCK>(stage, ng,
                              [&](int j) { return x + (tt0 + g0 + j) * DIM; });
        __syncthreads();
        const SwizzledRows<DIM> xs{stage};
        for (int lr = warp; lr < LROWS; lr += WARPS) {
          int mat, n;
          rowOf(lr, mat, n);
          float acc[TG];
          if (mat == 0)
            warpRowDots<DIM, WDT, TG, PF>(Wkv, Skv, n, xs, ng, acc);
          else
            warpRowDots<DIM, WDT, TG, PF>(Wg, Sg, n, xs, ng, acc);
          if (lane == 0) {
#pragma unroll
            for (int j = 0; j < TG; ++j)
              if (j < ng)
                proj[lr][g0 + j] = acc[j];
          }
        }
      }
    __syncthreads();

    for (int j = 0; j < ns; ++j) {
      // The token's position and its sequence's slot: the tail is the slot's
      // fixed rows, the entries its pages.
      const long long p = bkPos(a, tt0 + j);
      const int seqSlot = bkSlot(a, tt0 + j);
      float *tail = (float *)bkFixedRow<8ll * WIDTH>(a, 0, seqSlot, 0);
      const int phase = (int)(p % M); // the token's row of its block
      float *row =
          tail + (long long)(OVERLAP ? M + phase : phase) * (2 * WIDTH);
      for (int lr = threadIdx.x; lr < LROWS; lr += BLOCK) {
        int mat, n;
        rowOf(lr, mat, n);
        float v;
        if constexpr (PRE)
          v = ((const float *)
                   a.scratch)[(tt0 + j) * 2 * WIDTH + mat * WIDTH + n];
        else
          v = proj[lr][j];
        if (mat == 1)
          v = __fadd_rn(v, loadScalar<ADT>(ape, (long long)phase * WIDTH + n));
        row[mat * WIDTH + n] = v;
      }
      __syncthreads();
      if ((p + 1) % M != 0)
        continue;
      const long long blk = p / M;
      const bool hasPrev = OVERLAP && blk > 0;
      for (int fl = threadIdx.x; fl < DPR; fl += BLOCK) {
        const int f = (int)rank * DPR + fl;
        constexpr int first = OVERLAP ? M : 0, off = OVERLAP ? D : 0;
        float mx = __int_as_float(0xff800000);
        if (hasPrev)
          for (int r = 0; r < M; ++r)
            mx = fmaxf(mx, tail[(long long)r * 2 * WIDTH + WIDTH + f]);
        for (int r = first; r < first + M; ++r)
          mx = fmaxf(mx, tail[(long long)r * 2 * WIDTH + WIDTH + off + f]);
        float den = 0.0f, num = 0.0f;
        auto visit = [&](float score, float value) {
          const float w = hostExp(__fsub_rn(score, mx));
          den = __fadd_rn(den, w);
          num = __fadd_rn(num, __fmul_rn(w, value));
        };
        if (hasPrev)
          for (int r = 0; r < M; ++r) {
            const float *tr = tail + (long long)r * 2 * WIDTH;
            visit(tr[WIDTH + f], tr[f]);
          }
        for (int r = first; r < first + M; ++r) {
          const float *tr = tail + (long long)r * 2 * WIDTH;
          visit(tr[WIDTH + off + f], tr[off + f]);
        }
        pooled[fl] = __fdiv_rn(num, den);
      }
      __syncthreads();
      if constexpr (FORMAT == 0) {
        // Σ pooled² over this rank's features in order, then over the ranks.
        if (threadIdx.x == 0) {
          float s = 0.0f;
          for (int fl = 0; fl < DPR; ++fl)
            s = __fadd_rn(s, __fmul_rn(pooled[fl], pooled[fl]));
          partSq[emitted & 1] = s;
        }
        clusterSync();
        if (threadIdx.x == 0) {
          float ss = 0.0f;
          for (int r = 0; r < C; ++r)
            ss = __fadd_rn(ss, *clusterMap(&partSq[emitted & 1], r));
          factorS = rmsFactor(ss, (float)D, eps);
        }
        __syncthreads();
        const float fac = factorS;
        float *entry = (float *)bkPagedRow<4ll * D>(a, 1, seqSlot, blk);
        const float pos = (float)(blk * M);
        for (int pr = threadIdx.x; pr < DPR / 2; pr += BLOCK) {
          const int f0 = (int)rank * DPR + 2 * pr;
          float v0 = __fmul_rn(loadScalar<NWDT>(g, f0),
                               __fmul_rn(pooled[2 * pr], fac));
          float v1 = __fmul_rn(loadScalar<NWDT>(g, f0 + 1),
                               __fmul_rn(pooled[2 * pr + 1], fac));
          if (f0 >= D - R) {
            const float angle = __fmul_rn(pos, invFreq[(f0 - (D - R)) / 2]);
            const float c = (float)cos((double)angle),
                        s = (float)sin((double)angle);
            const float o0 = __fsub_rn(__fmul_rn(v0, c), __fmul_rn(v1, s));
            const float o1 = __fadd_rn(__fmul_rn(v1, c), __fmul_rn(v0, s));
            v0 = o0, v1 = o1;
          }
          entry[f0] = v0;
          entry[f0 + 1] = v1;
        }
      } else {
        const int par = emitted & 1;
        for (int fl = threadIdx.x; fl < DPR; fl += BLOCK)
          pooledR[par][fl] = off::roundBf16(pooled[fl]);
        clusterSync(); // every rank's rounded values are readable
        if (threadIdx.x == 0) {
          // P1 over the whole entry in feature order (rank-major).
          float sum = 0.0f;
          for (int r = 0; r < C; ++r) {
            const float *src = clusterMap(&pooledR[par][0], r);
            for (int fl = 0; fl < DPR; ++fl)
              sum = __fadd_rn(sum, __fmul_rn(src[fl], src[fl]));
          }
          factorS =
              off::rsqrtF32(__fadd_rn(__fmul_rn(sum, off::meanFactor(D)), eps));
        }
        __syncthreads();
        const float fac = factorS;
        const float pos = (float)(blk * M);
        for (int pr = threadIdx.x; pr < DPR / 2; pr += BLOCK) {
          const int f0 = (int)rank * DPR + 2 * pr;
          float v0 = off::roundBf16(__fmul_rn(
              loadScalar<NWDT>(g, f0), __fmul_rn(pooledR[par][2 * pr], fac)));
          float v1 = off::roundBf16(
              __fmul_rn(loadScalar<NWDT>(g, f0 + 1),
                        __fmul_rn(pooledR[par][2 * pr + 1], fac)));
          if (f0 >= D - R) {
            const float angle = __fmul_rn(pos, invFreq[(f0 - (D - R)) / 2]);
            off::ropePairBf16(v0, v1, (float)cos((double)angle),
                              (float)sin((double)angle));
          }
          finalV[par][2 * pr] = v0;
          finalV[par][2 * pr + 1] = v1;
        }
        clusterSync(); // every rank's final values are readable
        if (rank == 0 && warp == 0) {
          for (int f = lane; f < D; f += 32)
            whole[f] = *clusterMap(&finalV[par][f % DPR], f / DPR);
          __syncwarp();
          unsigned char *row = bkPagedRow<ENTRY>(a, 1, seqSlot, blk);
          if constexpr (FORMAT == 1) {
            encodeKvEntryWarp<D, R, ENTRY>(whole, row);
          } else {
            WarpHead<D> hd;
#pragma unroll
            for (int e = 0; e < WarpHead<D>::EPL; ++e)
              hd.v[e] = whole[lane * WarpHead<D>::EPL + e];
            hadamardWarp<D>(hd, hadamardScale);
            encodeFp4KeyWarp<D>(hd, row);
          }
        }
      }
      if constexpr (OVERLAP) {
        // The current block becomes the previous one (this rank's columns).
        for (int lr = threadIdx.x; lr < LROWS; lr += BLOCK) {
          int mat, n;
          rowOf(lr, mat, n);
          for (int r = 0; r < M; ++r)
            tail[(long long)r * 2 * WIDTH + mat * WIDTH + n] =
                tail[(long long)(M + r) * 2 * WIDTH + mat * WIDTH + n];
        }
      }
      __syncthreads();
      ++emitted;
    }
    __syncthreads();
  }
  // Other blocks may still read partSq.
  clusterSync();
}

} // namespace bk
