//===- GpuTestUtil.cpp ----------------------------------------------------===//
#include "GpuTestUtil.h"

#include "CudaCompiler.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"
#include "cuda/LaunchAbi.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <span>

namespace birkhoff::cuda::gputest {
namespace {

// This process both compiles (NVRTC) and launches (the driver). The driver
// reads CUDA_CACHE_DISABLE when it loads, before NVRTC sets it, and NVRTC
// then shares the driver's cache, where a repeated program gets no ptxas
// resource report. So the switch is set before main().
const bool kComputeCacheOff = ::setenv("CUDA_CACHE_DISABLE", "1", 1) == 0;

/// Device allocations of one run, freed at the end.
struct DeviceMemory {
  const CudaDriverApi *api;
  std::vector<CuDevicePtr> ptrs;
  ~DeviceMemory() {
    for (CuDevicePtr p : ptrs)
      api->memFree(p);
  }
  Expected<CuDevicePtr> upload(const void *data, size_t bytes) {
    CuDevicePtr p = 0;
    BK_RETURN_IF_ERROR(api->check(
        "cuMemAlloc", api->memAlloc(&p, std::max<size_t>(bytes, 16))));
    ptrs.push_back(p);
    if (bytes)
      BK_RETURN_IF_ERROR(
          api->check("cuMemcpyHtoD", api->memcpyHtoD(p, data, bytes)));
    return p;
  }
};

Expected<std::vector<float>> download(const CudaDriverApi &api, CuDevicePtr p,
                                      size_t words) {
  std::vector<float> v(words);
  BK_RETURN_IF_ERROR(
      api.check("cuMemcpyDtoH", api.memcpyDtoH(v.data(), p, words * 4)));
  return v;
}

} // namespace

Expected<Gpu> gpu() {
  (void)kComputeCacheOff;
  static Expected<Gpu> g = []() -> Expected<Gpu> {
    BK_ASSIGN_OR_RETURN(const CudaDriverApi *api, CudaDriverApi::get());
    Gpu g;
    g.api = api;
    int count = 0;
    BK_RETURN_IF_ERROR(
        api->check("cuDeviceGetCount", api->deviceGetCount(&count)));
    if (count == 0)
      return notFound("no CUDA device");
    BK_RETURN_IF_ERROR(api->check("cuDeviceGet", api->deviceGet(&g.dev, 0)));
    int major = 0, minor = 0;
    BK_RETURN_IF_ERROR(
        api->check("cuDeviceGetAttribute",
                   api->deviceGetAttribute(
                       &major, kCuDeviceAttrComputeCapabilityMajor, g.dev)));
    BK_RETURN_IF_ERROR(
        api->check("cuDeviceGetAttribute",
                   api->deviceGetAttribute(
                       &minor, kCuDeviceAttrComputeCapabilityMinor, g.dev)));
    if (major != 9 || minor != 0)
      return unsupported("device is sm_" + std::to_string(major * 10 + minor) +
                         "; the generated cubins are sm_90a");
    BK_RETURN_IF_ERROR(api->check("cuDevicePrimaryCtxRetain",
                                  api->primaryCtxRetain(&g.ctx, g.dev)));
    return g;
  }();
  return g;
}

namespace {
std::function<void(Schedule &)> &scheduleEdit() {
  static std::function<void(Schedule &)> edit;
  return edit;
}
} // namespace

ScheduleEdit::ScheduleEdit(std::function<void(Schedule &)> edit) {
  scheduleEdit() = std::move(edit);
}
ScheduleEdit::~ScheduleEdit() { scheduleEdit() = nullptr; }

void forEachIndexerSchedule(KernelHarness &h, int64_t tokens,
                            const std::function<void()> &check) {
  for (int64_t rows : {int64_t(-1), int64_t(0), int64_t(10)}) {
    SCOPED_TRACE(rows < 0    ? "cluster"
                 : rows == 0 ? "scored"
                             : "scored, 10 entries in scratch");
    h.entryMaxTokens = rows < 0 ? 0 : tokens;
    std::optional<ScheduleEdit> edit;
    if (rows > 0)
      edit.emplace([rows](Schedule &s) {
        ASSERT_EQ(s.variant, "scored");
        s.rows = rows;
      });
    check();
  }
  h.entryMaxTokens = 0;
}

void forEachAttentionSchedule(KernelHarness &h, int64_t tokens,
                              const std::function<void(bool split)> &check) {
  for (int pass = 0; pass < 3; ++pass) {
    SCOPED_TRACE(pass == 0   ? "fixed"
                 : pass == 1 ? "split"
                             : "split, 3 ranges of 2-head blocks");
    h.entryMaxTokens = pass == 0 ? 0 : tokens;
    // "split" is opt-in (ScheduleOptions::splitDecodeAttention): the edit
    // asks for it, over calls of any size.
    std::optional<ScheduleEdit> edit;
    if (pass > 0)
      edit.emplace([pass](Schedule &s) {
        s.variant = "split";
        s.split = pass == 1 ? 16 : 3;
        s.rows = pass == 1 ? 4 : 2;
      });
    check(pass > 0);
  }
  h.entryMaxTokens = 0;
}

Expected<CudaLaunchSpec> specOf(const KernelHarness &h) {
  BK_ASSIGN_OR_RETURN(CudaLaunchSpec s,
                      launchSpecOf(h.launch.kernel, h.params));
  s.maxTokens = h.entryMaxTokens;
  for (int w : h.launch.weights) {
    const rt::WeightDesc &d = h.program.weights[size_t(w)];
    s.weight(d.dtype, d.shape);
  }
  return s;
}

namespace {

/// A call as the runtime gives it to the kernels: where each token belongs
/// and the state pools (fixed rows per slot, or pages through the page
/// table), launch order.
struct DeviceCall {
  std::vector<BkToken> tok;
  std::vector<std::vector<uint8_t>> pools;
  std::vector<int64_t> stateRows;
  std::vector<int32_t> pageTable;
  int64_t pagesPerSlot = 0;
};

/// What the call left: the output buffers and the pools.
struct DeviceResult {
  std::vector<std::vector<float>> outputs;
  std::vector<std::vector<uint8_t>> pools;
};

bool isGrowing(const KernelHarness &h, int state) {
  return size_t(state) < h.program.states.size() &&
         h.program.states[size_t(state)].tokensPerRow > 0;
}

/// The rows × bytes per row of a harness state.
std::vector<uint8_t> flatBytes(const KernelHarness &h, int state,
                               const std::vector<float> &words) {
  auto [rows, rowBytes] = h.stateShapes[size_t(state)];
  std::vector<uint8_t> b(size_t(rows * rowBytes));
  std::memcpy(b.data(), words.data(), std::min(b.size(), words.size() * 4));
  return b;
}

/// The harness's f32 words of a state from its rows × bytes per row.
std::vector<float> stateWords(const KernelHarness &h, int state,
                              const uint8_t *bytes) {
  auto [rows, rowBytes] = h.stateShapes[size_t(state)];
  std::vector<float> w(h.stateData[size_t(state)].size(), 0.0f);
  std::memcpy(w.data(), bytes, size_t(rows * rowBytes));
  return w;
}

/// Runs the launch once, or `reps` more times after it with the wall time per
/// launch in *msPerLaunch.
Expected<DeviceResult> launchOnGpu(const Gpu &g, const KernelHarness &h,
                                   const DeviceCall &call, int reps,
                                   double *msPerLaunch) {
  const CudaDriverApi &api = *g.api;
  const int64_t tokens = int64_t(call.tok.size());
  BK_ASSIGN_OR_RETURN(CudaLaunchSpec spec, specOf(h));
  spec = scheduled(spec);
  if (scheduleEdit())
    scheduleEdit()(*spec.schedule);
  BK_ASSIGN_OR_RETURN(KernelSource ks, generateKernelSource(spec));
  // The launch's kernels in order (KernelSource::then), one module each.
  const std::vector<const KernelSource *> sources = ks.sequence();
  struct Modules {
    const CudaDriverApi &api;
    std::vector<CuModule> m;
    ~Modules() {
      for (CuModule x : m)
        api.moduleUnload(x);
    }
  } modules{api, {}};
  std::vector<std::pair<CuFunction, GridRule>> fns;
  for (const KernelSource *src : sources) {
    BK_ASSIGN_OR_RETURN(CompiledKernel k,
                        compileCudaSource(src->source, src->entry));
    CuModule module = nullptr;
    BK_RETURN_IF_ERROR(api.check("cuModuleLoadData",
                                 api.moduleLoadData(&module, k.cubin.data())));
    modules.m.push_back(module);
    CuFunction fn = nullptr;
    BK_RETURN_IF_ERROR(
        api.check("cuModuleGetFunction",
                  api.moduleGetFunction(&fn, module, src->entry.c_str())));
    fns.push_back({fn, src->grid});
  }
  DeviceMemory mem{&api, {}};
  BkLaunch L;
  L.tokens = tokens;
  BK_ASSIGN_OR_RETURN(
      CuDevicePtr tokp,
      mem.upload(call.tok.data(), call.tok.size() * sizeof(BkToken)));
  L.tok = reinterpret_cast<const BkToken *>(tokp);
  std::vector<uint64_t> wptrs, sptrs;
  for (int w : h.launch.weights) {
    const rt::WeightDesc &d = h.program.weights[size_t(w)];
    const auto &bytes = h.weightBytes[size_t(w)];
    BK_ASSIGN_OR_RETURN(CuDevicePtr p, mem.upload(bytes.data(), bytes.size()));
    wptrs.push_back(p);
    uint64_t sp = 0;
    if (d.scale >= 0) {
      const auto &sb = h.weightBytes[size_t(d.scale)];
      BK_ASSIGN_OR_RETURN(CuDevicePtr q, mem.upload(sb.data(), sb.size()));
      sp = q;
    }
    sptrs.push_back(sp);
  }
  wptrs.push_back(0), sptrs.push_back(0); // never an empty array
  BK_ASSIGN_OR_RETURN(CuDevicePtr wa,
                      mem.upload(wptrs.data(), wptrs.size() * 8));
  BK_ASSIGN_OR_RETURN(CuDevicePtr sa,
                      mem.upload(sptrs.data(), sptrs.size() * 8));
  L.weights = reinterpret_cast<const void *const *>(wa);
  L.scales = reinterpret_cast<const void *const *>(sa);
  BK_ASSIGN_OR_RETURN(CuDevicePtr tok,
                      mem.upload(h.tokenIds.data(), h.tokenIds.size() * 4));
  L.tokenIds = reinterpret_cast<const int32_t *>(tok);
  for (size_t i = 0; i < h.launch.inputs.size(); ++i) {
    int b = h.launch.inputs[i];
    if (b < 0) {
      L.in[i] = L.tokenIds;
      continue;
    }
    const auto &buf = h.buffers[size_t(b)];
    BK_ASSIGN_OR_RETURN(CuDevicePtr p, mem.upload(buf.data(), buf.size() * 4));
    L.in[i] = reinterpret_cast<const void *>(p);
  }
  std::vector<CuDevicePtr> outs, states;
  for (size_t i = 0; i < h.launch.outputs.size(); ++i) {
    const auto &buf = h.buffers[size_t(h.launch.outputs[i])];
    BK_ASSIGN_OR_RETURN(CuDevicePtr p, mem.upload(buf.data(), buf.size() * 4));
    L.out[i] = reinterpret_cast<void *>(p);
    outs.push_back(p);
  }
  for (size_t i = 0; i < call.pools.size(); ++i) {
    BK_ASSIGN_OR_RETURN(CuDevicePtr p,
                        mem.upload(call.pools[i].data(), call.pools[i].size()));
    L.states[i] = reinterpret_cast<void *>(p);
    L.stateRows[i] = call.stateRows[i];
    states.push_back(p);
  }
  if (!call.pageTable.empty()) {
    BK_ASSIGN_OR_RETURN(CuDevicePtr p,
                        mem.upload(call.pageTable.data(),
                                   call.pageTable.size() * sizeof(int32_t)));
    L.pageTable = reinterpret_cast<const int32_t *>(p);
    L.pagesPerSlot = call.pagesPerSlot;
  }
  uint64_t scratchBytes = 0;
  for (const KernelSource *src : sources)
    scratchBytes = std::max(scratchBytes, src->scratchBytes);
  if (scratchBytes > 0) { // zeroed, as a session's scratch starts
    std::vector<uint8_t> zeros(size_t(scratchBytes), 0);
    BK_ASSIGN_OR_RETURN(CuDevicePtr p, mem.upload(zeros.data(), zeros.size()));
    L.scratch = reinterpret_cast<void *>(p);
  }
  void *params[] = {&L};
  auto launchAll = [&]() -> Status {
    for (const auto &[fn, gr] : fns)
      BK_RETURN_IF_ERROR(api.check(
          "cuLaunchKernel",
          api.launchKernel(fn, unsigned(gr.gridX(tokens)),
                           unsigned(gr.gridY(tokens)), 1, unsigned(gr.block), 1,
                           1, 0, nullptr, params, nullptr)));
    return Status::ok();
  };
  BK_RETURN_IF_ERROR(launchAll());
  BK_RETURN_IF_ERROR(api.check("cuCtxSynchronize", api.ctxSynchronize()));
  if (reps > 0 && msPerLaunch) {
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r)
      BK_RETURN_IF_ERROR(launchAll());
    BK_RETURN_IF_ERROR(api.check("cuCtxSynchronize", api.ctxSynchronize()));
    *msPerLaunch = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - t0)
                       .count() /
                   reps;
  }
  DeviceResult result;
  for (size_t i = 0; i < outs.size(); ++i) {
    BK_ASSIGN_OR_RETURN(
        std::vector<float> v,
        download(api, outs[i], h.buffers[size_t(h.launch.outputs[i])].size()));
    result.outputs.push_back(std::move(v));
  }
  for (size_t i = 0; i < states.size(); ++i) {
    std::vector<uint8_t> b(call.pools[i].size());
    BK_RETURN_IF_ERROR(api.check(
        "cuMemcpyDtoH", api.memcpyDtoH(b.data(), states[i], b.size())));
    result.pools.push_back(std::move(b));
  }
  return result;
}

/// One sequence from `start` in slot 0: fixed states as the harness holds
/// them, growing states in one page of all their rows rounded up to a power
/// of two (zero-padded).
DeviceCall singleSequence(const KernelHarness &h, int64_t tokens,
                          int64_t start) {
  DeviceCall c;
  for (int64_t t = 0; t < tokens; ++t)
    c.tok.push_back({int32_t(start + t), 0, 0, int32_t(tokens - 1)});
  for (int s : h.launch.states) {
    std::vector<uint8_t> b = flatBytes(h, s, h.stateData[size_t(s)]);
    int64_t rows = h.stateShapes[size_t(s)].first;
    if (isGrowing(h, s)) {
      int64_t pageRows = 1;
      while (pageRows < rows)
        pageRows <<= 1;
      b.resize(size_t(pageRows * h.stateShapes[size_t(s)].second), 0);
      rows = pageRows;
      c.pageTable = {0};
      c.pagesPerSlot = 1;
    }
    c.pools.push_back(std::move(b));
    c.stateRows.push_back(rows);
  }
  return c;
}

Expected<LaunchResult> launchSingle(const Gpu &g, const KernelHarness &h,
                                    int64_t tokens, int64_t start, int reps,
                                    double *msPerLaunch) {
  BK_ASSIGN_OR_RETURN(
      DeviceResult d,
      launchOnGpu(g, h, singleSequence(h, tokens, start), reps, msPerLaunch));
  LaunchResult result;
  result.outputs = std::move(d.outputs);
  for (size_t i = 0; i < d.pools.size(); ++i)
    result.states.push_back(
        stateWords(h, h.launch.states[i], d.pools[i].data()));
  return result;
}

/// Where a batch's states live on the device: per launch state, whether it
/// is growing, and the slots' page table.
struct BatchPlacement {
  std::vector<bool> growing;
  std::vector<int64_t> stateRows; // fixed: rows per slot; growing: page rows
  std::vector<int32_t> pageTable;
  int64_t pagesPerSlot = 0;
  int64_t pages = 0;

  /// Byte offset of row r of `slot` in pool i (rows of rowBytes).
  int64_t offset(size_t i, int32_t slot, int64_t r, int64_t rowBytes) const {
    if (!growing[i])
      return (int64_t(slot) * stateRows[i] + r) * rowBytes;
    int64_t page = pageTable[size_t(slot * pagesPerSlot + r / stateRows[i])];
    return (page * stateRows[i] + r % stateRows[i]) * rowBytes;
  }
};

Expected<BatchPlacement> placementOf(const KernelHarness &h,
                                     const BatchPaging &paging) {
  if (paging.pageRows < 1 || (paging.pageRows & (paging.pageRows - 1)))
    return invalidArgument("page rows must be a power of two");
  BatchPlacement p;
  for (int s : h.launch.states) {
    int64_t rows = h.stateShapes[size_t(s)].first;
    bool g = isGrowing(h, s);
    p.growing.push_back(g);
    p.stateRows.push_back(g ? paging.pageRows : rows);
    if (g)
      p.pagesPerSlot = std::max(p.pagesPerSlot,
                                (rows + paging.pageRows - 1) / paging.pageRows);
  }
  if (p.pagesPerSlot > 0) {
    // Every slot's pages, shuffled over a pool with a few pages to spare.
    p.pages = paging.slots * p.pagesPerSlot + 3;
    std::vector<int32_t> perm(size_t(p.pages));
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937 r(paging.seed);
    std::shuffle(perm.begin(), perm.end(), r);
    perm.resize(size_t(paging.slots * p.pagesPerSlot));
    p.pageTable = std::move(perm);
  }
  return p;
}

/// Swaps the launch's buffers (and token ids) of a harness that holds
/// `total` tokens for rows [row, row + n) of them; restores them when done.
class SequenceRows {
public:
  SequenceRows(KernelHarness &h, int64_t total, int64_t row, int64_t n)
      : h_(h), savedIds_(h.tokenIds) {
    std::vector<int> bufs = h.launch.inputs;
    bufs.insert(bufs.end(), h.launch.outputs.begin(), h.launch.outputs.end());
    for (int b : bufs) {
      if (b < 0) {
        if (int64_t(h.tokenIds.size()) == total)
          h.tokenIds.assign(savedIds_.begin() + row,
                            savedIds_.begin() + row + n);
        continue;
      }
      if (saved_.count(b))
        continue;
      std::vector<float> &buf = h.buffers[size_t(b)];
      int64_t elems = int64_t(buf.size()) / total;
      saved_[b] = buf;
      buf.assign(saved_[b].begin() + row * elems,
                 saved_[b].begin() + (row + n) * elems);
    }
  }
  ~SequenceRows() {
    for (auto &[b, v] : saved_)
      h_.buffers[size_t(b)] = std::move(v);
    h_.tokenIds = std::move(savedIds_);
  }

private:
  KernelHarness &h_;
  std::vector<int32_t> savedIds_;
  std::map<int, std::vector<float>> saved_;
};

Status checkBatch(const KernelHarness &h, const std::vector<BatchSeq> &seqs,
                  const SeqStates &states, const BatchPaging &paging) {
  if (states.size() != seqs.size())
    return invalidArgument("one set of states per sequence");
  std::set<int32_t> slots;
  int64_t total = 0;
  for (size_t k = 0; k < seqs.size(); ++k) {
    if (seqs[k].slot < 0 || seqs[k].slot >= paging.slots ||
        !slots.insert(seqs[k].slot).second)
      return invalidArgument("sequences need distinct slots below " +
                             std::to_string(paging.slots));
    if (states[k].size() != h.launch.states.size())
      return invalidArgument("a sequence's states are the launch's");
    total += seqs[k].tokens;
  }
  if (total < 1)
    return invalidArgument("a batch of no tokens");
  std::vector<int> bufs = h.launch.inputs;
  bufs.insert(bufs.end(), h.launch.outputs.begin(), h.launch.outputs.end());
  for (int b : bufs)
    if (b >= 0 && h.buffers[size_t(b)].size() % size_t(total))
      return invalidArgument("a buffer is not rows of the batch's tokens");
  return Status::ok();
}

} // namespace

Expected<LaunchResult> runLaunchOnGpu(const Gpu &g, const KernelHarness &h,
                                      int64_t tokens, int64_t start) {
  return launchSingle(g, h, tokens, start, 0, nullptr);
}

Expected<double> timeLaunchOnGpu(const Gpu &g, const KernelHarness &h,
                                 int64_t tokens, int64_t start, int reps) {
  double ms = 0;
  BK_RETURN_IF_ERROR(launchSingle(g, h, tokens, start, reps, &ms).status());
  return ms;
}

Expected<std::vector<std::vector<float>>>
runOnGpu(const Gpu &g, const KernelHarness &h, int64_t tokens, int64_t start) {
  BK_ASSIGN_OR_RETURN(LaunchResult r, runLaunchOnGpu(g, h, tokens, start));
  return std::move(r.outputs);
}

std::pair<LaunchResult, LaunchResult>
runBothFull(const Gpu &g, KernelHarness &h, const HostKernelRef &fn,
            int64_t tokens, int64_t start) {
  auto dev = runLaunchOnGpu(g, h, tokens, start);
  EXPECT_TRUE(dev.isOk()) << dev.status().toString();
  if (!dev)
    return {};
  Status s = h.run(fn, tokens, start);
  EXPECT_TRUE(s.isOk()) << s.toString();
  LaunchResult host;
  for (int o : h.launch.outputs)
    host.outputs.push_back(h.buffers[size_t(o)]);
  for (int st : h.launch.states)
    host.states.push_back(h.stateData[size_t(st)]);
  return {dev.take(), std::move(host)};
}

std::pair<std::vector<std::vector<float>>, std::vector<std::vector<float>>>
runBoth(const Gpu &g, KernelHarness &h, const HostKernelRef &fn, int64_t tokens,
        int64_t start) {
  auto [d, hst] = runBothFull(g, h, fn, tokens, start);
  return {std::move(d.outputs), std::move(hst.outputs)};
}

Expected<BatchResult> runBatchOnGpu(const Gpu &g, const KernelHarness &h,
                                    const std::vector<BatchSeq> &seqs,
                                    const SeqStates &states,
                                    const BatchPaging &paging) {
  BK_RETURN_IF_ERROR(checkBatch(h, seqs, states, paging));
  BK_ASSIGN_OR_RETURN(BatchPlacement place, placementOf(h, paging));
  DeviceCall c;
  int64_t row = 0;
  for (const BatchSeq &s : seqs) {
    for (int64_t t = 0; t < s.tokens; ++t)
      c.tok.push_back({int32_t(s.start + t), s.slot, int32_t(row),
                       int32_t(row + s.tokens - 1)});
    row += s.tokens;
  }
  // Pools of random bytes (rows no sequence owns), each sequence's rows
  // placed in its slot or its pages.
  std::mt19937 junk(paging.seed * 7919u + 1u);
  for (size_t i = 0; i < h.launch.states.size(); ++i) {
    auto [rows, rowBytes] = h.stateShapes[size_t(h.launch.states[i])];
    int64_t poolRows = place.growing[i] ? place.pages * place.stateRows[i]
                                        : paging.slots * rows;
    std::vector<uint8_t> pool(size_t(poolRows * rowBytes));
    for (uint8_t &b : pool)
      b = uint8_t(junk());
    for (size_t k = 0; k < seqs.size(); ++k) {
      std::vector<uint8_t> flat =
          flatBytes(h, h.launch.states[i], states[k][i]);
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(pool.data() + place.offset(i, seqs[k].slot, r, rowBytes),
                    flat.data() + r * rowBytes, size_t(rowBytes));
    }
    c.pools.push_back(std::move(pool));
    c.stateRows.push_back(place.stateRows[i]);
  }
  c.pageTable = place.pageTable;
  c.pagesPerSlot = place.pagesPerSlot;
  BK_ASSIGN_OR_RETURN(DeviceResult d, launchOnGpu(g, h, c, 0, nullptr));
  BatchResult result;
  result.outputs = std::move(d.outputs);
  for (const BatchSeq &s : seqs) {
    std::vector<std::vector<float>> mine;
    for (size_t i = 0; i < h.launch.states.size(); ++i) {
      auto [rows, rowBytes] = h.stateShapes[size_t(h.launch.states[i])];
      std::vector<uint8_t> flat(size_t(rows * rowBytes));
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(flat.data() + r * rowBytes,
                    d.pools[i].data() + place.offset(i, s.slot, r, rowBytes),
                    size_t(rowBytes));
      mine.push_back(stateWords(h, h.launch.states[i], flat.data()));
    }
    result.states.push_back(std::move(mine));
  }
  return result;
}

Expected<BatchResult> runSequenceAloneOnGpu(const Gpu &g, KernelHarness &h,
                                            const std::vector<BatchSeq> &seqs,
                                            const SeqStates &states, size_t k,
                                            int32_t slot,
                                            const BatchPaging &paging) {
  BK_RETURN_IF_ERROR(checkBatch(h, seqs, states, paging));
  int64_t total = 0, row = 0;
  for (size_t j = 0; j < seqs.size(); ++j) {
    total += seqs[j].tokens;
    if (j < k)
      row += seqs[j].tokens;
  }
  SequenceRows rows(h, total, row, seqs[k].tokens);
  return runBatchOnGpu(g, h, {{slot, seqs[k].start, seqs[k].tokens}},
                       {states[k]}, paging);
}

Expected<BatchResult> runBatchOnHost(KernelHarness &h, const HostKernelRef &fn,
                                     const std::vector<BatchSeq> &seqs,
                                     const SeqStates &states) {
  BK_RETURN_IF_ERROR(
      checkBatch(h, seqs, states, BatchPaging{.slots = 1 << 30}));
  int64_t total = 0;
  for (const BatchSeq &s : seqs)
    total += s.tokens;
  BatchResult result;
  for (int o : h.launch.outputs)
    result.outputs.push_back(h.buffers[size_t(o)]);
  std::vector<std::vector<float>> savedStates;
  for (int s : h.launch.states)
    savedStates.push_back(h.stateData[size_t(s)]);
  int64_t row = 0;
  Status status = Status::ok();
  for (size_t k = 0; k < seqs.size() && status.isOk(); ++k) {
    const BatchSeq &s = seqs[k];
    {
      SequenceRows rows(h, total, row, s.tokens);
      for (size_t i = 0; i < h.launch.states.size(); ++i)
        h.stateData[size_t(h.launch.states[i])] = states[k][i];
      status = h.run(fn, s.tokens, s.start);
      for (size_t o = 0; o < h.launch.outputs.size(); ++o) {
        const std::vector<float> &mine = h.buffers[size_t(h.launch.outputs[o])];
        const int64_t elems = int64_t(mine.size()) / s.tokens;
        std::copy(mine.begin(), mine.end(),
                  result.outputs[o].begin() + row * elems);
      }
      std::vector<std::vector<float>> after;
      for (int st : h.launch.states)
        after.push_back(h.stateData[size_t(st)]);
      result.states.push_back(std::move(after));
    }
    row += s.tokens;
  }
  for (size_t i = 0; i < h.launch.states.size(); ++i)
    h.stateData[size_t(h.launch.states[i])] = std::move(savedStates[i]);
  BK_RETURN_IF_ERROR(status);
  return result;
}

std::mt19937 &rng() {
  static std::mt19937 r(1234);
  return r;
}

std::vector<float> randomFloats(size_t n, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng());
  return v;
}

std::vector<float> randomBf16(size_t n, float scale) {
  std::vector<float> v = randomFloats(n, scale);
  for (float &x : v)
    x = roundBf16(x);
  return v;
}

std::vector<uint8_t> bf16Bytes(const std::vector<float> &v) {
  std::vector<uint8_t> b(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t h = floatToBf16(v[i]);
    std::memcpy(&b[2 * i], &h, 2);
  }
  return b;
}

std::vector<uint8_t> randomBytes(size_t n, int lo, int hi, bool avoidFp8Nan) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<uint8_t> v(n);
  for (uint8_t &x : v) {
    do
      x = uint8_t(d(rng()));
    while (avoidFp8Nan && (x & 0x7f) == 0x7f);
  }
  return v;
}

std::vector<float> gridValues(size_t n, int lim, float step) {
  std::uniform_int_distribution<int> d(-lim, lim);
  std::vector<float> v(n);
  for (float &x : v)
    x = float(d(rng())) * step;
  return v;
}

std::vector<uint8_t> encodedRows(int64_t rows, int64_t hd, int64_t rd,
                                 bool keys) {
  auto layout = official::KvEntryLayout::make(size_t(hd), size_t(rd));
  size_t bytes =
      keys ? official::fp4KeyBytes(size_t(hd)) : layout->entryBytes();
  std::vector<uint8_t> out(size_t(rows) * bytes);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> v = randomBf16(size_t(hd));
    std::span<uint8_t> row(out.data() + r * bytes, bytes);
    if (keys)
      official::encodeFp4Key(v, row);
    else
      official::encodeKvEntry(*layout, v, row);
  }
  return out;
}

std::vector<float> intWords(const std::vector<int32_t> &v) {
  std::vector<float> w(v.size());
  std::memcpy(w.data(), v.data(), v.size() * 4);
  return w;
}

std::vector<int32_t> distinctPerRow(int64_t rows, int64_t n, int64_t k) {
  std::vector<int32_t> out(size_t(rows * k));
  std::vector<int32_t> perm(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng());
    std::copy(perm.begin(), perm.begin() + k, out.begin() + r * k);
  }
  return out;
}

void setMoeActivations(KernelHarness &h, int64_t S, int64_t K, int64_t E,
                       std::vector<float> x) {
  const int64_t elems = int64_t(x.size());
  int xb = h.addBuffer(elems), idx = h.addBuffer(S * K),
      wts = h.addBuffer(S * K), y = h.addBuffer(elems);
  h.buffers[size_t(xb)] = std::move(x);
  h.buffers[size_t(idx)] = intWords(distinctPerRow(S, E, K));
  std::vector<float> weights = randomFloats(size_t(S * K), 0.5f);
  for (float &v : weights)
    v = std::fabs(v);
  h.buffers[size_t(wts)] = std::move(weights);
  h.launch.kernel = "moe";
  h.launch.inputs = {xb, idx, wts};
  h.launch.outputs = {y};
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

void expectBitwise(const std::vector<float> &gpuOut,
                   const std::vector<float> &host, const char *what) {
  ASSERT_EQ(gpuOut.size(), host.size());
  size_t bad = 0;
  for (size_t i = 0; i < host.size(); ++i)
    if (bits(gpuOut[i]) != bits(host[i]) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: gpu " << gpuOut[i] << " (0x"
                    << std::hex << bits(gpuOut[i]) << ") host " << host[i]
                    << " (0x" << bits(host[i]) << std::dec << ")";
  EXPECT_EQ(bad, 0u) << what;
  std::printf("[gpu] agreement %s: %zu of %zu bitwise\n", what,
              host.size() - bad, host.size());
}

size_t bitwiseEqualCount(const std::vector<float> &a,
                         const std::vector<float> &b) {
  size_t same = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    same += bits(a[i]) == bits(b[i]);
  return same;
}

namespace {

// The allowance of expectWithinBf16Ulp for each host value.
class Bf16UlpBand {
public:
  Bf16UlpBand(const std::vector<float> &host, int ulps) : ulps_(ulps) {
    double ss = 0;
    for (float v : host)
      ss += double(v) * v;
    rms_ = std::sqrt(ss / double(std::max<size_t>(1, host.size())));
  }
  double allowance(float hostValue) const {
    double mag = std::max(std::fabs(double(hostValue)), 1e-3 * rms_);
    return ulps_ * std::ldexp(1.0, std::ilogb(mag) - 7);
  }
  bool within(float gpuValue, float hostValue) const {
    return std::fabs(double(gpuValue) - hostValue) <= allowance(hostValue);
  }

private:
  double rms_;
  int ulps_;
};

} // namespace

void expectWithinBf16Ulp(const std::vector<float> &gpuOut,
                         const std::vector<float> &host, const char *what,
                         int ulps) {
  ASSERT_EQ(gpuOut.size(), host.size());
  const Bf16UlpBand band(host, ulps);
  size_t bad = 0;
  double worst = 0; // in single ulps
  for (size_t i = 0; i < host.size(); ++i) {
    worst = std::max(worst, std::fabs(double(gpuOut[i]) - host[i]) * ulps /
                                band.allowance(host[i]));
    if (!band.within(gpuOut[i], host[i]) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: gpu " << gpuOut[i] << " host "
                    << host[i] << " (bf16 ulp " << band.allowance(host[i])
                    << ")";
  }
  EXPECT_EQ(bad, 0u) << what;
  // The per-op report (scripts/gpu-check.sh) collects these lines.
  std::printf("[gpu] agreement %s: %zu of %zu bitwise, worst %.3g bf16 ulps\n",
              what, bitwiseEqualCount(gpuOut, host), host.size(), worst);
}

void expectWithinBf16UlpOfRow(const std::vector<float> &gpuOut,
                              const std::vector<float> &host, int64_t rowLen,
                              const char *what, int ulps) {
  ASSERT_EQ(gpuOut.size(), host.size());
  ASSERT_GT(rowLen, 0);
  size_t bad = 0;
  double worst = 0; // in ulps of the row's largest value
  for (size_t r0 = 0; r0 < host.size(); r0 += size_t(rowLen)) {
    const size_t r1 = std::min(host.size(), r0 + size_t(rowLen));
    double big = 0;
    for (size_t i = r0; i < r1; ++i)
      big = std::max(big, std::fabs(double(host[i])));
    const double ulp = big > 0 ? std::ldexp(1.0, std::ilogb(big) - 7) : 0.0;
    for (size_t i = r0; i < r1; ++i) {
      const double d = std::fabs(double(gpuOut[i]) - host[i]);
      worst = std::max(worst, ulp > 0 ? d / ulp : (d > 0 ? INFINITY : 0.0));
      if (!(d <= ulps * ulp) && bad++ < 5)
        ADD_FAILURE() << what << "[" << i << "]: gpu " << gpuOut[i] << " host "
                      << host[i] << " (bf16 ulp of the row's largest " << ulp
                      << ")";
    }
  }
  EXPECT_EQ(bad, 0u) << what;
  std::printf("[gpu] agreement %s: %zu of %zu bitwise, worst %.3g bf16 ulps "
              "of the row's largest value\n",
              what, bitwiseEqualCount(gpuOut, host), host.size(), worst);
}

void expectNotAllZero(const std::vector<float> &v, const char *what) {
  EXPECT_TRUE(
      std::any_of(v.begin(), v.end(), [](float x) { return bits(x) != 0; }))
      << what << " is all zero";
}

int addFp8Weight(KernelHarness &h, const std::string &name, int64_t out,
                 int64_t in) {
  int64_t sr = (out + 127) / 128, sc = (in + 127) / 128;
  int s = h.addWeightRaw(name + ".scale", DType::F8E8M0, {sr, sc},
                         randomBytes(size_t(sr * sc), 118, 124));
  return h.addWeightRaw(name, DType::F8E4M3, {out, in},
                        randomBytes(size_t(out * in), 0, 255, true), s);
}

int addFp4Weight(KernelHarness &h, const std::string &name, int64_t out,
                 int64_t in) {
  int s = h.addWeightRaw(name + ".scale", DType::F8E8M0, {out, in / 32},
                         randomBytes(size_t(out * in / 32), 120, 128));
  return h.addWeightRaw(name, DType::FP4E2M1x2, {out, in},
                        randomBytes(size_t(out * in / 2), 0, 255), s);
}

void setParams(KernelHarness &h,
               std::initializer_list<std::pair<const char *, double>> params) {
  for (auto [k, v] : params)
    h.param(k, v);
}

void yarnRope(KernelHarness &h, int64_t rd, bool official) {
  setParams(h, {{"rope_dim", double(rd)},
                {"theta", 160000},
                {"yarn", 1},
                {"rope_factor", 16},
                {"original_seq_len", 65536},
                {"beta_fast", 32},
                {"beta_slow", 1}});
  if (official)
    h.param("numerics", 1);
}

} // namespace birkhoff::cuda::gputest
