//===- CudaBackend.cpp - Loading a "cuda" artifact onto a GPU -------------===//
#include "CudaBackend.h"

#include "CudaModel.h"
#include "ScratchLayout.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace birkhoff::rt {

using cuda::CuDevicePtr;

namespace {

std::string mib(uint64_t bytes) {
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

/// Where each weight a launch reads goes in one device block. Weights that
/// lie close together in the mapped file keep their relative placement, so
/// each such run is one copy; runs start 256-byte aligned, and the file's
/// 64-byte alignment of each weight carries over.
struct WeightPlacement {
  std::vector<int64_t> deviceOffset; // per program weight; -1: not uploaded
  struct Run {
    const uint8_t *src;
    uint64_t bytes, deviceOffset;
  };
  std::vector<Run> runs;
  uint64_t bytes = 0;
};

WeightPlacement placeWeights(const Program &prog) {
  std::set<int> used;
  for (const EntryDesc &e : prog.entries)
    for (const LaunchDesc &l : e.launches)
      for (int w : l.weights)
        if (w >= 0) {
          used.insert(w);
          if (prog.weights[size_t(w)].scale >= 0)
            used.insert(prog.weights[size_t(w)].scale);
        }
  std::vector<int> order(used.begin(), used.end());
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return prog.weights[size_t(a)].data < prog.weights[size_t(b)].data;
  });
  constexpr uint64_t kMaxGap = 1u << 20; // copy across gaps up to 1 MiB
  WeightPlacement p;
  p.deviceOffset.assign(prog.weights.size(), -1);
  // A run never spans two host allocations (the mapped file, the generated
  // weights): the bytes between them are not ours to read.
  int runAllocation = -1;
  for (int w : order) {
    const WeightDesc &d = prog.weights[size_t(w)];
    WeightPlacement::Run *run = p.runs.empty() ? nullptr : &p.runs.back();
    if (run && d.allocation != runAllocation)
      run = nullptr;
    runAllocation = d.allocation;
    if (run && d.data >= run->src + run->bytes &&
        uint64_t(d.data - (run->src + run->bytes)) <= kMaxGap) {
      run->bytes = uint64_t(d.data + d.size - run->src);
    } else if (!run || d.data >= run->src + run->bytes) {
      uint64_t start = (p.bytes + 255) / 256 * 256;
      p.runs.push_back({d.data, d.size, start});
      run = &p.runs.back();
    } else {
      // Overlaps the current run (cannot happen for a verified artifact,
      // whose weights are disjoint): extend it to cover this weight.
      run->bytes =
          std::max<uint64_t>(run->bytes, uint64_t(d.data + d.size - run->src));
    }
    p.deviceOffset[size_t(w)] =
        int64_t(run->deviceOffset + uint64_t(d.data - run->src));
    p.bytes = std::max(p.bytes, run->deviceOffset + run->bytes);
  }
  return p;
}

} // namespace

std::optional<CudaArch> parseCudaArch(const std::string &arch) {
  if (arch.rfind("sm_", 0) != 0)
    return std::nullopt;
  size_t i = 3;
  int cap = 0;
  while (i < arch.size() && std::isdigit(static_cast<unsigned char>(arch[i])) &&
         cap < 10000)
    cap = cap * 10 + (arch[i++] - '0');
  if (i < 5 || cap < 10)
    return std::nullopt;
  CudaArch a;
  a.capability = cap;
  if (i < arch.size()) {
    // "a" (architecture-specific) and "f" (family) both need the same major;
    // "a" also the exact minor.
    if (i + 1 != arch.size() || (arch[i] != 'a' && arch[i] != 'f'))
      return std::nullopt;
    a.specific = arch[i] == 'a';
  }
  return a;
}

bool cubinRunsOn(const CudaArch &arch, int major, int minor) {
  int cap = major * 10 + minor;
  if (arch.specific)
    return cap == arch.capability;
  return major == arch.capability / 10 && minor >= arch.capability % 10;
}

CudaModel::~CudaModel() {
  if (!context)
    return;
  // Best effort: the process may be tearing down the driver already.
  api.ctxSetCurrent(context);
  for (cuda::CuModule m : modules)
    if (m)
      api.moduleUnload(m);
  if (launchTables)
    api.memFree(launchTables);
  if (weightBlock)
    api.memFree(weightBlock);
  api.primaryCtxRelease(device);
}

Status CudaModel::makeCurrent() const {
  return api.check("cuCtxSetCurrent", api.ctxSetCurrent(context));
}

Expected<uint64_t> CudaModel::freeMemory() const {
  size_t free = 0, total = 0;
  BK_RETURN_IF_ERROR(api.check("cuMemGetInfo", api.memGetInfo(&free, &total)));
  return uint64_t(free);
}

std::string CudaModel::deviceName() const {
  return "cuda:" + std::to_string(ordinal) + " (" + name + ")";
}

Expected<std::unique_ptr<ModelBackend>>
makeCudaBackend(const Program &prog, int ordinal, const std::string &origin,
                bool decodeGraphs, const ModelOptions::Progress &progress) {
  if (prog.target != "cuda")
    return unsupported(origin + ": artifact targets '" + prog.target +
                       "'; the CUDA backend runs artifacts compiled with "
                       "--target cuda");
  BK_ASSIGN_OR_RETURN(const cuda::CudaDriverApi *api,
                      cuda::CudaDriverApi::get());
  auto where = [&](const std::string &what) { return origin + ": " + what; };
  int count = 0;
  BK_RETURN_IF_ERROR(
      api->check("cuDeviceGetCount", api->deviceGetCount(&count)));
  if (ordinal < 0 || ordinal >= count)
    return notFound(where("no CUDA device " + std::to_string(ordinal) + " (" +
                          std::to_string(count) + " present)"));
  auto model = std::make_unique<CudaModel>(*api, ordinal);
  CudaModel &m = *model;
  m.decodeGraphs = decodeGraphs;
  BK_RETURN_IF_ERROR(
      api->check("cuDeviceGet", api->deviceGet(&m.device, ordinal)));
  char name[256] = {};
  if (api->deviceGetName(name, int(sizeof name) - 1, m.device) == 0)
    m.name = name;
  int major = 0, minor = 0;
  BK_RETURN_IF_ERROR(api->check(
      "cuDeviceGetAttribute",
      api->deviceGetAttribute(&major, cuda::kCuDeviceAttrComputeCapabilityMajor,
                              m.device)));
  BK_RETURN_IF_ERROR(api->check(
      "cuDeviceGetAttribute",
      api->deviceGetAttribute(&minor, cuda::kCuDeviceAttrComputeCapabilityMinor,
                              m.device)));
  for (const CudaKernelDesc &k : prog.cudaKernels) {
    std::optional<CudaArch> arch = parseCudaArch(k.arch);
    if (!arch)
      return corrupt(where("CUDA kernel '" + k.name + "' has architecture '" +
                           k.arch + "'"));
    if (!cubinRunsOn(*arch, major, minor))
      return unsupported(
          where("the CUDA kernels are built for " + k.arch + ", device " +
                std::to_string(ordinal) + " (" + m.name + ") is sm_" +
                std::to_string(major * 10 + minor) +
                "; recompile with birkhoff compile --target cuda --arch sm_" +
                std::to_string(major * 10 + minor) + (major >= 9 ? "a" : "")));
  }
  BK_RETURN_IF_ERROR(api->check("cuDevicePrimaryCtxRetain",
                                api->primaryCtxRetain(&m.context, m.device)));
  BK_RETURN_IF_ERROR(m.makeCurrent());

  // Kernels: one module per cubin, loaded from a heap copy, so the ELF image
  // is aligned whatever its placement in the file (the writer aligns it to 16
  // bytes; an older or foreign writer need not).
  std::vector<cuda::CuFunction> functions;
  for (const CudaKernelDesc &k : prog.cudaKernels) {
    std::vector<uint8_t> image(k.cubin, k.cubin + k.cubinSize);
    cuda::CuModule module = nullptr;
    if (cuda::CuResult r = api->moduleLoadData(&module, image.data()))
      return api->error("cuModuleLoadData", r)
          .withContext(where("loading CUDA kernel '" + k.name + "'"));
    m.modules.push_back(module);
    cuda::CuFunction fn = nullptr;
    if (cuda::CuResult r = api->moduleGetFunction(&fn, module, k.name.c_str()))
      return api->error("cuModuleGetFunction", r)
          .withContext(where("CUDA kernel '" + k.name + "'"));
    int maxThreads = 0;
    BK_RETURN_IF_ERROR(
        api->check("cuFuncGetAttribute",
                   api->funcGetAttribute(
                       &maxThreads, cuda::kCuFuncAttrMaxThreadsPerBlock, fn)));
    if (k.grid.block > maxThreads)
      return unsupported(where("CUDA kernel '" + k.name + "' launches " +
                               std::to_string(k.grid.block) +
                               " threads per block; with its registers the "
                               "device allows " +
                               std::to_string(maxThreads)));
    functions.push_back(fn);
  }

  // Weights: every weight a launch reads (and its scale), copied once.
  WeightPlacement placement = placeWeights(prog);
  BK_ASSIGN_OR_RETURN(uint64_t freeBytes, m.freeMemory());
  if (placement.bytes > freeBytes)
    return outOfRange(where("the weights need " + mib(placement.bytes) +
                            " of device memory, " + m.deviceName() + " has " +
                            mib(freeBytes) + " free"));
  m.weightBytes = placement.bytes;
  if (placement.bytes > 0) {
    BK_RETURN_IF_ERROR(
        api->check("cuMemAlloc", api->memAlloc(&m.weightBlock, placement.bytes))
            .withContext(where("allocating " + mib(placement.bytes) +
                               " for the weights")));
    for (const WeightPlacement::Run &run : placement.runs) {
      BK_RETURN_IF_ERROR(
          api->check("cuMemcpyHtoD",
                     api->memcpyHtoD(m.weightBlock + run.deviceOffset, run.src,
                                     run.bytes))
              .withContext(where("uploading the weights")));
      if (progress)
        progress("uploading weights", run.bytes, placement.bytes);
    }
  }
  auto devicePtr = [&](int w) -> uint64_t {
    if (w < 0 || placement.deviceOffset[size_t(w)] < 0)
      return 0;
    return m.weightBlock + uint64_t(placement.deviceOffset[size_t(w)]);
  };

  // Per launch: function, grid, and its weight/scale pointer arrays (one
  // device block for all launches; never an empty array).
  std::vector<uint64_t> tables;
  std::vector<std::vector<std::pair<size_t, size_t>>> tableAt;
  const ScratchLayout scratch = layoutScratch(prog);
  m.scratchBytes = scratch.bytes;
  for (size_t e = 0; e < prog.entries.size(); ++e) {
    const EntryDesc &entry = prog.entries[e];
    m.launches.emplace_back();
    tableAt.emplace_back();
    for (size_t i = 0; i < entry.launches.size(); ++i) {
      const LaunchDesc &l = entry.launches[i];
      std::string lwhere = "entry '" + entry.name + "' launch " +
                           std::to_string(i) + " ('" + l.kernel + "')";
      if (l.inputs.size() > 4 || l.outputs.size() > 4 || l.states.size() > 4)
        return unsupported(where(lwhere + " has more than 4 inputs, outputs or "
                                          "states, which the CUDA launch ABI "
                                          "holds"));
      if (l.cudaKernel < 0 || l.cudaKernel >= int(functions.size()))
        return corrupt(where(lwhere + " has no CUDA kernel"));
      PreparedLaunch p;
      for (int k : l.cudaKernelSequence()) {
        if (k < 0 || k >= int(functions.size()))
          return corrupt(
              where(lwhere + " names no CUDA kernel " + std::to_string(k)));
        const CudaKernelDesc &desc = prog.cudaKernels[size_t(k)];
        p.kernels.push_back({functions[size_t(k)], desc.grid});
      }
      p.scratchBytes = scratch.launches[e][i].bytes;
      p.scratchOffset = scratch.launches[e][i].offset;
      m.launches[e].push_back(p);
      size_t weightsAt = tables.size();
      for (int w : l.weights)
        tables.push_back(devicePtr(w));
      tables.push_back(0);
      size_t scalesAt = tables.size();
      for (int w : l.weights)
        tables.push_back(w >= 0 ? devicePtr(prog.weights[size_t(w)].scale) : 0);
      tables.push_back(0);
      tableAt[e].push_back({weightsAt, scalesAt});
    }
  }
  size_t tableBytes = tables.size() * sizeof(uint64_t);
  BK_RETURN_IF_ERROR(
      api->check("cuMemAlloc", api->memAlloc(&m.launchTables, tableBytes))
          .withContext(where("allocating the launch tables")));
  BK_RETURN_IF_ERROR(
      api->check("cuMemcpyHtoD",
                 api->memcpyHtoD(m.launchTables, tables.data(), tableBytes))
          .withContext(where("uploading the launch tables")));
  for (size_t e = 0; e < m.launches.size(); ++e)
    for (size_t i = 0; i < m.launches[e].size(); ++i) {
      m.launches[e][i].weights = m.launchTables + tableAt[e][i].first * 8;
      m.launches[e][i].scales = m.launchTables + tableAt[e][i].second * 8;
    }
  // A synchronous copy from pageable memory may return before its DMA lands;
  // sessions launch on their own non-blocking streams, which would not wait.
  BK_RETURN_IF_ERROR(api->check("cuCtxSynchronize", api->ctxSynchronize())
                         .withContext(where("uploading the weights")));
  return std::unique_ptr<ModelBackend>(std::move(model));
}

} // namespace birkhoff::rt
