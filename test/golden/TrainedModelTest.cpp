//===- TrainedModelTest.cpp - The default model against HF transformers ---===//
//
// models/deepseek_v4/tiny is a small DeepSeek-V4 trained with HF transformers
// (tools/tiny-model, docs/default-model.md). Random models have near-tied
// logits that make long greedy comparisons meaningless; a trained one does
// not, so these are the sharpest end-to-end checks of the suite:
//  - the held-out perplexity of the reference profile equals transformers'
//    float32 figure within 0.5 %;
//  - greedy continuations of 1,000 tokens equal transformers' token for token;
//  - the official profile's perplexity is within 2 % of the reference's;
//  - the artifact's tokenizer gives transformers' prompt ids.
// The reference data (reference/reference.json, heldout_tokens.npy) was made
// by tools/tiny-model/train.py with the same model in float32.
//
//===----------------------------------------------------------------------===//
#include "GoldenCase.h"
#include "TrainedModel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

namespace birkhoff::test {
namespace {

/// The model compiled with `flags` (cached in the build's golden-artifacts).
std::shared_ptr<const Model> compiled(const std::string &name,
                                      const std::string &flags) {
  std::string path = std::string(BIRKHOFF_BIN_DIR) + "/../golden-artifacts/" +
                     name + ".bkart";
  Status st = compileArtifact(trainedModelDir(), path, flags);
  EXPECT_TRUE(st.isOk()) << st.toString();
  if (!st.isOk())
    return nullptr;
  auto m = Model::load(path);
  EXPECT_TRUE(m.isOk()) << m.status().toString();
  return m.isOk() ? m.take() : nullptr;
}

class TrainedModel : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    ref_ = new nlohmann::json(readTrainedReference());
    reference_ = compiled("tiny", "");
    official_ = compiled("tiny-official", "--numerics official");
  }
  static void TearDownTestSuite() {
    delete ref_;
    reference_.reset();
    official_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(ref_->is_object())
        << "no reference data in " << trainedModelDir();
    ASSERT_TRUE(reference_ && official_);
  }
  static nlohmann::json *ref_;
  static std::shared_ptr<const Model> reference_, official_;
};
nlohmann::json *TrainedModel::ref_ = nullptr;
std::shared_ptr<const Model> TrainedModel::reference_, TrainedModel::official_;

TEST_F(TrainedModel, TokenizerGivesTransformersPromptIds) {
  ASSERT_TRUE(reference_->hasTokenizer());
  for (const auto &g : (*ref_)["greedy"]) {
    auto ids = reference_->encode(g["prompt_text"].get<std::string>());
    ASSERT_TRUE(ids.isOk()) << ids.status().toString();
    EXPECT_EQ(*ids, g["prompt"].get<std::vector<int32_t>>()) << g["name"];
  }
}

TEST_F(TrainedModel, PerplexityMatchesTransformers) {
  const double want = (*ref_)["perplexity"]["perplexity"].get<double>();
  const double got = trainedPerplexity(reference_, *ref_);
  std::printf("[trained-model] held-out perplexity: birkhoff %.6f, "
              "transformers %.6f (ratio %.8f)\n",
              got, want, got / want);
  EXPECT_LE(std::fabs(got / want - 1.0), 0.005);
}

TEST_F(TrainedModel, GreedyContinuationsMatchTransformers) {
  expectGreedyContinuations(reference_, *ref_, "trained-model");
}

TEST_F(TrainedModel, OfficialPerplexityWithinTwoPercentOfReference) {
  const double ref = trainedPerplexity(reference_, *ref_);
  const double off = trainedPerplexity(official_, *ref_);
  std::printf("[trained-model] held-out perplexity: official %.6f, "
              "reference %.6f (ratio %.6f)\n",
              off, ref, off / ref);
  EXPECT_LE(std::fabs(off / ref - 1.0), 0.02);
}

} // namespace
} // namespace birkhoff::test
