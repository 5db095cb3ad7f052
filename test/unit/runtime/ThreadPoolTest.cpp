//===- ThreadPoolTest.cpp -------------------------------------------------===//
#include "host/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace birkhoff::rt {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 7, 1000, 12345}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallelFor(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        hits[size_t(i)]++;
    });
    for (auto &h : hits)
      ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, RepeatedCallsFromOneThread) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int r = 0; r < 200; ++r)
    pool.parallelFor(64, [&](int64_t b, int64_t e) { sum += e - b; });
  EXPECT_EQ(sum.load(), 200 * 64);
}

} // namespace
} // namespace birkhoff::rt
