//===- OfficialNumericsTest.cpp - The official profile's launch parameters ===//
//
// Compiles goldens with `numerics = official` and checks, launch by launch,
// the parameters and state rows docs/kernels.md ("The `official` numerics
// profile") asks for. Which rope is which is established from the program's
// data flow (the buffer a rope writes and who reads it), not from the
// lowering's own bookkeeping; byte sizes are spelled out from the layout
// rules (FP8 KV entry: nope + 2·rope + nope/64 rounded up to 8; FP4 key:
// D/2 + D/32).
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"

#include "llvm/ADT/DenseMap.h"

#include <map>

using namespace birkhoff;
using namespace birkhoff::test;

namespace {

struct LayerKinds {
  int window = 0, csa = 0, hca = 0;
};
LayerKinds countKinds(const v4::ModelConfig &c) {
  LayerKinds k;
  for (v4::LayerAttention a : c.attention)
    (a == v4::LayerAttention::Window ? k.window
     : a == v4::LayerAttention::CSA  ? k.csa
                                     : k.hca)++;
  return k;
}

/// The official-only parameters of docs/kernels.md.
constexpr const char *kOfficialParams[] = {"numerics",   "round_output",
                                           "after_rope", "entry_format",
                                           "kv_format",  "key_format"};

TEST(OfficialNumerics, TinyDqLaunchParameters) {
  LoadedCheckpoint m = loadCheckpoint(goldenDir("tiny_dq"));
  if (HasFailure())
    return;
  const v4::ModelConfig &c = m.config;
  ASSERT_EQ(c.headDim, 128);
  ASSERT_EQ(c.ropeHeadDim, 64);
  ASSERT_EQ(c.indexHeadDim, 64);
  const LayerKinds k = countKinds(c);
  const int64_t L = c.nLayers;

  mlir::MLIRContext ctx;
  v4::BuildOptions options;
  options.numerics = "official";
  mlir::OwningOpRef<mlir::ModuleOp> module = compileToKernels(ctx, m, options);
  ASSERT_TRUE(module);

  for (llvm::StringRef name : {"prefill", "decode"}) {
    SCOPED_TRACE(name.str());
    auto fn = module->lookupSymbol<mlir::func::FuncOp>(name);
    ASSERT_TRUE(fn);
    mlir::Value logits = fn.getArgument(1);
    // Readers of each buffer, by kernel and input position.
    llvm::DenseMap<mlir::Value, std::vector<std::pair<std::string, unsigned>>>
        readers;
    fn.walk([&](bk::LaunchOp l) {
      for (auto [i, v] : llvm::enumerate(l.getInputs()))
        readers[v].push_back({l.getKernel().str(), unsigned(i)});
    });
    std::map<std::string, int> count;
    fn.walk([&](bk::LaunchOp l) {
      std::string kernel = l.getKernel().str();
      SCOPED_TRACE(kernel);
      EXPECT_EQ(intParam(l, "numerics"), 1);
      if (kernel == "linear" || kernel == "linear_rms_norm") {
        bool head = l.getOutputs()[0] == logits;
        EXPECT_EQ(intParam(l, "round_output"), head ? 0 : 1);
        count[head ? "lm_head" : "rounded_linear"]++;
      } else if (kernel == "rope") {
        std::optional<int64_t> mode = intParam(l, "after_rope");
        ASSERT_TRUE(mode.has_value());
        const auto &users = readers[l.getOutputs()[0]];
        bool feedsKv = false, feedsIndexer = false;
        for (const auto &[user, pos] : users) {
          feedsKv |= user == "sparse_attention" && pos == 1;
          feedsIndexer |= user == "indexer_topk" && pos == 0;
        }
        if (intParam(l, "inverse") == 1) {
          EXPECT_EQ(*mode, 0);
          count["inverse_rope"]++;
        } else if (feedsKv) {
          EXPECT_EQ(*mode, 1);
          EXPECT_EQ(intParam(l, "heads"), 1);
          count["kv_rope"]++;
        } else if (feedsIndexer) {
          EXPECT_EQ(*mode, 2);
          EXPECT_EQ(intParam(l, "heads"), c.indexNHeads);
          EXPECT_EQ(intParam(l, "head_dim"), c.indexHeadDim);
          count["indexer_rope"]++;
        } else {
          ADD_FAILURE() << "a forward rope that feeds neither kv nor indexer";
        }
      } else if (kernel == "head_rms_norm_rope") {
        EXPECT_FALSE(intParam(l, "after_rope").has_value());
      } else if (kernel == "compressor") {
        std::string kind = stateOf(*module, l, 1).getKind().str();
        EXPECT_EQ(intParam(l, "entry_format"), kind == "kv_entries"      ? 1
                                               : kind == "index_entries" ? 2
                                                                         : -1)
            << kind;
        count[kind]++;
      } else if (kernel == "sparse_attention" || kernel == "window_write") {
        EXPECT_EQ(intParam(l, "kv_format"), 1);
        EXPECT_EQ(intParam(l, "rope_dim"), c.ropeHeadDim);
      } else if (kernel == "indexer_topk") {
        EXPECT_EQ(intParam(l, "key_format"), 1);
      } else if (kernel == "moe") {
        EXPECT_EQ(intParam(l, "shared_clamp"), 1);
      }
    });
    EXPECT_EQ(count["lm_head"], 1);
    // Per layer: wq_a+q_norm, wq_b, wkv+kv_norm, wo_b; per CSA layer the
    // indexer's wq_b and weights_proj.
    EXPECT_EQ(count["rounded_linear"], 4 * L + 2 * k.csa);
    EXPECT_EQ(count["kv_rope"], L);
    EXPECT_EQ(count["indexer_rope"], k.csa);
    EXPECT_EQ(count["inverse_rope"], L);
    EXPECT_EQ(count["kv_entries"], k.csa + k.hca);
    EXPECT_EQ(count["index_entries"], k.csa);
  }

  // State rows: KV entries 64 FP8 + 64·2 bf16 RoPE + 1 scale = 193 -> 200;
  // indexer keys 64/2 + 64/32 = 34; compressor tails stay f32.
  double perToken = 0;
  int states = 0;
  for (bk::StateOp s : module->getOps<bk::StateOp>()) {
    std::string kind = s.getKind().str();
    SCOPED_TRACE(s.getSymName().str());
    ++states;
    int64_t ratio = c.compressRatio(s.getLayer());
    int64_t coff = ratio == c.csaRatio ? 2 : 1;
    if (kind == "window" || kind == "kv_entries")
      EXPECT_EQ(s.getBytesPerRow(), 200);
    else if (kind == "index_entries")
      EXPECT_EQ(s.getBytesPerRow(), 34);
    else if (kind == "compressor_tail")
      EXPECT_EQ(s.getBytesPerRow(), 2 * coff * c.headDim * 4);
    else if (kind == "index_tail")
      EXPECT_EQ(s.getBytesPerRow(), 2 * 2 * c.indexHeadDim * 4);
    else
      ADD_FAILURE() << "unexpected state kind " << kind;
    if (s.getTokensPerRow() > 0)
      perToken += double(s.getBytesPerRow()) / double(s.getTokensPerRow());
  }
  // window per layer; kv_entries + compressor_tail per compressed layer;
  // index_entries + index_tail per CSA layer.
  EXPECT_EQ(states, L + 2 * (k.csa + k.hca) + 2 * k.csa);
  EXPECT_DOUBLE_EQ(perToken, k.csa * (200.0 + 34.0) / double(c.csaRatio) +
                                 k.hca * 200.0 / double(c.hcaRatio));
}

TEST(OfficialNumerics, ReferenceProfileHasNoOfficialParameters) {
  LoadedCheckpoint m = loadCheckpoint(goldenDir("tiny_dq"));
  if (HasFailure())
    return;
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module = compileToKernels(ctx, m, {});
  ASSERT_TRUE(module);
  int launches = 0;
  module->walk([&](bk::LaunchOp l) {
    ++launches;
    for (const char *key : kOfficialParams)
      EXPECT_FALSE(intParam(l, key).has_value())
          << l.getKernel().str() << " has " << key;
  });
  EXPECT_GT(launches, 0);
  for (bk::StateOp s : module->getOps<bk::StateOp>()) {
    llvm::StringRef kind = s.getKind();
    if (kind == "window" || kind == "kv_entries")
      EXPECT_EQ(s.getBytesPerRow(), 4 * m.config.headDim);
    if (kind == "index_entries")
      EXPECT_EQ(s.getBytesPerRow(), 4 * m.config.indexHeadDim);
  }
}

TEST(OfficialNumerics, RefusesModelsWhoseKvEntriesCannotBeStored) {
  // tiny_mix: head_dim 64, rope 16 -> 48 non-RoPE dims, not a multiple of 64.
  LoadedCheckpoint m = loadCheckpoint(goldenDir("tiny_mix"));
  if (HasFailure())
    return;
  mlir::MLIRContext ctx;
  v4::loadIRBuilderDialects(ctx);
  v4::BuildOptions options;
  options.numerics = "official";
  auto built = v4::buildV4Module(ctx, m.config, m.checkpoint, options);
  ASSERT_FALSE(built.isOk());
  const std::string &msg = built.status().message();
  EXPECT_NE(msg.find("--numerics official"), std::string::npos) << msg;
  EXPECT_NE(msg.find("head_dim is 64"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rope_head_dim 16"), std::string::npos) << msg;
  // The reference profile compiles the same model.
  EXPECT_TRUE(v4::buildV4Module(ctx, m.config, m.checkpoint, {}).isOk());
}

TEST(OfficialNumerics, RefusesIndexerKeysThatAreNotFp4Blocks) {
  LoadedCheckpoint m = loadCheckpoint(goldenDir("tiny_dq"));
  if (HasFailure())
    return;
  m.config.indexHeadDim = 48; // the builder refuses before reading tensors
  mlir::MLIRContext ctx;
  v4::loadIRBuilderDialects(ctx);
  v4::BuildOptions options;
  options.numerics = "official";
  auto built = v4::buildV4Module(ctx, m.config, m.checkpoint, options);
  ASSERT_FALSE(built.isOk());
  EXPECT_NE(built.status().message().find("index_head_dim is 48"),
            std::string::npos)
      << built.status().message();
}

TEST(OfficialNumerics, SharedExpertClampSwitch) {
  LoadedCheckpoint m = loadCheckpoint(goldenDir("tiny_dq"));
  if (HasFailure())
    return;
  for (bool clamp : {true, false}) {
    mlir::MLIRContext ctx;
    v4::BuildOptions options;
    options.sharedExpertClamp = clamp;
    mlir::OwningOpRef<mlir::ModuleOp> module =
        compileToKernels(ctx, m, options);
    ASSERT_TRUE(module);
    int moes = 0, entries = 0;
    module->walk(
        [&](mlir::func::FuncOp fn) { entries += fn->hasAttr(bk::kEntryAttr); });
    module->walk([&](bk::LaunchOp l) {
      if (l.getKernel() != "moe")
        return;
      ++moes;
      EXPECT_EQ(intParam(l, "shared_clamp"), clamp ? 1 : 0);
    });
    EXPECT_EQ(moes, entries * m.config.nLayers);
    EXPECT_GE(entries, 2); // prefill and decode (and batch, below max_tokens)
  }
}

} // namespace
