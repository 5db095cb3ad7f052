//===- CudaEngine.cpp - An engine's device memory and its calls -----------===//
//
// An engine owns, in device memory: the fixed state of every slot (zeroed
// when a sequence takes the slot), one page pool per growing state (device
// addresses reserved for every page, memory mapped as pages are first used,
// each page zeroed when a sequence takes it), the page table, the activation
// arena (ArenaLayout.h), the call's token ids and BkToken rows, the kernels'
// scratch; and a non-blocking stream. A call copies its tokens (and the page
// table rows that changed) in, launches the entry's kernels in order on the
// stream, copies the wanted logits out and waits.
//
// Calls whose every token wants its logits (decode steps of up to
// kGraphMaxTokens sequences) are captured once per entry and token count as
// a CUDA graph and replayed: the kernels read the tokens and the page table
// from device memory, and the arena and state stay where they were at
// capture, so each step is the small copies in, one graph launch and the
// copy of the logits out.
//
//===----------------------------------------------------------------------===//
#include "ArenaLayout.h"
#include "CudaModel.h"
#include "PagedDeviceBuffer.h"

#include <algorithm>
#include <map>

namespace birkhoff::rt {

using cuda::CuDevicePtr;

namespace {

/// Decode steps of up to this many sequences replay as CUDA graphs.
constexpr int64_t kGraphMaxTokens = 64;

class CudaEngine : public EngineBackend {
public:
  CudaEngine(const CudaModel &model, const Program &program,
             const EngineShape &shape)
      : model_(model), api_(model.api), program_(program), shape_(shape) {}

  ~CudaEngine() override {
    if (!model_.makeCurrent().isOk())
      return;
    if (stream_) {
      api_.streamSynchronize(stream_);
      api_.streamDestroy(stream_);
    }
    for (auto &[key, g] : graphs_)
      if (g)
        api_.graphExecDestroy(g);
    paged_.clear(); // unmapped while the context is current
    for (CuDevicePtr p : {fixed_, arena_, io_, scratch_})
      if (p)
        api_.memFree(p);
    for (cuda::CuEvent e : events_)
      api_.eventDestroy(e);
  }

  /// Allocates and zeroes everything but the paged pools' memory; fails with
  /// OutOfRange when the device has less free memory than that. A growing
  /// state's pool whose pages would span more than one mapping granule gets
  /// a PagedDeviceBuffer (addresses for every page, memory as pages are first
  /// used); the other states share one allocation.
  Status init() {
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    BK_ASSIGN_OR_RETURN(uint64_t granule,
                        PagedDeviceBuffer::granularity(api_, model_.ordinal));
    const size_t nStates = program_.states.size();
    std::vector<uint64_t> fixedOffset(nStates, 0), poolBytes(nStates, 0);
    uint64_t fixedBytes = 0;
    for (size_t i = 0; i < nStates; ++i) {
      const StateDesc &d = program_.states[i];
      // Never a zero-byte region; kernels only touch rows that exist.
      BK_ASSIGN_OR_RETURN(uint64_t stateBytes, shape_.stateBytes(d));
      uint64_t bytes = std::max<uint64_t>(stateBytes, 256);
      if (d.growing() && bytes > granule) {
        poolBytes[i] = bytes;
        continue;
      }
      fixedOffset[i] = (fixedBytes + 255) / 256 * 256;
      fixedBytes = fixedOffset[i] + bytes;
    }
    fixedBytes_ = std::max<uint64_t>(fixedBytes, 256);
    int64_t arenaElems = 0, maxTokens = 1;
    for (const EntryDesc &e : program_.entries) {
      arenaElems =
          std::max(arenaElems, alignedArenaLayout(e, e.maxTokens).elems);
      maxTokens = std::max<int64_t>(maxTokens, e.maxTokens);
    }
    const uint64_t arenaBytes = uint64_t(std::max<int64_t>(arenaElems, 4)) * 4;
    // The call's ids, its BkToken rows (16-byte aligned), the page table.
    tokOffset_ = (uint64_t(maxTokens) * 4 + 15) / 16 * 16;
    tableOffset_ = tokOffset_ + uint64_t(maxTokens) * sizeof(cuda::BkToken);
    tableHost_.assign(
        size_t(std::max<int64_t>(shape_.slots * shape_.pagesPerSlot, 1)), 0);
    const uint64_t ioBytes = tableOffset_ + tableHost_.size() * 4;
    const uint64_t scratchBytes = model_.scratchBytes;
    const uint64_t total = fixedBytes_ + arenaBytes + ioBytes + scratchBytes;
    BK_ASSIGN_OR_RETURN(uint64_t freeBytes, model_.freeMemory());
    if (total > freeBytes)
      return outOfRange(
          "an engine of " + std::to_string(shape_.slots) +
          " sequence(s) needs " + mib(total) + " of device memory (" +
          mib(fixedBytes_) + " fixed state, " + mib(arenaBytes) +
          " activations, " + mib(scratchBytes) + " kernel scratch), " +
          model_.deviceName() + " has " + mib(freeBytes) + " free");
    arenaElems_ = int64_t(arenaBytes / 4);
    BK_RETURN_IF_ERROR(
        api_.check("cuStreamCreate",
                   api_.streamCreate(&stream_, cuda::kCuStreamNonBlocking)));
    BK_RETURN_IF_ERROR(
        api_.check("cuMemAlloc", api_.memAlloc(&fixed_, fixedBytes_))
            .withContext("allocating the engine's state"));
    for (size_t i = 0; i < nStates; ++i) {
      const StateDesc &d = program_.states[i];
      pool_.push_back(-1);
      if (poolBytes[i] == 0) {
        stateBase_.push_back(fixed_ + fixedOffset[i]);
        continue;
      }
      Expected<PagedDeviceBuffer> b = PagedDeviceBuffer::reserve(
          api_, model_.ordinal, poolBytes[i], granule);
      if (!b)
        return b.status().withContext("the page pool of state '" + d.name +
                                      "'");
      stateBase_.push_back(b->base());
      pool_.back() = int(paged_.size());
      paged_.push_back(b.take());
    }
    BK_RETURN_IF_ERROR(
        api_.check("cuMemAlloc", api_.memAlloc(&arena_, arenaBytes))
            .withContext("allocating the activation arena"));
    BK_RETURN_IF_ERROR(api_.check("cuMemAlloc", api_.memAlloc(&io_, ioBytes))
                           .withContext("allocating the call's token rows"));
    if (scratchBytes > 0)
      BK_RETURN_IF_ERROR(
          api_.check("cuMemAlloc", api_.memAlloc(&scratch_, scratchBytes))
              .withContext("allocating " + mib(scratchBytes) +
                           " of kernel scratch"));
    // Everything starts zeroed, the arena too, so a kernel reading a buffer
    // before any launch wrote it (none should) sees what the host sees.
    for (auto [p, bytes] :
         {std::pair{fixed_, fixedBytes_}, std::pair{arena_, arenaBytes},
          std::pair{io_, ioBytes}, std::pair{scratch_, scratchBytes}})
      if (p && bytes)
        BK_RETURN_IF_ERROR(api_.check(
            "cuMemsetD8Async", api_.memsetD8Async(p, 0, bytes, stream_)));
    return api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_))
        .withContext("clearing the engine's memory on " + model_.deviceName());
  }

  Status run(const EntryDesc &entry, const BatchCall &call) override {
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    const int64_t n = int64_t(call.ids.size());
    const int64_t wanted = int64_t(call.logitRows.size());
    const size_t e = size_t(&entry - program_.entries.data());
    if (e >= model_.launches.size() || n < 1 || n > entry.maxTokens)
      return internalError("CUDA engine: bad call of entry '" + entry.name +
                           "' with " + std::to_string(n) + " tokens");
    const ArenaLayout &layout = layoutFor(e, entry, n);
    if (layout.elems > arenaElems_)
      return internalError("CUDA engine: the arena of '" + entry.name +
                           "' outgrew its allocation");
    const std::string where = "@" + entry.name + " on " + model_.deviceName() +
                              " (" + std::to_string(n) +
                              " tokens from position " +
                              std::to_string(call.tokens[0].pos) + ")";
    BK_RETURN_IF_ERROR(upload(call).withContext(where));
    const bool allRows = wanted == n || entry.logitsTailBegin < 0;
    if (model_.decodeGraphs && !profiling && wanted == n &&
        n <= kGraphMaxTokens) {
      BK_RETURN_IF_ERROR(replay(e, entry, layout, n, where));
    } else {
      // The logits tail runs on the wanted rows alone (none: skipped), as
      // on the host backend.
      const size_t tail =
          allRows ? entry.launches.size() : size_t(entry.logitsTailBegin);
      timed_.clear();
      BK_RETURN_IF_ERROR(launchRange(e, entry, layout, 0, tail, n, where));
      if (tail < entry.launches.size() && wanted > 0) {
        BK_RETURN_IF_ERROR(
            gatherTailRows(entry, layout, call.logitRows).withContext(where));
        BK_RETURN_IF_ERROR(launchRange(e, entry, layout, tail,
                                       entry.launches.size(), wanted, where));
      }
      BK_RETURN_IF_ERROR(finishProfile(entry, where));
    }
    // The logits, rows whose destinations follow each other in one copy.
    const uint64_t rowBytes = uint64_t(program_.config.vocabSize) * 4;
    const CuDevicePtr logits =
        arena_ + uint64_t(layout.offsets[size_t(entry.logitsBuffer)]) * 4;
    for (int64_t k = 0; k < wanted;) {
      const int64_t row0 = allRows ? call.logitRows[size_t(k)] : k;
      int64_t len = 1;
      while (k + len < wanted &&
             call.logitDest[size_t(k + len)] ==
                 call.logitDest[size_t(k)] + len * program_.config.vocabSize &&
             (allRows ? call.logitRows[size_t(k + len)] : k + len) ==
                 row0 + len)
        ++len;
      BK_RETURN_IF_ERROR(
          api_.check("cuMemcpyDtoHAsync",
                     api_.memcpyDtoHAsync(call.logitDest[size_t(k)],
                                          logits + uint64_t(row0) * rowBytes,
                                          size_t(len) * rowBytes, stream_))
              .withContext(where));
      k += len;
    }
    // A kernel fault surfaces here (the launches are asynchronous).
    return api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_))
        .withContext(where);
  }

  Status clearSlot(int slot) override {
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      if (d.growing())
        continue;
      const uint64_t slotBytes = uint64_t(d.fixedRows) * d.bytesPerRow;
      if (slotBytes > 0)
        BK_RETURN_IF_ERROR(api_.check(
            "cuMemsetD8Async",
            api_.memsetD8Async(stateBase_[i] + uint64_t(slot) * slotBytes, 0,
                               slotBytes, stream_)));
    }
    return api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_))
        .withContext("clearing a sequence slot on " + model_.deviceName());
  }

  /// Maps the pools' memory up to `page` if it is new, zeroes the page on
  /// the stream (before the next call's kernels) and records it in the host
  /// copy of the page table, uploaded with the next call.
  Status setPage(int slot, int64_t index, int32_t page) override {
    if (index >= shape_.pagesPerSlot || page < 0 || page >= shape_.pages)
      return internalError("page " + std::to_string(page) + " as page " +
                           std::to_string(index) + " of slot " +
                           std::to_string(slot) + " is outside the pool");
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      if (!d.growing())
        continue;
      const uint64_t pageBytes = uint64_t(shape_.pageRows(d)) * d.bytesPerRow;
      // Device memory the pool cannot get is the sequence's failure, as
      // running out of pages is (the engine keeps the others running).
      if (pool_[i] >= 0)
        if (Status grown = paged_[size_t(pool_[i])].grow(
                pageBytes * uint64_t(page + 1), stream_);
            !grown.isOk())
          return resourceExhausted("no device memory for state page " +
                                   std::to_string(page) + " of state '" +
                                   d.name + "': " + grown.toString());
      BK_RETURN_IF_ERROR(api_.check(
          "cuMemsetD8Async",
          api_.memsetD8Async(stateBase_[i] + uint64_t(page) * pageBytes, 0,
                             pageBytes, stream_)));
    }
    const size_t at = size_t(slot * shape_.pagesPerSlot + index);
    tableHost_[at] = page;
    dirtyBegin_ = std::min(dirtyBegin_, at);
    dirtyEnd_ = std::max(dirtyEnd_, at + 1);
    return Status::ok();
  }

  /// Committed now: the fixed states and the mapped part of the pools.
  uint64_t stateBytes() const override {
    uint64_t total = fixedBytes_;
    for (const PagedDeviceBuffer &b : paged_)
      total += b.mapped();
    return total;
  }

  Expected<std::vector<uint8_t>> readPage(int32_t page) override {
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    std::vector<uint8_t> out;
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      if (!d.growing())
        continue;
      const uint64_t pageBytes = uint64_t(shape_.pageRows(d)) * d.bytesPerRow;
      if (page < 0 || page >= shape_.pages ||
          (pool_[i] >= 0 &&
           paged_[size_t(pool_[i])].mapped() < pageBytes * uint64_t(page + 1)))
        return outOfRange("page " + std::to_string(page) + " of state '" +
                          d.name + "' is not mapped");
      const size_t at = out.size();
      out.resize(at + pageBytes);
      BK_RETURN_IF_ERROR(api_.check(
          "cuMemcpyDtoHAsync",
          api_.memcpyDtoHAsync(out.data() + at,
                               stateBase_[i] + uint64_t(page) * pageBytes,
                               pageBytes, stream_)));
    }
    BK_RETURN_IF_ERROR(
        api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_)));
    return out;
  }

private:
  static std::string mib(uint64_t bytes) {
    return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
  }

  /// Copies the call's ids and BkToken rows, and the page-table entries set
  /// since the last call, to the device (stream-ordered).
  Status upload(const BatchCall &call) {
    const size_t n = call.ids.size();
    BK_RETURN_IF_ERROR(
        api_.check("cuMemcpyHtoDAsync",
                   api_.memcpyHtoDAsync(io_, call.ids.data(), n * 4, stream_)));
    BK_RETURN_IF_ERROR(
        api_.check("cuMemcpyHtoDAsync",
                   api_.memcpyHtoDAsync(io_ + tokOffset_, call.tokens.data(),
                                        n * sizeof(cuda::BkToken), stream_)));
    if (dirtyBegin_ < dirtyEnd_) {
      BK_RETURN_IF_ERROR(api_.check(
          "cuMemcpyHtoDAsync",
          api_.memcpyHtoDAsync(io_ + tableOffset_ + dirtyBegin_ * 4,
                               tableHost_.data() + dirtyBegin_,
                               (dirtyEnd_ - dirtyBegin_) * 4, stream_)));
      dirtyBegin_ = SIZE_MAX;
      dirtyEnd_ = 0;
    }
    // The copies above read pageable host memory: they are done with it
    // when they return, so the caller may reuse it.
    return Status::ok();
  }

  /// Moves row logitRows[k] of each buffer the tail reads to row k, in
  /// stream order (rows ascend, so no source is overwritten before it is
  /// read).
  Status gatherTailRows(const EntryDesc &entry, const ArenaLayout &layout,
                        std::span<const int32_t> logitRows) {
    for (int b : entry.tailInputs) {
      const uint64_t rowBytes =
          uint64_t(entry.buffers[size_t(b)].elemsPerToken) * 4;
      const CuDevicePtr base = arena_ + uint64_t(layout.offsets[size_t(b)]) * 4;
      for (size_t k = 0; k < logitRows.size(); ++k)
        if (logitRows[k] != int32_t(k))
          BK_RETURN_IF_ERROR(api_.check(
              "cuMemcpyDtoDAsync",
              api_.memcpyDtoDAsync(base + k * rowBytes,
                                   base + uint64_t(logitRows[k]) * rowBytes,
                                   rowBytes, stream_)));
    }
    return Status::ok();
  }

  /// Launches launches [from, to) of entry `e` on the first `rows` rows of
  /// every buffer.
  Status launchRange(size_t e, const EntryDesc &entry,
                     const ArenaLayout &layout, size_t from, size_t to,
                     int64_t rows, const std::string &where) {
    auto buffer = [&](int b) -> CuDevicePtr {
      return b < 0 ? io_ : arena_ + uint64_t(layout.offsets[size_t(b)]) * 4;
    };
    const std::vector<PreparedLaunch> &prepared = model_.launches[e];
    for (size_t i = from; i < to; ++i) {
      const LaunchDesc &l = entry.launches[i];
      const PreparedLaunch &p = prepared[i];
      cuda::BkLaunch args;
      args.tokens = rows;
      args.tok = reinterpret_cast<const cuda::BkToken *>(io_ + tokOffset_);
      args.tokenIds = reinterpret_cast<const int32_t *>(io_);
      args.pageTable = reinterpret_cast<const int32_t *>(io_ + tableOffset_);
      args.pagesPerSlot = shape_.pagesPerSlot;
      if (p.scratchBytes > 0)
        args.scratch = reinterpret_cast<void *>(scratch_ + p.scratchOffset);
      for (size_t j = 0; j < l.inputs.size(); ++j)
        args.in[j] = reinterpret_cast<const void *>(buffer(l.inputs[j]));
      for (size_t j = 0; j < l.outputs.size(); ++j)
        args.out[j] = reinterpret_cast<void *>(buffer(l.outputs[j]));
      args.weights = reinterpret_cast<const void *const *>(p.weights);
      args.scales = reinterpret_cast<const void *const *>(p.scales);
      for (size_t j = 0; j < l.states.size(); ++j) {
        const size_t s = size_t(l.states[j]);
        const StateDesc &d = program_.states[s];
        args.states[j] = reinterpret_cast<void *>(stateBase_[s]);
        args.stateRows[j] = d.growing() ? shape_.pageRows(d) : d.fixedRows;
      }
      void *params[] = {&args};
      if (profiling) {
        timed_.push_back(i);
        BK_RETURN_IF_ERROR(
            api_.check("cuEventRecord",
                       api_.eventRecord(eventFor(2 * i), stream_))
                .withContext(where));
      }
      for (const PreparedKernel &k : p.kernels)
        if (cuda::CuResult r = api_.launchKernel(
                k.function, unsigned(k.grid.gridX(rows)),
                unsigned(k.grid.gridY(rows)), 1, unsigned(k.grid.block), 1, 1,
                0, stream_, params, nullptr))
          return api_.error("cuLaunchKernel", r)
              .withContext(where + ": launch " + std::to_string(i) +
                           ", kernel '" + l.kernel + "' of layer " +
                           std::to_string(l.layer));
      if (profiling)
        BK_RETURN_IF_ERROR(
            api_.check("cuEventRecord",
                       api_.eventRecord(eventFor(2 * i + 1), stream_))
                .withContext(where));
      if (profiling && l.id == KernelId::Moe) {
        // Read before a later launch may reuse the buffer; the call's
        // final synchronize completes the copy.
        const auto &moe = std::get<MoeParams>(l.params);
        std::vector<int32_t> &ids =
            routes.emplace_back(size_t(rows * moe.topk));
        BK_RETURN_IF_ERROR(
            api_.check("cuMemcpyDtoHAsync",
                       api_.memcpyDtoHAsync(ids.data(), buffer(l.inputs[1]),
                                            ids.size() * 4, stream_))
                .withContext(where));
      }
    }
    return Status::ok();
  }

  /// While profiling: waits for the call and adds each launch's time.
  Status finishProfile(const EntryDesc &entry, const std::string &where) {
    if (!profiling)
      return Status::ok();
    BK_RETURN_IF_ERROR(
        api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_))
            .withContext(where));
    // Only the launches this call ran (it may skip the logits tail).
    for (size_t i : timed_) {
      float ms = 0;
      BK_RETURN_IF_ERROR(api_.check("cuEventElapsedTime",
                                    api_.eventElapsedTime(&ms, events_[2 * i],
                                                          events_[2 * i + 1]))
                             .withContext(where));
      addKernelTime(entry, i, double(ms));
    }
    timed_.clear();
    return Status::ok();
  }

  /// The i-th profiling event, created on first use (events_ only grows).
  cuda::CuEvent eventFor(size_t i) {
    while (events_.size() <= i) {
      cuda::CuEvent ev = nullptr;
      if (api_.eventCreate(&ev, 0) != 0)
        return nullptr; // cuEventRecord then reports the failure
      events_.push_back(ev);
    }
    return events_[i];
  }

  /// A call of entry `e` on `n` tokens, every one wanting its logits, as a
  /// graph replay: the first such call captures the launches, every call
  /// then launches the graph (the tokens are already uploaded).
  Status replay(size_t e, const EntryDesc &entry, const ArenaLayout &layout,
                int64_t n, const std::string &where) {
    cuda::CuGraphExec &exec = graphs_[{e, n}];
    if (!exec) {
      BK_RETURN_IF_ERROR(
          api_.check("cuStreamBeginCapture",
                     api_.streamBeginCapture(
                         stream_, cuda::kCuStreamCaptureModeThreadLocal))
              .withContext(where + ": capturing a graph"));
      Status launched =
          launchRange(e, entry, layout, 0, entry.launches.size(), n, where);
      cuda::CuGraph graph = nullptr;
      cuda::CuResult ended = api_.streamEndCapture(stream_, &graph);
      if (launched.isOk() && ended != 0)
        launched = api_.error("cuStreamEndCapture", ended)
                       .withContext(where + ": capturing a graph");
      if (launched.isOk())
        launched = api_.check("cuGraphInstantiate",
                              api_.graphInstantiate(&exec, graph, 0))
                       .withContext(where + ": instantiating a graph");
      if (graph)
        api_.graphDestroy(graph);
      BK_RETURN_IF_ERROR(launched);
    }
    return api_.check("cuGraphLaunch", api_.graphLaunch(exec, stream_))
        .withContext(where);
  }

  /// The aligned layout of entry `e` for `n` tokens; the last one per entry
  /// is kept (decode calls reuse it every step).
  const ArenaLayout &layoutFor(size_t e, const EntryDesc &entry, int64_t n) {
    if (layouts_.size() <= e)
      layouts_.resize(e + 1);
    auto &[tokens, layout] = layouts_[e];
    if (tokens != n) {
      layout = alignedArenaLayout(entry, n);
      tokens = n;
    }
    return layout;
  }

  const CudaModel &model_;
  const cuda::CudaDriverApi &api_;
  const Program &program_;
  const EngineShape shape_;
  cuda::CuStream stream_ = nullptr;
  std::vector<CuDevicePtr> stateBase_; // per state: slot 0's rows or page 0
  std::vector<int> pool_;              // per state: index in paged_, or -1
  CuDevicePtr fixed_ = 0;              // the states without a paged pool
  uint64_t fixedBytes_ = 0;
  std::vector<PagedDeviceBuffer> paged_; // the large pools
  CuDevicePtr arena_ = 0;
  CuDevicePtr io_ = 0; // ids, then BkToken rows, then the page table
  uint64_t tokOffset_ = 0, tableOffset_ = 0;
  std::vector<int32_t> tableHost_; // the page table, [slots][pagesPerSlot]
  size_t dirtyBegin_ = SIZE_MAX, dirtyEnd_ = 0; // entries not uploaded
  CuDevicePtr scratch_ = 0; // the kernels' scratch (PreparedLaunch)
  std::map<std::pair<size_t, int64_t>, cuda::CuGraphExec> graphs_;
  std::vector<cuda::CuEvent> events_; // profiling: before/after each launch
  std::vector<size_t> timed_;         // profiling: the launches of this call
  int64_t arenaElems_ = 0;
  std::vector<std::pair<int64_t, ArenaLayout>> layouts_;
};

} // namespace

Expected<std::unique_ptr<EngineBackend>>
CudaModel::createEngine(const Program &program,
                        const EngineShape &shape) const {
  auto engine = std::make_unique<CudaEngine>(*this, program, shape);
  BK_RETURN_IF_ERROR(engine->init());
  return std::unique_ptr<EngineBackend>(std::move(engine));
}

} // namespace birkhoff::rt
