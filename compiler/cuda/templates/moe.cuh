// moe.cuh - Routed experts plus the shared expert (V4_SPEC §3.7,
// runtime/host/MoeKernels.cpp, reference numerics):
//   y = shared(x) + Σ_j wts_j · expert_{idx_j}(x),
//   expert(x) = w2 · (silu(min(w1·x, L)) · clamp(w3·x, ±L))
// (the shared expert clamped only with SHARED_CLAMP).
//
// One thread block cluster of C blocks per TPY-token slice. The cluster sorts
// the slice's (token, slot) pairs by expert, then runs the shared expert on
// every token and each routed expert present on its tokens, in ascending
// expert id, in tiles of TILE tokens:
//   phase A: rank r computes rows [r·IPR, (r+1)·IPR) of h = swiglu(w1·x, w3·x)
//            into its shared memory;
//   cluster barrier;
//   phase B: the cluster's warps split the DIM output rows of w2; TB tokens at
//            a time, each block copies their full h from the C ranks into
//            local shared memory, and a row's warp adds wts · (w2·h) to y.
// Both phases read their activations (x rows, TG tokens at a time, and h)
// from a swizzled shared-memory stage (gemv.cuh SwizzledRows).
// Every y element is owned by one warp, which applies the shared expert then
// the routed ones in ascending expert id: the host's order, with no atomics,
// so results are deterministic and independent of the other tokens.
#pragma once
#include "bk/cluster.cuh"
#include "bk/gemv.cuh"
#include "bk/hostmath.cuh"

namespace bk {

template <int DIM, int INTER, int E, int K, int DT13, int DT2, int DS13,
          int DS2, bool SHARED_CLAMP, int C, int WARPS, int TG, int TILE,
          int TB, int TPY, int SORTN, int PF>
__device__ __forceinline__ void moe(const BkLaunch &a, float limit) {
  constexpr int IPR = INTER / C;
  constexpr int BLOCK = 32 * WARPS;
  constexpr int NSLOT = TPY * K;
  constexpr unsigned kNone = 0xffffffffu;
  static_assert(INTER % C == 0 && IPR % 4 == 0, "h rows split in float4s");
  static_assert(SORTN >= NSLOT && (SORTN & (SORTN - 1)) == 0, "sort size");
  constexpr int STAGE = TG * DIM > TB * INTER ? TG * DIM : TB * INTER;
  __shared__ __align__(16) float hbuf[TILE][IPR];
  __shared__ __align__(16) float stage[STAGE]; // x rows, then h rows
  __shared__ unsigned order[SORTN];
  __shared__ int tileTok[TILE];
  __shared__ float tileW[TILE];

  const unsigned rank = clusterRank();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float *x = (const float *)a.in[0];
  const int *idx = (const int *)a.in[1];
  const float *wts = (const float *)a.in[2];
  float *y = (float *)a.out[0];
  const long long t0 = (long long)blockIdx.y * TPY;
  const int ns = (int)min((long long)TPY, a.tokens - t0);

  // The slice's slots sorted by (expert, slot); slots naming no expert last.
  for (int i = threadIdx.x; i < SORTN; i += BLOCK) {
    unsigned key = kNone;
    if (i < ns * K) {
      const int e = idx[t0 * K + i];
      if (e >= 0 && e < E)
        key = (unsigned)e * NSLOT + (unsigned)i;
    }
    order[i] = key;
  }
  __syncthreads();
  for (int size = 2; size <= SORTN; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < SORTN; i += BLOCK) {
        const int partner = i ^ stride;
        if (partner > i) {
          const bool asc = (i & size) == 0;
          const unsigned u = order[i], v = order[partner];
          if (asc ? u > v : u < v) {
            order[i] = v;
            order[partner] = u;
          }
        }
      }
      __syncthreads();
    }
  }

  // Runs one expert (weights 3e..3e+2; e = E: the shared one) over `n`
  // entries; entry i's token and weight come from `entryOf`.
  auto runExpert = [&](int e, int n, bool shared, auto &&entryOf) {
    const unsigned char *W1 = (const unsigned char *)a.weights[3 * e];
    const unsigned char *S1 = (const unsigned char *)a.scales[3 * e];
    const unsigned char *W2 = (const unsigned char *)a.weights[3 * e + 1];
    const unsigned char *S2 = (const unsigned char *)a.scales[3 * e + 1];
    const unsigned char *W3 = (const unsigned char *)a.weights[3 * e + 2];
    const unsigned char *S3 = (const unsigned char *)a.scales[3 * e + 2];
    const bool clamp = !shared || SHARED_CLAMP;
    for (int e0 = 0; e0 < n; e0 += TILE) {
      const int nTile = min(TILE, n - e0);
      for (int i = threadIdx.x; i < nTile; i += BLOCK) {
        int tok;
        float w;
        entryOf(e0 + i, tok, w);
        tileTok[i] = tok;
        tileW[i] = w;
      }
      __syncthreads();
      // Phase A: this rank's rows of h for the tile, TG tokens at a time.
      for (int g0 = 0; g0 < nTile; g0 += TG) {
        const int ng = min(TG, nTile - g0);
        __syncthreads(); // the stage is free
        stageRows<DIM, BLOCK>(
            stage, ng, [&](int j) { return x + (t0 + tileTok[g0 + j]) * DIM; });
        __syncthreads();
        const SwizzledRows<DIM> xs{stage};
        for (int il = warp; il < IPR; il += WARPS) {
          const int row = (int)rank * IPR + il;
          float gs[TG], us[TG];
          if (shared) {
            warpRowDots<DIM, DS13, TG, PF>(W1, S1, row, xs, ng, gs);
            warpRowDots<DIM, DS13, TG, PF>(W3, S3, row, xs, ng, us);
          } else {
            warpRowDots<DIM, DT13, TG, PF>(W1, S1, row, xs, ng, gs);
            warpRowDots<DIM, DT13, TG, PF>(W3, S3, row, xs, ng, us);
          }
          if (lane == 0) {
#pragma unroll
            for (int j = 0; j < TG; ++j)
              if (j < ng) {
                float gi = gs[j], ui = us[j];
                if (clamp) {
                  gi = fminf(gi, limit);
                  ui = fminf(fmaxf(ui, -limit), limit);
                }
                hbuf[g0 + j][il] = __fmul_rn(hostSilu(gi), ui);
              }
          }
        }
      }
      clusterSync(); // every rank's h rows are written
      // Phase B: y rows of w2, TB tokens at a time.
      for (int tb = 0; tb < nTile; tb += TB) {
        const int nt = min(TB, nTile - tb);
        __syncthreads(); // the stage is free
        // h rows [r·IPR, (r+1)·IPR) live in rank r's hbuf.
        for (int v = threadIdx.x; v < nt * (INTER / 4); v += BLOCK) {
          const int j = v / (INTER / 4), k = (v % (INTER / 4)) * 4;
          *(float4 *)(stage + j * INTER + SwizzledRows<INTER>::index(k)) =
              *(const float4 *)clusterMap(&hbuf[tb + j][k % IPR], k / IPR);
        }
        __syncthreads();
        const SwizzledRows<INTER> hr{stage};
        for (int nrow = (int)rank * WARPS + warp; nrow < DIM;
             nrow += C * WARPS) {
          float acc[TB];
          if (shared)
            warpRowDots<INTER, DS2, TB, PF>(W2, S2, nrow, hr, nt, acc);
          else
            warpRowDots<INTER, DT2, TB, PF>(W2, S2, nrow, hr, nt, acc);
          if (lane == 0) {
#pragma unroll
            for (int j = 0; j < TB; ++j)
              if (j < nt) {
                float *yp = y + (t0 + tileTok[tb + j]) * DIM + nrow;
                *yp = shared ? acc[j]
                             : __fadd_rn(*yp, __fmul_rn(acc[j], tileW[tb + j]));
              }
          }
        }
      }
      clusterSync(); // hbuf and tileTok are reused
    }
  };

  runExpert(E, ns, true, [&](int i, int &tok, float &w) {
    tok = i;
    w = 1.0f;
  });
  for (int pos = 0; pos < ns * K;) {
    const unsigned first = order[pos];
    if (first == kNone)
      break;
    const int e = (int)(first / NSLOT);
    int end = pos + 1;
    while (end < ns * K && order[end] != kNone &&
           (int)(order[end] / NSLOT) == e)
      ++end;
    const int begin = pos;
    runExpert(e, end - begin, false, [&](int i, int &tok, float &w) {
      const int slot = (int)(order[begin + i] % NSLOT);
      tok = slot / K;
      w = wts[t0 * K + slot];
    });
    pos = end;
  }
}

} // namespace bk
