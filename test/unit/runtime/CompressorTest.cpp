//===- CompressorTest.cpp - Compressor state: prefill equals decode -------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <random>

namespace birkhoff::test {
namespace {

struct CompressorSetup {
  KernelHarness h;
  int x, tail, entries;
  int64_t dim = 8, D = 4, m;
  bool overlap;

  CompressorSetup(bool csa, int64_t tokens) : m(csa ? 4 : 8), overlap(csa) {
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0.0f, 1.0f);
    int64_t width = (overlap ? 2 : 1) * D;
    auto rnd = [&](size_t k, float s) {
      std::vector<float> v(k);
      for (auto &e : v) e = s * n(rng);
      return v;
    };
    int wkv = h.addWeightF32("wkv", {width, dim}, rnd(size_t(width * dim), 0.5f));
    int wg = h.addWeightF32("wgate", {width, dim}, rnd(size_t(width * dim), 0.5f));
    int ape = h.addWeightF32("ape", {m, width}, rnd(size_t(m * width), 0.5f));
    std::vector<float> norm(size_t(D), 1.0f);
    int wn = h.addWeightF32("norm", {D}, norm);
    x = h.addBuffer(tokens * dim);
    for (auto &v : h.buffers[x]) v = n(rng);
    tail = h.addState(overlap ? 2 * m : m, 2 * width);
    entries = h.addState(16, D);
    h.launch.inputs = {x};
    h.launch.weights = {wkv, wg, ape, wn};
    h.launch.states = {tail, entries};
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"dim", double(dim)}, {"head_dim", double(D)}, {"ratio", double(m)},
             {"overlap", overlap ? 1.0 : 0.0}, {"eps", 1e-6}, {"rope_dim", 2},
             {"theta", 160000}, {"yarn", 0}, {"rope_factor", 1}, {"original_seq_len", 1},
             {"beta_fast", 32}, {"beta_slow", 1}})
      h.param(k, v);
  }
};

void checkPrefillEqualsDecode(bool csa) {
  const int64_t tokens = 19;
  CompressorSetup whole(csa, tokens), steps(csa, tokens);
  ASSERT_TRUE(whole.h.run(rt::compressorKernel, tokens, 0).isOk());
  // Same tokens one at a time: point the input at successive rows.
  std::vector<float> all = steps.h.buffers[steps.x];
  for (int64_t t = 0; t < tokens; ++t) {
    std::copy(all.begin() + t * steps.dim, all.begin() + (t + 1) * steps.dim,
              steps.h.buffers[steps.x].begin());
    ASSERT_TRUE(steps.h.run(rt::compressorKernel, 1, t).isOk());
  }
  EXPECT_EQ(whole.h.stateData[whole.entries], steps.h.stateData[steps.entries]);
  EXPECT_EQ(whole.h.stateData[whole.tail], steps.h.stateData[steps.tail]);
  // Emitted entries are RMS-normalized (unit weight): mean square 1.
  int64_t emitted = tokens / whole.m;
  for (int64_t e = 0; e < emitted; ++e) {
    float ss = 0;
    for (int64_t f = 0; f < whole.D; ++f) {
      float v = whole.h.stateData[whole.entries][size_t(e * whole.D + f)];
      ss += v * v;
    }
    EXPECT_NEAR(ss / float(whole.D), 1.0f, 1e-4) << e;
  }
}

TEST(Compressor, CsaPrefillEqualsTokenByToken) { checkPrefillEqualsDecode(true); }
TEST(Compressor, HcaPrefillEqualsTokenByToken) { checkPrefillEqualsDecode(false); }

} // namespace
} // namespace birkhoff::test
