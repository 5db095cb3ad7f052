//===- CudaSession.cpp - One session's device memory and its calls --------===//
//
// A session owns, in device memory: one buffer per state (the host's byte
// layout, zeroed), the activation arena (ArenaLayout.h), the call's token
// ids and its position; and a non-blocking stream. A call copies the ids in,
// launches the entry's kernels in order on the stream, copies the logits out
// and waits.
//
// Decode steps (one-token calls) are captured once per entry as a CUDA graph
// and replayed: the kernels read the position from device memory
// (BkLaunch::startAt), and the ids, arena and state buffers stay where they
// were at capture, so each step is two small copies in, one graph launch and
// the copy of the logits out.
//
//===----------------------------------------------------------------------===//
#include "ArenaLayout.h"
#include "CudaModel.h"
#include "PagedDeviceBuffer.h"

namespace birkhoff::rt {

using cuda::CuDevicePtr;

namespace {

std::string mib(uint64_t bytes) {
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

class CudaSession : public SessionBackend {
public:
  CudaSession(const CudaModel &model, const Program &program)
      : model_(model), api_(model.api), program_(program) {}

  ~CudaSession() override {
    if (!model_.makeCurrent().isOk())
      return;
    if (stream_) {
      api_.streamSynchronize(stream_);
      api_.streamDestroy(stream_);
    }
    if (fixedStates_)
      api_.memFree(fixedStates_);
    paged_.clear(); // unmapped while the context is current
    if (arena_)
      api_.memFree(arena_);
    if (tokens_)
      api_.memFree(tokens_);
    if (scratch_)
      api_.memFree(scratch_);
    for (cuda::CuGraphExec g : decodeGraphs_)
      if (g)
        api_.graphExecDestroy(g);
    for (cuda::CuEvent e : events_)
      api_.eventDestroy(e);
  }

  /// Allocates and zeroes everything; fails with OutOfRange when the device
  /// has less free memory than the session needs now. States that grow with
  /// the context and would span more than one mapping granule get a
  /// PagedDeviceBuffer (addresses for the capacity, memory as the context
  /// grows); the others share one allocation.
  Status init(int64_t capacity) {
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    BK_ASSIGN_OR_RETURN(uint64_t granule,
                        PagedDeviceBuffer::granularity(api_, model_.ordinal));
    std::vector<uint64_t> fixedOffset(program_.states.size(), 0);
    std::vector<uint64_t> pagedBytes(program_.states.size(), 0);
    uint64_t states = 0;
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      // Never a zero-byte allocation (a state may have no rows yet at a
      // small capacity); kernels only touch rows that exist.
      uint64_t bytes = std::max<uint64_t>(d.bytesFor(capacity), 256);
      if (d.tokensPerRow > 0 && bytes > granule) {
        pagedBytes[i] = bytes;
        continue;
      }
      fixedOffset[i] = (states + 255) / 256 * 256;
      states = fixedOffset[i] + bytes;
    }
    fixedBytes_ = std::max<uint64_t>(states, 256);
    int64_t arenaElems = 0, maxTokens = 1;
    for (const EntryDesc &e : program_.entries) {
      arenaElems =
          std::max(arenaElems, alignedArenaLayout(e, e.maxTokens).elems);
      maxTokens = std::max<int64_t>(maxTokens, e.maxTokens);
    }
    uint64_t arenaBytes = uint64_t(std::max<int64_t>(arenaElems, 4)) * 4;
    // The ids, then the position (8-byte aligned) graphs read.
    positionOffset_ = (uint64_t(maxTokens) * 4 + 7) / 8 * 8;
    uint64_t tokenBytes = positionOffset_ + 8;
    // One scratch block, a region per kernel (CudaModel::scratchBytes).
    const uint64_t scratchBytes = model_.scratchBytes;
    uint64_t total = fixedBytes_ + arenaBytes + tokenBytes + scratchBytes;
    BK_ASSIGN_OR_RETURN(uint64_t freeBytes, model_.freeMemory());
    if (total > freeBytes)
      return outOfRange("a session of " + std::to_string(capacity) +
                        " tokens needs " + mib(total) + " of device memory (" +
                        mib(fixedBytes_) + " fixed state, " + mib(arenaBytes) +
                        " activations, " + mib(scratchBytes) +
                        " kernel scratch), " + model_.deviceName() + " has " +
                        mib(freeBytes) + " free");
    arenaElems_ = int64_t(arenaBytes / 4);
    BK_RETURN_IF_ERROR(
        api_.check("cuStreamCreate",
                   api_.streamCreate(&stream_, cuda::kCuStreamNonBlocking)));
    BK_RETURN_IF_ERROR(
        api_.check("cuMemAlloc", api_.memAlloc(&fixedStates_, fixedBytes_))
            .withContext("allocating the session state"));
    for (size_t i = 0; i < program_.states.size(); ++i) {
      const StateDesc &d = program_.states[i];
      stateRows_.push_back(d.rowsFor(capacity));
      stateGrowth_.push_back(-1);
      if (pagedBytes[i] == 0) {
        stateBuffers_.push_back(fixedStates_ + fixedOffset[i]);
        continue;
      }
      Expected<PagedDeviceBuffer> b = PagedDeviceBuffer::reserve(
          api_, model_.ordinal, pagedBytes[i], granule);
      if (!b)
        return b.status().withContext("state '" + d.name + "'");
      stateBuffers_.push_back(b->base());
      stateGrowth_.back() = int(paged_.size());
      paged_.push_back(b.take());
    }
    BK_RETURN_IF_ERROR(
        api_.check("cuMemAlloc", api_.memAlloc(&arena_, arenaBytes))
            .withContext("allocating the activation arena"));
    BK_RETURN_IF_ERROR(
        api_.check("cuMemAlloc", api_.memAlloc(&tokens_, tokenBytes))
            .withContext("allocating the token ids"));
    if (scratchBytes > 0) {
      BK_RETURN_IF_ERROR(
          api_.check("cuMemAlloc", api_.memAlloc(&scratch_, scratchBytes))
              .withContext("allocating " + mib(scratchBytes) +
                           " of kernel scratch"));
      BK_RETURN_IF_ERROR(
          api_.check("cuMemsetD8Async",
                     api_.memsetD8Async(scratch_, 0, scratchBytes, stream_)));
    }
    decodeGraphs_.assign(program_.entries.size(), nullptr);
    // The arena starts zeroed too, so a kernel reading a buffer before any
    // launch wrote it (none should) sees what the host backend sees.
    BK_RETURN_IF_ERROR(api_.check(
        "cuMemsetD8Async", api_.memsetD8Async(arena_, 0, arenaBytes, stream_)));
    return reset();
  }

  Status run(const EntryDesc &entry, std::span<const int32_t> tokens,
             int64_t start, float *allLogits, float *lastLogits) override {
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    const int64_t n = int64_t(tokens.size());
    const size_t e = size_t(&entry - program_.entries.data());
    if (e >= model_.launches.size() || n < 1 || n > entry.maxTokens)
      return internalError("CUDA session: bad call of entry '" + entry.name +
                           "' with " + std::to_string(n) + " tokens");
    const ArenaLayout &layout = layoutFor(e, entry, n);
    if (layout.elems > arenaElems_)
      return internalError("CUDA session: the arena of '" + entry.name +
                           "' outgrew its allocation");
    std::string call = "@" + entry.name + " on " + model_.deviceName() + " (" +
                       std::to_string(n) + " tokens at position " +
                       std::to_string(start) + ")";
    BK_RETURN_IF_ERROR(commitStates(start + n).withContext(call));
    BK_RETURN_IF_ERROR(api_.check("cuMemcpyHtoDAsync",
                                  api_.memcpyHtoDAsync(tokens_, tokens.data(),
                                                       size_t(n) * 4, stream_))
                           .withContext(call));
    if (model_.decodeGraphs && n == 1 && !profiling) {
      BK_RETURN_IF_ERROR(replayDecode(e, entry, layout, start, call));
    } else {
      // Without a request for every token's logits, the logits tail runs on
      // the last token alone, as on the host backend.
      const size_t tail = lastTokenLaunchesFrom(entry, n, allLogits != nullptr);
      BK_RETURN_IF_ERROR(launchAll(e, entry, layout, n, start, 0, call, tail));
    }
    auto buffer = [&](int b) -> CuDevicePtr {
      return b < 0 ? tokens_ : arena_ + uint64_t(layout.offsets[size_t(b)]) * 4;
    };
    const int64_t vocab = program_.config.vocabSize;
    CuDevicePtr logits = buffer(entry.logitsBuffer);
    if (allLogits)
      BK_RETURN_IF_ERROR(
          api_.check("cuMemcpyDtoHAsync",
                     api_.memcpyDtoHAsync(allLogits, logits,
                                          size_t(n * vocab) * 4, stream_))
              .withContext(call));
    BK_RETURN_IF_ERROR(
        api_.check("cuMemcpyDtoHAsync",
                   api_.memcpyDtoHAsync(lastLogits,
                                        logits + uint64_t((n - 1) * vocab) * 4,
                                        size_t(vocab) * 4, stream_))
            .withContext(call));
    // A kernel fault surfaces here (the launches are asynchronous).
    return api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_))
        .withContext(call);
  }

  Status reset() override {
    BK_RETURN_IF_ERROR(model_.makeCurrent());
    BK_RETURN_IF_ERROR(
        api_.check("cuMemsetD8Async",
                   api_.memsetD8Async(fixedStates_, 0, fixedBytes_, stream_)));
    for (const PagedDeviceBuffer &b : paged_)
      if (b.mapped() > 0)
        BK_RETURN_IF_ERROR(
            api_.check("cuMemsetD8Async",
                       api_.memsetD8Async(b.base(), 0, b.mapped(), stream_)));
    return api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_))
        .withContext("clearing the session state on " + model_.deviceName());
  }

  /// Committed now: the fixed states and the mapped part of the growing
  /// ones (which grows with the context, up to their capacity).
  uint64_t stateBytes() const override {
    uint64_t total = fixedBytes_;
    for (const PagedDeviceBuffer &b : paged_)
      total += b.mapped();
    return total;
  }

private:
  /// Maps the growing states' memory for a context of `tokens` tokens (new
  /// memory is zeroed on the stream, before the call's kernels).
  Status commitStates(int64_t tokens) {
    for (size_t i = 0; i < program_.states.size(); ++i) {
      if (stateGrowth_[i] < 0)
        continue;
      const StateDesc &d = program_.states[i];
      PagedDeviceBuffer &b = paged_[size_t(stateGrowth_[i])];
      BK_RETURN_IF_ERROR(b.grow(d.bytesFor(tokens), stream_)
                             .withContext("growing state '" + d.name + "' to " +
                                          std::to_string(tokens) +
                                          " tokens of context"));
    }
    return Status::ok();
  }

  /// Launches every kernel of entry `e` for `n` tokens on the stream; with
  /// `startAt` set, kernels read the position from that device address.
  /// Launches from `tailFrom` on (the logits tail) run on the last token
  /// alone: its rows of every buffer.
  Status launchAll(size_t e, const EntryDesc &entry, const ArenaLayout &layout,
                   int64_t n, int64_t start, CuDevicePtr startAt,
                   const std::string &call, size_t tailFrom = SIZE_MAX) {
    int64_t row = 0; // the first token the launch runs on
    auto buffer = [&](int b) -> CuDevicePtr {
      if (b < 0)
        return tokens_ + uint64_t(row) * 4;
      return arena_ + (uint64_t(layout.offsets[size_t(b)]) +
                       uint64_t(row * entry.buffers[size_t(b)].elemsPerToken)) *
                          4;
    };
    const std::vector<PreparedLaunch> &prepared = model_.launches[e];
    for (size_t i = 0; i < entry.launches.size(); ++i) {
      const LaunchDesc &l = entry.launches[i];
      const PreparedLaunch &p = prepared[i];
      if (i == tailFrom)
        row = n - 1;
      const int64_t tokens = n - row;
      cuda::BkLaunch args;
      args.tokens = tokens;
      args.start = start + row;
      args.startAt = reinterpret_cast<const int64_t *>(startAt);
      if (p.scratchBytes > 0)
        args.scratch = reinterpret_cast<void *>(scratch_ + p.scratchOffset);
      args.tokenIds = reinterpret_cast<const int32_t *>(buffer(-1));
      for (size_t j = 0; j < l.inputs.size(); ++j)
        args.in[j] = reinterpret_cast<const void *>(buffer(l.inputs[j]));
      for (size_t j = 0; j < l.outputs.size(); ++j)
        args.out[j] = reinterpret_cast<void *>(buffer(l.outputs[j]));
      args.weights = reinterpret_cast<const void *const *>(p.weights);
      args.scales = reinterpret_cast<const void *const *>(p.scales);
      for (size_t j = 0; j < l.states.size(); ++j) {
        args.states[j] =
            reinterpret_cast<void *>(stateBuffers_[size_t(l.states[j])]);
        args.stateRows[j] = stateRows_[size_t(l.states[j])];
      }
      void *params[] = {&args};
      if (profiling)
        BK_RETURN_IF_ERROR(
            api_.check("cuEventRecord",
                       api_.eventRecord(eventFor(2 * i), stream_))
                .withContext(call));
      for (const PreparedKernel &k : p.kernels)
        if (cuda::CuResult r = api_.launchKernel(
                k.function, unsigned(k.grid.gridX(tokens)),
                unsigned(k.grid.gridY(tokens)), 1, unsigned(k.grid.block), 1, 1,
                0, stream_, params, nullptr))
          return api_.error("cuLaunchKernel", r)
              .withContext(call + ": launch " + std::to_string(i) +
                           ", kernel '" + l.kernel + "' of layer " +
                           std::to_string(l.layer));
      if (profiling)
        BK_RETURN_IF_ERROR(
            api_.check("cuEventRecord",
                       api_.eventRecord(eventFor(2 * i + 1), stream_))
                .withContext(call));
    }
    if (!profiling)
      return Status::ok();
    BK_RETURN_IF_ERROR(
        api_.check("cuStreamSynchronize", api_.streamSynchronize(stream_))
            .withContext(call));
    for (size_t i = 0; i < entry.launches.size(); ++i) {
      float ms = 0;
      BK_RETURN_IF_ERROR(api_.check("cuEventElapsedTime",
                                    api_.eventElapsedTime(&ms, events_[2 * i],
                                                          events_[2 * i + 1]))
                             .withContext(call));
      addKernelTime(entry.launches[i].kernel, double(ms));
    }
    return Status::ok();
  }

  /// The i-th profiling event, created on first use (events_ only grows).
  cuda::CuEvent eventFor(size_t i) {
    while (events_.size() <= i) {
      cuda::CuEvent e = nullptr;
      if (api_.eventCreate(&e, 0) != 0)
        return nullptr; // cuEventRecord then reports the failure
      events_.push_back(e);
    }
    return events_[i];
  }

  /// A one-token call of entry `e` as a graph replay: the first call
  /// captures the launches (reading the position from device memory), every
  /// call then uploads its position and launches the graph.
  Status replayDecode(size_t e, const EntryDesc &entry,
                      const ArenaLayout &layout, int64_t start,
                      const std::string &call) {
    const CuDevicePtr position = tokens_ + positionOffset_;
    if (!decodeGraphs_[e]) {
      BK_RETURN_IF_ERROR(
          api_.check("cuStreamBeginCapture",
                     api_.streamBeginCapture(
                         stream_, cuda::kCuStreamCaptureModeThreadLocal))
              .withContext(call + ": capturing the decode graph"));
      Status launched = launchAll(e, entry, layout, 1, start, position, call);
      cuda::CuGraph graph = nullptr;
      cuda::CuResult ended = api_.streamEndCapture(stream_, &graph);
      if (launched.isOk() && ended != 0)
        launched = api_.error("cuStreamEndCapture", ended)
                       .withContext(call + ": capturing the decode graph");
      if (launched.isOk()) {
        cuda::CuGraphExec exec = nullptr;
        launched = api_.check("cuGraphInstantiate",
                              api_.graphInstantiate(&exec, graph, 0))
                       .withContext(call + ": instantiating the decode graph");
        decodeGraphs_[e] = exec;
      }
      if (graph)
        api_.graphDestroy(graph);
      BK_RETURN_IF_ERROR(launched);
    }
    hostPosition_ = start;
    BK_RETURN_IF_ERROR(
        api_.check("cuMemcpyHtoDAsync",
                   api_.memcpyHtoDAsync(position, &hostPosition_,
                                        sizeof hostPosition_, stream_))
            .withContext(call));
    return api_
        .check("cuGraphLaunch", api_.graphLaunch(decodeGraphs_[e], stream_))
        .withContext(call);
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
  cuda::CuStream stream_ = nullptr;
  std::vector<CuDevicePtr> stateBuffers_; // per state: its base address
  std::vector<int64_t> stateRows_;        // StateView::rows of each state
  std::vector<int> stateGrowth_;          // per state: index in paged_, or -1
  CuDevicePtr fixedStates_ = 0;           // the states that do not grow
  uint64_t fixedBytes_ = 0;
  std::vector<PagedDeviceBuffer> paged_; // the states that grow
  CuDevicePtr arena_ = 0, tokens_ = 0;
  CuDevicePtr scratch_ = 0;     // the kernels' scratch (PreparedLaunch)
  uint64_t positionOffset_ = 0; // the position's place in tokens_
  int64_t hostPosition_ = 0;    // the source of its upload
  std::vector<cuda::CuGraphExec> decodeGraphs_; // per entry; null: none yet
  std::vector<cuda::CuEvent> events_; // profiling: before/after each launch
  int64_t arenaElems_ = 0;
  std::vector<std::pair<int64_t, ArenaLayout>> layouts_;
};

} // namespace

Expected<std::unique_ptr<SessionBackend>>
CudaModel::createSession(const Program &program, int64_t capacity) const {
  auto session = std::make_unique<CudaSession>(*this, program);
  BK_RETURN_IF_ERROR(session->init(capacity));
  return std::unique_ptr<SessionBackend>(std::move(session));
}

} // namespace birkhoff::rt
