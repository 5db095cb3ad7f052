//===- SamplingTest.cpp - Greedy and sampled token choice -----------------===//
//
// sampleToken, and the defaults a generation config gives
// (applyGenerationConfig, ModelInfo::isEndOfSequence).
//
//===----------------------------------------------------------------------===//
#include "birkhoff/Runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

namespace birkhoff {
namespace {

TEST(Sampling, GreedyTakesArgmaxLowestIdOnTies) {
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
  GenerateOptions g;
  uint64_t rng = 0;
  EXPECT_EQ(sampleToken(logits, g, rng), 1);
  g.temperature = 1.0f;
  g.topK = 1;
  EXPECT_EQ(sampleToken(logits, g, rng), 1);
}

TEST(Sampling, SameSeedSameDraws) {
  std::vector<float> logits = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f};
  GenerateOptions g;
  g.temperature = 1.0f;
  uint64_t a = 42, b = 42;
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(sampleToken(logits, g, a), sampleToken(logits, g, b));
}

TEST(Sampling, TopKAndTopPRestrictTheCandidates) {
  std::vector<float> logits = {5.0f, 4.9f, 0.0f, -1.0f, 4.8f};
  GenerateOptions g;
  g.temperature = 1.0f;
  g.topK = 2;
  uint64_t rng = 7;
  std::map<int32_t, int> seen;
  for (int i = 0; i < 400; ++i)
    ++seen[sampleToken(logits, g, rng)];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  g.topK = 0;
  g.topP = 0.01f; // only the most likely token is inside the nucleus
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(sampleToken(logits, g, rng), 0);
}

TEST(Sampling, TemperatureFollowsSoftmax) {
  std::vector<float> logits = {0.0f, std::log(3.0f)}; // probabilities 1/4, 3/4
  GenerateOptions g;
  g.temperature = 1.0f;
  uint64_t rng = 1;
  int ones = 0, n = 20000;
  for (int i = 0; i < n; ++i)
    ones += sampleToken(logits, g, rng);
  EXPECT_NEAR(double(ones) / n, 0.75, 0.02);
}

/// The nucleus by a full sort (descending logit, lower id first on ties):
/// the shortest prefix holding `p` of the probability at temperature `t`.
std::set<int32_t> nucleusBySort(const std::vector<float> &logits, float t,
                                float p) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<double> w;
  double sum = 0;
  for (int32_t i : ids)
    sum += w.emplace_back(std::exp((logits[i] - logits[ids[0]]) / t));
  std::set<int32_t> kept;
  double acc = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    kept.insert(ids[i]);
    acc += w[i];
    if (acc >= p * sum)
      break;
  }
  return kept;
}

// Top-p over a large vocabulary (no full sort: ranges of logits locate the
// nucleus's end) draws only inside the nucleus a full sort gives, and each
// of its tokens about as often as its probability says; ties at the edge
// keep the lower ids.
TEST(Sampling, NucleusOfALargeVocabularyIsTheSortedOne) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(20000);
  for (float &l : logits)
    l = normal(gen);
  for (size_t i = 0; i < 64; ++i) // ties across the vocabulary
    logits[i * 300 + 1] = logits[7];
  GenerateOptions g;
  g.temperature = 0.8f;
  for (float p : {0.05f, 0.5f, 0.95f}) {
    g.topP = p;
    const std::set<int32_t> nucleus = nucleusBySort(logits, g.temperature, p);
    uint64_t rng = 9;
    std::map<int32_t, int> seen;
    const int draws = 4000;
    for (int i = 0; i < draws; ++i) {
      const int32_t id = sampleToken(logits, g, rng);
      ASSERT_TRUE(nucleus.count(id)) << "top_p " << p << " drew " << id;
      ++seen[id];
    }
    if (p == 0.05f) {
      // A few tokens: frequencies against the softmax over the nucleus.
      double z = 0;
      const float hi = *std::max_element(logits.begin(), logits.end());
      for (int32_t id : nucleus)
        z += std::exp((logits[size_t(id)] - hi) / g.temperature);
      for (int32_t id : nucleus) {
        const double want =
            std::exp((logits[size_t(id)] - hi) / g.temperature) / z;
        EXPECT_NEAR(double(seen[id]) / draws, want, 0.03) << id;
      }
    }
  }
  // Ties decided by id: every logit equal keeps the lowest ids.
  std::vector<float> flat(1000, 1.5f);
  g.topP = 0.1f;
  uint64_t rng = 4;
  for (int i = 0; i < 200; ++i)
    EXPECT_LT(sampleToken(flat, g, rng), 100);
}

// Top-k over a large vocabulary keeps exactly the k best (ties: lower ids).
TEST(Sampling, TopKOfALargeVocabulary) {
  std::vector<float> logits(50000, 0.0f);
  for (int32_t id : {49999, 123, 7, 30000})
    logits[size_t(id)] = 5.0f;
  GenerateOptions g;
  g.temperature = 1.0f;
  g.topK = 3;
  uint64_t rng = 2;
  std::set<int32_t> seen;
  for (int i = 0; i < 300; ++i)
    seen.insert(sampleToken(logits, g, rng));
  EXPECT_EQ(seen, (std::set<int32_t>{7, 123, 30000}));
}

/// Options no generation config would give, to see what it changes.
GenerateOptions marked() {
  return {.maxNewTokens = 3,
          .temperature = 0.25f,
          .topK = 9,
          .topP = 0.5f,
          .seed = 11,
          .stopAtEos = false,
          .stopTokens = {4}};
}

TEST(GenerationDefaults, DoSampleTrueSetsTheSamplingFields) {
  GenerateOptions g = applyGenerationConfig({.doSample = true,
                                             .temperature = 0.6f,
                                             .topP = 0.95f,
                                             .topK = 40,
                                             .maxNewTokens = 128},
                                            marked());
  EXPECT_EQ(g.temperature, 0.6f);
  EXPECT_EQ(g.topP, 0.95f);
  EXPECT_EQ(g.topK, 40);
  EXPECT_EQ(g.maxNewTokens, 128);
  // What a generation config does not speak of stays.
  EXPECT_EQ(g.seed, 11u);
  EXPECT_FALSE(g.stopAtEos);
  EXPECT_EQ(g.stopTokens, std::vector<int32_t>{4});
  // do_sample alone: transformers' temperature 1; top_p and top_k stay.
  g = applyGenerationConfig({.doSample = true}, marked());
  EXPECT_EQ(g.temperature, 1.0f);
  EXPECT_EQ(g.topP, 0.5f);
  EXPECT_EQ(g.topK, 9);
  EXPECT_EQ(g.maxNewTokens, 3);
}

TEST(GenerationDefaults, DoSampleFalseIsGreedy) {
  GenerateOptions g = applyGenerationConfig(
      {.doSample = false, .temperature = 0.6f, .topK = 40}, marked());
  EXPECT_EQ(g.temperature, 0.0f);
  EXPECT_EQ(g.topK, 9);
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 2.9f};
  uint64_t rng = 5;
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(sampleToken(logits, g, rng), 1);
}

TEST(GenerationDefaults, WithoutDoSampleTheSamplingFieldsStay) {
  GenerateOptions g = applyGenerationConfig(
      {.temperature = 0.6f, .topP = 0.9f, .topK = 40, .eosTokenIds = {1, 2}},
      marked());
  EXPECT_EQ(g.temperature, 0.25f);
  EXPECT_EQ(g.topP, 0.5f);
  EXPECT_EQ(g.topK, 9);
  EXPECT_EQ(g.maxNewTokens, 3);
}

TEST(GenerationDefaults, EndOfSequenceIdsJoinTheConfigs) {
  ModelInfo info;
  info.eosTokenId = 1;
  EXPECT_TRUE(info.isEndOfSequence(1));
  EXPECT_FALSE(info.isEndOfSequence(7));
  info.generationConfig = GenerationConfig{.eosTokenIds = {7, 9}};
  EXPECT_TRUE(info.isEndOfSequence(1));
  EXPECT_TRUE(info.isEndOfSequence(7));
  EXPECT_TRUE(info.isEndOfSequence(9));
  EXPECT_FALSE(info.isEndOfSequence(8));
}

TEST(Sampling, StopAfterChecksEosStopTokensCountThenContext) {
  ModelInfo info;
  info.eosTokenId = 1;
  GenerateOptions g;
  g.maxNewTokens = 4;
  g.stopTokens = {7};
  using Stop = GenerateResult::Stop;
  EXPECT_EQ(stopAfter(info, g, 5, 1, 10, 100), std::nullopt);
  // Every reason at once: end of sequence first.
  EXPECT_EQ(stopAfter(info, g, 1, 4, 100, 100), Stop::Eos);
  EXPECT_EQ(stopAfter(info, g, 7, 4, 100, 100), Stop::StopToken);
  EXPECT_EQ(stopAfter(info, g, 5, 4, 100, 100), Stop::MaxTokens);
  EXPECT_EQ(stopAfter(info, g, 5, 3, 100, 100), Stop::ContextFull);
  g.stopAtEos = false;
  EXPECT_EQ(stopAfter(info, g, 1, 1, 10, 100), std::nullopt);
}

} // namespace
} // namespace birkhoff
