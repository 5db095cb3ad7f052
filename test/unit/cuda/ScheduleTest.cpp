//===- ScheduleTest.cpp - The schedule choosers and what generators read --===//
#include "Launches.h"

#include <gtest/gtest.h>

namespace birkhoff::cuda::test {
namespace {

Schedule variantOnly(const char *variant) {
  Schedule s;
  s.variant = variant;
  return s;
}

CudaLaunchSpec tokens(CudaLaunchSpec s, int64_t maxTokens) {
  s.maxTokens = maxTokens;
  return s;
}

// The official linear's variant follows the entry's tokens per call and the
// weights' format.
TEST(Schedule, OfficialLinearVariantsFollowTheEntry) {
  LinearParams p;
  p.inFeatures = 4096;
  p.outFeatures = 1024;
  p.numerics = 1;
  Schedule decode = chooseLinearSchedule(p, 1, DType::F8E4M3);
  EXPECT_EQ(decode.variant, "decode");
  EXPECT_EQ(decode.warps, 4);
  EXPECT_EQ(decode.lanes, 32); // 32 128-blocks: a lane each
  EXPECT_EQ(chooseLinearSchedule(p, 512, DType::F8E4M3).variant, "mma");
  // FP4 has no tensor-core kernel; FP8 entries between decode and the mma
  // tile quantize their activations.
  Schedule fp4 = chooseLinearSchedule(p, 512, DType::FP4E2M1x2);
  EXPECT_EQ(fp4.variant, "quantized");
  EXPECT_EQ(fp4.stagedTokens, 8);
  EXPECT_EQ(chooseLinearSchedule(p, 8, DType::F8E4M3).variant, "quantized");
  // BF16 rows of whole 64-column steps: the tensor cores in every entry (a
  // token gets the same bits at batch 1 and in a batch); others the GEMV.
  for (int64_t tokens : {1, 4, 64, 512})
    EXPECT_EQ(chooseLinearSchedule(p, tokens, DType::BF16),
              (Schedule{"mma", 8, 0, 32}));
  p.inFeatures = 4000;
  EXPECT_EQ(chooseLinearSchedule(p, 1, DType::BF16).variant, "gemv");
  p.inFeatures = 4096;
  p.numerics = 0;
  EXPECT_EQ(chooseLinearSchedule(p, 1, DType::F8E4M3),
            (Schedule{"gemv", 8, 4, 32}));
}

// A lane holds at most 16 weight chunks: 512 FP8 in-features give 4 blocks,
// so 4 lanes a row; 64k in-features would need more chunks than a lane
// holds and fall back to the quantized GEMV.
TEST(Schedule, DecodeLanesDivideTheRowsBlocks) {
  LinearParams p;
  p.inFeatures = 512;
  p.outFeatures = 64;
  p.numerics = 1;
  EXPECT_EQ(chooseLinearSchedule(p, 1, DType::F8E4M3).lanes, 4);
  p.inFeatures = 128 * 96; // 96 blocks: 32 lanes, 3 blocks (24 chunks) each
  EXPECT_EQ(chooseLinearSchedule(p, 1, DType::F8E4M3).variant, "quantized");
}

TEST(Schedule, OfficialGroupedLinearRunsOnTheTensorCores) {
  GroupedLinearParams p;
  p.groups = 8;
  p.inPerGroup = 4096;
  p.outPerGroup = 1024;
  p.numerics = 1;
  for (DType w : {DType::F8E4M3, DType::BF16})
    for (int64_t tokens : {1, 64, 512})
      EXPECT_EQ(chooseGroupedLinearSchedule(p, tokens, w).variant, "mma");
  EXPECT_EQ(chooseGroupedLinearSchedule(p, 1, DType::F32).variant, "gemv");
  EXPECT_EQ(chooseGroupedLinearSchedule(p, 1, DType::FP4E2M1x2).variant,
            "gemv");
  p.numerics = 0;
  EXPECT_EQ(chooseGroupedLinearSchedule(p, 1, DType::F8E4M3).prefetch, 4);
}

TEST(Schedule, MhcSplitsClustersOrRunsABlock) {
  EXPECT_EQ(chooseMhcSchedule(4, /*head=*/false, 1).variant, "split");
  Schedule pre = chooseMhcSchedule(4, /*head=*/false, 16);
  EXPECT_EQ(pre.variant, "cluster");
  EXPECT_EQ(pre.cluster, 8); // 24 mixing rows
  EXPECT_EQ(chooseMhcSchedule(4, /*head=*/true, 1).cluster, 4);
  EXPECT_EQ(chooseMhcSchedule(5, /*head=*/true, 1).variant, "block");
  EXPECT_EQ(chooseMhcSchedule(4, /*head=*/false, 512).variant, "block");
}

TEST(Schedule, OfficialLinearRmsNormRunsTwoKernelsForFewTokens) {
  LinearRmsNormParams p;
  p.inFeatures = 4096;
  p.outFeatures = 1024;
  p.numerics = 1;
  EXPECT_EQ(chooseLinearRmsNormSchedule(p, 1, DType::F8E4M3).variant,
            "decode_then_norm");
  for (int64_t tokens : {32, 64}) // the batch entry too
    EXPECT_EQ(chooseLinearRmsNormSchedule(p, tokens, DType::F8E4M3).variant,
              "quantized_then_norm");
  EXPECT_EQ(chooseLinearRmsNormSchedule(p, 65, DType::F8E4M3).variant,
            "cluster");
  Schedule large = chooseLinearRmsNormSchedule(p, 512, DType::F8E4M3);
  EXPECT_EQ(large.variant, "cluster");
  EXPECT_EQ(large.cluster, 8);
  p.numerics = 0;
  EXPECT_EQ(chooseLinearRmsNormSchedule(p, 1, DType::F8E4M3).variant,
            "cluster");
}

// V4-Flash's experts (dim 4096, inter 2048, 256 experts, top-6): decode
// entries run moe_decode.cuh with 16 lanes per w2 row, decode batches (up
// to 64 tokens) moe_stream.cuh, larger ones the tensor-core tiles, entries of
// unknown size the sliced kernel; the reference splits h over a cluster of 8.
TEST(Schedule, MoeVariantsFollowTheEntry) {
  MoeParams p;
  p.dim = 4096;
  p.inter = 2048;
  p.experts = 256;
  p.topk = 6;
  p.numerics = 1;
  Schedule decode = chooseMoeSchedule(p, 1);
  EXPECT_EQ(decode.variant, "decode");
  EXPECT_EQ(decode.lanes, 16);
  EXPECT_EQ(decode.rows, 32);
  EXPECT_EQ(chooseMoeSchedule(p, 16).variant, "stream");
  EXPECT_EQ(chooseMoeSchedule(p, 64).variant, "stream");
  EXPECT_EQ(chooseMoeSchedule(p, 65).variant, "grouped_mma");
  EXPECT_EQ(chooseMoeSchedule(p, 512).variant, "grouped_mma");
  EXPECT_EQ(chooseMoeSchedule(p, 0).variant, "cluster");
  EXPECT_EQ(chooseMoeSchedule(p, 0).tokensPerY, 128); // of 2048 / 6 pairs
  p.numerics = 0;
  Schedule ref = chooseMoeSchedule(p, 1);
  EXPECT_EQ(ref.variant, "cluster");
  EXPECT_EQ(ref.cluster, 8);
  EXPECT_GE(ref.stagedTokens, 1);
  EXPECT_GE(ref.stagedHidden, 1);
}

// The indexer scores over the whole GPU for entries of few tokens, keeping
// the scores of a 2^20-token context; a prefill entry (or one of unknown
// size) runs the cluster alone. The generator emits the scoring kernel, then
// the cluster's selection, sharing scratch for the scores.
TEST(Schedule, IndexerScoresOverTheGpuForFewTokens) {
  IndexerTopkParams p;
  p.heads = 64;
  p.headDim = 128;
  p.topk = 512;
  p.ratio = 4;
  Schedule decode = chooseIndexerSchedule(p, 1);
  EXPECT_EQ(decode.variant, "scored");
  EXPECT_EQ(decode.cluster, 8);
  EXPECT_EQ(decode.split, 128);
  EXPECT_EQ(decode.rows, (1 << 20) / 4);
  EXPECT_EQ(chooseIndexerSchedule(p, 64).variant, "scored");
  EXPECT_EQ(chooseIndexerSchedule(p, 512).variant, "cluster");
  EXPECT_EQ(chooseIndexerSchedule(p, 0).variant, "cluster");
  CudaLaunchSpec s = tokens(indexerSpec(64, 128, 512, 4), 2);
  auto ks = generateKernelSource(scheduled(s));
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_NE(ks->source.find("bk::indexerScore<64, 128, 4, 128, 262144, 256"),
            std::string::npos)
      << ks->source;
  EXPECT_EQ(ks->grid.xPerToken, 128);
  EXPECT_EQ(ks->scratchBytes, uint64_t(2 * 262144 * 4));
  ASSERT_EQ(ks->then.size(), 1u);
  EXPECT_EQ(ks->then[0].cluster, 8);
  EXPECT_EQ(ks->then[0].scratchBytes, ks->scratchBytes);
  EXPECT_NE(ks->then[0].source.find(", 262144>(args"), std::string::npos);
  auto cluster = generateKernelSource(scheduled(tokens(s, 512)));
  ASSERT_TRUE(cluster.isOk()) << cluster.status().toString();
  EXPECT_TRUE(cluster->then.empty());
  EXPECT_EQ(cluster->scratchBytes, 0u);
}

// Official attention splits each decode token's keys over up to 16 ranges
// of 4-head blocks, then combines the ranges in a second kernel through
// scratch, when the compile asks for it (--split-decode-attention): larger
// entries, the reference profile and KV entries that do not decode in whole
// chunks keep a block per head, as does every launch by default.
TEST(Schedule, AttentionSplitsKeysWhenAsked) {
  auto flash = [](int64_t heads, int64_t rope) {
    return official(attentionSpec(heads, 512, 128, 1, 4, 512),
                    [rope](SparseAttentionParams &p) {
                      p.kvFormat = 1;
                      p.ropeDim = rope;
                    });
  };
  // The launch outlives `p`, which points into it.
  const CudaLaunchSpec launch = flash(64, 64);
  const auto &p = std::get<SparseAttentionParams>(launch.params);
  Schedule decode = chooseSparseAttentionSchedule(p, 1, true);
  EXPECT_EQ(decode.variant, "split");
  EXPECT_EQ(decode.split, 16);
  EXPECT_EQ(decode.rows, 4);
  EXPECT_EQ(chooseSparseAttentionSchedule(p, 1, false).variant, "fixed");
  EXPECT_EQ(chooseSparseAttentionSchedule(p, 2, true).variant, "fixed");
  EXPECT_EQ(chooseSparseAttentionSchedule(p, 0, true).variant, "fixed");
  ScheduleOptions split;
  split.splitDecodeAttention = true;
  EXPECT_EQ(chooseSchedule(tokens(flash(64, 64), 1)).variant, "fixed");
  EXPECT_EQ(chooseSchedule(tokens(flash(6, 64), 1), split).rows, 2);
  EXPECT_EQ(chooseSchedule(tokens(flash(64, 60), 1), split).variant, "fixed");
  EXPECT_EQ(
      chooseSchedule(tokens(attentionSpec(64, 512, 128, 1, 4, 512), 1), split)
          .variant,
      "fixed");
  CudaLaunchSpec s = tokens(flash(64, 64), 1);
  s.schedule = chooseSchedule(s, split);
  auto ks = generateKernelSource(s);
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_NE(ks->source.find("bk::sparseAttentionSplit<64, 512, 64, "),
            std::string::npos)
      << ks->source;
  EXPECT_EQ(ks->grid.xPerToken, 16 * 16);
  EXPECT_EQ(ks->scratchBytes, uint64_t(16 * 64 * (512 + 2) * 4));
  ASSERT_EQ(ks->then.size(), 1u);
  EXPECT_NE(ks->then[0].source.find("bk::sparseAttentionCombine<64, 512, "),
            std::string::npos);
  EXPECT_EQ(ks->then[0].grid.xPerToken, 64);
  EXPECT_EQ(ks->then[0].scratchBytes, ks->scratchBytes);
  auto block = generateKernelSource(scheduled(tokens(flash(64, 64), 1)));
  ASSERT_TRUE(block.isOk()) << block.status().toString();
  EXPECT_TRUE(block->then.empty());
  EXPECT_EQ(block->scratchBytes, 0u);
}

// The compressor of an entry of at most 64 tokens projects them over the
// whole GPU into scratch, then its cluster walks them; larger entries (and
// those of unknown size) project inside the cluster.
TEST(Schedule, CompressorProjectsOverTheGpuForFewTokens) {
  EXPECT_EQ(chooseCompressorSchedule(1).variant, "projected");
  EXPECT_EQ(chooseCompressorSchedule(64).variant, "projected");
  EXPECT_EQ(chooseCompressorSchedule(65).variant, "cluster");
  EXPECT_EQ(chooseCompressorSchedule(0).variant, "cluster");
  CudaLaunchSpec s =
      tokens(official(compressorSpec(4096, 512, 4, true, 64),
                      [](CompressorParams &p) { p.entryFormat = 1; }),
             3);
  auto ks = generateKernelSource(scheduled(s));
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_NE(ks->source.find("bk::compressorProject<4096, 1024, "),
            std::string::npos)
      << ks->source;
  EXPECT_EQ(ks->grid.xConst, 2 * 1024 / 8);
  EXPECT_EQ(ks->scratchBytes, uint64_t(3 * 2 * 1024 * 4));
  ASSERT_EQ(ks->then.size(), 1u);
  EXPECT_NE(ks->then[0].source.find(", true>(args"), std::string::npos)
      << ks->then[0].source;
  EXPECT_EQ(ks->then[0].scratchBytes, ks->scratchBytes);
  auto cluster = generateKernelSource(scheduled(tokens(s, 512)));
  ASSERT_TRUE(cluster.isOk()) << cluster.status().toString();
  EXPECT_TRUE(cluster->then.empty());
  EXPECT_EQ(cluster->scratchBytes, 0u);
}

// The router of an entry of at most 64 tokens computes the gate's scores
// over the whole GPU into scratch, then a warp per token selects.
TEST(Schedule, RouterScoresOverTheGpuForFewTokens) {
  EXPECT_EQ(chooseRouterSchedule(1).variant, "scored");
  EXPECT_EQ(chooseRouterSchedule(64).variant, "scored");
  EXPECT_EQ(chooseRouterSchedule(65).variant, "cluster");
  EXPECT_EQ(chooseRouterSchedule(0).variant, "cluster");
  CudaLaunchSpec s = tokens(routingSpec("router", 4096, 256, 6, false), 5);
  auto ks = generateKernelSource(scheduled(s));
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_NE(ks->source.find("bk::routerGateScores<4096, 256, "),
            std::string::npos)
      << ks->source;
  EXPECT_EQ(ks->grid.xConst, 64);
  EXPECT_EQ(ks->scratchBytes, uint64_t(5 * 256 * 4));
  ASSERT_EQ(ks->then.size(), 1u);
  EXPECT_NE(ks->then[0].source.find("bk::routerSelect<256, 6, false"),
            std::string::npos);
  EXPECT_EQ(ks->then[0].grid.tokensPerY, 4);
  auto cluster = generateKernelSource(scheduled(tokens(s, 512)));
  ASSERT_TRUE(cluster.isOk()) << cluster.status().toString();
  EXPECT_TRUE(cluster->then.empty());
}

// chooseSchedule dispatches on the spec's kernel and reads its entry size
// and first weight.
TEST(Schedule, ChooseScheduleReadsTheSpec) {
  CudaLaunchSpec lin = official(linearSpec(4096, 1024, DType::F8E4M3));
  EXPECT_EQ(chooseSchedule(tokens(lin, 1)).variant, "decode");
  EXPECT_EQ(chooseSchedule(tokens(lin, 64)).variant, "mma");
  EXPECT_EQ(chooseSchedule(mhcPostSpec(4096, 4)).variant, "fixed");
  EXPECT_EQ(scheduled(tokens(lin, 1)).schedule, chooseSchedule(tokens(lin, 1)));
}

TEST(Schedule, GeneratorsRefuseALaunchWithoutASchedule) {
  auto ks = generateKernelSource(linearSpec(4096, 1024, DType::F8E4M3));
  ASSERT_FALSE(ks.isOk());
  EXPECT_EQ(ks.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(ks.status().message().find("'linear'"), std::string::npos);
  EXPECT_NE(ks.status().message().find("no schedule"), std::string::npos)
      << ks.status().message();
}

TEST(Schedule, GeneratorsRefuseAVariantTheyDoNotHave) {
  CudaLaunchSpec s = linearSpec(4096, 1024, DType::F8E4M3);
  s.schedule = variantOnly("mma"); // the reference linear has no mma kernel
  auto ks = generateKernelSource(s);
  ASSERT_FALSE(ks.isOk());
  EXPECT_NE(ks.status().message().find("schedule variant 'mma'"),
            std::string::npos)
      << ks.status().message();
  CudaLaunchSpec m = tokens(mhcSpec("mhc_pre", 4096, 4), 16);
  m.schedule = variantOnly("cluster");
  m.schedule->cluster = 5; // does not split 24 rows
  EXPECT_EQ(generateKernelSource(m).status().code(),
            StatusCode::InvalidArgument);
}

// The generator takes the schedule's knobs as they are: a reference linear
// of 4 warps has blocks of 128 threads and a warp per output row.
TEST(Schedule, GeneratorsReadTheKnobs) {
  CudaLaunchSpec s = scheduled(linearSpec(4096, 1024, DType::F8E4M3));
  s.schedule->warps = 4;
  auto ks = generateKernelSource(s);
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_EQ(ks->grid.block, 128);
  EXPECT_EQ(ks->grid.xConst, 1024 / 4);
  EXPECT_NE(ks->source.find("bk::linear<4096, 1024, "), std::string::npos);
  // An official decode linear of 8 lanes a row instead of the chosen 32.
  CudaLaunchSpec d =
      scheduled(tokens(official(linearSpec(4096, 1024, DType::F8E4M3)), 1));
  d.schedule->lanes = 8;
  auto dk = generateKernelSource(d);
  ASSERT_TRUE(dk.isOk()) << dk.status().toString();
  EXPECT_NE(dk->source.find(", 4, 8>(args);"), std::string::npos) << dk->source;
}

} // namespace
} // namespace birkhoff::cuda::test
