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

/// The activation quantization needs whole 128-blocks, and one row of
/// in_features FP8 codes within its 32 KiB.
Status checkQuantizable(const LaunchReader &r, int64_t in) {
  if (in % 128 || in > 32 * 1024)
    return unsupported(r.where() + "in_features " + i(in) +
                       " is not a multiple of the 128-blocks of the FP8 "
                       "activation quantization (or too large)");
  return Status::ok();
}

/// official_decode.cuh's linear (variant "decode"): every weight byte of a
/// lane loaded before any is decoded.
Body linearDecodeBody(const Schedule &s, int64_t in, int64_t out, DType w) {
  const int64_t rows = s.warps * 32 / s.lanes;
  Body b;
  b.include = "bk/official_decode.cuh";
  b.call = "bk::linearOfficialDecode<" + i(in) + ", " + i(out) + ", " + dt(w) +
           ", " + i(s.warps) + ", " + i(s.lanes) + ">(args);";
  b.grid = {0, (out + rows - 1) / rows, 1, int(32 * s.warps)};
  b.minBlocksPerSm = 4;
  return b;
}

/// official_linear.cuh's GEMV over quantized activations (variant
/// "quantized").
Body linearQuantizedBody(const Schedule &s, int64_t in, int64_t out, DType w) {
  Body b;
  b.include = "bk/official_linear.cuh";
  b.call = "bk::linearOfficial<" + i(in) + ", " + i(out) + ", " + dt(w) + ", " +
           i(s.warps) + ", " + i(s.stagedTokens) + ", " + i(s.tokensPerY) +
           ">(args);";
  b.grid = warpRowGrid(out, s);
  b.minBlocksPerSm = 2;
  return b;
}

/// Checks that the decode variant's lanes tile a warp and the 128-blocks
/// of a row.
Status checkDecodeLanes(const LaunchReader &r, const Schedule &s, int64_t in) {
  if (s.lanes < 1 || s.lanes > 32 || 32 % s.lanes || (in / 128) % s.lanes)
    return invalidArgument(r.where() + "schedule lanes " + i(s.lanes) +
                           " do not split a warp and the row's " + i(in / 128) +
                           " 128-blocks");
  return Status::ok();
}

} // namespace

Expected<Body> linearBf16MmaBody(const LaunchReader &r, int64_t groups,
                                 int64_t in, int64_t rows, DType w,
                                 bool round) {
  const Schedule &s = r.schedule();
  if (w != DType::BF16 && w != DType::F8E4M3)
    return invalidArgument(r.where() + "the mma variant of bf16 tensor cores "
                                       "needs bf16 or fp8 weights");
  if (in % 64)
    return invalidArgument(r.where() +
                           "the mma variant needs rows of whole "
                           "64-column steps, not " +
                           i(in));
  if (s.warps != 4 && s.warps != 8)
    return invalidArgument(r.where() + "the mma variant takes 4 or 8 warps");
  if (s.tokensPerY < 1 || s.tokensPerY > 64 || s.tokensPerY % (2 * s.warps))
    return invalidArgument(r.where() + "the mma variant takes tokens_per_y "
                                       "up to 64, a multiple of twice its "
                                       "warps (whole staging rounds)");
  const int64_t tiles = (rows + 16 * s.warps - 1) / (16 * s.warps);
  if (groups * tiles > INT_MAX)
    return invalidArgument(r.where() + "too many weight rows");
  Body b;
  b.include = "bk/linear_bf16_mma.cuh";
  b.call = "bk::linearBf16Mma<" + i(groups) + ", " + i(in) + ", " + i(rows) +
           ", " + dt(w) + ", " + i(s.warps) + ", " + i(s.tokensPerY) + ", " +
           flag(round) + ">(args);";
  b.grid = {0, groups * tiles, s.tokensPerY, int(32 * s.warps)};
  b.minBlocksPerSm = 2;
  return b;
}

Expected<Body> genLinearOfficial(const LinearParams &p, const LaunchReader &r,
                                 const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t in, r.range(p, p.inFeatures));
  BK_ASSIGN_OR_RETURN(int64_t out, r.range(p, p.outFeatures));
  const bool round = p.roundOutput;
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16,
                                            DType::F8E4M3, DType::FP4E2M1x2}));
  BK_RETURN_IF_ERROR(r.shape(0, {out, in}));
  const Schedule &s = r.schedule();
  if (w == DType::BF16 && s.variant == "mma")
    return linearBf16MmaBody(r, 1, in, out, w, round);
  if (w == DType::F32 || w == DType::BF16) {
    // fp32 accumulation of the exact weights, bf16 output when asked: the
    // reference GEMV (one group) with its rounding flag.
    BK_RETURN_IF_ERROR(r.variant({"gemv"}).status());
    if (s.prefetch < 1 || s.prefetch > 8)
      return invalidArgument(r.where() + "schedule prefetch " + i(s.prefetch) +
                             " is not in [1, 8]");
    Body b;
    b.include = "bk/projections.cuh";
    b.call = "bk::groupedLinear<1, " + i(in) + ", " + i(out) + ", " + dt(w) +
             ", " + i(s.warps) + ", " + i(s.tokenTile) + ", " +
             i(s.tokensPerY) + ", " + flag(round) + ", " + i(s.prefetch) +
             ">(args);";
    b.grid = warpRowGrid(out, s);
    b.minBlocksPerSm = 3;
    return b;
  }
  BK_RETURN_IF_ERROR(checkQuantizable(r, in));
  BK_ASSIGN_OR_RETURN(std::string variant,
                      r.variant({"decode", "mma", "quantized"}));
  if (variant == "decode") {
    BK_RETURN_IF_ERROR(checkDecodeLanes(r, s, in));
    return linearDecodeBody(s, in, out, w);
  }
  if (variant == "mma") {
    // Calls of many tokens: the FP8 tensor cores (official_gemm.cuh).
    if (w != DType::F8E4M3)
      return invalidArgument(r.where() + "the mma variant needs FP8 weights");
    Body b;
    b.include = "bk/official_gemm.cuh";
    b.call = "bk::linearOfficialMma<" + i(in) + ", " + i(out) + ">(args);";
    b.grid = {0, (out + 127) / 128, 64, 256};
    b.minBlocksPerSm = 1; // 64 accumulators a thread: 128 registers spill
    return b;
  }
  return linearQuantizedBody(s, in, out, w);
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
  BK_RETURN_IF_ERROR(checkQuantizable(r, in));
  BK_ASSIGN_OR_RETURN(
      std::string variant,
      r.variant({"decode_then_norm", "quantized_then_norm", "cluster"}));
  const Schedule &s = r.schedule();
  if (variant != "cluster") {
    // Few tokens (decode): one cluster would stream the weights through 8
    // SMs. Two kernels instead: the official linear over the whole GPU, then
    // P1 in place, a block per token; the same arithmetic in the same order.
    Body b;
    if (variant == "decode_then_norm") {
      BK_RETURN_IF_ERROR(checkDecodeLanes(r, s, in));
      b = linearDecodeBody(s, in, out, w);
    } else {
      b = linearQuantizedBody(s, in, out, w);
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
           ", " + dt(nw) + ", " + i(s.cluster) + ", " + i(s.warps) + ", " +
           i(s.stagedTokens) + ", " + i(s.tokensPerY) + ">(args, " +
           f32(float(eps)) + ");";
  b.grid = {0, s.cluster, s.tokensPerY, int(32 * s.warps)};
  b.cluster = int(s.cluster);
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
