//===- GoldenTest.cpp - End-to-end logits against HF transformers ---------===//
//
// For every case in ../shared/goldens: compile the checkpoint with
// `birkhoff compile`, then check through the session API that
//  - one prefill of each prompt reproduces the reference logits,
//  - the manifest's chunked run (prefill P, chunk C, then single tokens) does,
//  - greedy generation gives the reference ids,
//  - any split of a prompt gives bitwise the logits of one prefill.
// Tolerance (reference numerics): max|ours - ref| / max|ref| <= 1e-4.
//
//===----------------------------------------------------------------------===//
#include "GoldenCase.h"

#include "birkhoff/Npy.h"
#include "birkhoff/Runtime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace birkhoff::test {
namespace {

constexpr double kTolerance = 1e-4;

std::string artifactPath(const std::string &name) {
  return std::string(BIRKHOFF_BIN_DIR) + "/../golden-artifacts/" + name + ".bkart";
}

class GoldenTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/" + GetParam();
    if (!std::filesystem::exists(dir + "/manifest.json"))
      GTEST_SKIP() << "no golden case at " << dir;
    auto c = loadGoldenCase(dir);
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    golden_ = c.take();
    Status st = compileArtifact(dir, artifactPath(GetParam()));
    ASSERT_TRUE(st.isOk()) << st.toString();
    auto m = Model::load(artifactPath(GetParam()));
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    model_ = m.take();
  }

  std::unique_ptr<Session> newSession(int64_t context = 0) {
    SessionOptions o;
    o.maxContext = context;
    auto s = Session::create(model_, o);
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return s.isOk() ? s.take() : nullptr;
  }

  /// Logits of `tokens` fed in calls of the given sizes.
  std::vector<float> run(const std::vector<int32_t> &tokens,
                         const std::vector<int64_t> &calls) {
    auto s = newSession(int64_t(tokens.size()) + 8);
    std::vector<float> all, part;
    size_t done = 0;
    for (int64_t n : calls) {
      Status st = s->prefill(std::span<const int32_t>(tokens.data() + done, size_t(n)),
                             &part);
      EXPECT_TRUE(st.isOk()) << st.toString();
      all.insert(all.end(), part.begin(), part.end());
      done += size_t(n);
    }
    return all;
  }

  GoldenCase golden_;
  std::shared_ptr<const Model> model_;
};

TEST_P(GoldenTest, PrefillMatchesReference) {
  for (const LogitsFile &f : golden_.prefills) {
    std::vector<float> ours = run(f.tokens, {int64_t(f.tokens.size())});
    double err = maxRelativeError(ours, f.logits);
    std::printf("[golden] %s %s prefill max-rel-err %.3e\n", golden_.name.c_str(),
                f.name.c_str(), err);
    EXPECT_LE(err, kTolerance) << f.name;
  }
}

TEST_P(GoldenTest, ChunkedRunMatchesReference) {
  const LogitsFile &f = golden_.cached;
  std::vector<int64_t> calls = {golden_.cachedPrefill, golden_.cachedChunk};
  for (size_t i = golden_.cachedPrefill + golden_.cachedChunk; i < f.tokens.size(); ++i)
    calls.push_back(1);
  std::vector<float> ours = run(f.tokens, calls);
  double err = maxRelativeError(ours, f.logits);
  std::printf("[golden] %s chunked (%lld,%lld,1...) max-rel-err %.3e\n",
              golden_.name.c_str(), (long long)golden_.cachedPrefill,
              (long long)golden_.cachedChunk, err);
  EXPECT_LE(err, kTolerance);
}

TEST_P(GoldenTest, GreedyGenerationMatchesReference) {
  auto s = newSession(int64_t(golden_.greedyPrompt.size() + golden_.greedyIds.size()) + 4);
  GenerateOptions g;
  g.maxNewTokens = int64_t(golden_.greedyIds.size());
  g.stopAtEos = false;
  std::vector<int32_t> streamed;
  auto r = s->generate(golden_.greedyPrompt, g, [&](int32_t t) {
    streamed.push_back(t);
    return true;
  });
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->tokens, golden_.greedyIds);
  EXPECT_EQ(streamed, r->tokens);
}

TEST_P(GoldenTest, AnySplitIsBitwiseEqualToOnePrefill) {
  const LogitsFile &f = golden_.prefills.back();
  int64_t n = int64_t(f.tokens.size());
  std::vector<float> whole = run(f.tokens, {n});
  // Splits that cross compression blocks, window edges and single steps.
  std::vector<std::vector<int64_t>> splits;
  splits.push_back({});
  for (int64_t i = 0; i < n; ++i)
    splits.back().push_back(1);
  if (n > 7) {
    splits.push_back({3, 1, n - 7, 2, 1});
    splits.push_back({n / 2, n - n / 2});
  }
  for (const auto &split : splits) {
    std::vector<float> parts = run(f.tokens, split);
    ASSERT_EQ(parts.size(), whole.size());
    EXPECT_EQ(0, std::memcmp(parts.data(), whole.data(), whole.size() * sizeof(float)))
        << "split into " << split.size() << " calls differs, max-rel "
        << maxRelativeError(parts, whole);
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, GoldenTest,
                         ::testing::Values("tiny_mix", "tiny_rates", "tiny_quant",
                                           "tiny_dq", "tiny_dq2"),
                         [](const auto &info) { return info.param; });

} // namespace
} // namespace birkhoff::test
