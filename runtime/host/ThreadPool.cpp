//===- ThreadPool.cpp -----------------------------------------------------===//
#include "ThreadPool.h"

#include <algorithm>
#include <system_error>

namespace birkhoff::rt {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0)
    threads = int(std::max(1u, std::thread::hardware_concurrency()));
  // Where the system refuses a thread (its limit on threads or memory), the
  // pool runs on those it has: fewer threads is slower, never wrong, and an
  // exception here would escape the callers' Status paths.
  try {
    for (int i = 1; i < threads; ++i)
      workers_.emplace_back([this, i] { workerLoop(i); });
  } catch (const std::system_error &) {
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread &t : workers_)
    t.join();
}

void ThreadPool::workerLoop(int) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_)
      return;
    seen = generation_;
    while (nextChunk_ < chunks_) {
      int64_t c = nextChunk_++;
      ++active_;
      lock.unlock();
      int64_t begin = c * chunk_, end = std::min(jobSize_, begin + chunk_);
      (*job_)(begin, end);
      lock.lock();
      if (--active_ == 0 && nextChunk_ >= chunks_)
        done_.notify_all();
    }
  }
}

void ThreadPool::parallelFor(int64_t n,
                             const std::function<void(int64_t, int64_t)> &fn,
                             int64_t grain) {
  if (n <= 0)
    return;
  grain = std::max<int64_t>(1, grain);
  int64_t maxChunks = std::min<int64_t>(int64_t(size()) * 4, (n + grain - 1) / grain);
  if (workers_.empty() || maxChunks <= 1) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex_);
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = &fn;
  jobSize_ = n;
  chunk_ = (n + maxChunks - 1) / maxChunks;
  chunks_ = (n + chunk_ - 1) / chunk_;
  nextChunk_ = 0;
  active_ = 0;
  ++generation_;
  wake_.notify_all();
  while (nextChunk_ < chunks_) {
    int64_t c = nextChunk_++;
    ++active_;
    lock.unlock();
    int64_t begin = c * chunk_, end = std::min(n, begin + chunk_);
    fn(begin, end);
    lock.lock();
    --active_;
  }
  done_.wait(lock, [&] { return active_ == 0; });
  job_ = nullptr;
}

} // namespace birkhoff::rt
