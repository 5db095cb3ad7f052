//===- WorkerPool.h - One pool of threads for a process's parallel jobs ---===//
//
// Host work that splits into independent tasks runs on a WorkerPool: the
// host backend's kernels (parallel over output rows, tokens or heads), the
// weights generated at load and by `birkhoff synth`, and the tokens `birkhoff
// serve` draws in a step. A process has one pool sized to the machine,
// WorkerPool::shared(); every host engine and session runs on it unless its
// model was given another, so 32 sessions add no threads.
//
// Jobs from several threads run at once. Each job is listed while it runs;
// its caller works on it, and idle pool threads join the listed job with the
// fewest helpers, up to the job's own thread limit. A caller never waits for
// another caller's job, and a job finishes even when every pool thread is
// busy elsewhere (its caller does the rest), so a task may itself start a
// job on the same pool. Queuing whole jobs one after another instead would
// make 32 sessions on 2 cores wait in line with 31 of their threads idle.
//
// Which thread runs a task never changes what the task computes. The split
// of a parallelFor depends on n, grain and the job's thread count only; the
// host kernels make every output a function of its own index, computed in a
// fixed order, so their results are bitwise the same for any pool or limit.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_WORKERPOOL_H
#define BIRKHOFF_WORKERPOOL_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace birkhoff {

/// Thread-safe: any number of threads may run jobs on one pool at once.
class WorkerPool {
public:
  /// `threads` in all, a job's caller included (threads - 1 are started);
  /// 0 = hardwareThreads().
  explicit WorkerPool(int threads);
  /// No job may be running.
  ~WorkerPool();
  WorkerPool(const WorkerPool &) = delete;
  WorkerPool &operator=(const WorkerPool &) = delete;

  /// The most threads one job runs on: the pool's, plus its caller.
  int size() const { return int(threads_.size()) + 1; }

  /// The process's pool of hardwareThreads() threads, started on first use;
  /// it lives as long as the last holder of the pointer.
  static std::shared_ptr<WorkerPool> shared();
  /// The hardware threads this process may run on (its CPU affinity), at
  /// least 1.
  static int hardwareThreads();

  /// Calls fn(i) for every i in [0, n), in any order, on the caller and at
  /// most `maxThreads` - 1 pool threads (0, or more than size(): size());
  /// returns when every call is done.
  void run(int64_t n, const std::function<void(int64_t)> &fn,
           int maxThreads = 0);

  /// Calls fn(begin, end) on the chunks of a split of [0, n), as run() does:
  /// one chunk of everything when the job runs on one thread, otherwise up to
  /// 4 chunks per thread, each of at least `grain` indices (but the last).
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn,
                   int64_t grain = 1, int maxThreads = 0);

private:
  struct Job;
  void work(Job &job);
  void loop();
  /// The listed job an idle pool thread should join, or null (mutex_ held).
  Job *pickJob();

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Job *> jobs_; // running, oldest first
  bool stop_ = false;
};

/// A pool and how many of its threads one job may use: what an engine, a
/// load or a tool holds. Does not own the pool, which must outlive it; the
/// default one runs every job on its caller alone. Cheap to copy.
class Workers {
public:
  Workers() = default;
  /// Jobs on `pool`, on at most `maxThreads` threads (0: all of it).
  Workers(WorkerPool &pool, int maxThreads = 0)
      : pool_(&pool), maxThreads_(maxThreads) {}

  /// The most threads a job runs on.
  int threads() const;
  void run(int64_t n, const std::function<void(int64_t)> &fn) const;
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn,
                   int64_t grain = 1) const;

private:
  WorkerPool *pool_ = nullptr;
  int maxThreads_ = 0;
};

} // namespace birkhoff

#endif // BIRKHOFF_WORKERPOOL_H
