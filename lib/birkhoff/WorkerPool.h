//===- WorkerPool.h - Run the tasks of one job over a fixed set of threads
//-===//
//
// A small pool for generating weights: `birkhoff synth` splits each tensor
// into row chunks, and the runtime splits every generated weight of an
// artifact the same way; `birkhoff serve` draws a step's tokens on one. The
// caller's thread works too.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_WORKERPOOL_H
#define BIRKHOFF_WORKERPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace birkhoff {

/// Not thread-safe: one caller runs one job at a time.
class WorkerPool {
public:
  /// `threads` workers in all, the caller included; 0 = one per hardware
  /// thread.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool &) = delete;
  WorkerPool &operator=(const WorkerPool &) = delete;

  int size() const { return int(threads_.size()) + 1; }

  /// Calls fn(i) for every i in [0, n), in any order and on any of the
  /// threads; returns when all calls are done.
  void run(int64_t n, const std::function<void(int64_t)> &fn);

private:
  // A job lives as long as any thread holds it; a late worker only finds its
  // counter exhausted, so `fn` is never called after run() returned.
  struct Job {
    const std::function<void(int64_t)> *fn = nullptr;
    int64_t n = 0;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> finished{0};
  };

  void work(Job &job);
  void loop();

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::shared_ptr<Job> job_;
  bool stop_ = false;
};

} // namespace birkhoff

#endif // BIRKHOFF_WORKERPOOL_H
