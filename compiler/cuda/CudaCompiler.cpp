//===- CudaCompiler.cpp ---------------------------------------------------===//
#include "CudaCompiler.h"
#include "CudaTemplates.h"

#include "cuda/NvrtcApi.h"

#include <map>
#include <mutex>
#include <regex>
#include <sstream>

namespace birkhoff::cuda {
namespace {

/// Destroys the NVRTC program on every path.
struct ProgramGuard {
  const NvrtcApi *api;
  NvrtcProgram prog = nullptr;
  ~ProgramGuard() {
    if (prog)
      api->destroyProgram(&prog);
  }
};

std::string programLog(const NvrtcApi &api, NvrtcProgram prog) {
  size_t size = 0;
  if (api.getProgramLogSize(prog, &size) || size == 0)
    return {};
  std::string log(size, '\0');
  if (api.getProgramLog(prog, log.data()))
    return {};
  while (!log.empty() && log.back() == '\0')
    log.pop_back();
  return log;
}

} // namespace

Status parsePtxasResources(const std::string &log, const std::string &entry,
                           CompiledKernel &k) {
  static const std::regex compiling(R"(Compiling entry function '([^']+)')");
  static const std::regex properties(R"(Function properties for (\S+))");
  static const std::regex frame(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex used(R"(Used (\d+) registers)");
  static const std::regex smem(R"((\d+) bytes smem)");
  std::istringstream in(log);
  std::string line, current, propsOf;
  bool sawRegisters = false, sawFrame = false;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, compiling)) {
      current = m[1];
      continue;
    }
    if (std::regex_search(line, m, properties)) {
      propsOf = m[1];
      continue;
    }
    if (propsOf == entry && std::regex_search(line, m, frame)) {
      k.stackBytes = std::stoi(m[1]);
      k.spillStoreBytes = std::stoi(m[2]);
      k.spillLoadBytes = std::stoi(m[3]);
      sawFrame = true;
      propsOf.clear();
      continue;
    }
    if (current == entry && std::regex_search(line, m, used)) {
      k.registers = std::stoi(m[1]);
      sawRegisters = true;
      k.sharedBytes = std::regex_search(line, m, smem) ? std::stoi(m[1]) : 0;
    }
  }
  if (!sawRegisters || !sawFrame)
    return internalError("ptxas log has no resource report for entry '" +
                         entry + "'");
  return Status::ok();
}

namespace {
Expected<CompiledKernel> compileUncached(const std::string &source,
                                         const std::string &entry,
                                         const std::string &arch);
} // namespace

Expected<CompiledKernel> compileCudaSource(const std::string &source,
                                           const std::string &entry,
                                           const std::string &arch) {
  // Identical sources (the same kernel at the same shapes, e.g. every expert
  // projection of a layer) compile once per process. This also keeps the
  // resource report: NVRTC can serve a repeated program from a cache where
  // ptxas does not run again.
  static std::mutex mutex;
  static std::map<std::string, CompiledKernel> compiled;
  std::string key = arch + '\0' + entry + '\0' + source;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = compiled.find(key); it != compiled.end())
      return it->second;
  }
  BK_ASSIGN_OR_RETURN(CompiledKernel k, compileUncached(source, entry, arch));
  std::lock_guard<std::mutex> lock(mutex);
  compiled.emplace(std::move(key), k);
  return k;
}

namespace {
Expected<CompiledKernel> compileUncached(const std::string &source,
                                         const std::string &entry,
                                         const std::string &arch) {
  BK_ASSIGN_OR_RETURN(const NvrtcApi *api, NvrtcApi::get());
  std::vector<const char *> headers, names;
  for (const DeviceTemplate &t : deviceTemplates()) {
    headers.push_back(t.text);
    names.push_back(t.includeName);
  }
  ProgramGuard g{api};
  std::string file = entry + ".cu";
  if (NvrtcResult r =
          api->createProgram(&g.prog, source.c_str(), file.c_str(),
                             int(headers.size()), headers.data(), names.data()))
    return api->error("nvrtcCreateProgram", r).withContext(entry);
  std::string archOpt = "-arch=" + arch;
  const char *options[] = {archOpt.c_str(), "-std=c++17", "-default-device",
                           "-Xptxas=-v", "-lineinfo"};
  NvrtcResult cr =
      api->compileProgram(g.prog, int(std::size(options)), options);
  CompiledKernel k;
  k.log = programLog(*api, g.prog);
  if (cr)
    return api->error("nvrtcCompileProgram", cr)
        .withContext("compiling CUDA kernel '" + entry + "' for " + arch +
                     "\n" + k.log);
  size_t size = 0;
  if (NvrtcResult r = api->getCubinSize(g.prog, &size))
    return api->error("nvrtcGetCUBINSize", r).withContext(entry);
  k.cubin.resize(size);
  if (NvrtcResult r =
          api->getCubin(g.prog, reinterpret_cast<char *>(k.cubin.data())))
    return api->error("nvrtcGetCUBIN", r).withContext(entry);
  if (NvrtcResult r = api->getPtxSize(g.prog, &size))
    return api->error("nvrtcGetPTXSize", r).withContext(entry);
  k.ptx.assign(size, '\0');
  if (NvrtcResult r = api->getPtx(g.prog, k.ptx.data()))
    return api->error("nvrtcGetPTX", r).withContext(entry);
  while (!k.ptx.empty() && k.ptx.back() == '\0')
    k.ptx.pop_back();
  BK_RETURN_IF_ERROR(parsePtxasResources(k.log, entry, k)
                         .withContext("compiling CUDA kernel '" + entry + "'"));
  return k;
}

} // namespace

} // namespace birkhoff::cuda
