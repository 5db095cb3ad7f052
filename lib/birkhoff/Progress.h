//===- Progress.h - A long task's progress on stderr ------------*- C++ -*-===//
//
// What `synth` and `compile` show while they stream gigabytes of weights or
// compile kernels. On a terminal, one line redrawn in place at most ten times
// a second once the task has run half a second:
//   compile: weights  [#########...............]  38%  7.2/19.1 GB  1.4 GB/s
//   ETA 9 s
// elsewhere (a log, a pipe), a plain line every 10 s once the task has run
// that long, and one when it ends:
//   compile: weights 38% (7.2/19.1 GB), 1.4 GB/s, ETA 9 s
// A task that ends sooner prints nothing, and nothing prints below
// LogLevel::Info (`--quiet`). add() may be called from any thread.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_PROGRESS_H
#define BIRKHOFF_PROGRESS_H

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace birkhoff {

class Progress {
public:
  enum class Unit { Bytes, Items };

  /// `what` names the task ("compile: weights"); `total` its size in
  /// `unit`s (0: unknown, no percentage or ETA).
  Progress(std::string what, uint64_t total, Unit unit = Unit::Bytes);
  /// finish() if not yet.
  ~Progress();
  Progress(const Progress &) = delete;
  Progress &operator=(const Progress &) = delete;

  /// `n` more units done.
  void add(uint64_t n);
  /// The task is over: the terminal line is completed, or the closing plain
  /// line printed, where anything was shown.
  void finish();

  /// Whether stderr is a terminal (the redrawn line) or not (plain lines),
  /// and the seconds before the first terminal line and between plain ones
  /// (0.5 and 10): for tests, which force them.
  static void setTerminal(bool terminal);
  static void setIntervals(double terminalDelay, double plainEvery);

private:
  using Clock = std::chrono::steady_clock;
  void show(bool last);

  const std::string what_;
  const uint64_t total_;
  const Unit unit_;
  const Clock::time_point start_;
  std::atomic<uint64_t> done_{0};
  std::mutex mutex_; // the output
  Clock::time_point lastShown_;
  bool shown_ = false, finished_ = false;
};

/// Tasks that report by name, each shown as a Progress "<prefix>: <task>"
/// once it first reports (Model::load's "verifying weights", "generating
/// weights", "uploading weights", through ModelOptions::progress).
/// report() may be called from any thread.
class ProgressGroup {
public:
  explicit ProgressGroup(std::string prefix) : prefix_(std::move(prefix)) {}
  /// `n` more units of `task`, of `total`.
  void report(std::string_view task, uint64_t n, uint64_t total);
  /// Finishes every task (also on destruction).
  void finish();

private:
  std::string prefix_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::unique_ptr<Progress>>> tasks_;
};

} // namespace birkhoff

#endif // BIRKHOFF_PROGRESS_H
