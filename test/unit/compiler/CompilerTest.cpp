//===- CompilerTest.cpp - checkpoint -> v4 -> bk -> artifact on the goldens
//===//
//
// Builds the golden checkpoints through every phase and checks each one with
// code independent of the compiler: op counts from the config, catalogue
// membership of every launch, a separate liveness/overlap check of the memory
// plan, and the flatbuffers verifier plus byte checks on the artifact.
//
//===----------------------------------------------------------------------===//
#include "compiler/ArtifactWriter.h"
#include "compiler/Passes.h"
#include "deepseek_v4/CheckpointSchema.h"
#include "deepseek_v4/IRBuilder.h"
#include "deepseek_v4/ModelConfig.h"
#include "kernel/BkDialect.h"

#include "birkhoff/Crc32c.h"
#include "birkhoff/KernelCatalog.h"
#include "birkhoff/schema/artifact_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

using namespace birkhoff;

namespace {

struct Loaded {
  v4::ModelConfig config;
  Checkpoint checkpoint;
};

Loaded load(const std::string &name) {
  std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/" + name;
  Expected<v4::ModelConfig> config = v4::loadModelConfig(dir);
  EXPECT_TRUE(config.isOk()) << config.status().message();
  Expected<Checkpoint> ckpt = Checkpoint::open(dir);
  EXPECT_TRUE(ckpt.isOk()) << ckpt.status().message();
  v4::CheckpointFormat format;
  Status s = v4::validateCheckpoint(*config, *ckpt, &format);
  EXPECT_TRUE(s.isOk()) << s.message();
  return {config.take(), ckpt.take()};
}

/// Ops of each name inside one function.
std::map<std::string, int> countOps(mlir::ModuleOp module, llvm::StringRef fn) {
  std::map<std::string, int> counts;
  auto f = module.lookupSymbol<mlir::func::FuncOp>(fn);
  EXPECT_TRUE(f) << "no @" << fn.str();
  if (f)
    f.walk([&](mlir::Operation *op) {
      ++counts[op->getName().getStringRef().str()];
    });
  return counts;
}

struct Kinds {
  int window = 0, csa = 0, hca = 0;
};
Kinds kinds(const v4::ModelConfig &c) {
  Kinds k;
  for (v4::LayerAttention a : c.attention)
    (a == v4::LayerAttention::Window ? k.window
     : a == v4::LayerAttention::CSA  ? k.csa
                                     : k.hca)++;
  return k;
}

/// Independent check of the plan: buffers live at the same launch must not
/// share arena elements, and everything fits in the arena.
void checkPlan(mlir::func::FuncOp fn) {
  auto arena = fn->getAttrOfType<mlir::IntegerAttr>(bk::kArenaAttr);
  ASSERT_TRUE(arena);
  struct Buf {
    int64_t lo, hi, first = INT64_MAX, last = -1;
  };
  llvm::DenseMap<mlir::Value, Buf> bufs;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    int64_t off =
        fn.getArgAttrOfType<mlir::IntegerAttr>(i, "bk.offset").getInt();
    int64_t n = fn.getArgAttrOfType<mlir::IntegerAttr>(i, "bk.elems_per_token")
                    .getInt();
    bufs[fn.getArgument(i)] =
        Buf{off, off + n, 0, INT64_MAX}; // live throughout
  }
  int64_t index = 0;
  for (mlir::Operation &op : fn.getBody().front()) {
    if (auto a = llvm::dyn_cast<bk::AllocOp>(op)) {
      ASSERT_TRUE(a.getOffset().has_value());
      int64_t off = a.getOffsetAttr().getInt();
      bufs[a.getResult()] = Buf{off, off + a.getElemsPerTokenAttr().getInt()};
    } else if (llvm::isa<bk::LaunchOp>(op)) {
      for (mlir::Value v : op.getOperands()) {
        Buf &b = bufs[v];
        b.first = std::min(b.first, index);
        b.last = std::max(b.last, index);
      }
      ++index;
    }
  }
  std::vector<Buf> all;
  for (auto &kv : bufs) {
    EXPECT_LE(kv.second.hi, arena.getInt());
    if (kv.second.last >= 0)
      all.push_back(kv.second);
  }
  for (size_t i = 0; i < all.size(); ++i)
    for (size_t j = i + 1; j < all.size(); ++j) {
      bool liveTogether =
          all[i].first <= all[j].last && all[j].first <= all[i].last;
      bool overlap = all[i].lo < all[j].hi && all[j].lo < all[i].hi;
      EXPECT_FALSE(liveTogether && overlap)
          << "buffers [" << all[i].lo << "," << all[i].hi << ") and ["
          << all[j].lo << "," << all[j].hi << ") are live together and overlap";
    }
}

class GoldenCompile : public ::testing::TestWithParam<const char *> {};

TEST_P(GoldenCompile, EveryPhase) {
  Loaded m = load(GetParam());
  if (HasFailure())
    return;
  const v4::ModelConfig &c = m.config;
  const int64_t L = c.nLayers;
  const Kinds k = kinds(c);

  mlir::MLIRContext ctx;
  v4::loadIRBuilderDialects(ctx);
  ctx.getOrLoadDialect<bk::BkDialect>();
  auto built = v4::buildV4Module(ctx, c, m.checkpoint, {});
  ASSERT_TRUE(built.isOk()) << built.status().message();
  mlir::OwningOpRef<mlir::ModuleOp> module = built.take();

  // v4 level: op counts follow from the config.
  for (llvm::StringRef fn : {"prefill", "decode"}) {
    auto n = countOps(*module, fn);
    EXPECT_EQ(n["v4.embed"], 1);
    EXPECT_EQ(n["v4.mhc_pre"], 2 * L);
    EXPECT_EQ(n["v4.mhc_post"], 2 * L);
    EXPECT_EQ(n["v4.mhc_head"], 1);
    EXPECT_EQ(n["v4.sparse_attention"], L);
    EXPECT_EQ(n["v4.compressor"], 2 * k.csa + k.hca);
    EXPECT_EQ(n["v4.indexer_topk"], k.csa);
    EXPECT_EQ(n["v4.moe"], L);
    EXPECT_EQ(n["v4.route_select"], L);
    // q rope + kv rope + inverse rope per layer, + indexer rope per CSA layer.
    EXPECT_EQ(n["v4.rope"], 3 * L + k.csa);
    // attn_norm, ffn_norm, q_norm, kv_norm per layer + final norm.
    EXPECT_EQ(n["v4.rms_norm"], 4 * L + 1);
  }
  // No MTP tensor is referenced.
  module->walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "v4.weight") {
      auto name = op->getAttrOfType<mlir::StringAttr>("sym_name").getValue();
      EXPECT_FALSE(name.starts_with("mtp.")) << name.str();
    }
  });

  mlir::PassManager model(&ctx);
  buildModelPipeline(model);
  ASSERT_TRUE(mlir::succeeded(model.run(*module)));
  for (llvm::StringRef fn : {"prefill", "decode"}) {
    auto n = countOps(*module, fn);
    EXPECT_EQ(n["v4.mhc_pre_norm"], 2 * L);
    EXPECT_EQ(n["v4.mhc_pre"], 0);
    EXPECT_EQ(n["v4.mhc_head_norm"], 1);
    EXPECT_EQ(n["v4.linear_rms_norm"], 2 * L); // q_norm, kv_norm
    EXPECT_EQ(n["v4.rms_norm"], 0);
    EXPECT_EQ(n["v4.router"], L);
    EXPECT_EQ(n["v4.head_rms_norm_rope"], L);
    EXPECT_EQ(n["v4.rope"], 2 * L + k.csa);
  }

  mlir::PassManager lower(&ctx);
  buildLoweringPipeline(lower, 64);
  ASSERT_TRUE(mlir::succeeded(lower.run(*module)));
  int launches = 0;
  module->walk([&](bk::LaunchOp l) {
    ++launches;
    EXPECT_NE(findKernel(l.getKernel().str()), nullptr) << l.getKernel().str();
  });
  module->walk([&](mlir::Operation *op) {
    llvm::StringRef d = op->getName().getDialectNamespace();
    EXPECT_TRUE(d == "bk" || d == "func" || d == "builtin")
        << op->getName().getStringRef().str();
  });
  EXPECT_GT(launches, 0);
  for (llvm::StringRef fn : {"prefill", "decode"}) {
    auto n = countOps(*module, fn);
    // embed; per layer 2 mhc_pre_norm + 2 mhc_post, 10 attention launches
    // (q: linear_rms_norm, linear, head_rms_norm_rope; kv: linear_rms_norm,
    // rope; sparse_attention, window_write, inverse rope, grouped_linear,
    // linear), router + moe; per CSA layer 2 compressors, 2 indexer linears,
    // indexer rope, indexer_topk; per HCA layer 1 compressor; head norm +
    // linear.
    EXPECT_EQ(n["bk.launch"], 1 + 16 * L + 6 * k.csa + k.hca + 2);
    auto f = module->lookupSymbol<mlir::func::FuncOp>(fn);
    ASSERT_TRUE(f);
    checkPlan(f);
  }

  // The artifact: verified flatbuffer, aligned section, weights as in the
  // checkpoint.
  std::string path = ::testing::TempDir() + "/" + GetParam() + ".bkart";
  ArtifactOptions options;
  options.modelName = GetParam();
  auto stats =
      writeArtifact(module->getOperation(), c, m.checkpoint, options, path);
  ASSERT_TRUE(stats.isOk()) << stats.status().message();
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GE(bytes.size(),
            stats->weightSectionOffset + stats->weightSectionBytes);
  // The verifier wants exactly the size-prefixed flatbuffer, not the padding.
  uint32_t fbSize;
  std::memcpy(&fbSize, bytes.data(), 4);
  ASSERT_LE(uint64_t(fbSize) + 4, stats->weightSectionOffset);
  flatbuffers::Verifier verifier(bytes.data(), size_t(fbSize) + 4);
  ASSERT_TRUE(fb::VerifySizePrefixedArtifactBuffer(verifier));
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
  EXPECT_EQ(a->format_version(), 5u);
  EXPECT_EQ(a->weight_section_offset() % 4096, 0u);
  EXPECT_EQ(a->weight_section_offset(), stats->weightSectionOffset);
  EXPECT_EQ(a->max_context(), 4096);
  EXPECT_EQ(a->config()->n_layers(), L);
  ASSERT_EQ(a->entries()->size(), 2u);
  for (const fb::EntryPoint *e : *a->entries()) {
    EXPECT_EQ(e->max_tokens(), e->name()->str() == "decode" ? 1 : 64);
    const fb::Buffer *logits = e->buffers()->Get(e->logits_buffer());
    EXPECT_EQ(logits->elems_per_token(), c.vocabSize);
    for (const fb::Launch *l : *e->launches()) {
      for (int32_t i : *l->inputs())
        EXPECT_TRUE(i == -1 || (i >= 0 && i < int32_t(e->buffers()->size())));
      for (int32_t w : *l->weights())
        EXPECT_TRUE(w >= 0 && w < int32_t(a->weights()->size()));
      for (int32_t s : *l->states())
        EXPECT_TRUE(s >= 0 && s < int32_t(a->states()->size()));
      // Params are sorted and required ones present.
      const KernelSignature *sig = findKernel(l->kernel()->str());
      ASSERT_NE(sig, nullptr);
      for (std::string_view key : sig->requiredParams)
        EXPECT_NE(l->params()->LookupByKey(std::string(key).c_str()), nullptr)
            << l->kernel()->str() << " lacks " << key;
    }
  }
  for (const fb::Weight *w : *a->weights()) {
    EXPECT_EQ(w->offset() % 64, 0u) << w->name()->str();
    const TensorInfo *t = m.checkpoint.find(w->name()->str());
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(w->size(), t->byteSize);
    if (t->dtype == DType::I8) {
      EXPECT_EQ(w->dtype(), fb::DType::FP4E2M1x2);
      EXPECT_EQ(w->shape()->Get(1), 2 * t->shape[1]);
    }
    if (w->dtype() == fb::DType::F8E4M3 || w->dtype() == fb::DType::FP4E2M1x2) {
      ASSERT_GE(w->scale(), 0);
      EXPECT_EQ(a->weights()->Get(w->scale())->dtype(), fb::DType::F8E8M0);
    }
    auto src = m.checkpoint.bytes(w->name()->str());
    ASSERT_TRUE(src.isOk());
    EXPECT_EQ(
        0, std::memcmp(bytes.data() + a->weight_section_offset() + w->offset(),
                       src->data(), src->size()))
        << w->name()->str();
    // The recorded checksum is the checkpoint bytes' (docs/artifact.md).
    EXPECT_EQ(w->crc32c(), crc32c(0, src->data(), src->size()))
        << w->name()->str();
  }
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Goldens, GoldenCompile,
                         ::testing::Values("tiny_mix", "tiny_rates",
                                           "tiny_quant"));

// A config whose RoPE values the `#v4.rope` verifier rejects (a negative
// original length; validateModelConfig only bounds it when YaRN is on) is an
// error naming the layer and the verifier's check, not a crash.
TEST(IRBuilder, RefusesRopeTheDialectRejects) {
  Loaded m = load("tiny_mix");
  if (HasFailure())
    return;
  m.config.yarn = false;
  m.config.originalSeqLen = -1;
  mlir::MLIRContext ctx;
  auto built = v4::buildV4Module(ctx, m.config, m.checkpoint, {});
  ASSERT_FALSE(built.isOk());
  const std::string &msg = built.status().message();
  EXPECT_NE(msg.find("layer 0 RoPE is invalid"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[V4-12]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("@prefill"), std::string::npos) << msg;
}

// A checkpoint with a NaN in a stored weight is refused while the artifact
// is written, naming the tensor; the weights are streamed there anyway.
TEST(ArtifactWriter, RefusesNonFiniteWeights) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(::testing::TempDir()) / "nan_weight";
  fs::remove_all(dir);
  fs::copy(std::string(BIRKHOFF_GOLDENS_DIR) + "/tiny_mix", dir);
  const std::string name = "norm.weight";
  {
    Expected<Checkpoint> ckpt = Checkpoint::open(dir.string());
    ASSERT_TRUE(ckpt.isOk()) << ckpt.status().message();
    const TensorInfo *t = ckpt->find(name);
    ASSERT_NE(t, nullptr);
    ASSERT_TRUE(t->dtype == DType::F32 || t->dtype == DType::BF16);
    // Element 1 becomes NaN: 0x7fc0 in BF16 (the high half of an F32 NaN).
    uint64_t at = t->dataOffset + (t->dtype == DType::F32 ? 4 + 2 : 2);
    std::fstream f(t->file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(at));
    const char nan[2] = {char(0xc0), char(0x7f)};
    f.write(nan, 2);
    ASSERT_TRUE(f.good());
  }
  Expected<v4::ModelConfig> config = v4::loadModelConfig(dir.string());
  ASSERT_TRUE(config.isOk()) << config.status().message();
  Expected<Checkpoint> ckpt = Checkpoint::open(dir.string());
  ASSERT_TRUE(ckpt.isOk()) << ckpt.status().message();
  Loaded m{config.take(), ckpt.take()};
  mlir::MLIRContext ctx;
  v4::loadIRBuilderDialects(ctx);
  ctx.getOrLoadDialect<bk::BkDialect>();
  auto built = v4::buildV4Module(ctx, m.config, m.checkpoint, {});
  ASSERT_TRUE(built.isOk()) << built.status().message();
  mlir::OwningOpRef<mlir::ModuleOp> module = built.take();
  mlir::PassManager model(&ctx);
  buildModelPipeline(model);
  ASSERT_TRUE(mlir::succeeded(model.run(*module)));
  mlir::PassManager lower(&ctx);
  buildLoweringPipeline(lower, 64);
  ASSERT_TRUE(mlir::succeeded(lower.run(*module)));
  std::string path = (dir / "out.bkart").string();
  auto stats = writeArtifact(module->getOperation(), m.config, m.checkpoint,
                             ArtifactOptions{}, path);
  ASSERT_FALSE(stats.isOk());
  EXPECT_EQ(stats.status().code(), StatusCode::Corrupt);
  EXPECT_NE(stats.status().message().find("tensor '" + name + "'"),
            std::string::npos)
      << stats.status().message();
  EXPECT_NE(stats.status().message().find("non-finite value at element 1"),
            std::string::npos)
      << stats.status().message();
  EXPECT_FALSE(fs::exists(path));
}

} // namespace
