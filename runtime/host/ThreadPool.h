//===- ThreadPool.h - A fixed pool for data-parallel host kernels ----------===//
#ifndef BIRKHOFF_RUNTIME_HOST_THREADPOOL_H
#define BIRKHOFF_RUNTIME_HOST_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace birkhoff::rt {

/// Runs `fn(begin, end)` over a split of [0, n) on the pool's threads and the
/// caller's. One parallelFor at a time per pool (sessions own their pool, or
/// serialize on it); the caller blocks until every chunk is done.
class ThreadPool {
public:
  /// 0 threads: one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return int(workers_.size()) + 1; }
  /// `grain`: the smallest chunk worth a thread.
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn,
                   int64_t grain = 1);

private:
  void workerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)> *job_ = nullptr;
  int64_t jobSize_ = 0, chunk_ = 0, nextChunk_ = 0, chunks_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::mutex callMutex_;
};

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_HOST_THREADPOOL_H
