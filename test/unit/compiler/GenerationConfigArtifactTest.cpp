//===- GenerationConfigArtifactTest.cpp - Generation defaults in artifacts ===//
//
// Artifact.generation_config: the writer stores a generation config field
// for field (absent fields stay absent, no config leaves the table out), the
// loader hands it to Program and ModelInfo, and stored values out of range
// are a load error. Through the command line: a checkpoint folder's
// generation_config.json, synth's, and --generation-config FILE reach
// Model::load unchanged. The CLI's messages, inspect and run are
// test/lit/tools/generation-config.test.
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"

#include "ArtifactLoader.h"
#include "birkhoff/GenerationConfig.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/schema/artifact_generated.h"
#include "deepseek_v4/Synth.h"

using namespace birkhoff;
using namespace birkhoff::test;

namespace {

const GenerationConfig kEveryField = {.doSample = true,
                                      .temperature = 0.7f,
                                      .topP = 0.9f,
                                      .topK = 40,
                                      .maxNewTokens = 64,
                                      .maxLength = 2048,
                                      .eosTokenIds = {1, 1023, 5},
                                      .repetitionPenalty = 1.05f};

class GenerationConfigArtifact : public TinySynthArtifact {
protected:
  std::string write(const std::string &name,
                    std::optional<GenerationConfig> config) {
    ArtifactOptions options;
    options.generationConfig = std::move(config);
    return writeWith(name, options);
  }
};

TEST_F(GenerationConfigArtifact, StoredAndLoadedFieldForField) {
  for (const GenerationConfig &c :
       {kEveryField, GenerationConfig{.doSample = false}, GenerationConfig{}}) {
    std::string path = write("gen.bkart", c);
    Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(path);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
    ASSERT_TRUE(loaded->program.generationConfig);
    EXPECT_EQ(*loaded->program.generationConfig, c);
    ModelOptions mo;
    mo.numThreads = 1;
    Expected<std::shared_ptr<const Model>> model = Model::load(path, mo);
    ASSERT_TRUE(model.isOk()) << model.status().toString();
    ASSERT_TRUE((*model)->info().generationConfig);
    EXPECT_EQ(*(*model)->info().generationConfig, c);
  }
  // The eos ids of the stored config end sequences, beside config.json's.
  Expected<std::shared_ptr<const Model>> model =
      Model::load(write("gen.bkart", kEveryField));
  ASSERT_TRUE(model.isOk());
  EXPECT_TRUE((*model)->info().isEndOfSequence(1023));
  EXPECT_TRUE((*model)->info().isEndOfSequence(5));
  EXPECT_FALSE((*model)->info().isEndOfSequence(6));
}

TEST_F(GenerationConfigArtifact, WithoutOneTheTableIsAbsent) {
  std::string path = write("none.bkart", std::nullopt);
  std::string bytes = readBytes(path);
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
  EXPECT_EQ(a->generation_config(), nullptr);
  Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(path);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_FALSE(loaded->program.generationConfig);
  // An empty config is a table, and the file differs.
  std::string empty = readBytes(write("empty.bkart", GenerationConfig{}));
  EXPECT_NE(fb::GetSizePrefixedArtifact(empty.data())->generation_config(),
            nullptr);
  EXPECT_NE(empty, bytes);
}

TEST_F(GenerationConfigArtifact, StoredValuesOutOfRangeAreALoadError) {
  struct Case {
    GenerationConfig config;
    const char *message;
  };
  const Case cases[] = {
      {{.temperature = -1.0f},
       "stored generation config: temperature: -1 is not a number >= 0"},
      {{.topP = 1.5f},
       "stored generation config: top_p: 1.5 is outside (0, 1]"},
      {{.eosTokenIds = {1, 1024}},
       "stored generation config: eos_token_id: 1024 is not a token id of "
       "the vocabulary [0, 1024)"},
      {{.maxNewTokens = 0},
       "stored generation config: max_new_tokens: 0 is not a positive count"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.message);
    std::string path = write("bad.bkart", c.config);
    Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(path);
    ASSERT_FALSE(loaded.isOk());
    EXPECT_EQ(loaded.status().code(), StatusCode::Corrupt);
    EXPECT_NE(loaded.status().message().find(path + ": " + c.message),
              std::string::npos)
        << loaded.status().message();
    EXPECT_FALSE(Model::load(path).isOk());
  }
}

/// The generation config `birkhoff compile <args>` stores, as Model::load
/// reads it back.
std::optional<GenerationConfig> compiled(const TempDir &dir,
                                         const std::string &args) {
  std::string path = dir.file("out.bkart");
  CommandResult r =
      runTool("compile " + args + " -o '" + path + "'", dir.file("log"));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  ModelOptions mo;
  mo.numThreads = 1;
  Expected<std::shared_ptr<const Model>> model = Model::load(path, mo);
  EXPECT_TRUE(model.isOk()) << model.status().toString();
  if (!model.isOk())
    return std::nullopt;
  return (*model)->info().generationConfig;
}

// A checkpoint folder (synth's) with its generation_config.json, the same
// folder with another file in its place, --generation-config FILE over it,
// and the folder without one.
TEST(GenerationConfigCompile, CheckpointFolderRoundTrip) {
  TempDir dir;
  const std::string ckpt = dir.file("ckpt");
  CommandResult r = runTool("synth --preset tiny --layers 2 -o '" + ckpt + "'",
                            dir.file("synth.log"));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  v4::ModelConfig tiny = *v4::presetConfig("tiny");
  Expected<GenerationConfig> synth = parseGenerationConfig(
      v4::synthGenerationConfigJson(tiny), "synth", tiny.vocabSize);
  ASSERT_TRUE(synth.isOk()) << synth.status().toString();
  EXPECT_EQ(readBytes(ckpt + "/generation_config.json"),
            v4::synthGenerationConfigJson(tiny));
  EXPECT_EQ(compiled(dir, "'" + ckpt + "'"), *synth);
  // compile --synth-preset stores the same.
  EXPECT_EQ(compiled(dir, "--synth-preset tiny --layers 2"), *synth);

  writeBytes(ckpt + "/generation_config.json",
             R"({"do_sample": true, "temperature": 0.7, "top_p": 0.9,
                 "top_k": 40, "max_new_tokens": 64, "max_length": 2048,
                 "eos_token_id": [1, 1023, 5], "repetition_penalty": 1.05,
                 "num_beams": 1, "transformers_version": "4.46.3"})");
  EXPECT_EQ(compiled(dir, "'" + ckpt + "'"), kEveryField);

  const std::string other = dir.file("greedy.json");
  writeBytes(other, R"({"do_sample": false, "eos_token_id": 2})");
  const GenerationConfig greedy = {.doSample = false, .eosTokenIds = {2}};
  EXPECT_EQ(compiled(dir, "'" + ckpt + "' --generation-config '" + other + "'"),
            greedy);
  EXPECT_EQ(compiled(dir, "--synth-preset tiny --layers 2 "
                          "--generation-config '" +
                              other + "'"),
            greedy);

  std::filesystem::remove(ckpt + "/generation_config.json");
  EXPECT_FALSE(compiled(dir, "'" + ckpt + "'").has_value());
}

} // namespace
