//===- KernelSourceOfficial.cpp - Generators of the official profile ------===//
//
// Launches with numerics = 1 (docs/kernels.md, "The official numerics
// profile"). Kernels that compute the same in both profiles, or whose
// reference generator reads the flag itself, use the reference generator;
// the row-local official kernels (templates/official_rows.cuh) are generated
// here. The RoPE frequencies are lib/birkhoff/OfficialNumerics' own
// (ropeInvFreq), so the device rotates by the host's angles.
//
//===----------------------------------------------------------------------===//
#include "KernelSourceInternal.h"

#include "birkhoff/OfficialNumerics.h"

#include <optional>
#include <type_traits>

namespace birkhoff::cuda::detail {
namespace {

constexpr int kHeadsPerBlock = 4;

} // namespace

Expected<Body> genRmsNormOfficial(const RmsNormParams &p, const LaunchReader &r,
                                  const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t n, r.range(p, p.n));
  const double eps = p.eps;
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16}));
  BK_RETURN_IF_ERROR(r.shape(0, {n}));
  Body b;
  b.include = "bk/official_rows.cuh";
  b.call = "bk::rmsNormOfficial<" + i(n) + ", " + dt(w) + ", " + i(kBlock) +
           ">(args, " + f32(float(eps)) + ");";
  b.grid = {1, 0, 0, kBlock};
  return b;
}

Expected<Body> genHeadRmsNormOfficial(const HeadRmsNormParams &p,
                                      const LaunchReader &r,
                                      const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.range(p, p.heads));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim));
  const double eps = p.eps;
  Body b;
  b.include = "bk/official_rows.cuh";
  b.call = "bk::headRmsNormOfficial<" + i(heads) + ", " + i(hd) + ", " +
           i(kHeadsPerBlock) + ">(args, " + f32(float(eps)) + ");";
  b.grid = {(heads + kHeadsPerBlock - 1) / kHeadsPerBlock, 0, 0,
            32 * kHeadsPerBlock};
  return b;
}

namespace {

/// rope (normFirst false) and head_rms_norm_rope (true), official.
template <typename P>
Expected<Body> ropeOfficial(const P &p, const LaunchReader &r) {
  constexpr bool normFirst = std::is_same_v<P, HeadRmsNormRopeParams>;
  BK_ASSIGN_OR_RETURN(int64_t heads, r.range(p, p.heads));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim, 1, 1 << 14));
  BK_ASSIGN_OR_RETURN(int64_t rd, r.range(p, p.ropeDim, 0));
  bool inverse = false;
  int64_t after = 0;
  double eps = 0;
  if constexpr (normFirst) {
    eps = p.eps;
  } else {
    inverse = p.inverse;
    BK_ASSIGN_OR_RETURN(after, r.range(p, p.afterRope, 0, 2));
  }
  if (rd > hd || rd % 2)
    return invalidArgument(r.where() + "rope_dim " + i(rd) +
                           " does not fit head_dim " + i(hd));
  // A warp holds a head, hd/32 consecutive values per lane, pairs and
  // quantization blocks within whole lanes.
  int64_t epl = hd / 32;
  if (hd % 64 != 0)
    return unsupported(r.where() + "head_dim " + i(hd) +
                       " is not a multiple of 64 (a warp's pairs)");
  auto blocksFit = [&](int64_t block) {
    return block % epl == 0 || epl % block == 0;
  };
  if (after == 1 && ((hd - rd) % 64 != 0 || !blocksFit(64)))
    return unsupported(r.where() + "the " + i(hd - rd) +
                       " leading dims are not whole 64-blocks of a warp");
  if (after == 2 && ((hd & (hd - 1)) != 0 || !blocksFit(32)))
    return invalidArgument(r.where() +
                           "Hadamard rotation needs a power-of-two head, not " +
                           i(hd));
  std::vector<float> inv = officialInvFreq(ropeSpecOf(p));
  Body b;
  b.include = "bk/official_rows.cuh";
  b.constants = invFreqConstant("bk_inv_freq", inv);
  float hadamardScale = float(std::pow(double(hd), -0.5));
  b.call = "bk::ropeOfficial<" + i(heads) + ", " + i(hd) + ", " + i(rd) + ", " +
           flag(inverse) + ", " + flag(normFirst) + ", " + i(after) + ", " +
           i(kHeadsPerBlock) + ">(args, " + f32(float(eps)) +
           ", bk_inv_freq, " + f32(hadamardScale) + ");";
  b.grid = {(heads + kHeadsPerBlock - 1) / kHeadsPerBlock, 0, 0,
            32 * kHeadsPerBlock};
  return b;
}

} // namespace

Expected<Body> genRopeOfficial(const RopeParams &p, const LaunchReader &r,
                               const CudaCodegenOptions &) {
  return ropeOfficial(p, r);
}

Expected<Body> genHeadRmsNormRopeOfficial(const HeadRmsNormRopeParams &p,
                                          const LaunchReader &r,
                                          const CudaCodegenOptions &) {
  return ropeOfficial(p, r);
}

Expected<Body> genWindowWriteOfficial(const WindowWriteParams &p,
                                      const LaunchReader &r,
                                      const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t window, r.range(p, p.window));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim));
  BK_ASSIGN_OR_RETURN(int64_t format, r.range(p, p.kvFormat, 0, 1));
  BK_ASSIGN_OR_RETURN(int64_t rd, r.range(p, p.ropeDim, 0));
  if (format != 1)
    return unsupported(r.where() +
                       "official window rings hold KV entries (kv_format 1)");
  BK_ASSIGN_OR_RETURN(official::KvEntryLayout layout,
                      official::KvEntryLayout::make(size_t(hd), size_t(rd)));
  int64_t epl = hd / 32;
  if (hd % 64 != 0 || !(64 % epl == 0 || epl % 64 == 0))
    return unsupported(r.where() + "head_dim " + i(hd) +
                       " does not split into a warp's 64-blocks");
  Body b;
  b.include = "bk/official_rows.cuh";
  b.call = "bk::windowWriteOfficial<" + i(hd) + ", " + i(rd) + ", " +
           i(int64_t(layout.entryBytes())) + ", " + i(window) + ">(args);";
  b.grid = {0, 1, 4, 128};
  return b;
}

namespace {

/// Activation rows quantized at once (their FP8 codes in shared memory).
int64_t quantizedTokens(int64_t k) {
  return std::min<int64_t>(8, (32 * 1024) / k);
}

// Entries of at least this many tokens per call use the tensor-core FP8
// linear; below, a 64-token tile would be mostly padding.
constexpr int64_t kMmaMinTokens = 16;

/// Entries of at most this many tokens (decode) read the weights once per
/// token: official_decode.cuh's linear, every weight byte of a lane loaded
/// before any is decoded.
constexpr int64_t kDecodeMaxTokens = 4;

/// official_decode.cuh's linear for a decode entry, or nothing when the
/// entry is larger or a lane would hold more than 16 weight chunks.
std::optional<Body> linearDecodeBody(const LaunchReader &r, int64_t in,
                                     int64_t out, DType w) {
  if (r.maxTokens() < 1 || r.maxTokens() > kDecodeMaxTokens ||
      (w != DType::F8E4M3 && w != DType::FP4E2M1x2))
    return std::nullopt;
  const int64_t blocks = in / 128;
  int64_t lpr = 32; // lanes per row: a power of two dividing the blocks
  while (lpr > 1 && blocks % lpr)
    lpr /= 2;
  const int64_t chunks = (w == DType::F8E4M3 ? 8 : 4) * (blocks / lpr);
  if (chunks > 16)
    return std::nullopt;
  constexpr int kWarps = 4;
  const int64_t rows = kWarps * 32 / lpr;
  Body b;
  b.include = "bk/official_decode.cuh";
  b.call = "bk::linearOfficialDecode<" + i(in) + ", " + i(out) + ", " + dt(w) +
           ", " + i(kWarps) + ", " + i(lpr) + ">(args);";
  b.grid = {0, (out + rows - 1) / rows, 1, 32 * kWarps};
  b.minBlocksPerSm = 4;
  return b;
}

} // namespace

Expected<Body> genLinearOfficial(const LinearParams &p, const LaunchReader &r,
                                 const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t in, r.range(p, p.inFeatures));
  BK_ASSIGN_OR_RETURN(int64_t out, r.range(p, p.outFeatures));
  const bool round = p.roundOutput;
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16,
                                            DType::F8E4M3, DType::FP4E2M1x2}));
  BK_RETURN_IF_ERROR(r.shape(0, {out, in}));
  constexpr int kWarps = 8, kTokensPerY = 32;
  Body b;
  b.grid = {0, (out + kWarps - 1) / kWarps, kTokensPerY, 32 * kWarps};
  if (w == DType::F32 || w == DType::BF16) {
    // fp32 accumulation of the exact weights, bf16 output when asked: the
    // reference GEMV (one group) with its rounding flag.
    b.include = "bk/projections.cuh";
    b.call = "bk::groupedLinear<1, " + i(in) + ", " + i(out) + ", " + dt(w) +
             ", " + i(kWarps) + ", 4, " + i(kTokensPerY) + ", " + flag(round) +
             ">(args);";
    b.minBlocksPerSm = 3;
    return b;
  }
  int64_t tg = quantizedTokens(in);
  if (in % 128 || tg < 1)
    return unsupported(r.where() + "in_features " + i(in) +
                       " is not a multiple of the 128-blocks of the FP8 "
                       "activation quantization (or too large)");
  if (std::optional<Body> d = linearDecodeBody(r, in, out, w))
    return *d;
  if (w == DType::F8E4M3 && r.maxTokens() >= kMmaMinTokens) {
    // Calls of many tokens: the FP8 tensor cores (official_gemm.cuh).
    b.include = "bk/official_gemm.cuh";
    b.call = "bk::linearOfficialMma<" + i(in) + ", " + i(out) + ">(args);";
    b.grid = {0, (out + 127) / 128, 64, 256};
    b.minBlocksPerSm = 1; // 64 accumulators a thread: 128 registers spill
    return b;
  }
  b.include = "bk/official_linear.cuh";
  b.call = "bk::linearOfficial<" + i(in) + ", " + i(out) + ", " + dt(w) + ", " +
           i(kWarps) + ", " + i(tg) + ", " + i(kTokensPerY) + ">(args);";
  b.minBlocksPerSm = 2;
  return b;
}

Expected<Body> genLinearRmsNormOfficial(const LinearRmsNormParams &p,
                                        const LaunchReader &r,
                                        const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t in, r.range(p, p.inFeatures));
  BK_ASSIGN_OR_RETURN(int64_t out, r.range(p, p.outFeatures));
  const double eps = p.eps;
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F8E4M3, DType::FP4E2M1x2}));
  BK_ASSIGN_OR_RETURN(DType nw, r.weight(1, {DType::F32, DType::BF16}));
  BK_RETURN_IF_ERROR(r.shape(0, {out, in}));
  BK_RETURN_IF_ERROR(r.shape(1, {out}));
  int64_t tg = quantizedTokens(in);
  if (in % 128 || tg < 1)
    return unsupported(r.where() + "in_features " + i(in) +
                       " is not a multiple of the 128-blocks of the FP8 "
                       "activation quantization (or too large)");
  constexpr int kCluster = 8, kWarps = 8, kTokensPerY = 32;
  if (r.maxTokens() > 0 && r.maxTokens() <= kTokensPerY) {
    // Few tokens (decode): one cluster would stream the weights through 8
    // SMs. Two kernels instead: the official linear over the whole GPU, then
    // P1 in place, a block per token; the same arithmetic in the same order.
    Body b;
    if (std::optional<Body> d = linearDecodeBody(r, in, out, w)) {
      b = std::move(*d);
    } else {
      b.include = "bk/official_linear.cuh";
      b.call = "bk::linearOfficial<" + i(in) + ", " + i(out) + ", " + dt(w) +
               ", " + i(kWarps) + ", " + i(tg) + ", " + i(kTokensPerY) +
               ">(args);";
      b.grid = {0, (out + kWarps - 1) / kWarps, kTokensPerY, 32 * kWarps};
      b.minBlocksPerSm = 2;
    }
    Body norm;
    norm.include = "bk/official_rows.cuh";
    norm.call = "bk::rmsNormRowsOfficial<" + i(out) + ", " + dt(nw) + ", " +
                i(kBlock) + ">(args, " + f32(float(eps)) + ");";
    norm.grid = {1, 0, 0, kBlock};
    b.then.push_back(std::move(norm));
    return b;
  }
  Body b;
  b.include = "bk/official_linear.cuh";
  b.call = "bk::linearRmsNormOfficial<" + i(in) + ", " + i(out) + ", " + dt(w) +
           ", " + dt(nw) + ", " + i(kCluster) + ", " + i(kWarps) + ", " +
           i(tg) + ", " + i(kTokensPerY) + ">(args, " + f32(float(eps)) + ");";
  b.grid = {0, kCluster, kTokensPerY, 32 * kWarps};
  b.cluster = kCluster;
  b.minBlocksPerSm = 1;
  return b;
}

std::vector<float> officialInvFreq(const RopeSpec &rope) {
  std::vector<float> inv(size_t(rope.ropeDim / 2));
  if (rope.ropeDim >= 2)
    official::ropeInvFreq(official::ropeParamsOf(rope), inv);
  return inv;
}

} // namespace birkhoff::cuda::detail
