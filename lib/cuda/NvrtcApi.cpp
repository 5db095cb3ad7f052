//===- NvrtcApi.cpp -------------------------------------------------------===//
#include "cuda/NvrtcApi.h"
#include "cuda/DynamicLibrary.h"

#include <cstdlib>

namespace birkhoff::cuda {

NvrtcApi::~NvrtcApi() = default;

Expected<std::unique_ptr<NvrtcApi>>
NvrtcApi::load(const std::vector<std::string> &candidates) {
  // Where a CUDA driver is installed, NVRTC may answer from the driver's
  // compute cache; ptxas then never runs and prints no resource report, and
  // Birkhoff records registers and spills for every kernel. NVRTC reads the
  // switch when it is loaded, so it is set before.
  ::setenv("CUDA_CACHE_DISABLE", "1", /*overwrite=*/1);
  auto lib = DynamicLibrary::openFirst(candidates);
  if (!lib)
    return lib.status().withContext("NVRTC (libnvrtc) is not available");
  auto api = std::make_unique<NvrtcApi>();
  const DynamicLibrary &l = **lib;
  BK_RETURN_IF_ERROR(bindSymbol(l, "nvrtcVersion", &api->version));
  BK_RETURN_IF_ERROR(bindSymbol(l, "nvrtcCreateProgram", &api->createProgram));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "nvrtcCompileProgram", &api->compileProgram));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "nvrtcGetProgramLogSize", &api->getProgramLogSize));
  BK_RETURN_IF_ERROR(bindSymbol(l, "nvrtcGetProgramLog", &api->getProgramLog));
  BK_RETURN_IF_ERROR(bindSymbol(l, "nvrtcGetCUBINSize", &api->getCubinSize));
  BK_RETURN_IF_ERROR(bindSymbol(l, "nvrtcGetCUBIN", &api->getCubin));
  BK_RETURN_IF_ERROR(bindSymbol(l, "nvrtcGetPTXSize", &api->getPtxSize));
  BK_RETURN_IF_ERROR(bindSymbol(l, "nvrtcGetPTX", &api->getPtx));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "nvrtcDestroyProgram", &api->destroyProgram));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "nvrtcGetErrorString", &api->getErrorString));
  if (NvrtcResult r = api->version(&api->major, &api->minor))
    return api->error("nvrtcVersion", r);
  api->libraryPath = l.path();
  api->lib_ = lib.take();
  return api;
}

Expected<const NvrtcApi *> NvrtcApi::get() {
  // Loaded once; the Expected (value or error) lives for the process.
  static Expected<std::unique_ptr<NvrtcApi>> loaded = [] {
    std::vector<std::string> candidates;
    if (const char *p = std::getenv("BIRKHOFF_NVRTC_PATH"))
      candidates.push_back(p);
    candidates.push_back("libnvrtc.so.13");
    candidates.push_back("libnvrtc.so");
    return load(candidates);
  }();
  if (!loaded)
    return loaded.status();
  return static_cast<const NvrtcApi *>(loaded->get());
}

Status NvrtcApi::error(const char *call, NvrtcResult r) const {
  const char *s = getErrorString ? getErrorString(r) : nullptr;
  return internalError(std::string(call) + " failed (" + std::to_string(r) +
                       "): " + (s ? s : "unknown NVRTC error"));
}

} // namespace birkhoff::cuda
