//===- HostBackend.cpp - Sessions on the host kernels ---------------------===//
#include "HostBackend.h"

#include "HostKernels.h"
#include "ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unistd.h>

namespace birkhoff::rt {
namespace {

class HostSession : public SessionBackend {
public:
  HostSession(const Program &program, int64_t capacity, int numThreads)
      : program_(program), pool_(std::make_unique<ThreadPool>(numThreads)) {
    for (const StateDesc &d : program.states) {
      int64_t rows = d.rowsFor(capacity);
      int64_t bytes = int64_t(d.bytesFor(capacity));
      // Stored as floats so f32 rows are aligned; packed rows use the bytes.
      stateData_.emplace_back(size_t((bytes + 3) / 4), 0.0f);
      states_.push_back({reinterpret_cast<uint8_t *>(stateData_.back().data()),
                         rows, int64_t(d.bytesPerRow)});
    }
    int64_t arenaElems = 0;
    size_t maxBuffers = 0;
    for (const EntryDesc &e : program.entries) {
      arenaElems = std::max(arenaElems, e.arenaElemsPerToken * e.maxTokens);
      maxBuffers = std::max(maxBuffers, e.buffers.size());
    }
    arena_.assign(size_t(arenaElems), 0.0f);
    bufferPtrs_.resize(maxBuffers);
    lastRowPtrs_.resize(maxBuffers);
  }

  Status run(const EntryDesc &entry, std::span<const int32_t> tokens,
             int64_t start, float *allLogits, float *lastLogits) override {
    int64_t n = int64_t(tokens.size());
    for (size_t b = 0; b < entry.buffers.size(); ++b)
      bufferPtrs_[b] = arena_.data() + entry.buffers[b].offsetPerToken * n;
    KernelArgs args;
    args.tokens = n;
    args.start = start;
    args.tokenIds = tokens.data();
    args.program = &program_;
    args.buffers = bufferPtrs_.data();
    args.states = states_.data();
    args.pool = pool_.get();
    // Without a request for every token's logits, the logits tail runs on
    // the last token alone: its rows of every buffer (the kernels of the
    // tail are row-local, so those rows come out the same).
    const size_t tail = lastTokenLaunchesFrom(entry, n, allLogits != nullptr);
    for (size_t i = 0; i < entry.launches.size(); ++i) {
      const LaunchDesc &launch = entry.launches[i];
      if (i == tail) {
        for (size_t b = 0; b < entry.buffers.size(); ++b)
          lastRowPtrs_[b] =
              bufferPtrs_[b] + (n - 1) * entry.buffers[b].elemsPerToken;
        args.buffers = lastRowPtrs_.data();
        args.tokens = 1;
        args.start = start + n - 1;
        args.tokenIds = tokens.data() + n - 1;
      }
      args.launch = &launch;
      HostKernelFn fn = hostKernel(launch.id);
      const auto t0 = profiling ? std::chrono::steady_clock::now()
                                : std::chrono::steady_clock::time_point{};
      Status st = fn(args);
      if (profiling)
        addKernelTime(launch.kernel, std::chrono::duration<double, std::milli>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count());
      if (!st.isOk())
        return st.withContext("kernel '" + launch.kernel + "' of layer " +
                              std::to_string(launch.layer));
    }
    int64_t vocab = program_.config.vocabSize;
    const float *logits = bufferPtrs_[size_t(entry.logitsBuffer)];
    if (allLogits)
      std::memcpy(allLogits, logits, size_t(n * vocab) * sizeof(float));
    std::memcpy(lastLogits, logits + (n - 1) * vocab,
                size_t(vocab) * sizeof(float));
    return Status::ok();
  }

  Status reset() override {
    for (auto &d : stateData_)
      std::fill(d.begin(), d.end(), 0.0f);
    return Status::ok();
  }

  uint64_t stateBytes() const override {
    uint64_t total = 0;
    for (const auto &d : stateData_)
      total += d.size() * sizeof(float);
    return total;
  }

private:
  const Program &program_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::vector<float>> stateData_;
  std::vector<StateView> states_;
  std::vector<float> arena_;
  std::vector<float *> bufferPtrs_;
  std::vector<float *> lastRowPtrs_; // the last token's rows (logits tail)
};

class HostBackend : public ModelBackend {
public:
  explicit HostBackend(int numThreads) : numThreads_(numThreads) {}

  Expected<std::unique_ptr<SessionBackend>>
  createSession(const Program &prog, int64_t capacity) const override {
    // Refuse up front what cannot fit, rather than letting the allocation or
    // the first touch of its pages take the process down.
    double stateBytes = 0.0, arenaBytes = 0.0;
    for (const StateDesc &d : prog.states)
      stateBytes += double(d.bytesFor(capacity));
    for (const EntryDesc &e : prog.entries)
      arenaBytes = std::max(arenaBytes,
                            4.0 * double(e.arenaElemsPerToken) * e.maxTokens);
    double physical =
        double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
    if (stateBytes + arenaBytes > physical)
      return outOfRange(
          "a session of " + std::to_string(capacity) + " tokens needs " +
          std::to_string(uint64_t(stateBytes)) + " bytes of state and " +
          std::to_string(uint64_t(arenaBytes)) +
          " bytes of activations, more than this machine's " +
          std::to_string(uint64_t(physical)) + " bytes of memory");
    return std::unique_ptr<SessionBackend>(
        std::make_unique<HostSession>(prog, capacity, numThreads_));
  }

  std::string deviceName() const override { return "host"; }

private:
  int numThreads_;
};

} // namespace

Expected<std::unique_ptr<ModelBackend>>
makeHostBackend(const Program &program, int numThreads,
                const std::string &origin) {
  // Every catalogue kernel has a host implementation (HostKernels.h).
  (void)program;
  (void)origin;
  return std::unique_ptr<ModelBackend>(
      std::make_unique<HostBackend>(numThreads));
}

} // namespace birkhoff::rt
