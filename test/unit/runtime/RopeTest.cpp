//===- RopeTest.cpp - RoPE tables and rotation (V4_SPEC P3) ---------------===//
#include "KernelTestUtil.h"
#include "host/Rope.h"

#include <gtest/gtest.h>

#include <cmath>

namespace birkhoff::test {
namespace {

rt::RopeTable table(bool yarn, double theta, double factor, double original) {
  RopeSpec r;
  r.ropeDim = 64;
  r.theta = theta;
  r.yarn = yarn;
  r.ropeFactor = factor;
  r.originalSeqLen = int64_t(original);
  r.betaFast = 32;
  r.betaSlow = 1;
  return rt::RopeTable::fromParams(r);
}

// Flash's compressed layers: pairs 0..15 keep their frequency, 25..31 are
// divided by the factor 16, the ones between blend (V4_SPEC P3: low 15, high 25).
TEST(Rope, YarnRampMatchesSpecForFlash) {
  rt::RopeTable plain = table(false, 160000, 16, 65536);
  rt::RopeTable yarn = table(true, 160000, 16, 65536);
  ASSERT_EQ(yarn.invFreq.size(), 32u);
  for (int i = 0; i <= 15; ++i)
    EXPECT_FLOAT_EQ(yarn.invFreq[i], plain.invFreq[i]) << i;
  for (int i = 25; i < 32; ++i)
    EXPECT_NEAR(yarn.invFreq[i], plain.invFreq[i] / 16, 1e-7 * plain.invFreq[i]) << i;
  float ramp20 = (20.0f - 15.0f) / 10.0f;
  EXPECT_NEAR(yarn.invFreq[20],
              plain.invFreq[20] / 16 * ramp20 + plain.invFreq[20] * (1 - ramp20),
              1e-6 * plain.invFreq[20]);
}

TEST(Rope, PlainFrequenciesAreInversePowers) {
  rt::RopeTable t = table(false, 10000, 1, 1);
  EXPECT_FLOAT_EQ(t.invFreq[0], 1.0f);
  EXPECT_NEAR(t.invFreq[1], 1.0 / std::pow(10000.0, 2.0 / 64), 1e-7);
}

// Interleaved pairs rotate as complex numbers; the inverse undoes it.
TEST(Rope, RotationIsInterleavedAndInvertible) {
  rt::RopeTable t = table(false, 10000, 1, 1);
  std::vector<float> x(64), y;
  for (int i = 0; i < 64; ++i)
    x[i] = float(i % 7) - 3.0f;
  y = x;
  t.apply(y.data(), 37, false);
  float angle = 37.0f * t.invFreq[3];
  EXPECT_NEAR(y[6], x[6] * std::cos(angle) - x[7] * std::sin(angle), 1e-5);
  EXPECT_NEAR(y[7], x[7] * std::cos(angle) + x[6] * std::sin(angle), 1e-5);
  t.apply(y.data(), 37, true);
  for (int i = 0; i < 64; ++i)
    EXPECT_NEAR(y[i], x[i], 1e-5) << i;
}

// The kernel rotates only the trailing rope dims of every head.
TEST(Rope, KernelTouchesOnlyTrailingDims) {
  KernelHarness h;
  int in = h.addBuffer(2 * 2 * 8), out = h.addBuffer(2 * 2 * 8);
  for (size_t i = 0; i < h.buffers[in].size(); ++i)
    h.buffers[in][i] = float(i);
  h.launch.inputs = {in};
  h.launch.outputs = {out};
  for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
           {"heads", 2}, {"head_dim", 8}, {"inverse", 0}, {"rope_dim", 4},
           {"theta", 10000}, {"yarn", 0}, {"rope_factor", 1}, {"original_seq_len", 1},
           {"beta_fast", 32}, {"beta_slow", 1}})
    h.param(k, v);
  ASSERT_TRUE(h.run(rt::ropeKernel, 2, 5).isOk());
  for (int t = 0; t < 2; ++t)
    for (int hd = 0; hd < 2; ++hd)
      for (int d = 0; d < 4; ++d) {
        size_t i = size_t((t * 2 + hd) * 8 + d);
        EXPECT_EQ(h.buffers[out][i], h.buffers[in][i]);
      }
  // Token 1 (position 6), head 0, first rope pair (dims 4,5).
  float angle = 6.0f * 1.0f;
  EXPECT_NEAR(h.buffers[out][16 + 4], 20.0f * std::cos(angle) - 21.0f * std::sin(angle), 1e-4);
}

} // namespace
} // namespace birkhoff::test
