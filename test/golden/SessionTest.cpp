//===- SessionTest.cpp - Session API behaviour on a real artifact ---------===//
#include "GoldenCase.h"

#include "ArtifactLoader.h"
#include "birkhoff/Runtime.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>

namespace birkhoff::test {
namespace {

class SessionTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/tiny_quant";
    if (!std::filesystem::exists(dir))
      GTEST_SKIP() << "no golden case at " << dir;
    std::string path = std::string(BIRKHOFF_BIN_DIR) +
                       "/../golden-artifacts/session-tiny_quant.bkart";
    Status st = compileArtifact(dir, path, "--max-context 64");
    ASSERT_TRUE(st.isOk()) << st.toString();
    auto m = Model::load(path);
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    model_ = m.take();
  }
  std::unique_ptr<Session> session(int64_t ctx = 0) {
    SessionOptions o;
    o.maxContext = ctx;
    auto s = Session::create(model_, o);
    EXPECT_TRUE(s.isOk());
    return s.take();
  }
  std::shared_ptr<const Model> model_;
};

TEST_F(SessionTest, SessionsAreIndependent) {
  auto a = session(), b = session();
  std::vector<int32_t> p1 = {5, 6, 7, 8}, p2 = {100, 3};
  std::vector<float> la, lb, la2;
  ASSERT_TRUE(a->prefill(p1, &la).isOk());
  ASSERT_TRUE(b->prefill(p2, &lb).isOk());
  // Interleaving b's work must not change a's next step.
  auto c = session();
  ASSERT_TRUE(c->prefill(p1).isOk());
  ASSERT_TRUE(a->decode(9, &la2).isOk());
  std::vector<float> lc;
  ASSERT_TRUE(c->decode(9, &lc).isOk());
  EXPECT_EQ(la2, lc);
  EXPECT_EQ(a->position(), 5);
  EXPECT_EQ(b->position(), 2);
}

TEST_F(SessionTest, ContextOverflowAndBadTokensAreErrorsThatChangeNothing) {
  EXPECT_EQ(model_->info().maxContext, 64);
  auto s = session();
  std::vector<int32_t> long_(70, 3);
  Status st = s->prefill(long_);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), StatusCode::OutOfRange);
  EXPECT_NE(st.message().find("context overflow"), std::string::npos)
      << st.message();
  EXPECT_EQ(s->position(), 0);
  std::vector<int32_t> bad = {1, 2, int32_t(model_->info().vocabSize)};
  st = s->prefill(bad);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_NE(st.message().find("outside the vocabulary"), std::string::npos);
  EXPECT_EQ(s->position(), 0);
  EXPECT_FALSE(s->decode(-1).isOk());
}

// The artifact records the context the model was trained for (tiny_quant's
// config.json: max_position_embeddings 4096); a context beyond it gets a
// warning that names both, one within it none.
TEST_F(SessionTest, ContextsBeyondTrainingAreWarnedAbout) {
  const ModelInfo &info = model_->info();
  EXPECT_EQ(info.trainedContext, 4096);
  EXPECT_FALSE(info.contextWarning(64).has_value());
  EXPECT_FALSE(info.contextWarning(4096).has_value());
  std::optional<std::string> w = info.contextWarning(4097);
  ASSERT_TRUE(w.has_value());
  EXPECT_NE(w->find("4097"), std::string::npos) << *w;
  EXPECT_NE(w->find("4096"), std::string::npos) << *w;
  EXPECT_NE(w->find("max_position_embeddings"), std::string::npos) << *w;
  ModelInfo unknown = info;
  unknown.trainedContext = 0;
  EXPECT_FALSE(unknown.contextWarning(int64_t(1) << 30).has_value());
}

// ModelOptions::progress hears the load's checksum pass: bytes that add up
// to the task's total, which is every stored weight's.
TEST_F(SessionTest, LoadReportsItsProgress) {
  std::mutex mutex;
  std::map<std::string, std::pair<uint64_t, uint64_t>> seen; // done, total
  ModelOptions o;
  o.verifyWeights = true;
  o.progress = [&](std::string_view task, uint64_t n, uint64_t total) {
    std::lock_guard lock(mutex);
    auto &[done, all] = seen[std::string(task)];
    done += n;
    all = total;
  };
  std::string path = std::string(BIRKHOFF_BIN_DIR) +
                     "/../golden-artifacts/session-tiny_quant.bkart";
  auto m = Model::load(path, o);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  ASSERT_EQ(seen.count("verifying weights"), 1u);
  auto [done, total] = seen["verifying weights"];
  EXPECT_GT(total, 0u);
  EXPECT_EQ(done, total);
  uint64_t stored = 0;
  for (const rt::WeightDesc &w : (*m)->artifact().program.weights)
    stored += w.generated ? 0 : w.size;
  EXPECT_EQ(total, stored);
}

TEST_F(SessionTest, ResetStartsOver) {
  auto s = session();
  std::vector<int32_t> p = {11, 12, 13, 14, 15, 16};
  std::vector<float> first, second;
  ASSERT_TRUE(s->prefill(p, &first).isOk());
  s->reset();
  EXPECT_EQ(s->position(), 0);
  EXPECT_TRUE(s->lastLogits().empty());
  ASSERT_TRUE(s->prefill(p, &second).isOk());
  EXPECT_EQ(first, second);
}

TEST_F(SessionTest, GenerateStopsOnStopTokensCallbackAndContext) {
  auto s = session();
  GenerateOptions g;
  g.maxNewTokens = 6;
  g.stopAtEos = false;
  auto r = s->generate(std::vector<int32_t>{1, 2, 3}, g);
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->tokens.size(), 6u);
  EXPECT_EQ(r->stop, GenerateResult::Stop::MaxTokens);

  auto s2 = session();
  g.stopTokens = {r->tokens[2]};
  auto r2 = s2->generate(std::vector<int32_t>{1, 2, 3}, g);
  ASSERT_TRUE(r2.isOk());
  EXPECT_EQ(r2->stop, GenerateResult::Stop::StopToken);
  EXPECT_LE(r2->tokens.size(), 3u);

  auto s3 = session();
  g.stopTokens.clear();
  int seen = 0;
  auto r3 = s3->generate(std::vector<int32_t>{1, 2, 3}, g,
                         [&](int32_t) { return ++seen < 2; });
  ASSERT_TRUE(r3.isOk());
  EXPECT_EQ(r3->stop, GenerateResult::Stop::Callback);
  EXPECT_EQ(r3->tokens.size(), 2u);

  auto s4 = session(8);
  g.maxNewTokens = 20;
  auto r4 = s4->generate(std::vector<int32_t>{1, 2, 3}, g);
  ASSERT_TRUE(r4.isOk());
  EXPECT_EQ(r4->stop, GenerateResult::Stop::ContextFull);
  EXPECT_EQ(s4->position(), 8);
}

TEST_F(SessionTest, SampledGenerationIsReproducibleBySeed) {
  GenerateOptions g;
  g.maxNewTokens = 10;
  g.temperature = 1.0f;
  g.topK = 20;
  g.topP = 0.9f;
  g.seed = 99;
  g.stopAtEos = false;
  auto a = session(), b = session();
  auto ra = a->generate(std::vector<int32_t>{4, 5}, g);
  auto rb = b->generate(std::vector<int32_t>{4, 5}, g);
  ASSERT_TRUE(ra.isOk() && rb.isOk());
  EXPECT_EQ(ra->tokens, rb->tokens);
}

TEST_F(SessionTest, StateGrowsWithContextAsInspectReports) {
  auto small = session(32), large = session(1024);
  // 2 CSA layers (ratio 4) and 2 HCA layers (ratio 16) of this model grow
  // per token, in pages of 256 tokens; window and tails are fixed.
  EXPECT_GT(large->stateBytes(), small->stateBytes());
}

TEST_F(SessionTest, ProfilingCountsEveryLaunchAndChangesNoLogits) {
  auto plain = session(), profiled = session();
  profiled->setProfiling(true);
  std::vector<int32_t> p = {21, 22, 23};
  std::vector<float> a, b;
  ASSERT_TRUE(plain->prefill(p, &a).isOk());
  ASSERT_TRUE(profiled->prefill(p, &b).isOk());
  EXPECT_EQ(a, b);
  ASSERT_TRUE(plain->decode(24, &a).isOk());
  ASSERT_TRUE(profiled->decode(24, &b).isOk());
  EXPECT_EQ(a, b);
  EXPECT_TRUE(plain->kernelTimes().empty());

  // One prefill call and one decode call: every launch of both entries once.
  const rt::Program &prog = model_->artifact().program;
  std::map<std::string, int64_t> expected;
  for (const char *entry : {"prefill", "decode"})
    for (const rt::LaunchDesc &l : prog.entry(entry)->launches)
      ++expected[l.kernel];
  std::vector<KernelTime> times = profiled->kernelTimes();
  ASSERT_EQ(times.size(), expected.size());
  for (size_t i = 0; i < times.size(); ++i) {
    EXPECT_EQ(times[i].launches, expected[times[i].kernel]) << times[i].kernel;
    EXPECT_GE(times[i].milliseconds, 0.0);
    if (i > 0) // slowest first
      EXPECT_GE(times[i - 1].milliseconds, times[i].milliseconds);
  }
  // Per launch: every launch of both entries, once, with its kernel and
  // layer; the per-kernel sums are theirs.
  std::vector<LaunchTime> launches = profiled->launchTimes();
  ASSERT_EQ(launches.size(), prog.entry("prefill")->launches.size() +
                                 prog.entry("decode")->launches.size());
  std::map<std::string, double> sums;
  for (size_t i = 0; i < launches.size(); ++i) {
    const LaunchTime &t = launches[i];
    const rt::EntryDesc *e = prog.entry(t.entry);
    ASSERT_NE(e, nullptr) << t.entry;
    ASSERT_LT(t.launch, int64_t(e->launches.size()));
    EXPECT_EQ(t.kernel, e->launches[size_t(t.launch)].kernel);
    EXPECT_EQ(t.layer, e->launches[size_t(t.launch)].layer);
    EXPECT_EQ(t.calls, 1);
    sums[t.kernel] += t.milliseconds;
    if (i > 0) // slowest first
      EXPECT_GE(launches[i - 1].milliseconds, t.milliseconds);
  }
  for (const KernelTime &k : times)
    EXPECT_NEAR(sums[k.kernel], k.milliseconds, 1e-9) << k.kernel;
  profiled->clearKernelTimes();
  EXPECT_TRUE(profiled->kernelTimes().empty());
  EXPECT_TRUE(profiled->launchTimes().empty());
  profiled->setProfiling(false);
  ASSERT_TRUE(profiled->decode(25).isOk());
  EXPECT_TRUE(profiled->kernelTimes().empty());
}

// Without a request for every token's logits, a call runs the logits tail
// (final mHC collapse and norm, LM head) on its last token only; the last
// logits and the state it leaves are bitwise those of the full call.
TEST_F(SessionTest, PrefillWithoutLogitsRunsTheHeadOnTheLastTokenOnly) {
  const rt::Program &prog = model_->artifact().program;
  const rt::EntryDesc &prefill = *prog.entry("prefill");
  ASSERT_GE(prefill.logitsTailBegin, 0);
  std::vector<std::string> tail;
  for (size_t i = size_t(prefill.logitsTailBegin); i < prefill.launches.size();
       ++i)
    tail.push_back(prefill.launches[i].kernel);
  EXPECT_EQ(tail, (std::vector<std::string>{"mhc_head_norm", "linear"}));

  auto full = session(), last = session();
  std::vector<int32_t> p = {31, 32, 33, 34, 35, 36, 37};
  std::vector<float> all;
  ASSERT_TRUE(full->prefill(p, &all).isOk());
  ASSERT_TRUE(last->prefill(p).isOk());
  const size_t vocab = size_t(prog.config.vocabSize);
  std::vector<float> fullLast(full->lastLogits().begin(),
                              full->lastLogits().end()),
      lastOnly(last->lastLogits().begin(), last->lastLogits().end());
  EXPECT_EQ(fullLast, std::vector<float>(all.end() - long(vocab), all.end()));
  EXPECT_EQ(lastOnly, fullLast);
  std::vector<float> a, b;
  ASSERT_TRUE(full->decode(38, &a).isOk());
  ASSERT_TRUE(last->decode(38, &b).isOk());
  EXPECT_EQ(a, b);
}

// The tail is the run of row-local launches at the end that writes the
// logits; anything else (state, token ids, another kernel) ends it.
TEST(LogitsTail, IsTheRowLocalRunThatWritesTheLogits) {
  rt::EntryDesc e;
  e.logitsBuffer = 3;
  auto launch = [](const char *kernel, std::vector<int> in,
                   std::vector<int> out, std::vector<int> states = {}) {
    rt::LaunchDesc l;
    l.kernel = kernel;
    l.id = *kernelIdByName(kernel);
    l.inputs = std::move(in);
    l.outputs = std::move(out);
    l.states = std::move(states);
    return l;
  };
  e.launches = {launch("embed", {-1}, {0}), launch("mhc_post", {0}, {1}),
                launch("mhc_head_norm", {1}, {2}), launch("linear", {2}, {3})};
  EXPECT_EQ(rt::logitsTail(e), 2);
  e.launches[1] = launch("linear", {0}, {1}, {0}); // a state: not row-local
  EXPECT_EQ(rt::logitsTail(e), 2);
  e.launches[1] = launch("rms_norm", {0}, {1});
  EXPECT_EQ(rt::logitsTail(e), 1); // up to the token ids' embed
  e.launches.back().outputs = {4}; // the run does not write the logits
  EXPECT_EQ(rt::logitsTail(e), -1);
}

} // namespace
} // namespace birkhoff::test
