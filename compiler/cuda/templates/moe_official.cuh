// moe_official.cuh - moe in the `official` numerics (V4_SPEC §3.7,
// runtime/host moeOfficial): each expert is official linears (P5 FP8
// activations, P8/P9 rows, bf16 outputs) around
//   h = bf16(w · silu(min(g, L)) · clamp(u, ±L))
// (the routing weight w applied before w2; the shared expert with w = 1 and
// L = 0, no clamp, unless SHARED_CLAMP), and
//   y = bf16( Σ_routed out_e (fp32, ascending expert id) + out_shared ).
// The structure is moe.cuh's (a cluster per token slice, slots sorted by
// expert, h rows split over the ranks); here each rank quantizes its h rows
// in 128-blocks (IPR a multiple of 128) and phase B gathers the codes. Every
// rounding is the host's, so the result is bitwise the host's but for exp
// inside silu (double-evaluated).
#pragma once
#include "bk/cluster.cuh"
#include "bk/hostmath.cuh"
#include "bk/official_linear.cuh"

namespace bk {

template <int DIM, int INTER, int E, int K, int DT13, int DT2, int DS13,
          int DS2, bool SHARED_CLAMP, int C, int WARPS, int TG, int TILE,
          int TB, int TPY, int SORTN>
__device__ __forceinline__ void moeOfficial(const BkLaunch &a, float limit) {
  constexpr int IPR = INTER / C;
  constexpr int BLOCK = 32 * WARPS;
  constexpr int NSLOT = TPY * K;
  constexpr unsigned kNone = 0xffffffffu;
  static_assert(DIM % 128 == 0 && IPR % 128 == 0, "whole 128-blocks");
  static_assert(SORTN >= NSLOT && (SORTN & (SORTN - 1)) == 0, "sort size");
  constexpr int STAGE_A = TG * DIM + TG * (DIM / 128);
  constexpr int STAGE_B = TB * INTER + TB * (INTER / 128);
  constexpr int STAGE = STAGE_A > STAGE_B ? STAGE_A : STAGE_B;
  __shared__ __align__(16) unsigned char stage[STAGE];
  __shared__ __align__(16) float hbuf[TILE][IPR];
  __shared__ __align__(16) unsigned char hcodes[TILE][IPR];
  __shared__ unsigned char hscales[TILE][IPR / 128];
  __shared__ unsigned order[SORTN];
  __shared__ int tileTok[TILE];
  __shared__ float tileW[TILE];
  auto &xCodes = *reinterpret_cast<unsigned char(*)[TG][DIM]>(stage);
  auto &xScales =
      *reinterpret_cast<unsigned char(*)[TG][DIM / 128]>(stage + TG * DIM);
  auto &hCodesAll = *reinterpret_cast<unsigned char(*)[TB][INTER]>(stage);
  auto &hScalesAll =
      *reinterpret_cast<unsigned char(*)[TB][INTER / 128]>(stage + TB * INTER);

  const unsigned rank = clusterRank();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float *x = (const float *)a.in[0];
  const int *idx = (const int *)a.in[1];
  const float *wts = (const float *)a.in[2];
  float *y = (float *)a.out[0];
  const long long t0 = (long long)blockIdx.y * TPY;
  const int ns = (int)min((long long)TPY, a.tokens - t0);

  for (int i = threadIdx.x; i < SORTN; i += BLOCK) {
    unsigned key = kNone;
    if (i < ns * K) {
      const int e = idx[t0 * K + i];
      if (e >= 0 && e < E)
        key = (unsigned)e * NSLOT + (unsigned)i;
    }
    order[i] = key;
  }
  // y starts at 0 (the host's fp32 accumulator); each warp its own rows.
  for (int n = (int)rank * WARPS + warp; n < DIM; n += C * WARPS)
    for (int t = lane; t < ns; t += 32)
      y[(t0 + t) * DIM + n] = 0.0f;
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

  auto runExpert = [&](int e, int n, bool shared, auto &&entryOf) {
    const unsigned char *W1 = (const unsigned char *)a.weights[3 * e];
    const unsigned char *S1 = (const unsigned char *)a.scales[3 * e];
    const unsigned char *W2 = (const unsigned char *)a.weights[3 * e + 1];
    const unsigned char *S2 = (const unsigned char *)a.scales[3 * e + 1];
    const unsigned char *W3 = (const unsigned char *)a.weights[3 * e + 2];
    const unsigned char *S3 = (const unsigned char *)a.scales[3 * e + 2];
    const float lim = !shared || SHARED_CLAMP ? limit : 0.0f;
    for (int e0 = 0; e0 < n; e0 += TILE) {
      const int nTile = min(TILE, n - e0);
      for (int i = threadIdx.x; i < nTile; i += BLOCK) {
        int tok;
        float w;
        entryOf(e0 + i, tok, w);
        tileTok[i] = tok;
        tileW[i] = w;
      }
      // Phase A: this rank's h rows, TG tokens quantized at a time.
      for (int g0 = 0; g0 < nTile; g0 += TG) {
        const int ng = min(TG, nTile - g0);
        __syncthreads(); // the stage and the tile's tokens
        quantizeActs<DIM, TG, WARPS>(
            [&](int j) { return x + (t0 + tileTok[g0 + j]) * DIM; }, ng, xCodes,
            xScales);
        __syncthreads();
        for (int il = warp; il < IPR; il += WARPS) {
          const int row = (int)rank * IPR + il;
          float gs[TG], us[TG];
          if (shared) {
            officialRowDots<DIM, DS13, TG, DIM, true, true>(W1, S1, row, xCodes,
                                                            xScales, ng, gs);
            officialRowDots<DIM, DS13, TG, DIM, true, true>(W3, S3, row, xCodes,
                                                            xScales, ng, us);
          } else {
            officialRowDots<DIM, DT13, TG, DIM, true, true>(W1, S1, row, xCodes,
                                                            xScales, ng, gs);
            officialRowDots<DIM, DT13, TG, DIM, true, true>(W3, S3, row, xCodes,
                                                            xScales, ng, us);
          }
          if (lane == 0) {
#pragma unroll
            for (int j = 0; j < TG; ++j)
              if (j < ng) {
                float gate = gs[j], up = us[j];
                if (lim > 0.0f) {
                  up = fminf(fmaxf(up, -lim), lim);
                  gate = fminf(gate, lim);
                }
                const float act = __fmul_rn(hostSilu(gate), up);
                hbuf[g0 + j][il] =
                    off::roundBf16(__fmul_rn(tileW[g0 + j], act));
              }
          }
        }
      }
      __syncthreads();
      // P5 of this rank's h blocks (its IPR rows are whole 128-blocks).
      quantizeActs<IPR, TILE, WARPS>([&](int j) { return &hbuf[j][0]; }, nTile,
                                     hcodes, hscales);
      clusterSync(); // every rank's h codes are readable
      // Phase B: w2 rows for TB tokens at a time, the codes gathered.
      for (int tb = 0; tb < nTile; tb += TB) {
        const int nt = min(TB, nTile - tb);
        __syncthreads(); // the stage is free
        gatherClusterCodes<INTER, IPR, TILE, TB, BLOCK>(hcodes, hscales, tb, nt,
                                                        hCodesAll, hScalesAll);
        __syncthreads();
        for (int nrow = (int)rank * WARPS + warp; nrow < DIM;
             nrow += C * WARPS) {
          float out[TB];
          if (shared)
            officialRowDots<INTER, DS2, TB, INTER, true, true>(
                W2, S2, nrow, hCodesAll, hScalesAll, nt, out);
          else
            officialRowDots<INTER, DT2, TB, INTER, true, true>(
                W2, S2, nrow, hCodesAll, hScalesAll, nt, out);
          if (lane == 0) {
#pragma unroll
            for (int j = 0; j < TB; ++j)
              if (j < nt) {
                float *yp = y + (t0 + tileTok[tb + j]) * DIM + nrow;
                const float sum = __fadd_rn(*yp, out[j]);
                *yp = shared ? off::roundBf16(sum) : sum;
              }
          }
        }
      }
      clusterSync(); // hbuf, hcodes and the tile's tokens are reused
    }
  };

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
  runExpert(E, ns, true, [&](int i, int &tok, float &w) {
    tok = i;
    w = 1.0f;
  });
}

} // namespace bk
