//===- Schedule.cpp - The schedule choices of every kernel family ---------===//
//
// One chooser per kernel family. Each reads only what the launch states (its
// params, its entry's tokens per call, its weights' formats), so the same
// launch always gets the same schedule, in the pass and in kernelgen alike.
//
//===----------------------------------------------------------------------===//
#include "Schedule.h"
#include "KernelSourceInternal.h"

#include <algorithm>
#include <optional>
#include <variant>

namespace birkhoff::cuda {
namespace {

// The GEMVs' split (templates/linear.cuh, projections.cuh): a warp per
// output row, 32-token y-slices in 4-token register tiles.
constexpr int64_t kGemvWarps = 8, kGemvTokenTile = 4, kGemvTokensPerY = 32;
// Blocks per cluster where a kernel needs a whole GEMV output before its
// epilogue (the largest portable cluster).
constexpr int64_t kWholeOutputCluster = 8;
// Entries of at most this many tokens (decode) read the official linear's
// weights once per token (official_decode.cuh).
constexpr int64_t kDecodeMaxTokens = 4;
// Entries of at least this many tokens per call use the tensor-core FP8
// linear; below, a 64-token tile would be mostly padding.
constexpr int64_t kMmaMinTokens = 16;
// Entries of at most this many tokens run mhc_pre(_norm) split over the
// mixing rows, and are "small" for the mhc clusters (below).
constexpr int64_t kMhcSplitMaxTokens = 4, kMhcClusterMaxTokens = 32;

// Weight chunks a lane of a gemv loads before decoding the first in entries
// of at most kDecodeMaxTokens tokens, where the weights stream once per step
// and bytes in flight set the bandwidth (the sums are the same in any case).
constexpr int64_t kDecodePrefetch = 4;

Schedule gemv(std::string variant) {
  Schedule s;
  s.variant = std::move(variant);
  s.warps = kGemvWarps;
  s.tokenTile = kGemvTokenTile;
  s.tokensPerY = kGemvTokensPerY;
  return s;
}

/// The gemv of warpRowDots (groupedLinear): kDecodePrefetch chunks a lane in
/// entries of at most kDecodeMaxTokens tokens, else 1.
Schedule prefetchingGemv(int64_t maxTokens) {
  Schedule s = gemv("gemv");
  s.prefetch =
      maxTokens >= 1 && maxTokens <= kDecodeMaxTokens ? kDecodePrefetch : 1;
  return s;
}

/// linear_bf16_mma.cuh (no knobs but its fixed tile: 8 warps of 16 weight
/// rows, 32-token y-slices: 64 would spill): the official BF16 linear and the
/// official grouped linear (BF16 or FP8 weights) whose rows are whole 64-column
/// steps, in every entry, so the one-token and the batch entries give a
/// token the same bits.
constexpr int64_t kBf16MmaWarps = 8, kBf16MmaTokens = 32;

Schedule bf16Mma() {
  Schedule s;
  s.variant = "mma";
  s.warps = kBf16MmaWarps;
  s.tokensPerY = kBf16MmaTokens;
  return s;
}

/// Activation rows the official kernels quantize at once (their FP8 codes
/// in 32 KiB of shared memory).
int64_t quantizedTokens(int64_t k) {
  return k > 0 ? std::min<int64_t>(8, (32 * 1024) / k) : 0;
}

/// official_linear.cuh's GEMV: a warp per row over quantized activations.
Schedule quantizedGemv(int64_t in) {
  Schedule s;
  s.variant = "quantized";
  s.warps = kGemvWarps;
  s.tokensPerY = kGemvTokensPerY;
  s.stagedTokens = quantizedTokens(in);
  return s;
}

/// official_decode.cuh's linear for an entry of at most kDecodeMaxTokens
/// tokens and FP8/FP4 weights: a power of two of lanes per row dividing the
/// row's 128-blocks, as long as a lane holds at most 16 weight chunks (all
/// loaded before any is decoded).
std::optional<Schedule> officialDecode(int64_t in, int64_t maxTokens, DType w) {
  if (maxTokens < 1 || maxTokens > kDecodeMaxTokens ||
      (w != DType::F8E4M3 && w != DType::FP4E2M1x2))
    return std::nullopt;
  const int64_t blocks = in / 128;
  int64_t lanes = 32;
  while (lanes > 1 && blocks % lanes)
    lanes /= 2;
  if ((w == DType::F8E4M3 ? 8 : 4) * (blocks / lanes) > 16)
    return std::nullopt;
  Schedule s;
  s.variant = "decode";
  s.warps = 4;
  s.lanes = lanes;
  return s;
}

// indexer_topk: the radix select's cluster; entries of at most
// kIndexerScoredMaxTokens tokens score over the whole GPU first, in
// kIndexerScoreBlocks blocks per token, keeping the scores of a context of
// up to kIndexerScoredContext tokens in scratch.
constexpr int64_t kIndexerCluster = 8, kIndexerScoredMaxTokens = 64,
                  kIndexerScoreBlocks = 128, kIndexerScoredContext = 1 << 20;

// sparse_attention "split" (opt-in): one-token entries split a token's keys
// over at most kAttentionSplits blocks of kAttentionSplitHeads heads each
// (V4-Flash, 64 heads and 640 keys: 16 head groups times 10 splits of 64
// keys, 160 blocks a token).
constexpr int64_t kAttentionSplits = 16, kAttentionSplitHeads = 4;

// compressor "projected" and router "scored": entries of at most
// kWholeGpuProjectionMaxTokens tokens compute their projections (scores)
// over the whole GPU before the step that needs all of them.
constexpr int64_t kWholeGpuProjectionMaxTokens = 64;

Schedule fewTokensVariant(int64_t maxTokens, const char *few) {
  Schedule s;
  s.variant = maxTokens >= 1 && maxTokens <= kWholeGpuProjectionMaxTokens
                  ? few
                  : "cluster";
  return s;
}

Schedule fixed() {
  Schedule s;
  s.variant = "fixed";
  return s;
}

DType weightOr(const CudaLaunchSpec &spec, size_t i) {
  return i < spec.weightDTypes.size() ? spec.weightDTypes[i] : DType::F32;
}

} // namespace

/// linear. Reference: "gemv" (warps, token_tile, tokens_per_y). Official:
/// "mma" for bf16 weights of whole 64-column rows (linear_bf16_mma.cuh),
/// "gemv" for other f32/bf16 weights (the exact GEMV; also prefetch: 4
/// chunks a lane in entries of at most 4 tokens, else 1), "decode" (warps,
/// lanes),
/// "mma" for FP8 entries of many tokens (no knobs: official_gemm.cuh's tile
/// is fixed), else "quantized" (warps, tokens_per_y, staged_tokens).
Schedule chooseLinearSchedule(const LinearParams &p, int64_t maxTokens,
                              DType w) {
  if (!p.official())
    return gemv("gemv");
  if (w == DType::BF16 && p.inFeatures % 64 == 0)
    return bf16Mma();
  if (w == DType::F32 || w == DType::BF16)
    return prefetchingGemv(maxTokens);
  if (std::optional<Schedule> d = officialDecode(p.inFeatures, maxTokens, w))
    return *d;
  if (w == DType::F8E4M3 && maxTokens >= kMmaMinTokens) {
    Schedule s;
    s.variant = "mma";
    return s;
  }
  return quantizedGemv(p.inFeatures);
}

// Official entries of at most this many tokens (decode, the 64-token batch
// entry) run linear_rms_norm's linear over the whole GPU, then the norm: one
// cluster per 32-token slice streamed the weights through 8 SMs (0.66 ms a
// launch at 32 tokens on V4-Flash, 0.13 ms over the whole GPU).
constexpr int64_t kThenNormMaxTokens = 64;

/// linear_rms_norm. Reference: "cluster" (cluster, warps, tokens_per_y,
/// staged_tokens: the rows of in floats a block stages). Official: entries
/// of at most kThenNormMaxTokens tokens run the linear over the whole GPU,
/// then the norm: "decode_then_norm" (warps, lanes) or "quantized_then_norm"
/// (warps, tokens_per_y, staged_tokens); larger ones "cluster".
Schedule chooseLinearRmsNormSchedule(const LinearRmsNormParams &p,
                                     int64_t maxTokens, DType w) {
  Schedule s;
  s.variant = "cluster";
  s.cluster = kWholeOutputCluster;
  s.warps = kGemvWarps;
  s.tokensPerY = kGemvTokensPerY;
  if (!p.official()) {
    s.stagedTokens = detail::stagedTokens(p.inFeatures);
    return s;
  }
  s.stagedTokens = quantizedTokens(p.inFeatures);
  if (maxTokens < 1 || maxTokens > kThenNormMaxTokens)
    return s;
  if (std::optional<Schedule> d = officialDecode(p.inFeatures, maxTokens, w)) {
    d->variant = "decode_then_norm";
    return *d;
  }
  Schedule q = quantizedGemv(p.inFeatures);
  q.variant = "quantized_then_norm";
  return q;
}

/// mhc_pre, mhc_pre_norm (head false), mhc_head, mhc_head_norm (true):
/// "split" for mhc_pre(_norm) in entries of at most 4 tokens (a block per
/// mixing row, then a block per token); "cluster" (cluster) where an entry of
/// at most 32 tokens splits the mixing rows over 8, 6, 4, 3 or 2 blocks;
/// else "block", one block per token.
Schedule chooseMhcSchedule(int64_t hc, bool head, int64_t maxTokens) {
  Schedule s;
  if (!head && maxTokens > 0 && maxTokens <= kMhcSplitMaxTokens) {
    s.variant = "split";
    return s;
  }
  s.variant = "block";
  const int64_t rows = head ? hc : (2 + hc) * hc;
  if (maxTokens > 0 && maxTokens <= kMhcClusterMaxTokens)
    for (int64_t c : {8, 6, 4, 3, 2})
      if (rows % c == 0) {
        s.variant = "cluster";
        s.cluster = c;
        break;
      }
  return s;
}

/// indexer_topk. "cluster" (cluster): a cluster per token scores its entries
/// and selects. "scored" (cluster, split, rows) for entries of at most 64
/// tokens, where one cluster per token would leave the GPU idle: `split`
/// blocks per token score the visible entries into scratch first, the scores
/// of the first `rows` entries (a context of 2^20 tokens); the cluster then
/// selects from them, scoring only entries beyond `rows` itself.
Schedule chooseIndexerSchedule(const IndexerTopkParams &p, int64_t maxTokens) {
  Schedule s;
  s.variant = "cluster";
  s.cluster = kIndexerCluster;
  if (maxTokens < 1 || maxTokens > kIndexerScoredMaxTokens || p.ratio < 1)
    return s;
  s.variant = "scored";
  s.split = kIndexerScoreBlocks;
  s.rows = std::max<int64_t>(1, kIndexerScoredContext / p.ratio);
  return s;
}

/// sparse_attention. "split" (split: key ranges a token's list splits into
/// at most, rows: heads a block takes) when asked for (`split`) in official
/// one-token entries whose KV entries decode in whole 8-dim chunks; else
/// "fixed", a block per (token, head), bitwise the host kernel.
Schedule chooseSparseAttentionSchedule(const SparseAttentionParams &p,
                                       int64_t maxTokens, bool split) {
  const int64_t nope = p.headDim - p.ropeDim;
  if (!split || !p.official() || maxTokens != 1 || p.ropeDim % 8 || nope < 0 ||
      nope % 64 || p.heads < 1)
    return fixed();
  Schedule s;
  s.variant = "split";
  s.split = kAttentionSplits;
  s.rows = kAttentionSplitHeads;
  while (p.heads % s.rows)
    s.rows /= 2;
  return s;
}

/// grouped_linear. Official, bf16 or fp8 weights of whole 64-column rows:
/// "mma" (as the official bf16 linear). Else "gemv" (warps, token_tile,
/// tokens_per_y, prefetch as the official f32/bf16 linear's).
Schedule chooseGroupedLinearSchedule(const GroupedLinearParams &p,
                                     int64_t maxTokens, DType w) {
  if (p.official() && (w == DType::BF16 || w == DType::F8E4M3) &&
      p.inPerGroup % 64 == 0)
    return bf16Mma();
  return prefetchingGemv(maxTokens);
}

/// compressor. "cluster": one cluster projects and walks the call's tokens.
/// "projected" (no knobs) for entries of at most 64 tokens: a kernel over the
/// whole GPU projects them into scratch first.
Schedule chooseCompressorSchedule(int64_t maxTokens) {
  return fewTokensVariant(maxTokens, "projected");
}

/// router. "cluster": a cluster per 32-token slice computes the gate and
/// selects. "scored" (no knobs) for entries of at most 64 tokens: the gate's
/// scores over the whole GPU into scratch, then a warp per token selects.
Schedule chooseRouterSchedule(int64_t maxTokens) {
  return fewTokensVariant(maxTokens, "scored");
}

Schedule chooseSchedule(const CudaLaunchSpec &spec,
                        const ScheduleOptions &options) {
  const int64_t tokens = spec.maxTokens;
  const DType w0 = weightOr(spec, 0);
  return std::visit(
      [&](const auto &p) -> Schedule {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, LinearParams>)
          return chooseLinearSchedule(p, tokens, w0);
        else if constexpr (std::is_same_v<P, LinearRmsNormParams>)
          return chooseLinearRmsNormSchedule(p, tokens, w0);
        else if constexpr (std::is_same_v<P, MhcPreParams> ||
                           std::is_same_v<P, MhcPreNormParams>)
          return chooseMhcSchedule(p.hc, /*head=*/false, tokens);
        else if constexpr (std::is_same_v<P, MhcHeadParams> ||
                           std::is_same_v<P, MhcHeadNormParams>)
          return chooseMhcSchedule(p.hc, /*head=*/true, tokens);
        else if constexpr (std::is_same_v<P, MoeParams>)
          return chooseMoeSchedule(p, tokens);
        else if constexpr (std::is_same_v<P, IndexerTopkParams>)
          return chooseIndexerSchedule(p, tokens);
        else if constexpr (std::is_same_v<P, GroupedLinearParams>)
          return chooseGroupedLinearSchedule(p, tokens, w0);
        else if constexpr (std::is_same_v<P, RouterParams>)
          return chooseRouterSchedule(tokens);
        else if constexpr (std::is_same_v<P, CompressorParams>)
          return chooseCompressorSchedule(tokens);
        else if constexpr (std::is_same_v<P, SparseAttentionParams>)
          return chooseSparseAttentionSchedule(p, tokens,
                                               options.splitDecodeAttention);
        else
          return fixed();
      },
      spec.params);
}

} // namespace birkhoff::cuda
