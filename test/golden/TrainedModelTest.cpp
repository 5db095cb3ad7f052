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

#include "birkhoff/Npy.h"
#include "birkhoff/Runtime.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace birkhoff::test {
namespace {

const std::string kModelDir =
    std::string(BIRKHOFF_SOURCE_DIR) + "/models/deepseek_v4/tiny";

nlohmann::json readReference() {
  std::ifstream in(kModelDir + "/reference/reference.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, false);
}

/// The model compiled with `flags` (cached in the build's golden-artifacts).
std::shared_ptr<const Model> compiled(const std::string &name,
                                      const std::string &flags) {
  std::string path = std::string(BIRKHOFF_BIN_DIR) + "/../golden-artifacts/" +
                     name + ".bkart";
  Status st = compileArtifact(kModelDir, path, flags);
  EXPECT_TRUE(st.isOk()) << st.toString();
  if (!st.isOk())
    return nullptr;
  auto m = Model::load(path);
  EXPECT_TRUE(m.isOk()) << m.status().toString();
  return m.isOk() ? m.take() : nullptr;
}

/// exp(mean NLL) over the reference's held-out windows, as `birkhoff
/// perplexity` computes it (scoreWindows: every token of a window but its
/// first, each window from a fresh state).
double perplexity(const std::shared_ptr<const Model> &model,
                  const nlohmann::json &ref) {
  auto tokens = readNpy(kModelDir + "/reference/" +
                        ref["perplexity"]["tokens"].get<std::string>());
  EXPECT_TRUE(tokens.isOk()) << tokens.status().toString();
  if (!tokens.isOk())
    return NAN;
  const std::vector<int64_t> ids = tokens->asInt64();
  const size_t window = ref["perplexity"]["window"].get<size_t>();
  std::vector<std::vector<int32_t>> windows;
  for (size_t w = 0; w + window <= ids.size(); w += window)
    windows.emplace_back(ids.begin() + w, ids.begin() + w + window);
  auto score = scoreWindows(model, windows);
  EXPECT_TRUE(score.isOk()) << score.status().toString();
  if (!score.isOk())
    return NAN;
  EXPECT_EQ(score->tokens, ref["perplexity"]["scored"].get<int64_t>());
  return score->perplexity();
}

class TrainedModel : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    ref_ = new nlohmann::json(readReference());
    reference_ = compiled("tiny", "");
    official_ = compiled("tiny-official", "--numerics official");
  }
  static void TearDownTestSuite() {
    delete ref_;
    reference_.reset();
    official_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(ref_->is_object()) << "no reference data in " << kModelDir;
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
  const double got = perplexity(reference_, *ref_);
  std::printf("[trained-model] held-out perplexity: birkhoff %.6f, "
              "transformers %.6f (ratio %.8f)\n",
              got, want, got / want);
  EXPECT_LE(std::fabs(got / want - 1.0), 0.005);
}

TEST_F(TrainedModel, GreedyContinuationsMatchTransformers) {
  for (const auto &g : (*ref_)["greedy"]) {
    const auto prompt = g["prompt"].get<std::vector<int32_t>>();
    const auto want = g["generated"].get<std::vector<int32_t>>();
    SessionOptions o;
    o.maxContext = int64_t(prompt.size() + want.size());
    auto s = Session::create(reference_, o);
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    ASSERT_TRUE((*s)->prefill(prompt).isOk());
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
      std::span<const float> l = (*s)->lastLogits();
      // Greedy: argmax, the lowest id on ties (as torch.topk's first).
      got.push_back(int32_t(std::max_element(l.begin(), l.end()) - l.begin()));
      if (got.back() != want[i])
        break;
      ASSERT_TRUE((*s)->decode(got.back()).isOk());
    }
    size_t same = 0;
    while (same < got.size() && got[same] == want[same])
      ++same;
    std::printf("[trained-model] greedy %s: %zu of %zu tokens equal\n",
                g["name"].get<std::string>().c_str(), same, want.size());
    EXPECT_EQ(same, want.size())
        << g["name"] << " departs at generated token " << same;
  }
}

TEST_F(TrainedModel, OfficialPerplexityWithinTwoPercentOfReference) {
  const double ref = perplexity(reference_, *ref_);
  const double off = perplexity(official_, *ref_);
  std::printf("[trained-model] held-out perplexity: official %.6f, "
              "reference %.6f (ratio %.6f)\n",
              off, ref, off / ref);
  EXPECT_LE(std::fabs(off / ref - 1.0), 0.02);
}

} // namespace
} // namespace birkhoff::test
