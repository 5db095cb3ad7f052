// gemv.cuh - One warp's dot products of a weight row with a tile of
// activation rows, in the exact arithmetic of linear.cuh (16-byte weight
// chunks decoded in registers, one power-of-two scale per chunk, lane-strided
// fp32 partial sums, a warp tree), so a row computed here equals the `linear`
// kernel's. Activations come through an accessor, so they may live in global
// memory or in another block's shared memory (clusters).
#pragma once
#include "bk/linear.cuh"

namespace bk {

// Activation accessors: x.load4(j, k) is elements [k, k+4) of activation
// row j (k a multiple of 4), x.load1(j, k) element k.

// Rows in global memory.
template <int TT> struct RowPointers {
  const float *rows[TT];
  __device__ __forceinline__ float4 load4(int j, int k) const {
    return *(const float4 *)(rows[j] + k);
  }
  __device__ __forceinline__ float load1(int j, int k) const {
    return rows[j][k];
  }
};

// Rows of K floats staged in this block's shared memory (stageRows), their
// 16-byte units XOR-swizzled within each 128-byte line. A warp's lanes read
// chunks 16·E bytes apart (lane-strided chunks), which in plain rows would hit
// the same banks (or, from global memory, 32 cache lines per instruction);
// swizzled, 8 consecutive lanes' float4s fall in distinct banks for every
// weight format.
template <int K> struct SwizzledRows {
  const float *base;
  __device__ __forceinline__ static int index(int k) {
    if constexpr (K % 32 == 0) {
      const int u = k >> 2;
      return ((u ^ ((u >> 3) & 7)) << 2) | (k & 3);
    } else {
      return k;
    }
  }
  __device__ __forceinline__ float4 load4(int j, int k) const {
    return *(const float4 *)(base + j * K + index(k));
  }
  __device__ __forceinline__ float load1(int j, int k) const {
    return base[j * K + index(k)];
  }
};

// Copies n rows of K floats into `dst` in SwizzledRows<K>'s layout, by the
// BLOCK threads (coalesced float4 reads when K % 4 == 0). row(j) gives the
// source of row j (global or another block's shared memory). The caller
// synchronizes before and after.
template <int K, int BLOCK, class Src>
__device__ __forceinline__ void stageRows(float *dst, int n, const Src &row) {
  if constexpr (K % 4 == 0) {
    for (int v = threadIdx.x; v < n * (K / 4); v += BLOCK) {
      const int j = v / (K / 4), k = (v % (K / 4)) * 4;
      *(float4 *)(dst + j * K + SwizzledRows<K>::index(k)) =
          *(const float4 *)(row(j) + k);
    }
  } else {
    for (int v = threadIdx.x; v < n * K; v += BLOCK) {
      const int j = v / K, k = v % K;
      dst[j * K + SwizzledRows<K>::index(k)] = row(j)[k];
    }
  }
}

// The 16 bytes of chunk c (elements [c*E, c*E+E)) of weight row n, not yet
// decoded: loads of several chunks can be in flight before the first decode.
template <int DT, int K>
__device__ __forceinline__ uint4 rawChunk(const unsigned char *W, int n,
                                          int c) {
  constexpr int E = LinearChunk<DT>::kElems;
  if constexpr (DT == kF32)
    return __ldg((const uint4 *)(W + ((long long)n * K + c * E) * 4));
  else if constexpr (DT == kBF16)
    return __ldg((const uint4 *)(W + ((long long)n * K + c * E) * 2));
  else if constexpr (DT == kF8E4M3)
    return __ldg((const uint4 *)(W + (long long)n * K + c * E));
  else
    return __ldg((const uint4 *)(W + (long long)n * (K / 2) + c * (E / 2)));
}

// The block scale of chunk c of row n (1 for F32/BF16), as loadChunk.
template <int DT, int K>
__device__ __forceinline__ float chunkScale(const unsigned char *S, int n,
                                            int c) {
  constexpr int E = LinearChunk<DT>::kElems;
  if constexpr (DT == kF8E4M3) {
    constexpr int kScaleCols = (K + 127) / 128;
    return e8m0ToF32(__ldg(S + (n / 128) * kScaleCols + (c * E) / 128));
  } else if constexpr (DT == kFP4) {
    return e8m0ToF32(__ldg(S + (long long)n * (K / 32) + c));
  } else {
    return 1.0f;
  }
}

// The values of a raw chunk, decoded exactly as loadChunk does.
template <int DT>
__device__ __forceinline__ void decodeChunk(uint4 v, float *w) {
  const unsigned int u[4] = {v.x, v.y, v.z, v.w};
  if constexpr (DT == kF32) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
      w[i] = __uint_as_float(u[i]);
  } else if constexpr (DT == kBF16) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      w[2 * i] = bf16ToF32(u[i] & 0xffffu);
      w[2 * i + 1] = bf16ToF32(u[i] >> 16);
    }
  } else if constexpr (DT == kF8E4M3) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      e4m3x2ToF32(u[i] & 0xffffu, w[4 * i], w[4 * i + 1]);
      e4m3x2ToF32(u[i] >> 16, w[4 * i + 2], w[4 * i + 3]);
    }
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int b = 0; b < 8; ++b)
        w[8 * i + b] = e2m1ToF32((u[i] >> (4 * b)) & 15u);
  }
}

// acc[j] = Σ_k W[n, k] · X(j, k) for j < nt (acc[j] for j >= nt is 0), every
// lane gets the sums. W is [N, K] in format DT with its e8m0 scales S.
// ALIGNED: x.load4 may be used at every chunk start (chunks and rows of whole
// float4s); otherwise, and for K not a multiple of the chunk, a scalar path.
// Each lane walks its chunks c = lane, lane + 32, ... in order, loading PF of
// them before decoding the first (more bytes in flight for kernels that stream
// a weight through few SMs, at PF·4 more registers); the arithmetic per chunk
// is the `linear` kernel's.
template <int K, int DT, int TT, int PF = 1, bool ALIGNED = true, class X>
__device__ __forceinline__ void
warpRowDots(const unsigned char *W, const unsigned char *S, int n, const X &x,
            int nt, float (&acc)[TT]) {
  constexpr int E = LinearChunk<DT>::kElems;
  constexpr bool kVector = ALIGNED && K % E == 0 && K % 4 == 0;
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int j = 0; j < TT; ++j)
    acc[j] = 0.0f;
  if constexpr (kVector) {
    constexpr int kChunks = K / E;
    // FP4 chunks decode to 32 values: half as many in flight.
    constexpr int P = DT == kFP4 && PF > 1 ? PF / 2 : PF;
    for (int c0 = lane; c0 < kChunks; c0 += 32 * P) {
      uint4 raw[P];
#pragma unroll
      for (int p = 0; p < P; ++p)
        if (c0 + 32 * p < kChunks)
          raw[p] = rawChunk<DT, K>(W, n, c0 + 32 * p);
#pragma unroll
      for (int p = 0; p < P; ++p) {
        const int c = c0 + 32 * p;
        if (c < kChunks) {
          float w[E];
          decodeChunk<DT>(raw[p], w);
          const float s = chunkScale<DT, K>(S, n, c);
#pragma unroll
          for (int j = 0; j < TT; ++j) {
            if (j < nt) {
              float part = 0.0f;
#pragma unroll
              for (int q = 0; q < E / 4; ++q) {
                const float4 v = x.load4(j, c * E + 4 * q);
                part += v.x * w[4 * q] + v.y * w[4 * q + 1] +
                        v.z * w[4 * q + 2] + v.w * w[4 * q + 3];
              }
              acc[j] += part * s;
            }
          }
        }
      }
    }
  } else {
    for (int k = lane; k < K; k += 32) {
      float w = loadElem<DT, K>(W, S, n, k);
#pragma unroll
      for (int j = 0; j < TT; ++j)
        if (j < nt)
          acc[j] += x.load1(j, k) * w;
    }
  }
#pragma unroll
  for (int j = 0; j < TT; ++j)
    acc[j] = warpSum(acc[j]);
}

} // namespace bk
