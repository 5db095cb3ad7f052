//===- HostBackend.cpp - Engines on the host kernels ----------------------===//
#include "HostBackend.h"

#include "HostKernels.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unistd.h>

namespace birkhoff::rt {
namespace {

/// Every state of every slot in host memory: fixed states slot after slot,
/// growing states page after page.
class HostEngine : public EngineBackend {
public:
  HostEngine(const Program &program, const EngineShape &shape, Workers workers)
      : program_(program), shape_(shape), workers_(workers) {
    for (const StateDesc &d : program.states) {
      // Checked by createEngine (and Engine::create) before we get here.
      const uint64_t bytes = *shape.stateBytes(d);
      // Stored as floats so f32 rows are aligned; packed rows use the bytes.
      stateData_.emplace_back(size_t(bytes / 4 + (bytes % 4 != 0)), 0.0f);
    }
    pageTable_.assign(size_t(shape.slots * shape.pagesPerSlot), -1);
    pagesMapped_.assign(size_t(shape.slots), 0);
    int64_t arenaElems = 0;
    size_t maxBuffers = 0;
    for (const EntryDesc &e : program.entries) {
      arenaElems = std::max(arenaElems, e.arenaElemsPerToken * e.maxTokens);
      maxBuffers = std::max(maxBuffers, e.buffers.size());
    }
    arena_.assign(size_t(arenaElems), 0.0f);
    bufferPtrs_.resize(maxBuffers);
    segmentPtrs_.resize(maxBuffers);
    views_.resize(program.states.size());
  }

  Status run(const EntryDesc &entry, const BatchCall &call) override {
    const int64_t n = int64_t(call.ids.size());
    const int64_t wanted = int64_t(call.logitRows.size());
    for (size_t b = 0; b < entry.buffers.size(); ++b)
      bufferPtrs_[b] = arena_.data() + entry.buffers[b].offsetPerToken * n;
    // The logits tail runs on the rows whose logits are wanted (none: it is
    // skipped); its kernels are row-local, so those rows come out the same.
    const bool tailOnAll = wanted == n || entry.logitsTailBegin < 0;
    const size_t tail =
        tailOnAll ? entry.launches.size() : size_t(entry.logitsTailBegin);
    for (size_t i = 0; i < entry.launches.size(); ++i) {
      const LaunchDesc &launch = entry.launches[i];
      if (i == tail) {
        if (wanted == 0)
          break;
        gatherTailRows(entry, call.logitRows);
      }
      const int64_t rows = i >= tail ? wanted : n;
      const auto t0 = profiling ? std::chrono::steady_clock::now()
                                : std::chrono::steady_clock::time_point{};
      Status st =
          kernelPerSequence(launch.id)
              ? runPerSequence(entry, launch, call)
              : runKernel(launch, rows, 0, call.ids.data(), bufferPtrs_.data());
      if (profiling)
        addKernelTime(entry, i,
                      std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
      if (!st.isOk())
        return st.withContext("kernel '" + launch.kernel + "' of layer " +
                              std::to_string(launch.layer));
      if (profiling && launch.id == KernelId::Moe) {
        const auto &moe = std::get<MoeParams>(launch.params);
        const int32_t *ids = reinterpret_cast<const int32_t *>(
            bufferPtrs_[size_t(launch.inputs[1])]);
        routes.emplace_back(ids, ids + rows * moe.topk);
      }
    }
    if (wanted == 0)
      return Status::ok();
    const int64_t vocab = program_.config.vocabSize;
    const float *logits = bufferPtrs_[size_t(entry.logitsBuffer)];
    for (int64_t k = 0; k < wanted; ++k) {
      const int64_t row = tailOnAll ? call.logitRows[size_t(k)] : k;
      std::memcpy(call.logitDest[size_t(k)], logits + row * vocab,
                  size_t(vocab) * sizeof(float));
    }
    return Status::ok();
  }

  Status clearSlot(int slot) override {
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      if (d.growing())
        continue;
      const size_t slotBytes = size_t(d.fixedRows) * d.bytesPerRow;
      std::memset(reinterpret_cast<uint8_t *>(stateData_[i].data()) +
                      size_t(slot) * slotBytes,
                  0, slotBytes);
    }
    pagesMapped_[size_t(slot)] = 0;
    return Status::ok();
  }

  Status setPage(int slot, int64_t index, int32_t page) override {
    if (index >= shape_.pagesPerSlot || page < 0 || page >= shape_.pages)
      return internalError("page " + std::to_string(page) + " as page " +
                           std::to_string(index) + " of slot " +
                           std::to_string(slot) + " is outside the pool");
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      if (!d.growing())
        continue;
      const size_t pageBytes = size_t(shape_.pageRows(d)) * d.bytesPerRow;
      std::memset(reinterpret_cast<uint8_t *>(stateData_[i].data()) +
                      size_t(page) * pageBytes,
                  0, pageBytes);
    }
    pageTable_[size_t(slot * shape_.pagesPerSlot + index)] = page;
    pagesMapped_[size_t(slot)] =
        std::max(pagesMapped_[size_t(slot)], index + 1);
    return Status::ok();
  }

  uint64_t stateBytes() const override {
    uint64_t total = 0;
    for (const auto &d : stateData_)
      total += d.size() * sizeof(float);
    return total;
  }

  Expected<std::vector<uint8_t>> readPage(int32_t page) override {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      if (!d.growing())
        continue;
      const size_t pageBytes = size_t(shape_.pageRows(d)) * d.bytesPerRow;
      const uint8_t *p =
          reinterpret_cast<const uint8_t *>(stateData_[i].data()) +
          size_t(page) * pageBytes;
      out.insert(out.end(), p, p + pageBytes);
    }
    return out;
  }

private:
  /// Runs `launch`'s host kernel on `tokens` tokens from position `start`
  /// (read by per-sequence kernels only), their ids and buffer rows.
  Status runKernel(const LaunchDesc &launch, int64_t tokens, int64_t start,
                   const int32_t *ids, float *const *buffers) {
    KernelArgs args;
    args.tokens = tokens;
    args.start = start;
    args.tokenIds = ids;
    args.launch = &launch;
    args.program = &program_;
    args.buffers = buffers;
    args.states = views_.data();
    args.pool = workers_;
    return hostKernel(launch.id)(args);
  }

  /// A launch that reads positions or state, once per sequence of the call:
  /// its rows of every buffer, its slot's state.
  Status runPerSequence(const EntryDesc &entry, const LaunchDesc &launch,
                        const BatchCall &call) {
    const int64_t n = int64_t(call.ids.size());
    for (int64_t first = 0; first < n;) {
      const cuda::BkToken &t = call.tokens[size_t(first)];
      const int64_t count = t.last - first + 1;
      for (size_t b = 0; b < entry.buffers.size(); ++b)
        segmentPtrs_[b] =
            bufferPtrs_[b] + first * entry.buffers[b].elemsPerToken;
      setViews(t.slot);
      BK_RETURN_IF_ERROR(runKernel(
          launch, count, t.pos, call.ids.data() + first, segmentPtrs_.data()));
      first += count;
    }
    return Status::ok();
  }

  /// Points views_ at `slot`'s state.
  void setViews(int slot) {
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      uint8_t *base = reinterpret_cast<uint8_t *>(stateData_[i].data());
      StateView &v = views_[i];
      v.rowBytes = int64_t(d.bytesPerRow);
      if (d.growing()) {
        v.data = base;
        v.pageRows = shape_.pageRows(d);
        v.pages = pageTable_.data() + slot * shape_.pagesPerSlot;
        v.rows = pagesMapped_[size_t(slot)] * v.pageRows;
      } else {
        v.data = base + int64_t(slot) * d.fixedRows * v.rowBytes;
        v.rows = d.fixedRows;
      }
    }
  }

  /// Moves row logitRows[k] of each buffer the tail reads to row k (rows
  /// ascend, so no source is overwritten before it is read).
  void gatherTailRows(const EntryDesc &entry,
                      std::span<const int32_t> logitRows) {
    for (int b : entry.tailInputs) {
      const int64_t elems = entry.buffers[size_t(b)].elemsPerToken;
      float *base = bufferPtrs_[size_t(b)];
      for (size_t k = 0; k < logitRows.size(); ++k)
        if (logitRows[k] != int32_t(k))
          std::memcpy(base + int64_t(k) * elems, base + logitRows[k] * elems,
                      size_t(elems) * sizeof(float));
    }
  }

  const Program &program_;
  const EngineShape shape_;
  const Workers workers_; // the model's pool, shared with its other engines
  std::vector<std::vector<float>> stateData_;
  std::vector<int32_t> pageTable_;   // [slots][pagesPerSlot]
  std::vector<int64_t> pagesMapped_; // per slot
  std::vector<StateView> views_;     // one slot's, per program state
  std::vector<float> arena_;
  std::vector<float *> bufferPtrs_;
  std::vector<float *> segmentPtrs_; // one sequence's rows
};

class HostBackend : public ModelBackend {
public:
  HostBackend(std::shared_ptr<WorkerPool> pool, int maxThreads)
      : pool_(std::move(pool)), maxThreads_(maxThreads) {}

  Expected<std::unique_ptr<EngineBackend>>
  createEngine(const Program &prog, const EngineShape &shape) const override {
    // Refuse up front what cannot fit, rather than letting the allocation or
    // the first touch of its pages take the process down.
    double stateBytes = 0.0, arenaBytes = 0.0;
    for (const StateDesc &d : prog.states) {
      BK_ASSIGN_OR_RETURN(uint64_t bytes, shape.stateBytes(d));
      stateBytes += double(bytes);
    }
    for (const EntryDesc &e : prog.entries)
      arenaBytes = std::max(arenaBytes,
                            4.0 * double(e.arenaElemsPerToken) * e.maxTokens);
    double physical =
        double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
    if (stateBytes + arenaBytes > physical)
      return outOfRange(
          "an engine of " + std::to_string(shape.slots) + " sequence(s) and " +
          std::to_string(shape.pages) + " state pages of " +
          std::to_string(shape.pageTokens) + " tokens needs " +
          std::to_string(uint64_t(stateBytes)) + " bytes of state and " +
          std::to_string(uint64_t(arenaBytes)) +
          " bytes of activations, more than this machine's " +
          std::to_string(uint64_t(physical)) + " bytes of memory");
    return std::unique_ptr<EngineBackend>(std::make_unique<HostEngine>(
        prog, shape, Workers(*pool_, maxThreads_)));
  }

  std::string deviceName() const override { return "host"; }

private:
  // Every engine runs on this one pool: engines add no threads.
  std::shared_ptr<WorkerPool> pool_;
  int maxThreads_;
};

} // namespace

Expected<std::unique_ptr<ModelBackend>>
makeHostBackend(const Program &program, std::shared_ptr<WorkerPool> pool,
                int maxThreads, const std::string &origin) {
  // Every catalogue kernel has a host implementation (HostKernels.h).
  (void)program;
  (void)origin;
  return std::unique_ptr<ModelBackend>(
      std::make_unique<HostBackend>(std::move(pool), maxThreads));
}

} // namespace birkhoff::rt
