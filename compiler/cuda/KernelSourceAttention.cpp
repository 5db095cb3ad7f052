//===- KernelSourceAttention.cpp - Attention-side kernels' generators -----===//
//
// head_rms_norm_rope (templates/norm_rope.cuh), indexer_topk
// (templates/indexer.cuh), sparse_attention and window_write
// (templates/attention.cuh).
//
//===----------------------------------------------------------------------===//
#include "KernelSourceInternal.h"

#include "birkhoff/OfficialNumerics.h"

namespace birkhoff::cuda::detail {

Expected<Body> genHeadRmsNormRope(const HeadRmsNormRopeParams &p,
                                  const LaunchReader &r,
                                  const CudaCodegenOptions &o) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.range(p, p.heads));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim));
  const double eps = p.eps;
  BK_ASSIGN_OR_RETURN(int64_t rd, r.range(p, p.ropeDim, 0));
  if (rd > hd || rd % 2)
    return invalidArgument(r.where() + "rope_dim " + i(rd) +
                           " does not fit head_dim " + i(hd));
  std::vector<float> inv = ropeInvFreq(ropeSpecOf(p));
  constexpr int kHeadsPerBlock = 4;
  Body b;
  b.include = "bk/norm_rope.cuh";
  b.constants = invFreqConstant("bk_inv_freq", inv);
  b.call = "bk::headRmsNormRope<" + i(heads) + ", " + i(hd) + ", " + i(rd) +
           ", " + i(kHeadsPerBlock) + ", " + flag(o.hostOrderReductions) +
           ">(args, " + f32(float(eps)) + ", bk_inv_freq);";
  b.grid = {(heads + kHeadsPerBlock - 1) / kHeadsPerBlock, 0, 0,
            32 * kHeadsPerBlock};
  return b;
}

Expected<Body> genIndexerTopk(const IndexerTopkParams &p, const LaunchReader &r,
                              const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.range(p, p.heads, 1, 4096));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim, 1, 1 << 16));
  BK_ASSIGN_OR_RETURN(int64_t topk, r.range(p, p.topk, 1, 1 << 16));
  BK_ASSIGN_OR_RETURN(int64_t ratio, r.range(p, p.ratio, 1, 1 << 20));
  // Official numerics store the keys as FP4 (key_format 1), the reference
  // profile as f32 rows.
  const bool official = p.official();
  if (p.keyFormat != (official ? 1 : 0))
    return unsupported(r.where() + "key_format " + i(p.keyFormat) +
                       " is not generated in this numerics profile");
  if (official && hd % 32)
    return invalidArgument(r.where() + "FP4 keys need head_dim " + i(hd) +
                           " in whole 32-blocks");
  BK_ASSIGN_OR_RETURN(std::string variant, r.variant({"cluster", "scored"}));
  const Schedule &sc = r.schedule();
  if (sc.cluster < 1 || sc.cluster > 8)
    return invalidArgument(r.where() + "schedule cluster " + i(sc.cluster) +
                           " is not in [1, 8]");
  const bool scored = variant == "scored";
  if (scored && (sc.split < 1 || sc.rows < 1 || r.maxTokens() < 1))
    return invalidArgument(r.where() + "the scored variant needs split, rows "
                                       "and the entry's tokens per call");
  int64_t kcap = 1;
  while (kcap < topk)
    kcap <<= 1;
  // Static shared memory: the token's queries, head weights, two histograms
  // and their total, the sort list, a round of keys and small state; the
  // rest caches scores.
  constexpr int64_t kBudget = 47 * 1024;
  int64_t fixed =
      heads * hd * 4 + heads * 4 + 3 * 256 * 4 + kcap * 8 + kBlock * 4 + 64;
  if (fixed > kBudget)
    return unsupported(r.where() + i(heads) + " heads of " + i(hd) +
                       " and top-" + i(topk) +
                       " need more shared memory than a block has");
  int64_t cache = std::min<int64_t>(4096, (kBudget - fixed) / 4);
  // The host's scales: the reference's two fp32 factors, or the official
  // combined Di^-½ · Hi^-½ in double, rounded once.
  float scoreScale = 1.0f / std::sqrt(float(hd));
  float weightScale =
      official
          ? float(std::pow(double(hd), -0.5) * std::pow(double(heads), -0.5))
          : 1.0f / std::sqrt(float(heads));
  const std::string scales =
      ">(args, " + f32(scoreScale) + ", " + f32(weightScale) + ");";
  const std::string profile = official ? ", true" : ", false";
  Body select;
  select.include = "bk/indexer.cuh";
  select.call = "bk::indexerTopk<" + i(heads) + ", " + i(hd) + ", " + i(topk) +
                ", " + i(ratio) + ", " + i(sc.cluster) + ", " + i(kBlock) +
                ", " + i(cache) + ", " + i(kcap) + profile + ", " +
                i(scored ? sc.rows : 0) + scales;
  select.grid = {sc.cluster, 0, 0, kBlock};
  select.cluster = int(sc.cluster);
  if (!scored)
    return select;
  // Scratch: the scores of each token's first `rows` entries.
  Body score;
  score.include = "bk/indexer.cuh";
  score.call = "bk::indexerScore<" + i(heads) + ", " + i(hd) + ", " + i(ratio) +
               ", " + i(sc.split) + ", " + i(sc.rows) + ", " + i(kBlock) +
               profile + scales;
  score.grid = {sc.split, 0, 0, kBlock};
  score.scratchBytes = uint64_t(r.maxTokens() * sc.rows * 4);
  select.scratchBytes = score.scratchBytes;
  score.then.push_back(std::move(select));
  return score;
}

namespace {

/// The official "split" variant (templates/attention_split.cuh): a block per
/// (token, key range, head group), then a block per (token, head) combining
/// the ranges; the partial results live in scratch.
Expected<Body> splitAttention(const SparseAttentionParams &p,
                              const LaunchReader &r, int64_t entry, DType sink,
                              int64_t ratio, int64_t topk) {
  const Schedule &sc = r.schedule();
  const int64_t nope = p.headDim - p.ropeDim;
  if (sc.split < 1 || sc.split > 64 || sc.rows < 1 || sc.rows > 8 ||
      p.heads % sc.rows || r.maxTokens() < 1)
    return invalidArgument(r.where() +
                           "the split variant needs split in [1, 64], rows "
                           "in [1, 8] dividing heads, and the entry's "
                           "tokens per call");
  if (p.ropeDim % 8 || nope < 0 || nope % 64)
    return invalidArgument(r.where() + "the split variant needs rope_dim " +
                           i(p.ropeDim) + " in 8-dim chunks and " + i(nope) +
                           " FP8 dims in 64-blocks");
  const std::string keys =
      i(p.window) + ", " + i(p.mode) + ", " + i(ratio) + ", " + i(topk);
  const std::string tail = i(sc.split) + ", " + i(r.maxTokens()) + ", ";
  Body main;
  main.include = "bk/attention_split.cuh";
  main.call = "bk::sparseAttentionSplit<" + i(p.heads) + ", " + i(p.headDim) +
              ", " + i(p.ropeDim) + ", " + i(entry) + ", " + keys + ", " +
              i(sc.rows) + ", " + tail + i(kBlock) + ">(args, " +
              f32(official::attentionScale(size_t(p.headDim))) + ");";
  main.grid = {p.heads / sc.rows * sc.split, 0, 0, kBlock};
  main.minBlocksPerSm = 2;
  // Per (token, split, head): D floats of output and its (max, sum).
  main.scratchBytes =
      uint64_t(r.maxTokens() * sc.split * p.heads * (p.headDim + 2) * 4);
  constexpr int kCombineBlock = 128;
  Body combine;
  combine.include = main.include;
  combine.call = "bk::sparseAttentionCombine<" + i(p.heads) + ", " +
                 i(p.headDim) + ", " + keys + ", " + dt(sink) + ", " + tail +
                 i(kCombineBlock) + ">(args);";
  combine.grid = {p.heads, 0, 0, kCombineBlock};
  combine.scratchBytes = main.scratchBytes;
  main.then.push_back(std::move(combine));
  return main;
}

} // namespace

Expected<Body> genSparseAttention(const SparseAttentionParams &p,
                                  const LaunchReader &r,
                                  const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.range(p, p.heads));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim, 1, 4096));
  BK_ASSIGN_OR_RETURN(int64_t window, r.range(p, p.window));
  BK_ASSIGN_OR_RETURN(int64_t mode, r.range(p, p.mode, 0, 2));
  // Compressed keys (modes 1 and 2) need the ratio: a token sees (p+1) div
  // ratio entries (mode 2), top-k indices name entries its sequence has
  // (mode 1).
  int64_t ratio = 0, topk = 0;
  if (mode != 0) {
    BK_ASSIGN_OR_RETURN(ratio, r.range(p, p.ratio, 1, 1 << 20));
  }
  if (mode == 1) {
    BK_ASSIGN_OR_RETURN(topk, r.range(p, p.topk, 1, 1 << 16));
  }
  BK_ASSIGN_OR_RETURN(DType sink, r.weight(0, {DType::F32, DType::BF16}));
  BK_RETURN_IF_ERROR(r.shape(0, {heads}));
  if (p.official()) {
    // KV entries in the ring and the compressed state (kv_format 1).
    BK_ASSIGN_OR_RETURN(int64_t format, r.range(p, p.kvFormat, 0, 1));
    BK_ASSIGN_OR_RETURN(int64_t rd, r.range(p, p.ropeDim, 0));
    if (format != 1)
      return unsupported(r.where() + "official attention reads KV entries "
                                     "(kv_format 1)");
    BK_ASSIGN_OR_RETURN(official::KvEntryLayout layout,
                        official::KvEntryLayout::make(size_t(hd), size_t(rd)));
    BK_ASSIGN_OR_RETURN(std::string variant, r.variant({"fixed", "split"}));
    if (variant == "split")
      return splitAttention(p, r, int64_t(layout.entryBytes()), sink, ratio,
                            topk);
    constexpr int kCap = 2048; // logits kept at once (8 KiB)
    Body b;
    b.include = "bk/attention_official.cuh";
    b.call = "bk::sparseAttentionOfficial<" + i(heads) + ", " + i(hd) + ", " +
             i(rd) + ", " + i(int64_t(layout.entryBytes())) + ", " + i(window) +
             ", " + i(mode) + ", " + i(ratio) + ", " + i(topk) + ", " +
             dt(sink) + ", " + i(kCap) + ", " + i(kBlock) + ">(args, " +
             f32(official::attentionScale(size_t(hd))) + ");";
    b.grid = {heads, 0, 0, kBlock};
    // Registers for the staged P·V without spills (at 3 blocks an SM the
    // top-k mode spills).
    b.minBlocksPerSm = 2;
    return b;
  }
  if (p.kvFormat != 0)
    return unsupported(r.where() +
                       "KV entries (kv_format 1) belong to the official "
                       "numerics profile");
  constexpr int kCap = 4096; // logits kept at once (16 KiB)
  float scale = 1.0f / std::sqrt(float(hd));
  Body b;
  b.include = "bk/attention.cuh";
  b.call = "bk::sparseAttention<" + i(heads) + ", " + i(hd) + ", " + i(window) +
           ", " + i(mode) + ", " + i(ratio) + ", " + i(topk) + ", " + dt(sink) +
           ", " + i(kCap) + ", " + i(kBlock) + ">(args, " + f32(scale) + ");";
  b.grid = {heads, 0, 0, kBlock};
  return b;
}

Expected<Body> genWindowWrite(const WindowWriteParams &p, const LaunchReader &r,
                              const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t window, r.range(p, p.window));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim));
  if (p.kvFormat != 0)
    return unsupported(r.where() + "FP8 KV entries are not yet generated");
  constexpr int kThreads = 128;
  Body b;
  b.include = "bk/attention.cuh";
  b.call = "bk::windowWrite<" + i(hd) + ", " + i(window) + ", " + i(kThreads) +
           ">(args);";
  b.grid = {1, 0, 0, kThreads};
  return b;
}

} // namespace birkhoff::cuda::detail
