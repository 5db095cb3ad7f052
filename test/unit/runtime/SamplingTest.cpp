//===- SamplingTest.cpp - Greedy and sampled token choice -----------------===//
#include "birkhoff/Runtime.h"

#include <gtest/gtest.h>

#include <cmath>

#include <map>

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

} // namespace
} // namespace birkhoff
