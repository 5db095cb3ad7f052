//===- Backend.h - Where a loaded program runs: host or CUDA --------------===//
//
// Model::load picks a backend from ModelOptions::device; Engine::create asks
// it for an engine backend, which owns the state of every sequence slot, the
// page pool of the growing states and the activation memory, and runs one
// call: a batch of sequences' tokens (BatchCall). Everything else of an
// engine (sequence ids, positions, page bookkeeping, token checks, splitting
// a step into calls, sampling) is backend-free and lives in Engine.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_BACKEND_H
#define BIRKHOFF_RUNTIME_BACKEND_H

#include "Program.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/Status.h"
#include "cuda/LaunchAbi.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace birkhoff::rt {

/// How an engine's state is laid out: `slots` sequences at most; the growing
/// states (compressed KV entries, indexer keys) in a pool of `pages` pages of
/// `pageTokens` tokens of context each, a slot holding at most
/// `pagesPerSlot` of them.
struct EngineShape {
  int slots = 1;
  int64_t pageTokens = 256;
  int64_t pagesPerSlot = 0;
  int64_t pages = 0;

  /// Rows of growing state `d` in one page.
  int64_t pageRows(const StateDesc &d) const {
    return pageTokens / d.tokensPerRow;
  }
  /// Bytes of state `d` for the whole engine: every page of the pool for a
  /// growing state, every slot's fixed rows otherwise. OutOfRange where that
  /// passes 64 bits. Engine::create checks every state with it, so the
  /// backends it then calls may size their buffers with plain arithmetic.
  Expected<uint64_t> stateBytes(const StateDesc &d) const {
    std::optional<int64_t> rows = d.growing()
                                      ? checkedMul<int64_t>(pages, pageRows(d))
                                      : checkedMul<int64_t>(slots, d.fixedRows);
    std::optional<uint64_t> bytes;
    if (rows && *rows >= 0)
      bytes = checkedMul<uint64_t>(uint64_t(*rows), d.bytesPerRow);
    if (!bytes)
      return outOfRange("state '" + d.name + "' of " + std::to_string(slots) +
                        " sequence(s) and " + std::to_string(pages) +
                        " pages of " + std::to_string(pageTokens) +
                        " tokens overflows 64 bits");
    return *bytes;
  }
};

/// One call on a backend: S tokens of one or more sequences, each sequence's
/// tokens on consecutive rows with consecutive positions (BkToken).
struct BatchCall {
  std::span<const int32_t> ids;          // [S], checked
  std::span<const cuda::BkToken> tokens; // [S]
  std::span<const int32_t> logitRows;    // ascending call rows
  std::span<float *const> logitDest;     // per logit row: its vocab floats
};

/// The state and activation memory of an engine on a device and the
/// execution of its calls.
class EngineBackend {
public:
  virtual ~EngineBackend() = default;

  /// Runs `entry` on `call` (S within entry.maxTokens, every page the call's
  /// positions reach already mapped with setPage) and writes the logits of
  /// the rows in call.logitRows to call.logitDest.
  virtual Status run(const EntryDesc &entry, const BatchCall &call) = 0;
  /// Zeroes slot `slot`'s fixed state (a new sequence there).
  virtual Status clearSlot(int slot) = 0;
  /// Makes page `page` of the pool the `index`-th page of `slot` and zeroes
  /// its rows of every growing state.
  virtual Status setPage(int slot, int64_t index, int32_t page) = 0;
  /// Bytes of state committed now.
  virtual uint64_t stateBytes() const = 0;
  /// The bytes of page `page` of every growing state, state after state (for
  /// tests and inspection).
  virtual Expected<std::vector<uint8_t>> readPage(int32_t page) = 0;

  /// While on, run() times every launch (the host: wall time of each kernel
  /// call; CUDA: events around each launch, launched one by one) and adds it
  /// here per catalogue kernel: {launches, milliseconds}.
  bool profiling = false;
  std::map<std::string, std::pair<int64_t, double>> kernelTimes;
  /// The same per launch of an entry: (entry name, launch index) -> time.
  std::map<std::pair<std::string, int64_t>, LaunchTime> launchTimes;
  /// While profiling, each moe launch's expert ids ([rows, topk]) are
  /// appended here too, in launch order (`birkhoff bench` counts the distinct
  /// experts a batch reads).
  std::vector<std::vector<int32_t>> routes;
  void addKernelTime(const EntryDesc &entry, size_t launch, double ms) {
    const LaunchDesc &l = entry.launches[launch];
    auto &[launches, total] = kernelTimes[l.kernel];
    ++launches;
    total += ms;
    LaunchTime &t = launchTimes[{entry.name, int64_t(launch)}];
    if (t.calls == 0)
      t = {entry.name, int64_t(launch), l.kernel, l.layer, 0, 0.0};
    ++t.calls;
    t.milliseconds += ms;
  }
};

/// The device side of a loaded model (weights, kernels); shared by its
/// engines. The Model outlives every engine made from it.
class ModelBackend {
public:
  virtual ~ModelBackend() = default;
  /// An engine of `shape`. Fails with OutOfRange when its state and
  /// activations do not fit in the device's memory.
  virtual Expected<std::unique_ptr<EngineBackend>>
  createEngine(const Program &program, const EngineShape &shape) const = 0;
  /// "host" or "cuda:<ordinal> (<device name>)".
  virtual std::string deviceName() const = 0;
};

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_BACKEND_H
