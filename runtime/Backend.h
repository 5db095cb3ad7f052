//===- Backend.h - Where a loaded program runs: host or CUDA --------------===//
//
// Model::load picks a backend from ModelOptions::device; Session::create asks
// it for a session backend, which owns that session's state and activation
// memory and runs one entry call. Everything else of a session (position,
// capacity, token checks, splitting long prompts, sampling) is backend-free
// and lives in Session.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_BACKEND_H
#define BIRKHOFF_RUNTIME_BACKEND_H

#include "Program.h"
#include "birkhoff/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

namespace birkhoff::rt {

/// One session's memory on a device and the execution of its calls.
class SessionBackend {
public:
  virtual ~SessionBackend() = default;

  /// Runs `entry` on `tokens` (ids already checked against the vocabulary,
  /// count within entry.maxTokens) at positions start, start+1, .... Writes the
  /// logits of every token to `allLogits` ([tokens, vocab]) when it is not
  /// null, and those of the last token to `lastLogits` ([vocab]).
  virtual Status run(const EntryDesc &entry, std::span<const int32_t> tokens,
                     int64_t start, float *allLogits, float *lastLogits) = 0;
  /// Zeroes the state (a new sequence).
  virtual Status reset() = 0;
  /// Bytes of per-session state allocated.
  virtual uint64_t stateBytes() const = 0;

  /// While on, run() times every launch (the host: wall time of each kernel
  /// call; CUDA: events around each launch, launched one by one) and adds it
  /// here per catalogue kernel: {launches, milliseconds}.
  bool profiling = false;
  std::map<std::string, std::pair<int64_t, double>> kernelTimes;
  void addKernelTime(const std::string &kernel, double ms) {
    auto &[launches, total] = kernelTimes[kernel];
    ++launches;
    total += ms;
  }
};

/// The device side of a loaded model (weights, kernels); shared by its
/// sessions. The Model outlives every session made from it.
class ModelBackend {
public:
  virtual ~ModelBackend() = default;
  /// A session holding `capacity` tokens of context. Fails with OutOfRange
  /// when its state and activations do not fit in the device's memory.
  virtual Expected<std::unique_ptr<SessionBackend>>
  createSession(const Program &program, int64_t capacity) const = 0;
  /// "host" or "cuda:<ordinal> (<device name>)".
  virtual std::string deviceName() const = 0;
};

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_BACKEND_H
