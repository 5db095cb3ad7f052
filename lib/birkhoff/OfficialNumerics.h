//===- OfficialNumerics.h - DeepSeek-V4's own inference numerics ----------===//
//
// The primitives of the `official` numerics profile (V4_SPEC §2, P1-P11, and
// the attention core of §3.4): what DeepSeek's reference `inference/model.py`
// + `kernel.py` ("V1", V4_SPEC §0.1) compute, written as plain functions over
// spans so host kernels can call them and CUDA kernels can mirror them line by
// line. Activations are fp32 floats that hold bf16 values (the reference's
// tensors are bf16 between ops); every function says where it rounds to bf16.
//
// What "bit-exact" means here. Each function performs exactly the reference's
// sequence of roundings (fp32 ops, bf16 casts, FP8/FP4 casts, power-of-two
// scales), so every elementwise result is bit-identical to the reference
// given the same inputs. Three things the reference leaves to its hardware
// cannot be pinned down and are fixed here as follows:
//  - fp32 reductions (RMS means, dot products, GEMM inner sums, softmax sums)
//    are summed sequentially in index order, and the CUDA kernels follow that
//    order where they must be bitwise; mHC's long mixing sums instead use a
//    fixed 256-lane tree order both backends share (runtime/host/WeightDecode.h
//    blockTreeDot; rmsNormBf16GivenSum takes such a sum); tensor-core inner
//    sums may differ in their last fp32 bit;
//  - sqrt, rsqrt, pow, cos and sin are the C library's fp32 functions
//    (rsqrt = 1/sqrtf); exp and log1p are evaluated in double and rounded
//    once (Numerics.h), as the CUDA kernels evaluate them;
//  - no FMA contraction anywhere (the .cpp files forbid it); nvcc contracts by
//    default, e.g. in the complex multiply of RoPE.
// After the final bf16 rounding these differences vanish almost always; the
// roundings that matter (which FP8/FP4 code, which bf16 value) are exact.
//
// No function allocates. Sizes are preconditions (asserted), not errors,
// except for the KV-entry layout, whose parameters come from a model config.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_OFFICIALNUMERICS_H
#define BIRKHOFF_OFFICIALNUMERICS_H

#include "birkhoff/Numerics.h"
#include "birkhoff/Status.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace birkhoff {
struct RopeSpec; // KernelParams.h: a launch's RoPE parameters
} // namespace birkhoff

namespace birkhoff::official {

// ---- constants of the reference kernels ------------------------------------
inline constexpr float kFp8Max = 448.0f;      // e4m3fn max finite
inline constexpr float kFp8AmaxFloor = 1e-4f; // act_quant: max(amax, 1e-4)
inline constexpr float kFp4Max = 6.0f;        // e2m1 max
inline constexpr float kFp4AmaxFloor = 6.0f * 0x1p-126f; // fp4_act_quant floor
inline constexpr size_t kActQuantBlock = 128;            // P5: GEMM inputs
inline constexpr size_t kKvSimBlock = 64;                // P6: KV non-RoPE dims
inline constexpr size_t kFp4Block = 32;                  // P7, P9: FP4 blocks
inline constexpr size_t kAttentionChunk = 64; // sparse_attn's `block`

/// ceil(n / block): the number of blocks (and scale bytes) of a row of n.
/// Rows whose length is not a multiple of the block end with a shorter block
/// whose amax covers only its own elements (the tilelang kernels pad the tile
/// with zeros, which cannot raise |x|'s max).
inline size_t numBlocks(size_t n, size_t block) {
  return (n + block - 1) / block;
}

// ---- P1: RMSNorm ------------------------------------------------------------
/// out = bf16(w · (xf · r)), r = rsqrt(mean(xf²) + eps), all fp32:
/// mean = fl(Σ fl(x²)) · fl(1/n) (PyTorch's MeanOps multiplies the fp32 sum by
/// the factor 1/n), then fl(mean + eps), r = 1/sqrt, then fl(xf·r), then
/// fl(w·that), then one bf16 rounding. `weight` holds the bf16 checkpoint
/// weights as floats (the reference keeps them in fp32). `out` may alias `x`.
void rmsNormBf16(std::span<const float> x, std::span<const float> weight,
                 float eps, std::span<float> out);
/// P1 with Σ fl(x²) summed by the caller in another order (mHC sums in its
/// CUDA block's tree order: runtime/host/MhcKernels.cpp).
void rmsNormBf16GivenSum(std::span<const float> x, float sumSquares,
                         std::span<const float> weight, float eps,
                         std::span<float> out);

// ---- P2: per-head query RMS (no weight), PyTorch bf16 semantics
// --------------
/// In place over each head of `q` (q.size() a multiple of headDim):
/// `q *= rsqrt(q.square().mean(-1) + eps)` run on a bf16 tensor, i.e.
///   sq_i = bf16(q_i²)                         (bf16 elementwise op)
///   m    = bf16(fl(Σ sq_i) · fl(1/D))          (bf16 mean: fp32 sum, bf16 out)
///   t    = bf16(m + fl32(eps))                 (bf16 tensor + Python scalar)
///   r    = bf16(rsqrt(t))                      (bf16 elementwise op)
///   q_i  = bf16(q_i · r)                       (bf16 in-place multiply)
void headRmsNormBf16(std::span<float> q, size_t headDim, float eps);

// ---- P3: RoPE (interleaved pairs) -------------------------------------------
struct RopeParams {
  size_t ropeDim = 64;       // rotated dims (pairs = ropeDim/2)
  double theta = 10000.0;    // base
  double originalSeqLen = 0; // > 0 enables YaRN, as in precompute_freqs_cis
  double factor = 1.0;       // YaRN rope_factor
  double betaFast = 32.0;
  double betaSlow = 1.0;
};

/// The ropeDim/2 frequencies exactly as `precompute_freqs_cis` builds them in
/// fp32: f_i = 1 / powf(theta, fl(2i / ropeDim)); with YaRN (originalSeqLen >
/// 0): low/high from the correction range in double, ramp_i = clamp(fl(i -
/// low) / fl(high - low), 0, 1), smooth = 1 - ramp, f_i = fl(fl(f_i/factor) ·
/// fl(1 - smooth)) + fl(f_i · smooth). No magnitude (mscale) correction.
void ropeInvFreq(const RopeParams &params, std::span<float> invFreq);
/// The RoPE parameters of a launch's `RopeSpec` (no YaRN unless it asks).
RopeParams ropeParamsOf(const RopeSpec &rope);

/// cos/sin of the angles fl(float(position) · f_i) (torch.outer then
/// torch.polar in fp32).
void ropeCosSin(std::span<const float> invFreq, int64_t position,
                std::span<float> cos, std::span<float> sin);

/// In place on one head's rotated slice x[0..2·pairs): pair (x[2i], x[2i+1])
/// times (cos_i + j·sin_i) as a complex64 product, each part rounded once to
/// fp32 (x0·c − x1·s, x0·s + x1·c), then to bf16. `inverse` multiplies by the
/// conjugate (cos_i − j·sin_i), as `apply_rotary_emb(..., inverse=True)`.
void ropeBf16(std::span<float> x, std::span<const float> cos,
              std::span<const float> sin, bool inverse);

// ---- P4: power-of-two scales ------------------------------------------------
/// The scale 2^e of `pow2ScaleByte(amax, qmax)` as a float (e8m0 decoding).
/// Callers floor amax first (kFp8AmaxFloor / kFp4AmaxFloor), so the byte is in
/// [1, 254] and the scale and its reciprocal are exact normal floats.
inline float pow2Scale(float amax, float qmax) {
  return e8m0ToFloat(pow2ScaleByte(amax, qmax));
}

/// max |x_i| over a block (exact; NaN inputs are not supported).
float blockAmax(std::span<const float> x);

/// One element's FP8 code: e4m3(clamp(x / s, ±448)) with RNE. The reference
/// divides by s; s is a power of two with an exact reciprocal, so x·invScale
/// is the same fp32 value. The clamp cannot bite when s comes from the block's
/// own amax (the ceil puts |x/s| ≤ 448) but is applied as the reference does.
inline uint8_t fp8QuantCode(float x, float invScale) {
  float q = x * invScale;
  q = q < -kFp8Max ? -kFp8Max : (q > kFp8Max ? kFp8Max : q);
  return floatToE4m3(q);
}

/// One element's FP4 code: e2m1(clamp(x / s, ±6)), round to nearest, ties to
/// the even code. Unlike `floatToE2m1` (which packs weights and never emits
/// -0), the sign of a zero result is kept (code 8), as the hardware fp32→e2m1
/// conversion does, so simulation and codec agree bit for bit on -0.
inline uint8_t fp4QuantCode(float x, float invScale) {
  float q = x * invScale;
  q = q < -kFp4Max ? -kFp4Max : (q > kFp4Max ? kFp4Max : q);
  uint8_t code = floatToE2m1(q);
  return (code == 0 && std::signbit(q)) ? uint8_t(8) : code;
}

// ---- P5: FP8 activation quantization (act_quant, not in place) -------------
/// Per block of `block` elements: amax = max(max|x|, 1e-4), scale byte by P4
/// with qmax 448, codes = fp8QuantCode. codes.size() == x.size(),
/// scales.size() == numBlocks(x.size(), block).
void actQuantFp8(std::span<const float> x, size_t block,
                 std::span<uint8_t> codes, std::span<uint8_t> scales);
/// P5 as used before every FP8/FP4 linear: 128-element blocks.
inline void actQuantFp8Block128(std::span<const float> x,
                                std::span<uint8_t> codes,
                                std::span<uint8_t> scales) {
  actQuantFp8(x, kActQuantBlock, codes, scales);
}
/// The dequantized activation out_i = f32(e4m3(q_i)) · s_block (exact in
/// fp32; no bf16 rounding — the GEMM consumes the codes, not bf16 values), for
/// host GEMMs that multiply dequantized operands. Note that a plain fp32 dot
/// product of these values differs from P8's per-block accumulation order;
/// use fp8LinearRow for the reference's sums. `out` may alias `x`.
void actQuantDequantFp8Block128(std::span<const float> x, std::span<float> out);

// ---- P6: FP8 simulation in place (act_quant(x, 64, inplace=True), V1) -------
/// Per block: amax floor 1e-4, P4 scale with qmax 448,
/// x ← bf16(f32(e4m3(clamp(x/s, ±448))) · s). Idempotent: a simulated row
/// simulates to itself.
void fp8SimulateInPlace(std::span<float> x, size_t block = kKvSimBlock);

// ---- P7: FP4 simulation in place (fp4_act_quant(x, 32, inplace=True)) -------
/// Per block: amax = max(max|x|, 6·2^-126), P4 scale with qmax 6,
/// x ← bf16(f32(e2m1(clamp(x/s, ±6))) · s). Idempotent.
void fp4SimulateInPlace(std::span<float> x, size_t block = kFp4Block);

// ---- KV entry codec (V4_SPEC §4.1; FlashMLA "MODEL1" entry)
// ------------------
/// Byte layout of one stored KV entry of head_dim D with R RoPE dims
/// (nope = D − R, which P6 quantizes in 64-element blocks, so it must be a
/// positive multiple of 64):
///   [0, nope)                 e4m3 codes of dims 0..nope-1
///   [nope, nope + 2R)         RoPE dims as bf16, little-endian
///   [nope + 2R, + nope/64)    e8m0 scale bytes, one per 64-dim block
///   then zero padding up to the next multiple of 8 bytes.
/// D = 512, R = 64: 448 + 128 + 7 = 583, padded to 584 — the deployment size
/// of V4_SPEC §4.1 (vLLM: 448 + 64·2 + 448/64 + 1). D = 128, R = 64: 64 + 128
/// + 1 = 193 → 200. Rounding to 8 keeps entries 8-byte aligned in a page.
struct KvEntryLayout {
  size_t headDim = 0;
  size_t ropeDim = 0;

  /// Checks the rule above; the error names both dimensions.
  static Expected<KvEntryLayout> make(size_t headDim, size_t ropeDim);

  size_t nopeDim() const { return headDim - ropeDim; }
  size_t numScales() const { return nopeDim() / kKvSimBlock; }
  size_t ropeOffset() const { return nopeDim(); }
  size_t scaleOffset() const { return nopeDim() + 2 * ropeDim; }
  size_t padBytes() const {
    return entryBytes() - (scaleOffset() + numScales());
  }
  size_t entryBytes() const {
    return (scaleOffset() + numScales() + 7) / 8 * 8;
  }
};

/// Stores a kv vector of headDim floats: dims [0, nope) are FP8-quantized per
/// 64-block exactly as P6 (so decoding yields fp8SimulateInPlace of them), the
/// RoPE dims are stored as bf16 (rounded RNE; exact for bf16 values), padding
/// is zero. Lossless for values that went through P6: decode(encode(v)) == v
/// bitwise. entry.size() == layout.entryBytes().
void encodeKvEntry(const KvEntryLayout &layout, std::span<const float> kv,
                   std::span<uint8_t> entry);
/// kv_i = bf16(f32(e4m3) · s) for the nope dims, the stored bf16 for the rest.
void decodeKvEntry(const KvEntryLayout &layout, std::span<const uint8_t> entry,
                   std::span<float> kv);

// ---- Indexer key codec (V4_SPEC §4.1: FP4 + e8m0 per 32)
// ---------------------
/// Bytes of one stored key of `dim` values (dim a multiple of 32):
///   [0, dim/2)               e2m1 codes, element 2k in the low nibble of byte
///                            k, element 2k+1 in the high nibble (as the
///                            checkpoint's FP4 weights, V4_SPEC §5.4)
///   [dim/2, dim/2 + dim/32)  e8m0 scale bytes, one per 32 elements
/// dim = 128: 64 + 4 = 68 bytes.
inline size_t fp4KeyBytes(size_t dim) { return dim / 2 + dim / kFp4Block; }
/// Quantizes exactly as P7, so decode(encode(k)) == fp4SimulateInPlace(k), and
/// a simulated key round-trips bitwise. bytes.size() == fp4KeyBytes(dim).
void encodeFp4Key(std::span<const float> key, std::span<uint8_t> bytes);
void decodeFp4Key(std::span<const uint8_t> bytes, std::span<float> key);

// ---- P8 / P9: how a block's inner sum is formed ---------------------------
/// Ordered: the products (each exact in fp32) summed in k order in fp32, as a
/// CUDA-core GEMV does. Exact: the exact sum (formed in double, where every
/// partial sum of these products is exact) rounded once to fp32, which
/// integer tensor cores reproduce bit for bit; the moe's experts use it, so
/// its tensor-core and GEMV kernels agree with the host bitwise.
enum class InnerSum { Ordered, Exact };

// ---- P8: FP8 GEMM, one output element
// ----------------------------------------
/// y = bf16( Σ_kb fl(inner_kb · fl(sa[kb] · sw[kb])) ), inner_kb = Σ_{k∈kb}
/// e4m3(qa[k])·e4m3(qw[k]) in fp32 (each product is exact), kb = 128-blocks of
/// K (the last may be shorter); the accumulation over kb is fp32 in kb order —
/// fp8_gemm's separate per-block "promotion" accumulator.
/// actCodes/wCodes: K e4m3 codes; actScales: numBlocks(K,128) e8m0 bytes of
/// the activation row; wScales: the weight scale grid's row n/128
/// (numBlocks(K,128) bytes). `inner` says how inner_kb is summed. Returns the
/// bf16-rounded output.
float fp8LinearRow(std::span<const uint8_t> actCodes,
                   std::span<const uint8_t> actScales,
                   std::span<const uint8_t> wCodes,
                   std::span<const uint8_t> wScales,
                   InnerSum inner = InnerSum::Ordered);

// ---- P9: FP4 GEMM (W4A8), one output element -------------------------------
/// y = bf16( Σ_kb32 fl(fl(inner · sa[kb32/4]) · sw[kb32]) ), inner = Σ_{k∈kb32}
/// e4m3(qa[k])·e2m1(w[k]) in fp32 (exact products), fp32 accumulation in kb32
/// order (fp4_gemm multiplies by the activation scale, then the weight scale).
/// wPacked: numBlocks(K,2) bytes, element 2k in the low nibble;
/// wScales: numBlocks(K,32) e8m0 bytes; actScales: numBlocks(K,128). `inner`
/// says how inner is summed.
float fp4LinearRow(std::span<const uint8_t> actCodes,
                   std::span<const uint8_t> actScales,
                   std::span<const uint8_t> wPacked,
                   std::span<const uint8_t> wScales,
                   InnerSum inner = InnerSum::Ordered);

// ---- P10: Hadamard rotation
// ---------------------------------------------------
/// In place, n = x.size() a power of two: x ← bf16( fl(H_n·x) · fl32(n^-1/2) )
/// with H_n Sylvester's matrix in natural order, evaluated as
/// fast_hadamard_transform does: fp32 butterflies (a+b, a−b) with strides
/// 1, 2, 4, …, n/2, then one multiply by the scale, then bf16.
void hadamardBf16(std::span<float> x);

// ---- attention core (V4_SPEC §3.4 "Kernel detail for exactness") ------------
/// The softmax scale as the reference passes it: fl32(double(D)^-0.5).
float attentionScale(size_t headDim);

/// One head of `sparse_attn` for one query. keys[j] points to D floats (bf16
/// values; K = V) or is nullptr for an invalid index (−1). Entries are
/// processed in chunks of 64 in order, with the kernel's online softmax:
///   s_j   = fl(fl(q·k_j) · scale)  (−inf when invalid)
///   m'    = max(m, max_j s_j);  α = exp(m − m')  (α = 0 on the first chunk)
///   p_j   = exp(s_j − m')  (fp32)
///   l     = fl(l·α) + fl(Σ_j p_j)          — the fp32 exponentials
///   acc_d = fl(acc_d·α) + Σ_j bf16(p_j)·k_j[d]  — P cast to bf16 before P·V
/// and finally l += exp(sink − m), out_d = bf16(acc_d / l). The first chunk
/// must hold a valid key (else the kernel's max is −inf and the result NaN).
/// `out` (D floats) is the fp32 accumulator until the final rounding, so it
/// must not alias q or a key.
void attendOneHead(std::span<const float> q, std::span<const float *const> keys,
                   float sink, float scale, std::span<float> out);

// ---- MoE expert activation (V4_SPEC §3.7, official order)
// ---------------------
/// silu(x) = x / (1 + exp(−x)) in fp32 (PyTorch's formula).
float siluF32(float x);
/// h = bf16( weight · (silu(min(g, L)) · clamp(u, −L, L)) ), all fp32, for
/// the bf16 expert outputs g = w1(x), u = w3(x); L = swiglu_limit, and no
/// clamp at all when L <= 0 (as `Expert.forward`). The routing weight
/// multiplies before the bf16 cast and before w2; use weight 1 for the shared
/// expert.
float swigluBf16(float gate, float up, float weight, float limit);
/// swigluBf16 over a row; out may alias gate or up.
void swigluRowBf16(std::span<const float> gate, std::span<const float> up,
                   float weight, float limit, std::span<float> out);

} // namespace birkhoff::official

#endif // BIRKHOFF_OFFICIALNUMERICS_H
