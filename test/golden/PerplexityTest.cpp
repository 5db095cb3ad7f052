//===- PerplexityTest.cpp - scoreWindows on the host backend --------------===//
//
// scoreWindows against a negative log-likelihood computed here, in long
// double, from the logits Session::prefill returns for each window alone;
// windows packed several to a step against each window scored alone (bitwise
// on the host, which never changes a bit for batching); and its errors,
// which name the window.
//
//===----------------------------------------------------------------------===//
#include "GoldenCase.h"

#include "birkhoff/Runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

namespace birkhoff::test {
namespace {

struct PerplexityCase {
  const char *golden;
  const char *flags;
  const char *name;
};

void PrintTo(const PerplexityCase &c, std::ostream *os) { *os << c.name; }

class PerplexityTest : public ::testing::TestWithParam<PerplexityCase> {
protected:
  void SetUp() override {
    const PerplexityCase &c = GetParam();
    std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/" + c.golden;
    if (!std::filesystem::exists(dir))
      GTEST_SKIP() << "no golden case at " << dir;
    std::string path = std::string(BIRKHOFF_BIN_DIR) +
                       "/../golden-artifacts/perplexity-" + c.name + ".bkart";
    Status st = compileArtifact(dir, path, c.flags);
    ASSERT_TRUE(st.isOk()) << st.toString();
    auto m = Model::load(path);
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    model_ = m.take();
    vocab_ = model_->info().vocabSize;
  }

  std::vector<int32_t> window(int seed, size_t n) const {
    std::mt19937 gen{uint32_t(seed)};
    std::vector<int32_t> w;
    for (size_t i = 0; i < n; ++i)
      w.push_back(int32_t(gen() % uint32_t(vocab_)));
    return w;
  }

  /// Windows of several lengths, 2 tokens to more than a prefill call's.
  std::vector<std::vector<int32_t>> windows() const {
    std::vector<std::vector<int32_t>> out;
    int seed = 1;
    for (size_t n : {2, 7, 64, 130, 3, 300, 41})
      out.push_back(window(seed++, n));
    return out;
  }

  /// The window's NLL from its logits alone: a fresh session's prefill, each
  /// row's log-sum-exp in long double.
  long double expectedNll(const std::vector<int32_t> &w) {
    auto s = Session::create(model_);
    EXPECT_TRUE(s.isOk());
    std::vector<float> logits;
    Status st = (*s)->prefill(w, &logits);
    EXPECT_TRUE(st.isOk()) << st.toString();
    long double nll = 0;
    for (size_t t = 1; t < w.size(); ++t) {
      const float *row = logits.data() + (t - 1) * size_t(vocab_);
      long double most = row[0];
      for (int64_t v = 0; v < vocab_; ++v)
        most = std::max<long double>(most, row[v]);
      long double sum = 0;
      for (int64_t v = 0; v < vocab_; ++v)
        sum += std::exp((long double)row[v] - most);
      nll += most + std::log(sum) - (long double)row[w[t]];
    }
    return nll;
  }

  std::shared_ptr<const Model> model_;
  int64_t vocab_ = 0;
};

TEST_P(PerplexityTest, NllMatchesOneComputedFromSessionLogits) {
  const auto ws = windows();
  auto score = scoreWindows(model_, ws);
  ASSERT_TRUE(score.isOk()) << score.status().toString();
  ASSERT_EQ(score->windows.size(), ws.size());
  long double total = 0;
  int64_t scored = 0, fed = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const WindowScore &s = score->windows[i];
    const long double want = expectedNll(ws[i]);
    EXPECT_EQ(s.tokens, int64_t(ws[i].size()) - 1) << "window " << i;
    EXPECT_GT(s.nll, 0.0) << "window " << i;
    EXPECT_NEAR(s.nll, double(want), 1e-9 * double(want)) << "window " << i;
    total += want;
    scored += int64_t(ws[i].size()) - 1;
    fed += int64_t(ws[i].size());
  }
  EXPECT_EQ(score->tokens, scored);
  EXPECT_EQ(score->fed, fed);
  EXPECT_NEAR(score->nll, double(total), 1e-9 * double(total));
  EXPECT_DOUBLE_EQ(score->meanNll(), score->nll / double(scored));
  EXPECT_DOUBLE_EQ(score->perplexity(), std::exp(score->meanNll()));
}

TEST_P(PerplexityTest, WindowsInOneStepScoreBitwiseAsEachAlone) {
  const auto ws = windows();
  std::vector<WindowScore> alone;
  for (const auto &w : ws) {
    auto s = scoreWindows(model_, std::span(&w, 1));
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    alone.push_back(s->windows.front());
  }
  // The default step (the prefill entry's 512 tokens) takes several windows
  // at once; 37 tokens cut windows across steps and pack their ends with the
  // next ones' starts.
  for (int64_t stepTokens : {int64_t(0), int64_t(37)}) {
    ScoreOptions so;
    so.stepTokens = stepTokens;
    int64_t steps = 0;
    so.progress = [&](int64_t, int64_t) { ++steps; };
    auto batched = scoreWindows(model_, ws, so);
    ASSERT_TRUE(batched.isOk()) << batched.status().toString();
    if (stepTokens == 0)
      EXPECT_LT(steps, int64_t(ws.size())) << "no step held several windows";
    for (size_t i = 0; i < ws.size(); ++i) {
      EXPECT_EQ(batched->windows[i].nll, alone[i].nll)
          << "window " << i << ", steps of " << stepTokens;
      EXPECT_EQ(batched->windows[i].tokens, alone[i].tokens);
    }
  }
}

TEST_P(PerplexityTest, ErrorsNameTheWindow) {
  auto ws = windows();
  auto expectError = [&](const std::vector<std::vector<int32_t>> &in,
                         StatusCode code, const std::string &words,
                         const ScoreOptions &so = {}) {
    auto s = scoreWindows(model_, in, so);
    ASSERT_FALSE(s.isOk()) << words;
    EXPECT_EQ(s.status().code(), code) << s.status().toString();
    EXPECT_NE(s.status().message().find(words), std::string::npos)
        << s.status().toString();
  };
  expectError({}, StatusCode::InvalidArgument, "no windows");
  auto shortOne = ws;
  shortOne[2] = {5};
  expectError(shortOne, StatusCode::InvalidArgument, "window 2 has 1 token(s)");
  auto empty = ws;
  empty[4].clear();
  expectError(empty, StatusCode::InvalidArgument, "window 4 has 0 token(s)");
  auto badId = ws;
  badId[1][3] = int32_t(vocab_);
  expectError(badId, StatusCode::InvalidArgument,
              "window 1: token 3 has id " + std::to_string(vocab_) +
                  ", outside the vocabulary");
  badId[1][3] = -1;
  expectError(badId, StatusCode::InvalidArgument,
              "window 1: token 3 has id -1");
  auto tooLong = ws;
  tooLong[3] = window(9, size_t(model_->info().maxContext) + 1);
  expectError(tooLong, StatusCode::OutOfRange,
              "window 3 has " + std::to_string(model_->info().maxContext + 1) +
                  " tokens, more than the context of " +
                  std::to_string(model_->info().maxContext));
  ScoreOptions small;
  small.maxContext = 100;
  expectError(ws, StatusCode::OutOfRange,
              "window 3 has 130 tokens, more than the context of 100", small);
  // Within the context it takes them.
  small.maxContext = 300;
  EXPECT_TRUE(scoreWindows(model_, ws, small).isOk());
}

INSTANTIATE_TEST_SUITE_P(
    Goldens, PerplexityTest,
    ::testing::Values(PerplexityCase{"tiny_mix", "", "tiny_mix"},
                      PerplexityCase{"tiny_dq", "--numerics official",
                                     "tiny_dq_official"}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
} // namespace birkhoff::test
