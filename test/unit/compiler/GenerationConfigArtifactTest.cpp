//===- GenerationConfigArtifactTest.cpp - Generation defaults in artifacts ===//
//
// Artifact.generation_config: the writer stores a generation config field
// for field (absent fields stay absent, no config leaves the table out), the
// loader hands it to Program and ModelInfo, and stored values out of range
// are a load error.
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"

#include "ArtifactLoader.h"
#include "birkhoff/GenerationConfig.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/schema/artifact_generated.h"

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

} // namespace
