//===- KernelSourceTest.cpp - Generated CUDA sources (no NVRTC needed) ----===//
#include "CudaTemplates.h"
#include "Launches.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace birkhoff::cuda::test {
namespace {

const auto roundOutput = [](LinearParams &p) { p.roundOutput = true; };

TEST(KernelSource, EveryRepresentativeLaunchGenerates) {
  std::set<std::string> entries;
  for (const NamedLaunch &l : representativeLaunches()) {
    auto ks = generateKernelSource(scheduled(l.spec));
    ASSERT_TRUE(ks.isOk()) << l.name << ": " << ks.status().toString();
    EXPECT_NE(ks->source.find("extern \"C\" __global__"), std::string::npos);
    EXPECT_NE(ks->source.find(ks->entry + "(const BkLaunch args)"),
              std::string::npos);
    EXPECT_TRUE(entries.insert(ks->entry).second)
        << "duplicate entry " << ks->entry;
    EXPECT_GT(ks->grid.block, 0);
    EXPECT_EQ(ks->grid.block % 32, 0);
    EXPECT_GE(ks->grid.gridX(1), 1) << l.name;
  }
}

TEST(KernelSource, EntryNamesAreStable) {
  auto a =
      generateKernelSource(scheduled(linearSpec(4096, 1024, DType::F8E4M3)));
  auto b =
      generateKernelSource(scheduled(linearSpec(4096, 1024, DType::F8E4M3)));
  auto c =
      generateKernelSource(scheduled(linearSpec(4096, 1024, DType::FP4E2M1x2)));
  ASSERT_TRUE(a.isOk() && b.isOk() && c.isOk());
  EXPECT_EQ(a->entry, b->entry);
  EXPECT_EQ(a->source, b->source);
  EXPECT_NE(a->entry, c->entry);
}

TEST(KernelSource, GridRules) {
  auto lin =
      generateKernelSource(scheduled(linearSpec(4096, 1024, DType::F8E4M3)));
  ASSERT_TRUE(lin.isOk());
  EXPECT_EQ(lin->grid.gridX(1), 128); // 1024 rows / 8 warps
  EXPECT_EQ(lin->grid.gridX(4096), 128);
  EXPECT_EQ(lin->grid.gridY(1), 1);
  EXPECT_EQ(lin->grid.gridY(33), 2);
  EXPECT_EQ(lin->grid.block, 256);
  auto p = generateKernelSource(scheduled(mhcPostSpec(4096, 4)));
  ASSERT_TRUE(p.isOk());
  EXPECT_EQ(p->grid.gridX(3), 12); // 4 slices of 1024 per token
}

TEST(KernelSource, ClusterKernelsDeclareTheirClusters) {
  // A whole GEMV output per token slice, or the whole call, in one cluster.
  struct Case {
    CudaLaunchSpec spec;
    int cluster;
    int64_t gridX1, gridX5, gridY40;
  };
  for (const Case &c :
       {Case{linearNormSpec(4096, 1024, DType::F8E4M3), 8, 8, 8, 2},
        Case{routingSpec("router", 4096, 256, 6, false), 8, 8, 8, 2},
        Case{moeSpec(4096, 2048, 256, 6, DType::FP4E2M1x2, DType::F8E4M3), 8, 8,
             8, 1},
        Case{compressorSpec(4096, 512, 4, true, 64), 8, 8, 8, 1},
        Case{indexerSpec(64, 128, 512, 4), 8, 8, 40, 1}}) {
    auto ks = generateKernelSource(scheduled(c.spec));
    ASSERT_TRUE(ks.isOk()) << ks.status().toString();
    SCOPED_TRACE(kernelName(c.spec.kernel()));
    EXPECT_EQ(ks->cluster, c.cluster);
    EXPECT_NE(ks->source.find("__cluster_dims__(" + std::to_string(c.cluster) +
                              ", 1, 1)"),
              std::string::npos);
    EXPECT_EQ(ks->grid.gridX(1), c.gridX1);
    EXPECT_EQ(ks->grid.gridX(5), c.gridX5);
    EXPECT_EQ(ks->grid.gridX(5) % c.cluster, 0);
    EXPECT_EQ(ks->grid.gridY(40), c.gridY40);
  }
  auto plain =
      generateKernelSource(scheduled(linearSpec(4096, 1024, DType::F8E4M3)));
  ASSERT_TRUE(plain.isOk());
  EXPECT_EQ(plain->cluster, 1);
  EXPECT_EQ(plain->source.find("__cluster_dims__"), std::string::npos);
}

// Decode batches (entries of 5 to 64 tokens) run moe_stream.cuh's five
// kernels: the activations per token, the persistent h and w2 kernels (a
// fixed grid that takes items from a counter), the h activations per (token,
// slot), the sum per token; no clusters; one scratch region for all five.
TEST(KernelSource, StreamMoeIsFiveKernels) {
  for (int64_t maxTokens : {5, 32, 64}) {
    SCOPED_TRACE(maxTokens);
    CudaLaunchSpec s =
        official(moeSpec(4096, 2048, 256, 6, DType::FP4E2M1x2, DType::F8E4M3));
    s.maxTokens = maxTokens;
    auto ks = generateKernelSource(scheduled(s));
    ASSERT_TRUE(ks.isOk()) << ks.status().toString();
    const std::string shape = "<4096, 2048, 256, 6, ";
    EXPECT_NE(ks->source.find("bk::moeStreamActs" + shape +
                              std::to_string(maxTokens) + ", 8, false>(args"),
              std::string::npos)
        << ks->source;
    ASSERT_EQ(ks->then.size(), 4u);
    const KernelSource &hidden = ks->then[0], &hActs = ks->then[1],
                       &down = ks->then[2], &combine = ks->then[3];
    EXPECT_NE(hidden.source.find("bk::moeStreamHidden" + shape + "4, 2, true, " +
                                 std::to_string(maxTokens) + ", 8>(args"),
              std::string::npos)
        << hidden.source;
    EXPECT_NE(hActs.source.find(", 8, true>(args"), std::string::npos);
    EXPECT_NE(down.source.find("bk::moeStreamDown" + shape + "4, 2, " +
                               std::to_string(maxTokens) + ", 8>(args"),
              std::string::npos)
        << down.source;
    EXPECT_NE(combine.source.find("bk::moeStreamCombine"), std::string::npos);
    EXPECT_EQ(ks->grid.gridX(3), 3);
    EXPECT_EQ(hidden.grid.gridX(3), hidden.grid.gridX(64)); // persistent
    EXPECT_EQ(down.grid.gridX(3), down.grid.gridX(64));
    EXPECT_EQ(hActs.grid.gridX(3), 3 * 7);
    EXPECT_EQ(combine.grid.gridX(3), 3);
    for (const KernelSource *k :
         std::initializer_list<const KernelSource *>{&*ks, &hidden, &hActs,
                                                     &down, &combine})
      EXPECT_EQ(k->cluster, 1);
    // Counters; per token its activation rows (planes, ints, sums, scales);
    // per (token, slot) h, its activation rows, out_e.
    auto actRow = [](uint64_t kd) {
      return (8 * kd + kd / 8 + kd / 128 + 15) / 16 * 16 - kd;
    };
    const uint64_t pairs = uint64_t(maxTokens) * 7;
    EXPECT_EQ(ks->scratchBytes, 256 + uint64_t(maxTokens) * actRow(4096) +
                                    pairs * (2048 * 4 + actRow(2048)) +
                                    pairs * 4096 * 4);
    EXPECT_EQ(down.scratchBytes, ks->scratchBytes);
  }
}

// The grouped GEMV tiles (moe_grouped.cuh, a variant schedules can name):
// a cluster per expert (and per 32 tokens of the shared expert), each
// expert's h split over two clusters, with fp32 partials for each in scratch.
TEST(KernelSource, GroupedMoeGridsAndScratch) {
  struct Case {
    int64_t experts, maxTokens, split, sharedClusters;
  };
  for (Case c : {Case{256, 5, 2, 1}, Case{256, 32, 2, 1}, Case{16, 8, 2, 1}}) {
    CudaLaunchSpec s = official(
        moeSpec(4096, 2048, c.experts, 6, DType::FP4E2M1x2, DType::F8E4M3));
    s.maxTokens = c.maxTokens;
    s = scheduled(s);
    ASSERT_TRUE(s.schedule.has_value());
    s.schedule->variant = "grouped";
    s.schedule->split = c.split;
    auto ks = generateKernelSource(s);
    ASSERT_TRUE(ks.isOk()) << ks.status().toString();
    SCOPED_TRACE(c.maxTokens);
    EXPECT_NE(ks->source.find("moeOfficialGrouped<"), std::string::npos);
    EXPECT_NE(ks->source.find(", " + std::to_string(c.sharedClusters) + ", " +
                              std::to_string(c.split) + ">(args"),
              std::string::npos)
        << ks->source;
    EXPECT_EQ(ks->cluster, 8);
    EXPECT_TRUE(ks->then.empty());
    EXPECT_EQ(ks->grid.gridX(1), (c.experts + c.sharedClusters) * c.split * 8);
    EXPECT_EQ(ks->grid.gridX(7), ks->grid.gridX(1)); // sized by the entry
    EXPECT_EQ(ks->scratchBytes,
              uint64_t(c.maxTokens) * 7 * uint64_t(c.split) * 4096 * 4 +
                  uint64_t(c.maxTokens) * 4);
  }
}

// Entries of up to 4 tokens (decode) run three kernels (moe_decode.cuh): a
// block per (token, slot, 32 rows of h), per (token, slot) to quantize h,
// then per (token, 16 output rows: 16 lanes a row at inter 2048); no
// clusters; h, its codes and scales in
// scratch per token and slot.
TEST(KernelSource, DecodeMoeIsThreeKernels) {
  for (int64_t maxTokens : {1, 4}) {
    SCOPED_TRACE(maxTokens);
    CudaLaunchSpec s =
        official(moeSpec(4096, 2048, 256, 6, DType::FP4E2M1x2, DType::F8E4M3));
    s.maxTokens = maxTokens;
    auto ks = generateKernelSource(scheduled(s));
    ASSERT_TRUE(ks.isOk()) << ks.status().toString();
    EXPECT_NE(ks->source.find("bk::moeDecodeHidden<4096, 2048, 256, 6, 4, 2, "
                              "true, 8, 32>(args"),
              std::string::npos)
        << ks->source;
    ASSERT_EQ(ks->then.size(), 2u);
    const KernelSource &quantize = ks->then[0], &down = ks->then[1];
    EXPECT_NE(quantize.source.find("bk::moeDecodeQuantize<2048, 256, 6, 8>"),
              std::string::npos)
        << quantize.source;
    EXPECT_EQ(quantize.grid.gridX(3), 3 * 7);
    EXPECT_NE(
        down.source.find("bk::moeDecodeDown<4096, 2048, 256, 6, 4, 2, 8, 16>"),
        std::string::npos)
        << down.source;
    EXPECT_EQ(ks->cluster, 1);
    EXPECT_EQ(down.cluster, 1);
    EXPECT_EQ(ks->grid.gridX(3), 3 * 7 * (2048 / 32));
    EXPECT_EQ(down.grid.gridX(3), 3 * (4096 / 16)); // 16 lanes a row
    // Per token and slot: h floats, codes, 16 scale bytes.
    const uint64_t perSlot = 5 * 2048 + 16;
    EXPECT_EQ(ks->scratchBytes, uint64_t(maxTokens) * 7 * perSlot);
    EXPECT_EQ(down.scratchBytes, ks->scratchBytes);
  }
}

// The decode moe's w2 lane groups are as wide as the rows' 128-blocks allow,
// and wider where a block's rows would not tile dim (the tiny goldens' dim
// 128 and inter 128: 2 lanes, 128 rows a block).
TEST(KernelSource, DecodeMoeRowsTileDim) {
  struct Case {
    int64_t dim, inter;
    const char *lanes;
    int64_t blocks;
  };
  for (Case c :
       {Case{128, 128, ", 8, 2>(args)", 1}, Case{384, 256, ", 8, 2>(args)", 3},
        Case{1024, 512, ", 8, 4>(args)", 16}}) {
    SCOPED_TRACE(c.dim);
    CudaLaunchSpec s = official(
        moeSpec(c.dim, c.inter, 4, 4, DType::FP4E2M1x2, DType::F8E4M3));
    s.maxTokens = 1;
    auto ks = generateKernelSource(scheduled(s));
    ASSERT_TRUE(ks.isOk()) << ks.status().toString();
    ASSERT_EQ(ks->then.size(), 2u);
    EXPECT_NE(ks->then[1].source.find(c.lanes), std::string::npos)
        << ks->then[1].source;
    EXPECT_EQ(ks->then[1].grid.gridX(1), c.blocks);
  }
}

// The official linear_rms_norm of a decode entry is the decode linear over
// the whole GPU, then the norm a block per token; other entries keep one
// cluster per 32-token slice.
TEST(KernelSource, DecodeLinearRmsNormIsTwoKernels) {
  CudaLaunchSpec s = official(linearNormSpec(4096, 1024, DType::F8E4M3));
  s.maxTokens = 1;
  auto ks = generateKernelSource(scheduled(s));
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_NE(ks->source.find("bk::linearOfficialDecode<4096, 1024, 2, 4, 32>"),
            std::string::npos)
      << ks->source;
  EXPECT_EQ(ks->cluster, 1);
  EXPECT_EQ(ks->grid.gridX(1), 1024 / 4);
  ASSERT_EQ(ks->then.size(), 1u);
  EXPECT_NE(ks->then[0].source.find("bk::rmsNormRowsOfficial<1024, 1, 256>"),
            std::string::npos)
      << ks->then[0].source;
  EXPECT_EQ(ks->then[0].grid.gridX(5), 5);
  s.maxTokens = 512;
  auto prefill = generateKernelSource(scheduled(s));
  ASSERT_TRUE(prefill.isOk());
  EXPECT_TRUE(prefill->then.empty());
  EXPECT_EQ(prefill->cluster, 8);
}

// The official FP8/FP4 linear of a decode entry: a lane group per row as
// wide as the row's 128-blocks allow (a power of two up to 32), 4 warps a
// block, a token per grid.y; rows whose lanes would hold more than 16 weight
// chunks keep the general kernel.
TEST(KernelSource, DecodeLinearGroupsLanesPerRow) {
  struct Case {
    int64_t in, out;
    DType w;
    const char *call;
    int64_t blocks;
  };
  for (Case c :
       {Case{4096, 1024, DType::F8E4M3, "<4096, 1024, 2, 4, 32>", 256},
        Case{1024, 32768, DType::F8E4M3, "<1024, 32768, 2, 4, 8>", 2048},
        Case{8192, 4096, DType::F8E4M3, "<8192, 4096, 2, 4, 32>", 1024},
        Case{2048, 4096, DType::FP4E2M1x2, "<2048, 4096, 4, 4, 16>", 512}}) {
    SCOPED_TRACE(c.call);
    CudaLaunchSpec s = official(linearSpec(c.in, c.out, c.w), roundOutput);
    s.maxTokens = 1;
    auto ks = generateKernelSource(scheduled(s));
    ASSERT_TRUE(ks.isOk()) << ks.status().toString();
    EXPECT_NE(ks->source.find(std::string("linearOfficialDecode") + c.call),
              std::string::npos)
        << ks->source;
    EXPECT_EQ(ks->grid.gridX(1), c.blocks);
    EXPECT_EQ(ks->grid.gridY(3), 3);
  }
  // 7168 inputs: 56 blocks, 8 lanes a row, 7 blocks of 8 FP8 chunks a lane.
  CudaLaunchSpec wide =
      official(linearSpec(7168, 1024, DType::F8E4M3), roundOutput);
  wide.maxTokens = 1;
  auto ks = generateKernelSource(scheduled(wide));
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_NE(ks->source.find("bk::linearOfficial<7168"), std::string::npos);
}

// Entries of more than 32 tokens run the grouped moe's tiles on the tensor
// cores (moe_mma.cuh), one cluster per expert and per 32 shared tokens.
TEST(KernelSource, GroupedMoeOfManyTokensUsesTensorCores) {
  CudaLaunchSpec s =
      official(moeSpec(4096, 2048, 256, 6, DType::FP4E2M1x2, DType::F8E4M3));
  s.maxTokens = 512;
  auto ks = generateKernelSource(scheduled(s));
  ASSERT_TRUE(ks.isOk()) << ks.status().toString();
  EXPECT_NE(ks->source.find("bk::moeOfficialGroupedMma<4096, 2048, 256, 6,"),
            std::string::npos)
      << ks->source;
  EXPECT_EQ(ks->cluster, 8);
  EXPECT_EQ(ks->grid.gridX(1), (256 + 16) * 8);
  EXPECT_EQ(ks->scratchBytes, uint64_t(512) * 7 * 4096 * 4 + 512 * 4);
  // Experts whose rank rows do not tile into warps keep the GEMV tiles.
  CudaLaunchSpec odd =
      official(moeSpec(384, 128, 8, 2, DType::FP4E2M1x2, DType::F8E4M3));
  odd.maxTokens = 512;
  auto gemv = generateKernelSource(scheduled(odd));
  ASSERT_TRUE(gemv.isOk()) << gemv.status().toString();
  EXPECT_NE(gemv->source.find("moeOfficialGrouped<"), std::string::npos);
}

TEST(KernelSource, AttentionGrids) {
  auto att =
      generateKernelSource(scheduled(attentionSpec(64, 512, 128, 1, 4, 512)));
  ASSERT_TRUE(att.isOk());
  EXPECT_EQ(att->grid.gridX(3), 3 * 64); // a block per (token, head)
  auto w = generateKernelSource(scheduled(windowWriteSpec(128, 512)));
  ASSERT_TRUE(w.isOk());
  EXPECT_EQ(w->grid.gridX(7), 7);
}

// Compressed keys need the ratio in both profiles: a top-k index must name
// an entry its sequence has ((last position + 1) div ratio).
TEST(KernelSource, CompressedAttentionNeedsItsRatio) {
  auto csa = generateKernelSource(scheduled(attentionSpec(4, 64, 8, 1, 4, 6)));
  ASSERT_TRUE(csa.isOk()) << csa.status().toString();
  EXPECT_NE(csa->source.find("bk::sparseAttention<4, 64, 8, 1, 4, 6,"),
            std::string::npos);
  for (int64_t mode : {1, 2}) {
    auto bad =
        generateKernelSource(scheduled(attentionSpec(4, 64, 8, mode, 0, 6)));
    ASSERT_FALSE(bad.isOk()) << "mode " << mode;
    EXPECT_NE(bad.status().message().find("ratio"), std::string::npos);
  }
}

// The launch ABI is batched (docs/cuda.md): every template finds a token's
// position and slot through BkToken and its state rows through the slot
// (bkFixedRow, bkPagedRow(s)); none reads a call-wide position or indexes a
// state pool directly.
TEST(KernelSource, TemplatesReadStateThroughTheBatchedAbi) {
  for (const DeviceTemplate &t : deviceTemplates()) {
    const std::string text = t.text, name = t.includeName;
    for (const char *old : {"bkStart", "start_at", "a.start"})
      EXPECT_EQ(text.find(old), std::string::npos) << name << ": " << old;
    if (name != "bk/abi.cuh")
      EXPECT_EQ(text.find("states["), std::string::npos) << name;
  }
}

TEST(KernelSource, CatalogueLaunchErrorsAreNamed) {
  CudaLaunchSpec moe = moeSpec(64, 32, 4, 2, DType::BF16, DType::F32);
  moe.weightDTypes.pop_back();
  moe.weightShapes.pop_back();
  auto a = generateKernelSource(scheduled(moe));
  ASSERT_FALSE(a.isOk());
  EXPECT_NE(a.status().message().find("expected 3 per expert"),
            std::string::npos);

  CudaLaunchSpec mixed = moeSpec(64, 32, 4, 2, DType::BF16, DType::F32);
  mixed.weightDTypes[3] = DType::F32; // expert 1's w1
  EXPECT_EQ(generateKernelSource(scheduled(mixed)).status().code(),
            StatusCode::Unsupported);

  CudaLaunchSpec hash = routingSpec("route_select", 0, 256, 6, true);
  hash.weightShapes[0] = {129280, 5};
  auto b = generateKernelSource(scheduled(hash));
  ASSERT_FALSE(b.isOk());
  EXPECT_NE(b.status().message().find("hash table"), std::string::npos);

  CudaLaunchSpec comp = compressorSpec(4096, 512, 4, true, 63);
  EXPECT_FALSE(generateKernelSource(scheduled(comp)).isOk());

  // Built directly (the decode would refuse an official-only param here).
  CudaLaunchSpec fp8kv = with(attentionSpec(64, 512, 128, 1, 4, 512),
                              [](SparseAttentionParams &p) { p.kvFormat = 1; });
  EXPECT_EQ(generateKernelSource(scheduled(fp8kv)).status().code(),
            StatusCode::Unsupported);

  CudaLaunchSpec wide = indexerSpec(256, 256, 512, 4); // 256 KiB of queries
  EXPECT_EQ(generateKernelSource(scheduled(wide)).status().code(),
            StatusCode::Unsupported);
}

TEST(KernelSource, EveryCatalogueKernelIsGenerated) {
  std::vector<std::string_view> names = cudaGeneratedKernels();
  for (const char *k : {"embed",         "mhc_pre",        "mhc_pre_norm",
                        "mhc_post",      "mhc_head",       "mhc_head_norm",
                        "rms_norm",      "linear",         "linear_rms_norm",
                        "head_rms_norm", "rope",           "head_rms_norm_rope",
                        "compressor",    "indexer_topk",   "sparse_attention",
                        "window_write",  "grouped_linear", "router_scores",
                        "route_select",  "router",         "moe"})
    EXPECT_NE(std::find(names.begin(), names.end(), k), names.end()) << k;
}

TEST(KernelSource, RopeEmbedsHostFrequencies) {
  auto ks = generateKernelSource(scheduled(ropeSpec(2, 8, 4, false, false)));
  ASSERT_TRUE(ks.isOk());
  // theta 10000, rope_dim 4: 1 and 1/100 (as the host computes them).
  float f1 = 1.0f / std::pow(10000.0f, 2.0f / 4.0f);
  char lit[64];
  std::snprintf(lit, sizeof lit, "%af", double(f1));
  EXPECT_NE(
      ks->source.find("bk_inv_freq[2] = {0x1p+0f, " + std::string(lit) + "}"),
      std::string::npos)
      << ks->source;
}

TEST(KernelSource, UnknownKernelsAndUndecodedSpecsAreRefused) {
  auto unknown = launchSpecOf("no_such_kernel", std::vector<ParamPair>{});
  ASSERT_FALSE(unknown.isOk());
  EXPECT_NE(unknown.status().message().find("unknown kernel 'no_such_kernel'"),
            std::string::npos);
  auto none = generateKernelSource(CudaLaunchSpec());
  ASSERT_FALSE(none.isOk());
  EXPECT_EQ(none.status().code(), StatusCode::InvalidArgument);
}

// One entry per catalogue kernel says what is generated: every kernel has a
// reference generator, and cudaGeneratedKernels lists exactly those.
TEST(KernelSource, GeneratorTableCoversTheCatalogue) {
  std::vector<std::string_view> names = cudaGeneratedKernels();
  size_t generated = 0;
  for (const KernelSignature &sig : kernelCatalog()) {
    CudaKernelSupport support = cudaKernelSupport(sig.id);
    bool listed =
        std::find(names.begin(), names.end(), sig.name) != names.end();
    EXPECT_EQ(support.generated, listed) << sig.name;
    generated += support.generated ? 1 : 0;
  }
  EXPECT_EQ(generated, names.size());
  EXPECT_EQ(cudaKernelSupport(KernelId::Linear).official,
            CudaOfficialGenerator::Own);
  EXPECT_EQ(cudaKernelSupport(KernelId::Embed).official,
            CudaOfficialGenerator::Reference);
}

TEST(KernelSource, OfficialLaunchesOutsideTheGeneratedFormatsAreUnsupported) {
  // BF16 experts and f32 state rows exist only in the reference profile.
  for (CudaLaunchSpec s :
       {official(moeSpec(128, 128, 4, 2, DType::BF16, DType::BF16)),
        official(attentionSpec(64, 512, 128, 1, 4, 512),
                 [](SparseAttentionParams &p) { p.ropeDim = 64; }),
        official(indexerSpec(64, 128, 512, 4))}) {
    auto ks = generateKernelSource(scheduled(s));
    ASSERT_FALSE(ks.isOk()) << kernelName(s.kernel());
    EXPECT_EQ(ks.status().code(), StatusCode::Unsupported)
        << kernelName(s.kernel());
  }
  CudaLaunchSpec bad = with(linearSpec(64, 8, DType::F8E4M3),
                            [](LinearParams &p) { p.numerics = 2; });
  EXPECT_EQ(generateKernelSource(scheduled(bad)).status().code(),
            StatusCode::InvalidArgument);
}

TEST(KernelSource, OfficialLaunchesHaveTheirOwnKernels) {
  // Same launch, other profile: other source, other entry.
  CudaLaunchSpec ref = linearSpec(4096, 1024, DType::F8E4M3);
  auto a = generateKernelSource(scheduled(ref));
  auto b = generateKernelSource(scheduled(official(ref, roundOutput)));
  ASSERT_TRUE(a.isOk() && b.isOk()) << b.status().toString();
  EXPECT_NE(a->entry, b->entry);
  EXPECT_NE(b->source.find("bk::linearOfficial<"), std::string::npos);
  // FP8 activation blocks need whole 128-blocks.
  auto c = generateKernelSource(
      scheduled(official(linearSpec(64, 8, DType::F8E4M3), roundOutput)));
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("128-blocks"), std::string::npos);
  // Kernels whose numerics do not change keep the reference kernel.
  CudaLaunchSpec e = embedSpec(64, 4, 10);
  auto r1 = generateKernelSource(scheduled(e)),
       r2 = generateKernelSource(scheduled(official(e)));
  ASSERT_TRUE(r1.isOk() && r2.isOk());
  EXPECT_EQ(r1->source, r2->source);
}

TEST(KernelSource, BadLaunchesAreNamedErrors) {
  CudaLaunchSpec shape = linearSpec(64, 8, DType::BF16);
  shape.weightShapes[0] = {8, 65};
  auto b = generateKernelSource(scheduled(shape));
  ASSERT_FALSE(b.isOk());
  EXPECT_NE(b.status().message().find("8x65"), std::string::npos);

  CudaLaunchSpec dtype = linearSpec(64, 8, DType::I32);
  auto c = generateKernelSource(scheduled(dtype));
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.status().code(), StatusCode::Unsupported);

  CudaLaunchSpec fp4 = linearSpec(48, 8, DType::FP4E2M1x2);
  EXPECT_FALSE(generateKernelSource(scheduled(fp4)).isOk());

  // The generators' range checks name the kernel and the key.
  auto hc = generateKernelSource(scheduled(mhcPostSpec(4096, 9)));
  ASSERT_FALSE(hc.isOk());
  EXPECT_NE(hc.status().message().find(
                "CUDA launch of 'mhc_post': parameter 'hc' = 9 is not in "
                "[1, 8]"),
            std::string::npos)
      << hc.status().toString();
  auto after = generateKernelSource(
      scheduled(official(ropeSpec(1, 512, 64, true, false),
                         [](RopeParams &p) { p.afterRope = 3; })));
  ASSERT_FALSE(after.isOk());
  EXPECT_NE(after.status().message().find("parameter 'after_rope' = 3"),
            std::string::npos)
      << after.status().toString();
  auto eps = generateKernelSource(
      scheduled(with(rmsNormSpec(64), [](RmsNormParams &p) { p.eps = NAN; })));
  ASSERT_FALSE(eps.isOk());
  EXPECT_NE(eps.status().message().find("parameter 'eps' is not finite"),
            std::string::npos)
      << eps.status().toString();
}

// Specs built from the artifact's (key, value) pairs go through the
// runtime's decode: a missing, unknown or fractional param is its named
// error, before any generator runs.
TEST(KernelSource, PairsAreDecodedWithNamedErrors) {
  std::vector<ParamPair> pairs = {{"in_features", 64}, {"out_features", 8}};
  auto ok = launchSpecOf("linear", pairs);
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->kernel(), KernelId::Linear);
  EXPECT_EQ(std::get<LinearParams>(ok->params).outFeatures, 8);

  auto missing =
      launchSpecOf("linear", std::vector<ParamPair>{{"in_features", 64}});
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().message(),
            "kernel 'linear': parameter 'out_features' is missing");

  std::vector<ParamPair> unknown = pairs;
  unknown.emplace_back("in_featurs", 64);
  auto u = launchSpecOf("linear", unknown);
  ASSERT_FALSE(u.isOk());
  EXPECT_EQ(u.status().message(),
            "kernel 'linear': parameter 'in_featurs' is not a parameter of "
            "this kernel");

  auto frac =
      launchSpecOf("linear", std::vector<ParamPair>{{"in_features", 64.5},
                                                    {"out_features", 8}});
  ASSERT_FALSE(frac.isOk());
  EXPECT_EQ(frac.status().message(),
            "kernel 'linear': parameter 'in_features' = 64.5 is not an "
            "integer");

  // An official-only param without numerics = 1.
  auto ref =
      launchSpecOf("linear", std::vector<ParamPair>{{"in_features", 64},
                                                    {"out_features", 8},
                                                    {"round_output", 1}});
  ASSERT_FALSE(ref.isOk());
  EXPECT_NE(ref.status().message().find("official-only"), std::string::npos);
}

} // namespace
} // namespace birkhoff::cuda::test
