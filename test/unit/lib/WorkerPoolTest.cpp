//===- WorkerPoolTest.cpp -------------------------------------------------===//
#include "birkhoff/WorkerPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace birkhoff {
namespace {

// Every index of a run() and a parallelFor() is visited exactly once, for
// any thread limit.
TEST(WorkerPool, CoversEveryIndexOnce) {
  WorkerPool pool(3);
  for (int maxThreads : {0, 1, 2, 3, 9})
    for (int64_t n : {0, 1, 7, 1000, 12345}) {
      SCOPED_TRACE(std::to_string(maxThreads) + " threads, n " +
                   std::to_string(n));
      std::vector<std::atomic<int>> ran(static_cast<size_t>(n)),
          split(static_cast<size_t>(n));
      pool.run(
          n, [&](int64_t i) { ran[size_t(i)]++; }, maxThreads);
      pool.parallelFor(
          n,
          [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i)
              split[size_t(i)]++;
          },
          3, maxThreads);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(ran[size_t(i)].load(), 1);
        ASSERT_EQ(split[size_t(i)].load(), 1);
      }
    }
}

// The chunks of a parallelFor depend on n, grain and the job's threads only:
// all of [0, n) at once on one thread, 4 chunks per thread otherwise.
TEST(WorkerPool, ParallelForSplitsByTheThreadsOfTheJob) {
  WorkerPool pool(4);
  auto chunks = [&](int64_t n, int64_t grain, int maxThreads) {
    std::mutex mu;
    std::set<std::pair<int64_t, int64_t>> seen;
    pool.parallelFor(
        n,
        [&](int64_t b, int64_t e) {
          std::lock_guard<std::mutex> lock(mu);
          seen.insert({b, e});
        },
        grain, maxThreads);
    return seen;
  };
  EXPECT_EQ(chunks(100, 1, 1),
            (std::set<std::pair<int64_t, int64_t>>{{0, 100}}));
  EXPECT_EQ(chunks(100, 1, 2).size(), 8u);
  EXPECT_EQ(chunks(100, 1, 0).size(), 15u); // 16 wanted: 15 of 7 indices
  EXPECT_EQ(chunks(100, 40, 0).size(), 3u); // at least `grain` each
  EXPECT_EQ(chunks(100, 1, 2), chunks(100, 1, 2));
}

// A job never runs on more threads than its limit, the caller's included.
TEST(WorkerPool, AJobKeepsToItsThreadLimit) {
  WorkerPool pool(4);
  for (int maxThreads : {1, 2, 3}) {
    std::mutex mu;
    std::set<std::thread::id> ids;
    pool.run(
        64,
        [&](int64_t) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          std::lock_guard<std::mutex> lock(mu);
          ids.insert(std::this_thread::get_id());
        },
        maxThreads);
    EXPECT_LE(int(ids.size()), maxThreads);
    if (maxThreads == 1)
      EXPECT_EQ(*ids.begin(), std::this_thread::get_id());
  }
}

// Many threads run jobs on one pool at once (sessions sharing it); each
// job sees all of its own tasks and nothing else.
TEST(WorkerPool, ConcurrentJobsFromManyThreads) {
  WorkerPool pool(3);
  constexpr int kCallers = 8, kJobs = 200;
  std::vector<int64_t> sums(kCallers, 0);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c)
    callers.emplace_back([&, c] {
      for (int j = 0; j < kJobs; ++j) {
        std::atomic<int64_t> sum{0};
        pool.parallelFor(
            100 + c,
            [&](int64_t b, int64_t e) {
              for (int64_t i = b; i < e; ++i)
                sum += i;
            },
            1, c % 3);
        sums[size_t(c)] += sum.load();
      }
    });
  for (std::thread &t : callers)
    t.join();
  for (int c = 0; c < kCallers; ++c) {
    int64_t n = 100 + c;
    EXPECT_EQ(sums[size_t(c)], kJobs * n * (n - 1) / 2) << "caller " << c;
  }
}

// A task may start a job on its own pool: its thread works that job itself,
// so it finishes even when every pool thread is busy.
TEST(WorkerPool, JobsInsideTasksFinish) {
  WorkerPool pool(2);
  std::atomic<int64_t> total{0};
  pool.run(16, [&](int64_t) { pool.run(16, [&](int64_t) { total++; }); });
  EXPECT_EQ(total.load(), 16 * 16);
}

TEST(WorkerPool, SharedIsOnePoolSizedToTheMachine) {
  std::shared_ptr<WorkerPool> a = WorkerPool::shared(),
                              b = WorkerPool::shared();
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->size(), WorkerPool::hardwareThreads());
  EXPECT_GE(WorkerPool::hardwareThreads(), 1);
}

TEST(Workers, CapAtThePoolAndRunAloneWithoutOne) {
  WorkerPool pool(3);
  EXPECT_EQ(Workers(pool).threads(), 3);
  EXPECT_EQ(Workers(pool, 2).threads(), 2);
  EXPECT_EQ(Workers(pool, 7).threads(), 3);
  Workers alone;
  EXPECT_EQ(alone.threads(), 1);
  std::set<std::thread::id> ids;
  alone.run(5, [&](int64_t) { ids.insert(std::this_thread::get_id()); });
  int64_t calls = 0;
  alone.parallelFor(5, [&](int64_t b, int64_t e) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 5);
  });
  EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(calls, 1);
}

} // namespace
} // namespace birkhoff
