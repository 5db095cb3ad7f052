//===- WeightSynthesisTest.cpp - The recipe-driven weight generator -------===//
//
// That the generator reproduces `birkhoff synth` byte for byte is checked in
// test/unit/models/SynthTest.cpp; here: what it refuses, that the split into
// row ranges and threads never changes a byte, and the value rules.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/WeightSynthesis.h"

#include "birkhoff/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <vector>

namespace birkhoff {
namespace {

WeightRecipe normal(float mean, float std, uint64_t key = 42) {
  return {SynthKind::Normal, mean, std, key, 0};
}

/// The whole weight (and its scale) in one encode call.
void generateAtOnce(const WeightRecipe &r, DType dtype,
                    const std::vector<int64_t> &shape,
                    std::vector<uint8_t> &data, std::vector<uint8_t> &scale) {
  WeightGenerator g(r, dtype, shape);
  data.assign(g.bytes(), 0xAA);
  scale.assign(g.scaleBytes(), 0xAA);
  g.encode(0, g.rows(), data.data(), scale.data());
}

/// The same through generateWeights' row chunks on several threads.
void generateInChunks(const WeightRecipe &r, DType dtype,
                      const std::vector<int64_t> &shape, int64_t chunkBytes,
                      std::vector<uint8_t> &data, std::vector<uint8_t> &scale) {
  WeightGenerator g(r, dtype, shape);
  data.assign(g.bytes(), 0x55);
  scale.assign(g.scaleBytes(), 0x55);
  WorkerPool pool(3);
  GenerationTarget t{&g, data.data(), scale.empty() ? nullptr : scale.data()};
  generateWeights({&t, 1}, pool, chunkBytes);
}

TEST(WeightSynthesis, ChunksAndThreadsNeverChangeAByte) {
  struct Case {
    WeightRecipe recipe;
    DType dtype;
    std::vector<int64_t> shape;
  };
  std::vector<Case> cases = {
      {normal(0, 0.05f), DType::F8E4M3, {300, 200}}, // partial 128 blocks
      {normal(0, 0.05f), DType::FP4E2M1x2, {37, 96}},
      {normal(1, 0.1f), DType::BF16, {1001}},
      {normal(0, 0.5f), DType::F32, {7, 13}},
      {{SynthKind::Uniform, 0.5f, 1.5f, 9, 0}, DType::F32, {3}},
      {{SynthKind::DistinctIndices, 0, 0, 5, 10}, DType::I64, {500, 4}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(dtypeName(c.dtype)));
    ASSERT_TRUE(checkGeneratable(c.recipe, c.dtype, c.shape).isOk());
    std::vector<uint8_t> a, as, b, bs;
    generateAtOnce(c.recipe, c.dtype, c.shape, a, as);
    generateInChunks(c.recipe, c.dtype, c.shape, 1, b, bs);
    EXPECT_EQ(a, b);
    EXPECT_EQ(as, bs);
    EXPECT_EQ(a.size(), storedBytes(c.dtype, c.shape));
  }
}

TEST(WeightSynthesis, KeysAreNamePlusSeed) {
  EXPECT_EQ(weightStreamKey(7, "embed.weight"),
            weightStreamKey(7, "embed.weight"));
  EXPECT_NE(weightStreamKey(7, "embed.weight"),
            weightStreamKey(8, "embed.weight"));
  EXPECT_NE(weightStreamKey(7, "embed.weight"),
            weightStreamKey(7, "head.weight"));
}

TEST(WeightSynthesis, ValuesFollowTheRecipe) {
  std::vector<uint8_t> data, scale;
  generateAtOnce(normal(1, 0.1f), DType::F32, {20000}, data, scale);
  std::vector<float> v(20000);
  std::memcpy(v.data(), data.data(), data.size());
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += double(x) * x;
  }
  double mean = s / 20000, std = std::sqrt(s2 / 20000 - mean * mean);
  EXPECT_NEAR(mean, 1.0, 0.005);
  EXPECT_NEAR(std, 0.1, 0.005);

  generateAtOnce({SynthKind::Uniform, 0.5f, 1.5f, 3, 0}, DType::F32, {1000},
                 data, scale);
  std::memcpy(v.data(), data.data(), 4000);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_GE(v[size_t(i)], 0.5f);
    EXPECT_LT(v[size_t(i)], 1.5f);
  }

  generateAtOnce({SynthKind::DistinctIndices, 0, 0, 11, 6}, DType::I64,
                 {100, 6}, data, scale);
  for (int r = 0; r < 100; ++r) {
    std::set<int64_t> row;
    for (int j = 0; j < 6; ++j) {
      int64_t e;
      std::memcpy(&e, data.data() + (r * 6 + j) * 8, 8);
      EXPECT_GE(e, 0);
      EXPECT_LT(e, 6);
      row.insert(e);
    }
    EXPECT_EQ(row.size(), 6u); // a permutation
  }
}

// FP8: each 128x128 block's largest code lands in [224, 448] (the ue8m0
// rule); the scale tensor has the block-scale shape.
TEST(WeightSynthesis, Fp8BlocksFollowTheScaleRule) {
  std::vector<int64_t> shape = {256, 384};
  EXPECT_EQ(blockScaleShape(DType::F8E4M3, shape),
            (std::vector<int64_t>{2, 3}));
  std::vector<uint8_t> data, scale;
  generateAtOnce(normal(0, 0.05f), DType::F8E4M3, shape, data, scale);
  ASSERT_EQ(scale.size(), 6u);
  for (int br = 0; br < 2; ++br)
    for (int bc = 0; bc < 3; ++bc) {
      float blockMax = 0;
      for (int r = 0; r < 128; ++r)
        for (int c = 0; c < 128; ++c)
          blockMax =
              std::max(blockMax,
                       std::fabs(e4m3ToFloat(
                           data[size_t((br * 128 + r) * 384 + bc * 128 + c)])));
      EXPECT_GE(blockMax, 224.0f);
      EXPECT_LE(blockMax, 448.0f);
      EXPECT_NE(scale[size_t(br * 3 + bc)], 0xff);
    }
}

TEST(WeightSynthesis, RefusesWhatItCannotGenerate) {
  auto refused = [](const WeightRecipe &r, DType d, std::vector<int64_t> shape,
                    const std::string &why) {
    Status s = checkGeneratable(r, d, shape);
    EXPECT_FALSE(s.isOk()) << dtypeName(d);
    EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  };
  refused({}, DType::F32, {4}, "no recipe");
  refused(normal(0, NAN), DType::F32, {4}, "not finite");
  refused(normal(0, 1), DType::I32, {4}, "generated as");
  refused(normal(0.5f, 1), DType::F8E4M3, {128, 128}, "zero-mean");
  refused({SynthKind::Uniform, 0, 1, 1, 0}, DType::FP4E2M1x2, {4, 32},
          "zero-mean");
  refused(normal(0, 1), DType::F8E4M3, {128}, "2-D");
  refused(normal(0, 1), DType::FP4E2M1x2, {4, 48}, "blocks of 32");
  refused({SynthKind::DistinctIndices, 0, 0, 1, 3}, DType::I64, {10, 4},
          "at least that wide");
  refused({SynthKind::DistinctIndices, 0, 0, 1, 1000}, DType::I64, {10, 65},
          "at most 64");
  refused({SynthKind::DistinctIndices, 0, 0, 1, 8}, DType::F32, {10, 4},
          "2-D i64");
  refused({SynthKind::BlockScale, 0, 0, 0, 0}, DType::BF16, {1, 1}, "f8e8m0");
  refused({SynthKind(9), 0, 0, 0, 0}, DType::F32, {1}, "unknown");
  refused(normal(0, 1), DType::F32, {-1, 4}, "negative");
}

} // namespace
} // namespace birkhoff
