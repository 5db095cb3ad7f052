//===- SchedulerTest.cpp - Continuous batching on a tiny host model -------===//
//
// The host backend is batch invariant bit for bit, so every greedy (or
// seeded) request run by the scheduler, beside others, joining a running
// batch, prefilled in chunks or preempted and recomputed, must produce the
// tokens a Session generates for it alone. Also cancellation (pages come
// back), the queue limit, shutdown, stop strings and stop tokens, and the
// end-of-sequence ids of the artifact's generation config.
//
//===----------------------------------------------------------------------===//
#include "Scheduler.h"

#include "Metrics.h"
#include "ServeTestModels.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

namespace birkhoff::serve {
namespace {

class SchedulerTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto m = test::tinySynthModel();
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    model_ = m.take();
  }

  std::unique_ptr<Scheduler> scheduler(int sequences, int64_t stepTokens = 64,
                                       int64_t pages = 0,
                                       int64_t pageTokens = 0,
                                       int64_t maxQueue = 16) {
    SchedulerOptions o;
    o.engine.maxSequences = sequences;
    o.engine.maxContext = kContext;
    o.engine.statePages = pages;
    o.engine.pageTokens = pageTokens;
    o.stepTokens = stepTokens;
    o.maxQueue = maxQueue;
    auto s = Scheduler::create(model_, o, &metrics_);
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return s.isOk() ? s.take() : nullptr;
  }

  std::vector<int32_t> prompt(int seed, int n) const {
    std::mt19937 gen{uint32_t(seed)};
    std::vector<int32_t> p;
    for (int i = 0; i < n; ++i)
      p.push_back(int32_t(2 + gen() % uint32_t(model_->info().vocabSize - 2)));
    return p;
  }

  static GenerationRequest greedy(std::vector<int32_t> p, int64_t n) {
    GenerationRequest r;
    r.prompt = std::move(p);
    r.maxTokens = n;
    r.sampling.temperature = 0;
    r.sampling.stopAtEos = false;
    return r;
  }

  /// What a Session generates for `r` alone.
  std::vector<int32_t> alone(const GenerationRequest &r) {
    SessionOptions so;
    so.maxContext = kContext;
    auto s = Session::create(model_, so);
    EXPECT_TRUE(s.isOk());
    GenerateOptions g = r.sampling;
    g.maxNewTokens = r.maxTokens;
    auto out = (*s)->generate(r.prompt, g);
    EXPECT_TRUE(out.isOk()) << out.status().toString();
    return out.isOk() ? out->tokens : std::vector<int32_t>();
  }

  static std::shared_ptr<RequestHandle> submit(Scheduler &s,
                                               GenerationRequest r) {
    Scheduler::Submission sub = s.submit(std::move(r));
    EXPECT_EQ(sub.admission, Scheduler::Admission::Queued);
    return sub.handle;
  }

  /// Steps `s` until every handle finished; returns their updates.
  static std::vector<RequestUpdate>
  runAll(Scheduler &s, const std::vector<std::shared_ptr<RequestHandle>> &hs) {
    std::vector<RequestUpdate> out(hs.size());
    for (int guard = 0; guard < 100000; ++guard) {
      bool all = true;
      for (size_t i = 0; i < hs.size(); ++i) {
        hs[i]->wait(out[i], std::chrono::milliseconds(0));
        all = all && out[i].finished();
      }
      if (all)
        return out;
      Expected<bool> ran = s.step();
      EXPECT_TRUE(ran.isOk()) << ran.status().toString();
      if (!ran.isOk())
        break;
    }
    ADD_FAILURE() << "requests did not finish";
    return out;
  }

  static constexpr int64_t kContext = 512;
  std::shared_ptr<const Model> model_;
  Metrics metrics_;
};

TEST_F(SchedulerTest, GreedyRequestsJoiningARunningBatchMatchSessionsAlone) {
  auto s = scheduler(4, /*stepTokens=*/64);
  std::vector<GenerationRequest> reqs = {
      greedy(prompt(1, 5), 12), greedy(prompt(2, 150), 20),
      greedy(prompt(3, 1), 7), greedy(prompt(4, 37), 15)};
  std::vector<std::shared_ptr<RequestHandle>> hs;
  hs.push_back(submit(*s, reqs[0]));
  hs.push_back(submit(*s, reqs[1]));
  for (int i = 0; i < 3; ++i) // the first two run for a while
    ASSERT_TRUE(*s->step());
  EXPECT_EQ(s->stats().runningSequences, 2);
  EXPECT_GT(s->stats().pagesInUse, 0);
  hs.push_back(submit(*s, reqs[2]));
  hs.push_back(submit(*s, reqs[3]));
  std::vector<RequestUpdate> got = runAll(*s, hs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(got[i].tokens, alone(reqs[i])) << "request " << i;
    EXPECT_EQ(got[i].finish, FinishReason::Length) << i;
    EXPECT_EQ(got[i].completionTokens, reqs[i].maxTokens);
    EXPECT_EQ(got[i].promptTokens, int64_t(reqs[i].prompt.size()));
    // The streamed text is the decoded ids, whole characters at a time.
    EXPECT_EQ(got[i].text, *model_->decode(got[i].tokens)) << i;
  }
  // Everything went back.
  EXPECT_EQ(s->stats().runningSequences, 0);
  EXPECT_EQ(s->stats().pagesInUse, 0);
  EXPECT_NE(
      metrics_.render(s->stats()).find("\nbirkhoff_running_sequences 0\n"),
      std::string::npos);
}

TEST_F(SchedulerTest, SampledRequestsFollowTheirOwnSeeds) {
  auto s = scheduler(3);
  std::vector<GenerationRequest> reqs;
  for (uint64_t seed : {1, 2, 3}) {
    GenerationRequest r = greedy(prompt(7, 20), 16);
    r.sampling.temperature = 0.9f;
    r.sampling.topK = 50;
    r.sampling.topP = 0.95f;
    r.sampling.seed = seed;
    reqs.push_back(r);
  }
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (const auto &r : reqs)
    hs.push_back(submit(*s, r));
  std::vector<RequestUpdate> got = runAll(*s, hs);
  for (size_t i = 0; i < reqs.size(); ++i)
    EXPECT_EQ(got[i].tokens, alone(reqs[i])) << "seed " << i + 1;
}

TEST_F(SchedulerTest, RequestsBeyondTheSlotsWaitTheirTurn) {
  auto s = scheduler(2);
  std::vector<GenerationRequest> reqs;
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (int i = 0; i < 5; ++i) {
    reqs.push_back(greedy(prompt(20 + i, 10 + 7 * i), 6 + i));
    hs.push_back(submit(*s, reqs.back()));
  }
  ASSERT_TRUE(*s->step());
  EXPECT_EQ(s->stats().runningSequences, 2);
  EXPECT_EQ(s->stats().queueLength, 3);
  std::vector<RequestUpdate> got = runAll(*s, hs);
  for (size_t i = 0; i < reqs.size(); ++i)
    EXPECT_EQ(got[i].tokens, alone(reqs[i])) << i;
  EXPECT_EQ(s->stats().queueLength, 0);
}

TEST_F(SchedulerTest, CancellingFreesTheSequenceAndItsPages) {
  auto s = scheduler(1);
  auto running = submit(*s, greedy(prompt(30, 200), 100));
  auto queued = submit(*s, greedy(prompt(31, 10), 5));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(*s->step());
  EXPECT_GT(s->stats().pagesInUse, 0);
  EXPECT_EQ(s->stats().queueLength, 1);
  // The queued request leaves the queue, the running one its slot.
  queued->cancel();
  running->cancel();
  EXPECT_TRUE(running->cancelled());
  ASSERT_FALSE(*s->step()); // nothing left to run
  RequestUpdate u;
  ASSERT_TRUE(running->wait(u, std::chrono::milliseconds(0)));
  EXPECT_EQ(u.finish, FinishReason::Cancelled);
  RequestUpdate q;
  ASSERT_TRUE(queued->wait(q, std::chrono::milliseconds(0)));
  EXPECT_EQ(q.finish, FinishReason::Cancelled);
  EXPECT_EQ(s->stats().pagesInUse, 0);
  EXPECT_EQ(s->stats().runningSequences, 0);
  EXPECT_EQ(s->stats().queueLength, 0);
  // The slot serves the next request as if nothing had run.
  auto r = greedy(prompt(32, 40), 9);
  EXPECT_EQ(runAll(*s, {submit(*s, r)})[0].tokens, alone(r));
}

TEST_F(SchedulerTest, TheQueueIsBoundedAndShutdownEndsWhatIsLeft) {
  auto s = scheduler(1, 64, 0, 0, /*maxQueue=*/2);
  auto a = submit(*s, greedy(prompt(40, 10), 50));
  auto b = submit(*s, greedy(prompt(41, 10), 50));
  EXPECT_EQ(s->submit(greedy(prompt(42, 10), 5)).admission,
            Scheduler::Admission::QueueFull);
  ASSERT_TRUE(*s->step()); // a runs, b waits: one place in the queue again
  auto c = submit(*s, greedy(prompt(43, 10), 5));
  s->stopAccepting();
  EXPECT_EQ(s->submit(greedy(prompt(44, 10), 5)).admission,
            Scheduler::Admission::ShuttingDown);
  EXPECT_FALSE(s->drain(std::chrono::milliseconds(0)));
  for (auto &h : {a, b, c}) {
    RequestUpdate u;
    ASSERT_TRUE(h->wait(u, std::chrono::milliseconds(0)));
    EXPECT_EQ(u.finish, FinishReason::Aborted);
  }
  EXPECT_EQ(s->stats().pagesInUse, 0);
}

TEST_F(SchedulerTest, AStopStringEndsTheTextBeforeIt) {
  auto s = scheduler(2);
  GenerationRequest r = greedy(prompt(50, 12), 40);
  const std::string text = *model_->decode(alone(r));
  // A stop string from the middle of what the request generates.
  const std::string stop = text.substr(text.size() / 2, 2);
  r.stop = {stop};
  RequestUpdate u = runAll(*s, {submit(*s, r)})[0];
  EXPECT_EQ(u.finish, FinishReason::Stop);
  EXPECT_EQ(u.text, text.substr(0, text.find(stop)));
  EXPECT_LT(u.completionTokens, 40);
}

TEST_F(SchedulerTest, AStopTokenEndsTheRequestAndIsNotReturned) {
  auto s = scheduler(2);
  GenerationRequest r = greedy(prompt(60, 12), 20);
  const std::vector<int32_t> all = alone(r);
  r.sampling.stopTokens = {all[5]};
  const size_t first =
      size_t(std::find(all.begin(), all.end(), all[5]) - all.begin());
  RequestUpdate u = runAll(*s, {submit(*s, r)})[0];
  EXPECT_EQ(u.finish, FinishReason::Stop);
  EXPECT_EQ(u.tokens, std::vector<int32_t>(all.begin(), all.begin() + first));
  EXPECT_EQ(u.completionTokens, int64_t(first) + 1);
}

// An eos id of the artifact's generation config ends a request as the
// config's eos_token_id does: finish "stop", the token not returned.
TEST_F(SchedulerTest, AGenerationConfigEosIdEndsTheRequest) {
  GenerationRequest r = greedy(prompt(61, 12), 20);
  const std::vector<int32_t> all = alone(r);
  const int32_t eos = all[5];
  auto m =
      test::tinySynthModel("{\"eos_token_id\": [" + std::to_string(eos) + "]}");
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  model_ = m.take();
  ASSERT_TRUE(model_->info().isEndOfSequence(eos));
  ASSERT_EQ(alone(r), all); // the same weights
  size_t first = 0;
  while (!model_->info().isEndOfSequence(all[first]))
    ++first;
  auto s = scheduler(2);
  RequestUpdate ignored = runAll(*s, {submit(*s, r)})[0];
  EXPECT_EQ(ignored.tokens, all); // stopAtEos false: ignore_eos
  r.sampling.stopAtEos = true;
  RequestUpdate u = runAll(*s, {submit(*s, r)})[0];
  EXPECT_EQ(u.finish, FinishReason::Stop);
  EXPECT_EQ(u.tokens, std::vector<int32_t>(all.begin(), all.begin() + first));
  EXPECT_EQ(u.completionTokens, int64_t(first) + 1);
}

/// A pool far smaller than the sequences' contexts: decoding sequences run
/// out of pages, are preempted, and recompute their tokens later, with the
/// same result.
TEST_F(SchedulerTest, PreemptedRequestsRecomputeToTheSameTokens) {
  auto s = scheduler(3, /*stepTokens=*/64, /*pages=*/4, /*pageTokens=*/128);
  ASSERT_EQ(s->poolTokens(), kContext);
  std::vector<GenerationRequest> reqs;
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (int i = 0; i < 3; ++i) {
    reqs.push_back(greedy(prompt(70 + i, 100), 220));
    hs.push_back(submit(*s, reqs.back()));
  }
  std::vector<RequestUpdate> got = runAll(*s, hs);
  EXPECT_GT(s->stats().preemptions, 0);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(got[i].tokens, alone(reqs[i])) << i;
    EXPECT_EQ(got[i].text, *model_->decode(got[i].tokens)) << i;
  }
  EXPECT_EQ(s->stats().pagesInUse, 0);
}

TEST_F(SchedulerTest, ItsThreadServesConcurrentSubmitters) {
  auto s = scheduler(3);
  s->start();
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i)
    reqs.push_back(greedy(prompt(80 + i, 5 + 11 * i), 10 + i));
  std::vector<RequestUpdate> got(reqs.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < reqs.size(); ++i)
    clients.emplace_back([&, i] {
      auto h = s->submit(reqs[i]).handle;
      ASSERT_TRUE(h);
      while (!got[i].finished())
        h->wait(got[i], std::chrono::milliseconds(100));
    });
  for (auto &t : clients)
    t.join();
  for (size_t i = 0; i < reqs.size(); ++i)
    EXPECT_EQ(got[i].tokens, alone(reqs[i])) << i;
  EXPECT_TRUE(s->drain(std::chrono::seconds(5)));
}

TEST_F(SchedulerTest, StepTokensMustExceedTheSequences) {
  SchedulerOptions o;
  o.engine.maxSequences = 8;
  o.stepTokens = 8;
  auto s = Scheduler::create(model_, o);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.status().code(), StatusCode::InvalidArgument);
}

} // namespace
} // namespace birkhoff::serve
