//===- MtpArtifactTest.cpp - The artifact carries the checkpoint's MTP block
//===//
//
// A synth checkpoint of the tiny preset has an MTP block (`mtp.0.*`). The
// program references none of it, but the artifact must still store every
// `mtp.*` tensor (bytes as in the checkpoint, FP8/FP4 linked to their
// `.scale`), so the weight section is about the checkpoint's size.
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"

#include "compiler/ArtifactWriter.h"
#include "deepseek_v4/Synth.h"

#include "birkhoff/schema/artifact_generated.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <vector>

using namespace birkhoff;
using namespace birkhoff::test;

namespace {

TEST(MtpArtifact, EveryMtpTensorIsStored) {
  TempDir dir;
  Expected<v4::ModelConfig> preset = v4::presetConfig("tiny");
  ASSERT_TRUE(preset.isOk()) << preset.status().message();
  ASSERT_GE(preset->nMtpLayers, 1);
  v4::SynthOptions synth;
  synth.threads = 1;
  Status s = v4::writeSynthCheckpoint(*preset, synth, dir.path());
  ASSERT_TRUE(s.isOk()) << s.message();
  LoadedCheckpoint m = loadCheckpoint(dir.path());
  if (HasFailure())
    return;

  uint64_t checkpointBytes = 0;
  std::set<std::string> mtp;
  for (const auto &[name, t] : m.checkpoint.tensors()) {
    checkpointBytes += t.byteSize;
    if (llvm::StringRef(name).starts_with("mtp."))
      mtp.insert(name);
  }
  ASSERT_GT(mtp.size(), 20u) << "the synth checkpoint has no MTP block";

  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module = compileToKernels(ctx, m, {});
  ASSERT_TRUE(module);
  std::string path = dir.path() + "/tiny.bkart";
  ArtifactOptions options;
  options.modelName = "tiny";
  auto stats = writeArtifact(module->getOperation(), m.config, m.checkpoint,
                             options, path);
  ASSERT_TRUE(stats.isOk()) << stats.status().message();

  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GE(bytes.size(), 4u);
  uint32_t fbSize;
  std::memcpy(&fbSize, bytes.data(), 4);
  ASSERT_LE(uint64_t(fbSize) + 4, bytes.size());
  flatbuffers::Verifier verifier(bytes.data(), size_t(fbSize) + 4);
  ASSERT_TRUE(fb::VerifySizePrefixedArtifactBuffer(verifier));
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
  ASSERT_GE(bytes.size(),
            a->weight_section_offset() + a->weight_section_size());

  // The weight section is the checkpoint, give or take 64-byte alignment.
  double section = double(a->weight_section_size());
  EXPECT_NEAR(section, double(checkpointBytes), 0.02 * double(checkpointBytes))
      << "section " << a->weight_section_size() << " B, checkpoint "
      << checkpointBytes << " B";

  // Every MTP tensor, byte for byte, with its scale linked; no launch uses
  // one.
  std::set<int32_t> launched;
  for (const fb::EntryPoint *e : *a->entries())
    for (const fb::Launch *l : *e->launches())
      launched.insert(l->weights()->begin(), l->weights()->end());
  std::set<std::string> stored;
  for (uint32_t i = 0; i < a->weights()->size(); ++i) {
    const fb::Weight *w = a->weights()->Get(i);
    std::string name = w->name()->str();
    if (!mtp.count(name))
      continue;
    SCOPED_TRACE(name);
    stored.insert(name);
    EXPECT_FALSE(launched.count(int32_t(i)));
    const TensorInfo *t = m.checkpoint.find(name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(w->size(), t->byteSize);
    auto src = m.checkpoint.bytes(name);
    ASSERT_TRUE(src.isOk());
    EXPECT_EQ(
        0, std::memcmp(bytes.data() + a->weight_section_offset() + w->offset(),
                       src->data(), src->size()));
    bool quantized =
        w->dtype() == fb::DType::F8E4M3 || w->dtype() == fb::DType::FP4E2M1x2;
    if (t->dtype == DType::I8) {
      // Packed FP4: the table gives the logical shape.
      EXPECT_EQ(w->dtype(), fb::DType::FP4E2M1x2);
      EXPECT_EQ(w->shape()->Get(1), 2 * t->shape[1]);
    }
    if (quantized) {
      ASSERT_GE(w->scale(), 0);
      std::string base = name.substr(0, name.size() - 7); // ".weight"
      EXPECT_EQ(a->weights()->Get(uint32_t(w->scale()))->name()->str(),
                base + ".scale");
    } else {
      EXPECT_EQ(w->scale(), -1);
    }
  }
  EXPECT_EQ(stored, mtp);
}

} // namespace
