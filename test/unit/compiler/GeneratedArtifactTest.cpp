//===- GeneratedArtifactTest.cpp - Artifacts whose weights are generated --===//
//
// `birkhoff compile --synth-preset` stores recipes instead of weight bytes
// (models/deepseek_v4/SynthModel.h, ArtifactOptions::generated). Here: the
// runtime regenerates each weight exactly as the synth checkpoint stores it;
// corrupt recipes are refused by name; a real-width model stays small. That
// the logits agree bitwise is test/lit/tools/compile-synth-preset.test.
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"

#include "ArtifactLoader.h"
#include "WeightGeneration.h"
#include "birkhoff/ProgramChecksum.h"
#include "birkhoff/schema/artifact_generated.h"
#include "compiler/ArtifactWriter.h"
#include "cuda/NvrtcApi.h"
#include "deepseek_v4/Synth.h"
#include "deepseek_v4/SynthModel.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

using namespace birkhoff;
using namespace birkhoff::test;

namespace {

/// Compiles `m` (a lowered module's source) into `path`; `generated`
/// non-null writes recipes instead of bytes.
void compileArtifact(const LoadedCheckpoint &m, const std::string &path,
                     const std::map<std::string, WeightRecipe> *generated) {
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module = compileToKernels(ctx, m, {});
  ASSERT_TRUE(module);
  ArtifactOptions options;
  options.modelName = "tiny";
  options.generated = generated;
  auto stats = writeArtifact(module->getOperation(), m.config, m.checkpoint,
                             options, path);
  ASSERT_TRUE(stats.isOk()) << stats.status().message();
  if (generated) {
    EXPECT_EQ(stats->weightSectionBytes, 0u);
    EXPECT_EQ(stats->generatedWeights, stats->weights);
  }
}

class GeneratedArtifact : public ::testing::Test {
protected:
  void SetUp() override {
    v4::SynthOptions options;
    options.seed = 7;
    v4::ModelConfig shape = *v4::presetConfig("tiny");
    ASSERT_TRUE(
        v4::writeSynthCheckpoint(shape, options, dir_.file("ckpt")).isOk());
    LoadedCheckpoint stored = loadCheckpoint(dir_.file("ckpt"));
    ASSERT_FALSE(HasFailure());
    ASSERT_NO_FATAL_FAILURE(
        compileArtifact(stored, storedPath(), /*generated=*/nullptr));

    Expected<v4::SynthModel> synth =
        v4::makeSynthModel(shape, options, "synth preset tiny");
    ASSERT_TRUE(synth.isOk()) << synth.status().message();
    EXPECT_EQ(synth->config, stored.config);
    LoadedCheckpoint declared{synth->config, synth->checkpoint};
    ASSERT_NO_FATAL_FAILURE(
        compileArtifact(declared, generatedPath(), &synth->recipes));
  }

  std::string storedPath() const { return dir_.file("stored.bkart"); }
  std::string generatedPath() const { return dir_.file("generated.bkart"); }

  static std::vector<uint8_t> read(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  TempDir dir_;
};

TEST_F(GeneratedArtifact, RegeneratesTheCheckpointsBytes) {
  Expected<rt::LoadedArtifact> stored = rt::loadArtifact(storedPath());
  ASSERT_TRUE(stored.isOk()) << stored.status().toString();
  Expected<rt::LoadedArtifact> gen = rt::loadArtifact(generatedPath());
  ASSERT_TRUE(gen.isOk()) << gen.status().toString();
  EXPECT_EQ(gen->program.weightSectionSize, 0u);
  uint64_t storedBytes = 0;
  for (const rt::WeightDesc &w : stored->program.weights)
    storedBytes += w.size;
  EXPECT_EQ(gen->program.generatedBytes, storedBytes);
  // Only the flatbuffer and its padding: recipes instead of 7 MiB.
  EXPECT_LT(gen->file->size(), 256u << 10);
  for (const rt::WeightDesc &w : gen->program.weights) {
    EXPECT_TRUE(w.generated) << w.name;
    EXPECT_EQ(w.data, nullptr) << w.name; // until materialized
  }
  WorkerPool pool(2);
  // The progress callback (ModelOptions::progress) hears every weight's
  // bytes (the scales come with their weights), from the workers' threads.
  std::atomic<uint64_t> heard{0}, total{0};
  ASSERT_TRUE(rt::materializeGeneratedWeights(
                  *gen, pool,
                  [&](std::string_view task, uint64_t n, uint64_t all) {
                    EXPECT_EQ(task, "generating weights");
                    heard += n;
                    total = all;
                  })
                  .isOk());
  uint64_t weightBytes = 0;
  for (const rt::WeightDesc &w : gen->program.weights)
    weightBytes += w.recipe.kind == SynthKind::BlockScale ? 0 : w.size;
  EXPECT_EQ(heard.load(), weightBytes);
  EXPECT_EQ(total.load(), weightBytes);

  const std::vector<rt::WeightDesc> &a = stored->program.weights;
  const std::vector<rt::WeightDesc> &b = gen->program.weights;
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].name);
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].dtype, b[i].dtype);
    EXPECT_EQ(a[i].shape, b[i].shape);
    EXPECT_EQ(a[i].scale, b[i].scale);
    ASSERT_EQ(a[i].size, b[i].size);
    ASSERT_NE(b[i].data, nullptr);
    EXPECT_EQ(uintptr_t(b[i].data) % 64, 0u);
    EXPECT_EQ(b[i].allocation, 1);
    EXPECT_EQ(0, std::memcmp(a[i].data, b[i].data, a[i].size));
  }
}

/// A scalar field of weight `index` in the artifact `bytes`, to overwrite in
/// place (ForceDefaults writes every field, so each has an address).
template <typename T>
void patchWeight(std::vector<uint8_t> &bytes, size_t index,
                 flatbuffers::voffset_t field, T value) {
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
  const fb::Weight *w = a->weights()->Get(flatbuffers::uoffset_t(index));
  // Weight derives privately from Table; the address is the same.
  const uint8_t *p =
      reinterpret_cast<const flatbuffers::Table *>(w)->GetAddressOf(field);
  ASSERT_NE(p, nullptr);
  std::memcpy(const_cast<uint8_t *>(p), &value, sizeof(T));
  // Reseal the program checksum, so that the patch reaches the checks it is
  // meant for.
  size_t program = 4 + flatbuffers::ReadScalar<uint32_t>(bytes.data());
  auto trailer = programChecksumTrailer(bytes.data(), program);
  std::memcpy(bytes.data() + program, trailer.data(), trailer.size());
}

size_t weightIndex(const std::vector<uint8_t> &bytes, const std::string &name) {
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
  for (flatbuffers::uoffset_t i = 0; i < a->weights()->size(); ++i)
    if (a->weights()->Get(i)->name()->str() == name)
      return i;
  ADD_FAILURE() << "no weight " << name;
  return 0;
}

void expectRefused(const std::vector<uint8_t> &patched,
                   const std::vector<std::string> &parts) {
  // Every patch here is meant for a check behind the program checksum.
  std::vector<uint8_t> bytes = patched;
  size_t program = 4 + flatbuffers::ReadScalar<uint32_t>(bytes.data());
  auto trailer = programChecksumTrailer(bytes.data(), program);
  std::memcpy(bytes.data() + program, trailer.data(), trailer.size());
  auto p = rt::parseArtifact(bytes.data(), bytes.size(), "patched.bkart");
  ASSERT_FALSE(p.isOk()) << "accepted";
  EXPECT_EQ(p.status().code(), StatusCode::Corrupt) << p.status().toString();
  for (const std::string &part : parts)
    EXPECT_NE(p.status().message().find(part), std::string::npos)
        << "lacks '" << part << "': " << p.status().message();
}

/// The `in_features` param of the first linear launch of @decode, and that
/// launch's index.
const fb::Param *firstLinearInFeatures(const std::vector<uint8_t> &bytes,
                                       int &index) {
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
  for (const fb::EntryPoint *e : *a->entries()) {
    if (e->name()->str() != "decode")
      continue;
    index = 0;
    for (const fb::Launch *l : *e->launches()) {
      if (l->kernel()->str() == "linear")
        for (const fb::Param *p : *l->params())
          if (p->key()->str() == "in_features")
            return p;
      ++index;
    }
  }
  return nullptr;
}

// Launch params are decoded at load time against Kernels.def: a bad one is a
// load error naming the entry, the launch, the kernel and the key.
TEST_F(GeneratedArtifact, BadLaunchParamsAreRefusedNamingTheLaunch) {
  const std::vector<uint8_t> intact = read(generatedPath());
  std::vector<uint8_t> b = intact;
  int index = -1;
  const fb::Param *p = firstLinearInFeatures(b, index);
  ASSERT_NE(p, nullptr);
  std::string launch = "entry 'decode' launch " + std::to_string(index);
  double fractional = 64.5;
  const uint8_t *f =
      reinterpret_cast<const flatbuffers::Table *>(p)->GetAddressOf(
          fb::Param::VT_F);
  ASSERT_NE(f, nullptr);
  std::memcpy(const_cast<uint8_t *>(f), &fractional, sizeof fractional);
  expectRefused(b, {launch, "kernel 'linear'",
                    "parameter 'in_features' = 64.5 is not an integer"});

  b = intact;
  p = firstLinearInFeatures(b, index);
  ASSERT_NE(p, nullptr);
  const_cast<char *>(p->key()->c_str())[0] = 'x';
  expectRefused(b, {launch, "kernel 'linear'",
                    "parameter 'xn_features' is not a parameter of this "
                    "kernel"});
}

TEST_F(GeneratedArtifact, CorruptRecipesAreRefused) {
  const std::vector<uint8_t> intact = read(generatedPath());
  ASSERT_TRUE(
      rt::parseArtifact(intact.data(), intact.size(), "intact.bkart").isOk());
  using W = fb::Weight;

  std::vector<uint8_t> b = intact;
  size_t embed = weightIndex(b, "embed.weight");
  patchWeight<uint8_t>(b, embed, W::VT_SYNTH_KIND, 9);
  expectRefused(b,
                {"patched.bkart", "'embed.weight'", "unknown recipe kind 9"});

  b = intact;
  patchWeight<uint8_t>(b, embed, W::VT_SYNTH_KIND, 0);
  expectRefused(b, {"'embed.weight'", "generated but has no recipe"});

  b = intact;
  patchWeight<uint64_t>(b, embed, W::VT_OFFSET, 4096);
  expectRefused(b, {"'embed.weight'", "has offset 4096"});

  // Packed FP4 [256, 128] read as [2048, 16]: same bytes, but 16 inputs are
  // no whole FP4 scale block.
  b = intact;
  size_t expert = weightIndex(b, "layers.1.ffn.experts.0.w1.weight");
  {
    const fb::Artifact *a = fb::GetSizePrefixedArtifact(b.data());
    auto *shape = const_cast<flatbuffers::Vector<int64_t> *>(
        a->weights()->Get(flatbuffers::uoffset_t(expert))->shape());
    ASSERT_EQ(shape->size(), 2u);
    ASSERT_EQ(shape->Get(0) * shape->Get(1), 2048 * 16);
    shape->Mutate(0, 2048);
    shape->Mutate(1, 16);
  }
  expectRefused(b, {"'layers.1.ffn.experts.0.w1.weight'",
                    "packed FP4 needs inputs in whole blocks of 32"});

  // A hash table of 2 distinct experts per row drawn from 1.
  b = intact;
  patchWeight<int64_t>(b, weightIndex(b, "layers.0.ffn.gate.tid2eid"),
                       W::VT_SYNTH_RANGE, 1);
  expectRefused(b, {"'layers.0.ffn.gate.tid2eid'", "at least that wide"});

  // A hash table drawing from more experts than its layer has.
  b = intact;
  patchWeight<int64_t>(b, weightIndex(b, "layers.0.ffn.gate.tid2eid"),
                       W::VT_SYNTH_RANGE, 9);
  expectRefused(b, {"'layers.0.ffn.gate.tid2eid'",
                    "generated from experts [0, 9), the layer has 8"});

  // The FP8 owner of a scale becomes a BF16 weight of the same bytes: its
  // scale is then generated but no generated weight fills it.
  b = intact;
  size_t wqA = weightIndex(b, "layers.0.attn.wq_a.weight");
  {
    const fb::Artifact *a = fb::GetSizePrefixedArtifact(b.data());
    auto *shape = const_cast<flatbuffers::Vector<int64_t> *>(
        a->weights()->Get(flatbuffers::uoffset_t(wqA))->shape());
    shape->Mutate(1, shape->Get(1) / 2);
  }
  patchWeight<uint8_t>(b, wqA, W::VT_DTYPE, uint8_t(fb::DType::BF16));
  patchWeight<int32_t>(b, wqA, W::VT_SCALE, -1);
  expectRefused(b, {"'layers.0.attn.wq_a.scale'",
                    "no generated weight names it as its scale"});

  // In a stored artifact, a scale marked generated has a stored owner.
  b = read(storedPath());
  size_t scale = weightIndex(b, "layers.0.attn.wq_a.scale");
  patchWeight<uint8_t>(b, scale, W::VT_GENERATED, 1);
  patchWeight<uint8_t>(b, scale, W::VT_SYNTH_KIND,
                       uint8_t(fb::SynthKind::BlockScale));
  patchWeight<uint64_t>(b, scale, W::VT_OFFSET, 0);
  expectRefused(b, {"'layers.0.attn.wq_a.weight'", "is stored but its scale",
                    "is generated"});

  // A stored weight with a recipe is refused too (which one would win?).
  b = read(storedPath());
  patchWeight<uint8_t>(b, weightIndex(b, "embed.weight"), W::VT_SYNTH_KIND,
                       uint8_t(fb::SynthKind::Normal));
  expectRefused(b, {"'embed.weight'", "is stored but has a generator recipe"});
}

// A 4-layer V4-Flash shape with 16 experts per layer (4 GB of weights): the
// artifact is its program, well under the 64 MiB that can be carried to a GPU
// machine, for the host and (where NVRTC exists) the CUDA target.
TEST(GeneratedFlash, ArtifactIsSmall) {
  TempDir dir;
  struct Variant {
    const char *options;
    uint64_t maxBytes;
  };
  std::vector<Variant> variants = {{"", 4u << 20}};
  if (cuda::NvrtcApi::get().isOk())
    variants.push_back({"--target cuda --numerics official", 32u << 20});
  for (const Variant &v : variants) {
    SCOPED_TRACE(v.options);
    std::string path = dir.file("flash.bkart");
    CommandResult r =
        runTool("compile --synth-preset flash --layers 4 --experts 16 " +
                    std::string(v.options) + " -o '" + path + "'",
                dir.file("log"));
    ASSERT_EQ(r.exitCode, 0) << r.output;
    uint64_t size = std::filesystem::file_size(path);
    EXPECT_LT(size, v.maxBytes);
    Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(path);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
    EXPECT_EQ(loaded->program.weightSectionSize, 0u);
    EXPECT_GT(loaded->program.generatedBytes, uint64_t(3) << 30);
  }
}

} // namespace
