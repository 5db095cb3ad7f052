//===- WorkerPool.cpp -----------------------------------------------------===//
#include "birkhoff/WorkerPool.h"

#include <algorithm>
#include <system_error>

namespace birkhoff {

WorkerPool::WorkerPool(int threads) {
  if (threads <= 0)
    threads = int(std::max(1u, std::thread::hardware_concurrency()));
  // Where the system refuses a thread (its limit on threads or memory), the
  // pool runs on those it has: fewer threads is slower, never wrong, and an
  // exception here would escape the callers' Status paths.
  try {
    for (int i = 1; i < threads; ++i)
      threads_.emplace_back([this] { loop(); });
  } catch (const std::system_error &) {
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread &t : threads_)
    t.join();
}

void WorkerPool::run(int64_t n, const std::function<void(int64_t)> &fn) {
  if (threads_.empty() || n <= 1) {
    for (int64_t i = 0; i < n; ++i)
      fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = job;
  }
  wake_.notify_all();
  work(*job);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return job->finished.load() == job->n; });
}

void WorkerPool::work(Job &job) {
  for (int64_t i; (i = job.next.fetch_add(1)) < job.n;) {
    (*job.fn)(i);
    if (job.finished.fetch_add(1) + 1 == job.n) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
}

void WorkerPool::loop() {
  std::shared_ptr<Job> seen;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || job_ != seen; });
    if (stop_)
      return;
    seen = job_;
    lock.unlock();
    work(*seen);
    lock.lock();
  }
}

} // namespace birkhoff
