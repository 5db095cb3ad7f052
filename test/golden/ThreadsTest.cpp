//===- ThreadsTest.cpp - Host logits on any threads; sessions share them --===//
//
// The host kernels compute every output in a fixed order whichever thread
// runs it, so a model's logits are bitwise the same on 1, 2 or 7 threads and
// with 8 sessions running at once on one pool. And every session of the host
// backend runs on the process's one worker pool: 32 sessions add no threads.
//
//===----------------------------------------------------------------------===//
#include "GoldenCase.h"

#include "birkhoff/Runtime.h"
#include "birkhoff/WorkerPool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace birkhoff::test {
namespace {

struct ThreadsCase {
  const char *golden;
  const char *flags;
  const char *name;
};

void PrintTo(const ThreadsCase &c, std::ostream *os) { *os << c.name; }

/// The process's threads now (Linux: /proc/self/status), 0 if unknown.
int threadsNow() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0)
      return std::stoi(line.substr(8));
  return 0;
}

bool sameBits(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class ThreadsTest : public ::testing::TestWithParam<ThreadsCase> {
protected:
  void SetUp() override {
    const ThreadsCase &c = GetParam();
    std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/" + c.golden;
    if (!std::filesystem::exists(dir))
      GTEST_SKIP() << "no golden case at " << dir;
    // The artifact EngineTest compiles, so one compile serves both.
    path_ = std::string(BIRKHOFF_BIN_DIR) + "/../golden-artifacts/engine-" +
            c.name + ".bkart";
    Status st = compileArtifact(dir, path_,
                                std::string("--max-context 640 ") + c.flags);
    ASSERT_TRUE(st.isOk()) << st.toString();
  }

  std::shared_ptr<const Model> load(int numThreads,
                                    std::shared_ptr<WorkerPool> workers) {
    ModelOptions o;
    o.numThreads = numThreads;
    o.workers = std::move(workers);
    auto m = Model::load(path_, o);
    EXPECT_TRUE(m.isOk()) << m.status().toString();
    return m.isOk() ? m.take() : nullptr;
  }

  /// A prompt long enough that prefill splits over every thread, then a few
  /// decode steps: every logit of every call, in order.
  static std::vector<float> logitsOf(std::shared_ptr<const Model> model,
                                     int seed) {
    std::mt19937 gen{uint32_t(seed)};
    std::vector<int32_t> prompt;
    for (int i = 0; i < 37; ++i)
      prompt.push_back(int32_t(gen() % uint32_t(model->info().vocabSize)));
    std::vector<float> all, step;
    auto s = Session::create(std::move(model));
    EXPECT_TRUE(s.isOk());
    if (!s.isOk())
      return all;
    EXPECT_TRUE((*s)->prefill(prompt, &all).isOk());
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE((*s)->decode(prompt[size_t(i)], &step).isOk());
      all.insert(all.end(), step.begin(), step.end());
    }
    return all;
  }

  std::string path_;
};

TEST_P(ThreadsTest, LogitsAreBitwiseTheSameOnAnyNumberOfThreads) {
  auto one = load(1, nullptr);
  ASSERT_TRUE(one);
  const std::vector<float> want[2] = {logitsOf(one, 1), logitsOf(one, 2)};
  ASSERT_FALSE(want[0].empty());

  auto seven = std::make_shared<WorkerPool>(7);
  struct Variant {
    const char *name;
    int numThreads;
    std::shared_ptr<WorkerPool> workers;
  };
  for (const Variant &v :
       {Variant{"2 of the shared pool", 2, nullptr},
        Variant{"a pool of 2", 0, std::make_shared<WorkerPool>(2)},
        Variant{"a pool of 7", 0, seven},
        Variant{"3 of a pool of 7", 3, seven}}) {
    SCOPED_TRACE(v.name);
    auto m = load(v.numThreads, v.workers);
    ASSERT_TRUE(m);
    EXPECT_TRUE(sameBits(logitsOf(m, 1), want[0]));
  }

  // 8 sessions at once on one pool of 7: their jobs interleave on its threads.
  auto shared = load(0, seven);
  ASSERT_TRUE(shared);
  std::vector<std::vector<float>> got(8);
  std::vector<std::thread> sessions;
  for (int i = 0; i < 8; ++i)
    sessions.emplace_back(
        [&, i] { got[size_t(i)] = logitsOf(shared, 1 + i % 2); });
  for (std::thread &t : sessions)
    t.join();
  for (int i = 0; i < 8; ++i)
    EXPECT_TRUE(sameBits(got[size_t(i)], want[i % 2])) << "session " << i;
}

TEST_P(ThreadsTest, SessionsShareThePoolInsteadOfStartingThreads) {
  const int before = threadsNow();
  if (before == 0)
    GTEST_SKIP() << "no /proc/self/status";
  auto model = load(0, nullptr); // the process's pool
  ASSERT_TRUE(model);
  std::vector<std::unique_ptr<Session>> sessions;
  const std::vector<int32_t> prompt = {5, 6, 7, 8, 9, 10, 11, 12};
  for (int i = 0; i < 32; ++i) {
    auto s = Session::create(model);
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    ASSERT_TRUE((*s)->prefill(prompt).isOk());
    sessions.push_back(s.take());
  }
  // At most the shared pool's threads were started (none if it already ran).
  EXPECT_LE(threadsNow(), before + WorkerPool::shared()->size() - 1);
  EXPECT_EQ(model->options().workers, WorkerPool::shared());
}

INSTANTIATE_TEST_SUITE_P(
    Goldens, ThreadsTest,
    ::testing::Values(ThreadsCase{"tiny_quant", "", "tiny_quant"},
                      ThreadsCase{"tiny_dq", "--numerics official",
                                  "tiny_dq_official"}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
} // namespace birkhoff::test
