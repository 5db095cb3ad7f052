//===- MhcTest.cpp - mHC pre/post/head kernels (V4_SPEC §3.2) -------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace birkhoff::test {
namespace {

struct MhcSetup {
  KernelHarness h;
  int x, u, post, comb;
  static constexpr int kHc = 4, kDim = 8;

  explicit MhcSetup(unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    int rows = (2 + kHc) * kHc;
    std::vector<float> fn(size_t(rows * kHc * kDim)), base(static_cast<size_t>(rows)), scale = {0.7f, 1.1f, 0.9f};
    for (auto &v : fn) v = 0.3f * n(rng);
    for (auto &v : base) v = 0.5f * n(rng);
    int wf = h.addWeightF32("fn", {rows, kHc * kDim}, fn);
    int wb = h.addWeightF32("base", {rows}, base);
    int ws = h.addWeightF32("scale", {3}, scale);
    x = h.addBuffer(2 * kHc * kDim);
    for (auto &v : h.buffers[x]) v = n(rng);
    u = h.addBuffer(2 * kDim);
    post = h.addBuffer(2 * kHc);
    comb = h.addBuffer(2 * kHc * kHc);
    h.launch.inputs = {x};
    h.launch.outputs = {u, post, comb};
    h.launch.weights = {wf, wb, ws};
    h.param("dim", kDim);
    h.param("hc", kHc);
    h.param("iters", 20);
    h.param("hc_eps", 1e-6);
    h.param("norm_eps", 1e-6);
  }
};

// 20 Sinkhorn rounds leave rows and columns summing to 1 and post in (0, 2).
TEST(Mhc, PreProducesDoublyStochasticComb) {
  MhcSetup s(1);
  ASSERT_TRUE(s.h.run(rt::mhcPreKernel, 2, 0).isOk());
  for (int t = 0; t < 2; ++t) {
    const float *c = s.h.buffers[s.comb].data() + t * 16;
    for (int i = 0; i < 4; ++i) {
      float row = 0, col = 0;
      for (int j = 0; j < 4; ++j) {
        row += c[i * 4 + j];
        col += c[j * 4 + i];
        EXPECT_GT(c[i * 4 + j], 0.0f);
      }
      EXPECT_NEAR(row, 1.0f, 1e-3);
      EXPECT_NEAR(col, 1.0f, 1e-5); // the last step normalizes columns
    }
    for (int k = 0; k < 4; ++k) {
      float p = s.h.buffers[s.post][size_t(t * 4 + k)];
      EXPECT_GT(p, 0.0f);
      EXPECT_LT(p, 2.0f);
    }
  }
}

// The fused pre+norm kernel equals pre followed by rms_norm.
TEST(Mhc, FusedPreNormEqualsComposition) {
  MhcSetup a(2), b(2);
  std::vector<float> w(8);
  for (int i = 0; i < 8; ++i) w[size_t(i)] = 1.0f + 0.1f * float(i);
  ASSERT_TRUE(a.h.run(rt::mhcPreKernel, 2, 0).isOk());
  int wn = b.h.addWeightF32("norm", {8}, w);
  b.h.launch.weights.push_back(wn);
  b.h.param("eps", 1e-6);
  ASSERT_TRUE(b.h.run(rt::mhcPreNormKernel, 2, 0).isOk());
  for (int t = 0; t < 2; ++t) {
    const float *ua = a.h.buffers[a.u].data() + t * 8;
    float ss = 0;
    for (int i = 0; i < 8; ++i) ss += ua[i] * ua[i];
    float r = 1.0f / std::sqrt(ss / 8 + 1e-6f);
    for (int i = 0; i < 8; ++i)
      EXPECT_FLOAT_EQ(b.h.buffers[b.u][size_t(t * 8 + i)], w[size_t(i)] * (ua[i] * r));
  }
  EXPECT_EQ(a.h.buffers[a.comb], b.h.buffers[b.comb]);
}

// Post uses column k of the mixing matrix: X'_k = post_k y + Σ_j C[j][k] X_j.
TEST(Mhc, PostMixesByColumns) {
  KernelHarness h;
  int y = h.addBuffer(2), x = h.addBuffer(2 * 2), post = h.addBuffer(2), comb = h.addBuffer(4),
      out = h.addBuffer(4);
  h.buffers[y] = {1.0f, 2.0f};
  h.buffers[x] = {10.0f, 20.0f, 30.0f, 40.0f}; // X_0 = (10,20), X_1 = (30,40)
  h.buffers[post] = {0.5f, 1.5f};
  h.buffers[comb] = {0.9f, 0.1f, 0.2f, 0.8f}; // C[0][0], C[0][1], C[1][0], C[1][1]
  h.launch.inputs = {y, x, post, comb};
  h.launch.outputs = {out};
  h.param("dim", 2);
  h.param("hc", 2);
  ASSERT_TRUE(h.run(rt::mhcPostKernel, 1, 0).isOk());
  EXPECT_FLOAT_EQ(h.buffers[out][0], 0.5f * 1 + 0.9f * 10 + 0.2f * 30);
  EXPECT_FLOAT_EQ(h.buffers[out][1], 0.5f * 2 + 0.9f * 20 + 0.2f * 40);
  EXPECT_FLOAT_EQ(h.buffers[out][2], 1.5f * 1 + 0.1f * 10 + 0.8f * 30);
  EXPECT_FLOAT_EQ(h.buffers[out][3], 1.5f * 2 + 0.1f * 20 + 0.8f * 40);
}

} // namespace
} // namespace birkhoff::test
