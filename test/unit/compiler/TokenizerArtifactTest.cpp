//===- TokenizerArtifactTest.cpp - The tokenizer an artifact carries ------===//
//
// Artifact.tokenizer_json: synth's byte-level tokenizer loads and round-trips;
// the runtime parses the stored tokenizer once and encodes, decodes and
// streams text through Model and TextDecoder; an artifact without one says so;
// a corrupt stored tokenizer, or one with ids beyond the vocabulary, is a load
// error. The CLI side (compile --tokenizer, run --prompt, tokenize <artifact>)
// is test/lit/tools/text-io.test.
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"

#include "ArtifactLoader.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/Tokenizer.h"
#include "compiler/ArtifactWriter.h"
#include "deepseek_v4/Synth.h"
#include "deepseek_v4/SynthModel.h"

#include <fstream>
#include <iterator>

using namespace birkhoff;
using namespace birkhoff::test;

namespace {

const char *kTexts[] = {
    "Hello, world!",
    "the cat sat on the mat\n\tand then   left.",
    "h\xC3\xA9llo \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 12345",
    "",
    "<\xEF\xBD\x9C"
    "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>x",
};

/// The generated tiny model compiled once, then written with any tokenizer.
class TokenizerArtifact : public TinySynthArtifact {
protected:
  std::string write(const std::string &name, const std::string &tokenizer) {
    ArtifactOptions options;
    options.tokenizerJson = tokenizer;
    return writeWith(name, options);
  }

  static std::shared_ptr<const Model> load(const std::string &path) {
    ModelOptions options;
    options.numThreads = 1;
    Expected<std::shared_ptr<const Model>> model = Model::load(path, options);
    EXPECT_TRUE(model.isOk()) << model.status().toString();
    return model.isOk() ? *model : nullptr;
  }
};

TEST(SynthTokenizer, LoadsWithTheVocabularySizeAndRoundTrips) {
  v4::ModelConfig tiny = *v4::presetConfig("tiny");
  std::string json = v4::synthTokenizerJson(tiny);
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json, v4::synthTokenizerJson(tiny)) << "not deterministic";
  auto tok = Tokenizer::fromJson(json);
  ASSERT_TRUE(tok.isOk()) << tok.status().toString();
  EXPECT_EQ((*tok)->vocabSize(), 1024);
  EXPECT_EQ((*tok)->addedTokenCount(), 2u);
  EXPECT_TRUE((*tok)->isSpecial(int32_t(tiny.bosTokenId)));
  EXPECT_TRUE((*tok)->isSpecial(int32_t(tiny.eosTokenId)));
  for (const char *text : kTexts) {
    SCOPED_TRACE(text);
    auto ids = (*tok)->encode(text);
    ASSERT_TRUE(ids.isOk()) << ids.status().toString();
    for (int32_t id : *ids)
      EXPECT_LT(id, 1024);
    auto back = (*tok)->decode(*ids);
    ASSERT_TRUE(back.isOk());
    EXPECT_EQ(*back, text);
  }
  // Merges shorten frequent text: fewer ids than bytes.
  auto ids = (*tok)->encode("the rain in the east");
  ASSERT_TRUE(ids.isOk());
  EXPECT_LT(ids->size(), std::string("the rain in the east").size());
  // The special token written in text becomes its id.
  auto bos = (*tok)->encode(kTexts[4]);
  ASSERT_TRUE(bos.isOk());
  ASSERT_FALSE(bos->empty());
  EXPECT_EQ(bos->front(), int32_t(tiny.bosTokenId));
}

TEST(SynthTokenizer, LargeVocabularyAndTooSmallOne) {
  v4::ModelConfig flash = *v4::presetConfig("flash");
  auto tok = Tokenizer::fromJson(v4::synthTokenizerJson(flash));
  ASSERT_TRUE(tok.isOk()) << tok.status().toString();
  EXPECT_EQ((*tok)->vocabSize(), flash.vocabSize);
  auto ids = (*tok)->encode(kTexts[2]);
  ASSERT_TRUE(ids.isOk());
  EXPECT_EQ(*(*tok)->decode(*ids), kTexts[2]);

  v4::ModelConfig small = *v4::presetConfig("tiny");
  small.vocabSize = 257; // 256 bytes + BOS + EOS do not fit
  EXPECT_EQ(v4::synthTokenizerJson(small), "");
  small.vocabSize = 258;
  EXPECT_NE(v4::synthTokenizerJson(small), "");
}

TEST_F(TokenizerArtifact, ModelEncodesDecodesAndStreams) {
  std::string json = v4::synthTokenizerJson(synth_->config);
  std::shared_ptr<const Model> model = load(write("tok.bkart", json));
  ASSERT_TRUE(model);
  ASSERT_TRUE(model->hasTokenizer());
  auto reference = Tokenizer::fromJson(json);
  ASSERT_TRUE(reference.isOk());
  for (const char *text : kTexts) {
    SCOPED_TRACE(text);
    auto ids = model->encode(text);
    ASSERT_TRUE(ids.isOk()) << ids.status().toString();
    EXPECT_EQ(*ids, *(*reference)->encode(text));
    auto back = model->decode(*ids);
    ASSERT_TRUE(back.isOk());
    EXPECT_EQ(*back, text);
  }
  std::vector<int32_t> withSpecial = {int32_t(synth_->config.bosTokenId)};
  auto hi = model->encode("hi");
  withSpecial.insert(withSpecial.end(), hi->begin(), hi->end());
  EXPECT_EQ(*model->decode(withSpecial, /*skipSpecial=*/true), "hi");
  EXPECT_NE(*model->decode(withSpecial), "hi");
  std::vector<int32_t> bad = {5, 4096};
  EXPECT_EQ(model->decode(bad).status().code(), StatusCode::OutOfRange);

  // The generated ids of a session stream into text.
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk());
  auto prompt = model->encode("the cat");
  ASSERT_TRUE(prompt.isOk());
  GenerateOptions g;
  g.maxNewTokens = 6;
  g.stopAtEos = false;
  auto decoder = TextDecoder::create(*model);
  ASSERT_TRUE(decoder.isOk());
  std::string streamed;
  auto result = (*session)->generate(*prompt, g, [&](int32_t id) {
    auto piece = (*decoder)->push(id);
    EXPECT_TRUE(piece.isOk());
    streamed += piece.isOk() ? *piece : "";
    return true;
  });
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  streamed += (*decoder)->finish();
  EXPECT_EQ(streamed, *model->decode(result->tokens));
}

// "é" is two bytes and 😀 four, each byte its own token in the tiny
// vocabulary: the decoder holds them back until the character is whole.
TEST_F(TokenizerArtifact, TextDecoderNeverSplitsACharacter) {
  std::shared_ptr<const Model> model =
      load(write("tok.bkart", v4::synthTokenizerJson(synth_->config)));
  ASSERT_TRUE(model);
  for (std::string text :
       {std::string("\xC3\xA9"), std::string("a\xF0\x9F\x98\x80"
                                             "b")}) {
    auto ids = model->encode(text);
    ASSERT_TRUE(ids.isOk());
    ASSERT_GE(ids->size(), 2u);
    auto decoder = TextDecoder::create(*model);
    ASSERT_TRUE(decoder.isOk());
    std::vector<std::string> pieces;
    for (int32_t id : *ids) {
      auto piece = (*decoder)->push(id);
      ASSERT_TRUE(piece.isOk());
      pieces.push_back(*piece);
    }
    std::string joined;
    for (const std::string &p : pieces) {
      // Every piece is whole UTF-8: no lead byte without its continuation.
      std::string check;
      EXPECT_EQ(appendUtf8Lossy(p, check, /*final=*/true), p.size());
      EXPECT_EQ(check, p);
      joined += p;
    }
    EXPECT_EQ((*decoder)->finish(), "");
    EXPECT_EQ(joined, text);
  }
  // The first byte of "é" alone: nothing yet; finish() gives U+FFFD.
  auto ids = model->encode("\xC3\xA9");
  auto decoder = TextDecoder::create(*model);
  EXPECT_EQ(*(*decoder)->push(ids->front()), "");
  EXPECT_EQ((*decoder)->finish(), "\xEF\xBF\xBD");
}

TEST_F(TokenizerArtifact, WithoutATokenizerTheCallsSaySo) {
  std::shared_ptr<const Model> model = load(write("ids.bkart", ""));
  ASSERT_TRUE(model);
  EXPECT_FALSE(model->hasTokenizer());
  auto ids = model->encode("hi");
  ASSERT_FALSE(ids.isOk());
  EXPECT_EQ(ids.status().code(), StatusCode::Unsupported);
  EXPECT_NE(ids.status().message().find("has no tokenizer"), std::string::npos)
      << ids.status().message();
  std::vector<int32_t> one = {5};
  EXPECT_FALSE(model->decode(one).isOk());
  auto decoder = TextDecoder::create(*model);
  ASSERT_FALSE(decoder.isOk());
  EXPECT_NE(decoder.status().message().find("has no tokenizer"),
            std::string::npos);
}

TEST_F(TokenizerArtifact, CorruptStoredTokenizerIsALoadError) {
  for (const char *json :
       {"{\"model\": ", "[1, 2]",
        "{\"model\": {\"type\": \"Unigram\"}, \"pre_tokenizer\": "
        "{\"type\": \"ByteLevel\"}}"}) {
    SCOPED_TRACE(json);
    std::string path = write("bad.bkart", json);
    Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(path);
    ASSERT_FALSE(loaded.isOk());
    EXPECT_EQ(loaded.status().code(), StatusCode::Corrupt);
    EXPECT_NE(loaded.status().message().find(path + ": stored tokenizer "
                                                    "does not load"),
              std::string::npos)
        << loaded.status().message();
    EXPECT_FALSE(Model::load(path).isOk());
  }
}

TEST_F(TokenizerArtifact, StoredTokenizerBeyondTheVocabularyIsALoadError) {
  v4::ModelConfig bigger = synth_->config;
  bigger.vocabSize = 2048;
  std::string path = write("big.bkart", v4::synthTokenizerJson(bigger));
  Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(path);
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find(
                "stored tokenizer has ids up to 2047, beyond the model's "
                "vocab_size 1024"),
            std::string::npos)
      << loaded.status().message();
}

// DeepSeek's own tokenizer stored in a 1-layer V4-Flash artifact (vocabulary
// 129,280 >= its 128,815 ids) encodes exactly as the tokenizer.json does.
TEST(RealTokenizerArtifact, DeepSeekTokenizerInAFlashArtifact) {
  std::string file =
      std::string(BIRKHOFF_TOKENIZERS_DIR) + "/deepseek-v3/tokenizer.json";
  if (!std::filesystem::exists(file))
    GTEST_SKIP() << "no tokenizer at " << file;
  std::ifstream in(file, std::ios::binary);
  std::string json{std::istreambuf_iterator<char>(in), {}};
  v4::ModelConfig shape = *v4::presetConfig("flash");
  ASSERT_TRUE(v4::applySynthShape(shape, 1, 8).isOk());
  Expected<v4::SynthModel> synth =
      v4::makeSynthModel(shape, {}, "synth preset flash");
  ASSERT_TRUE(synth.isOk()) << synth.status().message();
  mlir::MLIRContext ctx;
  LoadedCheckpoint declared{synth->config, synth->checkpoint};
  mlir::OwningOpRef<mlir::ModuleOp> module =
      compileToKernels(ctx, declared, {});
  ASSERT_TRUE(module);
  TempDir dir;
  ArtifactOptions options;
  options.modelName = "flash";
  options.generated = &synth->recipes;
  options.tokenizerJson = json;
  std::string path = dir.file("flash.bkart");
  ASSERT_TRUE(writeArtifact(module->getOperation(), synth->config,
                            synth->checkpoint, options, path)
                  .isOk());
  Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(path);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  ASSERT_TRUE(loaded->program.tokenizer);
  const Tokenizer &stored = *loaded->program.tokenizer;
  EXPECT_EQ(stored.vocabSize(), 128815);
  auto reference = Tokenizer::fromJson(json);
  ASSERT_TRUE(reference.isOk());
  for (const char *text : kTexts) {
    auto ids = stored.encode(text);
    ASSERT_TRUE(ids.isOk());
    EXPECT_EQ(*ids, *(*reference)->encode(text));
    EXPECT_EQ(*stored.decode(*ids), text);
  }
  auto hello = stored.encode("Hello, world! 12345");
  EXPECT_EQ(*hello,
            (std::vector<int32_t>{19923, 14, 2058, 3, 223, 6895, 1883}));
}

} // namespace
