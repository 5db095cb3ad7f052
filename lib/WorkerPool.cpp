//===- WorkerPool.cpp -----------------------------------------------------===//
#include "birkhoff/WorkerPool.h"

#include <algorithm>
#include <atomic>
#include <sched.h>
#include <system_error>

namespace birkhoff {

/// One run() in flight. It lives on its caller's stack: the caller unlists
/// it and waits until no pool thread still works on it before returning.
struct WorkerPool::Job {
  const std::function<void(int64_t)> *fn = nullptr;
  int64_t n = 0;
  int helpersWanted = 0; // pool threads it may take (its limit - 1)
  std::atomic<int64_t> next{0};
  int helpers = 0;              // pool threads on it now (mutex_)
  std::condition_variable left; // a helper left it (mutex_)
};

WorkerPool::WorkerPool(int threads) {
  if (threads <= 0)
    threads = hardwareThreads();
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

std::shared_ptr<WorkerPool> WorkerPool::shared() {
  // Started on first use; a static holder keeps it for later callers, and
  // whoever still holds it at exit keeps it alive past that holder.
  static std::shared_ptr<WorkerPool> pool = std::make_shared<WorkerPool>(0);
  return pool;
}

int WorkerPool::hardwareThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

void WorkerPool::run(int64_t n, const std::function<void(int64_t)> &fn,
                     int maxThreads) {
  int threads = maxThreads <= 0 ? size() : std::min(maxThreads, size());
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i)
      fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  job.helpersWanted = int(std::min<int64_t>(threads - 1, n - 1));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(&job);
  }
  if (job.helpersWanted >= int(threads_.size()))
    wake_.notify_all();
  else
    for (int i = 0; i < job.helpersWanted; ++i)
      wake_.notify_one();
  work(job);
  std::unique_lock<std::mutex> lock(mutex_);
  jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &job));
  // Every task was taken; a helper still on the job finishes its last one.
  job.left.wait(lock, [&] { return job.helpers == 0; });
}

void WorkerPool::parallelFor(int64_t n,
                             const std::function<void(int64_t, int64_t)> &fn,
                             int64_t grain, int maxThreads) {
  if (n <= 0)
    return;
  int threads = maxThreads <= 0 ? size() : std::min(maxThreads, size());
  grain = std::max<int64_t>(1, grain);
  int64_t chunks =
      std::min<int64_t>(int64_t(threads) * 4, (n + grain - 1) / grain);
  if (threads <= 1 || chunks <= 1) {
    fn(0, n);
    return;
  }
  const int64_t chunk = (n + chunks - 1) / chunks;
  chunks = (n + chunk - 1) / chunk;
  run(
      chunks, [&](int64_t c) { fn(c * chunk, std::min(n, (c + 1) * chunk)); },
      threads);
}

void WorkerPool::work(Job &job) {
  for (int64_t i; (i = job.next.fetch_add(1)) < job.n;)
    (*job.fn)(i);
}

WorkerPool::Job *WorkerPool::pickJob() {
  Job *best = nullptr;
  for (Job *j : jobs_)
    if (j->helpers < j->helpersWanted && j->next.load() < j->n &&
        (!best || j->helpers < best->helpers))
      best = j;
  return best;
}

void WorkerPool::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    Job *job = nullptr;
    wake_.wait(lock, [&] { return stop_ || (job = pickJob()) != nullptr; });
    if (stop_)
      return;
    ++job->helpers;
    lock.unlock();
    work(*job);
    lock.lock();
    // The caller may destroy the job as soon as the lock is released.
    if (--job->helpers == 0)
      job->left.notify_all();
  }
}

int Workers::threads() const {
  if (!pool_)
    return 1;
  return maxThreads_ <= 0 ? pool_->size()
                          : std::min(maxThreads_, pool_->size());
}

void Workers::run(int64_t n, const std::function<void(int64_t)> &fn) const {
  if (!pool_) {
    for (int64_t i = 0; i < n; ++i)
      fn(i);
    return;
  }
  pool_->run(n, fn, maxThreads_);
}

void Workers::parallelFor(int64_t n,
                          const std::function<void(int64_t, int64_t)> &fn,
                          int64_t grain) const {
  if (!pool_) {
    if (n > 0)
      fn(0, n);
    return;
  }
  pool_->parallelFor(n, fn, grain, maxThreads_);
}

} // namespace birkhoff
