//===- WeightDecode.h - Reading weight rows in any stored format ----------===//
//
// Host kernels never expand a whole quantized weight: they decode one output
// row at a time into a small per-thread buffer that stays in L1, and use it
// against every token of the call.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_HOST_WEIGHTDECODE_H
#define BIRKHOFF_RUNTIME_HOST_WEIGHTDECODE_H

#include "../Program.h"
#include "birkhoff/OfficialNumerics.h"
#include "birkhoff/WorkerPool.h"

#include <cstdint>
#include <vector>

namespace birkhoff::rt {

/// Decodes row `row` (of `cols` logical columns) of a 2-D weight into `out`.
/// `scale` is the weight's e8m0 block scale (FP8/FP4), else nullptr.
void decodeWeightRow(const WeightDesc &w, const WeightDesc *scale, int64_t row,
                     int64_t colBegin, int64_t cols, float *out);

/// Decodes element [i] of a 1-D weight (bias, norm weight, sink, ...).
float weightScalar(const WeightDesc &w, int64_t i);

/// Σ_k a[k]·b[k] in fp32 with several partial sums.
float dotF32(const float *a, const float *b, int64_t n);

/// The lanes of blockTreeDot: the threads of one CUDA block.
inline constexpr int64_t kBlockTreeLanes = 256;

/// Σ_k a[k]·b[k] in the order a 256-thread CUDA block sums it reading float4s
/// (compiler/cuda/templates/common.cuh: quadDot, blockTreeSums), so a row-local
/// reduction over thousands of values is both parallel on the GPU and bitwise
/// equal to the host. Lane q owns the quads k = 4q + 1024c: it adds each
/// quad's products left to right, then that to its partial (from 0). The 32
/// lanes of each warp combine by xor butterfly (offsets 16, 8, 4, 2, 1), and
/// the 8 warp totals add in order (from 0). No FMA.
float blockTreeDot(const float *a, const float *b, int64_t n);

/// y[t, n] = Σ_k x[t, k] · W[n, k] for t < tokens, n < N (W: `[N, K]`, any
/// format). x rows are `xStride` apart, y rows `yStride`. Parallel over N.
void linearForward(const WeightDesc &w, const WeightDesc *scale, const float *x,
                   int64_t tokens, int64_t xStride, float *y, int64_t yStride,
                   Workers pool);

/// Same, with the K inputs taken from columns [colBegin, colBegin+K) of W and
/// rows [rowBegin, rowBegin+N) of W (grouped projections).
void linearForwardBlock(const WeightDesc &w, const WeightDesc *scale,
                        int64_t rowBegin, int64_t rows, int64_t colBegin,
                        int64_t cols, const float *x, int64_t tokens,
                        int64_t xStride, float *y, int64_t yStride,
                        Workers pool);

/// The official profile's linear (V4_SPEC P5, P8, P9, P11): FP8 and FP4
/// weights take FP8-quantized activations (128-blocks) and give bf16 outputs;
/// BF16/F32 weights accumulate in fp32 and round to bf16 when `roundOutput`.
/// `inner`: how the FP8/FP4 blocks' inner sums are formed (the moe's experts
/// take them exact).
void linearForwardOfficial(
    const WeightDesc &w, const WeightDesc *scale, const float *x,
    int64_t tokens, int64_t xStride, float *y, int64_t yStride,
    bool roundOutput, Workers pool,
    official::InnerSum inner = official::InnerSum::Ordered);

/// A 1-D weight decoded to floats (norm weights, sinks, biases).
std::vector<float> weightVector(const WeightDesc &w);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_HOST_WEIGHTDECODE_H
