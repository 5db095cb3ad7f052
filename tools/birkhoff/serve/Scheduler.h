//===- Scheduler.h - Continuous batching of requests on an Engine ---------===//
//
// One Scheduler owns one Engine and runs every request on it. Each iteration
// (Scheduler::step) takes the requests submitted since the last one, drops
// the cancelled ones (their sequences and pages go back), admits waiting
// requests while a sequence slot and enough free state pages are there, and
// runs one Engine::step holding the next token of every decoding sequence
// plus prefill chunks of the prefilling ones, first come first served, up to
// `stepTokens` tokens. Every sequence whose last token ran samples its next
// token (sampleToken with its own rng, seeded from the request; the step's
// draws run in parallel), which goes out as ids and text (TextDecoder; stop
// strings held back until decided).
//
// Admission: a request joins when a slot is free and the pages its prompt
// needs fit beside what the running sequences still need for their prompts.
// Decoding sequences take pages as they grow; when the pool runs dry the
// step lists them in StepResult::failed and the scheduler preempts each:
// its sequence is removed (pages returned) and it waits at the front of the
// queue to prefill its prompt and its generated tokens again, then goes on
// sampling where it was (on the host that recomputation changes no bit).
// Requests whose whole context (prompt + max tokens) exceeds the pool are
// refused before they are queued (poolTokens()).
//
// Threading: submit(), stats() and RequestHandle are thread-safe. Either
// start() runs the iterations on the scheduler's own thread, or a single
// caller drives step() (tests); never both.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_SCHEDULER_H
#define BIRKHOFF_TOOLS_SERVE_SCHEDULER_H

#include "Generation.h"
#include "Metrics.h"

#include "birkhoff/WorkerPool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace birkhoff::serve {

/// Wakes the scheduler's thread (shared with the handles it gives out).
struct SchedulerSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool pending = false;
  void notify();
};

/// The consumer's side of one request. Thread-safe.
class RequestHandle {
public:
  explicit RequestHandle(std::shared_ptr<SchedulerSignal> signal);

  /// Waits up to `timeout` for output and appends what came to `update`.
  /// Returns whether anything came.
  bool wait(RequestUpdate &update, std::chrono::milliseconds timeout);
  /// Asks the scheduler to end the request (FinishReason::Cancelled) and
  /// free its sequence at its next iteration. Idempotent.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }

  /// The scheduler's side: adds output for the consumer.
  void post(RequestUpdate update);

private:
  std::shared_ptr<SchedulerSignal> signal_;
  std::mutex mu_;
  std::condition_variable cv_;
  RequestUpdate pending_;
  bool hasPending_ = false;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
  /// Slots (maxSequences), context per sequence, page size and pool size.
  EngineOptions engine;
  /// Tokens per engine step: every decoding sequence's next token, then
  /// prefill chunks up to this many in all. More than engine.maxSequences.
  int64_t stepTokens = 512;
  /// Requests waiting for admission at most; more are refused (QueueFull).
  int64_t maxQueue = 256;
  /// Threads that sample a step's tokens, on the model's worker pool
  /// (ModelOptions::workers; 0: all of it, at most 16): a large vocabulary
  /// makes a token's draw cost a millisecond.
  int samplingThreads = 0;
};

/// The gauges /metrics shows (queue length, running sequences, pages), and
/// counts for tests.
struct SchedulerStats : Gauges {
  int64_t steps = 0;
  int64_t preemptions = 0;
};

class Scheduler {
public:
  /// Creates the engine. `metrics` (optional) must outlive the scheduler.
  static Expected<std::unique_ptr<Scheduler>>
  create(std::shared_ptr<const Model> model, const SchedulerOptions &options,
         Metrics *metrics = nullptr);
  /// Stops the thread; requests still running end Aborted.
  ~Scheduler();

  enum class Admission { Queued, QueueFull, ShuttingDown };
  struct Submission {
    Admission admission = Admission::Queued;
    std::shared_ptr<RequestHandle> handle; // when Queued
  };
  /// Queues a request (already checked against capacity() and
  /// poolTokens()). Thread-safe.
  Submission submit(GenerationRequest request);

  /// Runs the iterations on a thread of the scheduler's own.
  void start();
  /// Refuses new requests from now on (ShuttingDown).
  void stopAccepting();
  /// Waits until no request is queued or running, at most `grace`; then
  /// ends those left (Aborted) and stops the thread. Returns whether every
  /// request finished by itself.
  bool drain(std::chrono::milliseconds grace);

  /// One iteration (see above), for a caller without start(). Returns
  /// whether an engine step ran; an error is the engine's, and every
  /// request then ends with it.
  Expected<bool> step();

  SchedulerStats stats() const;
  /// The engine's error once a step failed (every request then ends with
  /// it); ok before.
  Status failure() const;
  /// Tokens of context a sequence can hold.
  int64_t capacity() const { return capacity_; }
  /// The longest context whose pages fit the whole pool.
  int64_t poolTokens() const { return poolTokens_; }
  const Model &model() const { return *model_; }

private:
  struct Active;
  Scheduler() = default;

  void threadMain();
  /// Stops the thread (which ends the requests left, Aborted) or, without
  /// one, ends them here.
  void stopAndAbort();
  void takeSubmissions();
  void dropCancelled();
  void admit();
  /// Ends `a` (its sequence removed if it has one) and posts the update.
  void finish(Active &a, RequestUpdate &update, FinishReason reason,
              Status error = Status::ok());
  /// Takes `tok` as `a`'s next token and posts what it adds.
  void emit(Active &a, int32_t tok);
  void preempt(std::vector<Active *> &preempted);
  void abortAll(FinishReason reason, const Status &error);
  void publishStats();

  std::shared_ptr<const Model> model_;
  std::unique_ptr<Engine> engine_;
  Workers samplers_; // the model's pool: it holds the pool alive
  SchedulerOptions options_;
  Metrics *metrics_ = nullptr;
  int64_t capacity_ = 0;
  int64_t poolTokens_ = 0;

  std::shared_ptr<SchedulerSignal> signal_;
  // Guarded by signal_->mu.
  std::deque<std::unique_ptr<Active>> incoming_;
  bool accepting_ = true;
  bool stopThread_ = false;
  bool abortAll_ = false;

  // The iterating thread's own.
  std::deque<std::unique_ptr<Active>> waiting_;
  std::vector<std::unique_ptr<Active>> running_; // in admission order
  Batch batch_;
  StepResult result_;

  mutable std::mutex statsMu_;
  SchedulerStats stats_;
  Status failure_;
  std::atomic<int64_t> queued_{0};     // incoming_ + waiting_
  std::atomic<int64_t> unfinished_{0}; // submitted, not yet finished

  std::thread thread_;
};

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_SCHEDULER_H
