//===- GenerationConfigTest.cpp - generation_config.json, read and checked ===//
//
// DeepSeek-V4's own file, every field Birkhoff reads, eos_token_id as one id
// or a list, unknown and null fields, and one test per way a file is
// refused: malformed JSON, wrong types, values out of range.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/GenerationConfig.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <limits>

using namespace birkhoff;

namespace {

const std::string kDeepSeekFile =
    BIRKHOFF_SOURCE_DIR "/test/data/generation_config/deepseek-v4.json";

Expected<GenerationConfig> parse(const std::string &json,
                                 int64_t vocab = 1000) {
  return parseGenerationConfig(json, "dir/generation_config.json", vocab);
}

/// The message of the error `json` is refused with; fails the test when it
/// is accepted.
std::string refusal(const std::string &json, int64_t vocab = 1000) {
  Expected<GenerationConfig> c = parse(json, vocab);
  EXPECT_FALSE(c.isOk()) << json;
  if (c.isOk())
    return "";
  EXPECT_EQ(c.status().code(), StatusCode::InvalidArgument);
  return c.status().message();
}

struct Refused {
  const char *json, *message;
};

/// Each file is refused with an error naming the file, then `message`.
void expectRefused(std::initializer_list<Refused> cases) {
  for (const Refused &c : cases) {
    std::string m = refusal(c.json);
    EXPECT_NE(m.find(std::string("generation config "
                                 "'dir/generation_config.json': ") +
                     c.message),
              std::string::npos)
        << c.json << " -> " << m;
  }
}

TEST(GenerationConfig, DeepSeekV4File) {
  std::ifstream in(kDeepSeekFile, std::ios::binary);
  ASSERT_TRUE(in) << kDeepSeekFile;
  std::string text{std::istreambuf_iterator<char>(in), {}};
  Expected<GenerationConfig> c =
      parseGenerationConfig(text, kDeepSeekFile, 129280);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(*c, (GenerationConfig{.doSample = true,
                                  .temperature = 1.0f,
                                  .topP = 1.0f,
                                  .eosTokenIds = {1}}));
  EXPECT_TRUE(c->hasSamplingFields());
}

TEST(GenerationConfig, EveryFieldItReads) {
  Expected<GenerationConfig> c = parse(R"({
    "do_sample": false, "temperature": 0.6, "top_p": 0.95, "top_k": 40,
    "max_new_tokens": 256, "max_length": 4096, "eos_token_id": 7,
    "repetition_penalty": 1.1})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->doSample, false);
  EXPECT_EQ(c->temperature, 0.6f);
  EXPECT_EQ(c->topP, 0.95f);
  EXPECT_EQ(c->topK, 40);
  EXPECT_EQ(c->maxNewTokens, 256);
  EXPECT_EQ(c->maxLength, 4096);
  EXPECT_EQ(c->eosTokenIds, std::vector<int32_t>{7});
  EXPECT_EQ(c->repetitionPenalty, 1.1f);
}

TEST(GenerationConfig, EosAsAList) {
  Expected<GenerationConfig> c = parse(R"({"eos_token_id": [1, 998, 5]})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->eosTokenIds, (std::vector<int32_t>{1, 998, 5}));
  EXPECT_FALSE(c->hasSamplingFields());
  c = parse(R"({"eos_token_id": []})");
  ASSERT_TRUE(c.isOk());
  EXPECT_TRUE(c->eosTokenIds.empty());
}

TEST(GenerationConfig, UnknownAndNullFieldsAreIgnored) {
  Expected<GenerationConfig> c = parse(R"({
    "_from_model_config": true, "transformers_version": "4.46.3",
    "bos_token_id": 0, "pad_token_id": [1, 2], "num_beams": "four",
    "typical_p": {"x": 1}, "temperature": null, "top_k": null,
    "eos_token_id": null, "do_sample": null})");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(*c, GenerationConfig{});
  EXPECT_EQ(*parse("{}"), GenerationConfig{});
}

TEST(GenerationConfig, MalformedJsonNamesTheFileAndWhere) {
  std::string m = refusal("{\n  \"do_sample\": true,\n}");
  EXPECT_NE(m.find("generation config 'dir/generation_config.json' is not "
                   "valid JSON"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("line 3"), std::string::npos) << m;
  m = refusal("");
  EXPECT_NE(m.find("is not valid JSON"), std::string::npos) << m;
  m = refusal("[1, 2]");
  EXPECT_NE(m.find("generation config 'dir/generation_config.json' must be "
                   "a JSON object, not array"),
            std::string::npos)
      << m;
}

TEST(GenerationConfig, WrongTypesNameTheField) {
  expectRefused({
      {R"({"do_sample": 1})", "do_sample: must be true or false, not 1"},
      {R"({"do_sample": "true"})",
       "do_sample: must be true or false, not \"true\""},
      {R"({"temperature": "hot"})",
       "temperature: must be a number, not \"hot\""},
      {R"({"top_p": [0.9]})", "top_p: must be a number, not [0.9]"},
      {R"({"top_k": 2.5})", "top_k: must be an integer, not 2.5"},
      {R"({"max_new_tokens": "16"})",
       "max_new_tokens: must be an integer, not \"16\""},
      {R"({"max_length": true})", "max_length: must be an integer, not true"},
      {R"({"eos_token_id": "1"})",
       "eos_token_id: must be a token id or a list of token ids"},
      {R"({"eos_token_id": [1, 2.0]})",
       "eos_token_id: must be a token id or a list of token ids"},
      {R"({"repetition_penalty": false})",
       "repetition_penalty: must be a number, not false"},
  });
}

TEST(GenerationConfig, OutOfRangeValuesNameTheField) {
  expectRefused({
      {R"({"temperature": -0.5})", "temperature: -0.5 is not a number >= 0"},
      {R"({"temperature": 1e39})", "temperature: 1e+39 is not a finite"},
      {R"({"top_p": 0})", "top_p: 0 is outside (0, 1]"},
      {R"({"top_p": 1.5})", "top_p: 1.5 is outside (0, 1]"},
      {R"({"top_p": -0.1})", "top_p: -0.1 is outside (0, 1]"},
      {R"({"top_k": -1})", "top_k: -1 is negative"},
      {R"({"max_new_tokens": 0})", "max_new_tokens: 0 is not a positive"},
      {R"({"max_length": -3})", "max_length: -3 is not a positive"},
      {R"({"eos_token_id": -1})", "eos_token_id: -1 is not a token id"},
      {R"({"eos_token_id": [1, 3000000000]})",
       "eos_token_id: 3000000000 is not a token id"},
      {R"({"eos_token_id": [1, 1000]})",
       "eos_token_id: 1000 is not a token id of the vocabulary [0, "
       "1000)"},
      {R"({"repetition_penalty": 0})", "repetition_penalty: 0 is not positive"},
  });
  // The bounds themselves are in range.
  Expected<GenerationConfig> edge = parse(
      R"({"temperature": 0, "top_p": 1, "top_k": 0, "max_new_tokens": 1,
          "max_length": 1, "eos_token_id": [0, 999]})");
  ASSERT_TRUE(edge.isOk()) << edge.status().toString();
  EXPECT_EQ(edge->temperature, 0.0f);
}

TEST(GenerationConfig, CheckAppliesTheSameRanges) {
  EXPECT_TRUE(checkGenerationConfig({}, 10).isOk());
  EXPECT_TRUE(checkGenerationConfig({.eosTokenIds = {9}}, 10).isOk());
  EXPECT_FALSE(checkGenerationConfig({.eosTokenIds = {9}}, 9).isOk());
  Status s = checkGenerationConfig(
      {.temperature = std::numeric_limits<float>::quiet_NaN()}, 10);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message().rfind("temperature: ", 0), 0u) << s.message();
  EXPECT_FALSE(checkGenerationConfig({.topP = 0.0f}, 10).isOk());
}

} // namespace
