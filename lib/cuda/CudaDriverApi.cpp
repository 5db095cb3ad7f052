//===- CudaDriverApi.cpp --------------------------------------------------===//
#include "cuda/CudaDriverApi.h"
#include "cuda/DynamicLibrary.h"

#include <cstdlib>

namespace birkhoff::cuda {

CudaDriverApi::~CudaDriverApi() = default;

Expected<std::unique_ptr<CudaDriverApi>>
CudaDriverApi::load(const std::vector<std::string> &candidates) {
  auto lib = DynamicLibrary::openFirst(candidates);
  if (!lib)
    return lib.status().withContext("no CUDA driver");
  auto api = std::make_unique<CudaDriverApi>();
  const DynamicLibrary &l = **lib;
  // The versioned names are what cuda.h's macros resolve to (the _v2 ABIs).
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuInit", &api->init));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuDriverGetVersion", &api->driverGetVersion));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuDeviceGetCount", &api->deviceGetCount));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuDeviceGet", &api->deviceGet));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuDeviceGetAttribute", &api->deviceGetAttribute));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuDeviceGetName", &api->deviceGetName));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuDevicePrimaryCtxRetain", &api->primaryCtxRetain));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuDevicePrimaryCtxRelease_v2", &api->primaryCtxRelease));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuCtxSetCurrent", &api->ctxSetCurrent));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuCtxSynchronize", &api->ctxSynchronize));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuModuleLoadData", &api->moduleLoadData));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuModuleUnload", &api->moduleUnload));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuModuleGetFunction", &api->moduleGetFunction));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuFuncGetAttribute", &api->funcGetAttribute));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuLaunchKernel", &api->launchKernel));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemAlloc_v2", &api->memAlloc));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemFree_v2", &api->memFree));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemcpyHtoD_v2", &api->memcpyHtoD));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemcpyDtoH_v2", &api->memcpyDtoH));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemsetD8_v2", &api->memsetD8));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemGetInfo_v2", &api->memGetInfo));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuMemcpyHtoDAsync_v2", &api->memcpyHtoDAsync));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuMemcpyDtoHAsync_v2", &api->memcpyDtoHAsync));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuMemcpyDtoDAsync_v2", &api->memcpyDtoDAsync));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemsetD8Async", &api->memsetD8Async));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuStreamCreate", &api->streamCreate));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuStreamDestroy_v2", &api->streamDestroy));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuStreamSynchronize", &api->streamSynchronize));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuGetErrorString", &api->getErrorString));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuStreamBeginCapture_v2", &api->streamBeginCapture));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuStreamEndCapture", &api->streamEndCapture));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuGraphInstantiateWithFlags", &api->graphInstantiate));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuGraphLaunch", &api->graphLaunch));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuGraphExecDestroy", &api->graphExecDestroy));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuGraphDestroy", &api->graphDestroy));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuEventCreate", &api->eventCreate));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuEventDestroy_v2", &api->eventDestroy));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuEventRecord", &api->eventRecord));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuEventElapsedTime_v2", &api->eventElapsedTime));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemGetAllocationGranularity",
                                &api->memGetAllocationGranularity));
  BK_RETURN_IF_ERROR(
      bindSymbol(l, "cuMemAddressReserve", &api->memAddressReserve));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemAddressFree", &api->memAddressFree));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemCreate", &api->memCreate));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemRelease", &api->memRelease));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemMap", &api->memMap));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemUnmap", &api->memUnmap));
  BK_RETURN_IF_ERROR(bindSymbol(l, "cuMemSetAccess", &api->memSetAccess));
  api->libraryPath = l.path();
  api->lib_ = lib.take();
  if (CuResult r = api->init(0))
    return api->error("cuInit", r).withContext("no usable CUDA device");
  return api;
}

Expected<const CudaDriverApi *> CudaDriverApi::get() {
  static Expected<std::unique_ptr<CudaDriverApi>> loaded = [] {
    std::vector<std::string> candidates;
    if (const char *p = std::getenv("BIRKHOFF_CUDA_DRIVER_PATH"))
      candidates.push_back(p);
    candidates.push_back("libcuda.so.1");
    return load(candidates);
  }();
  if (!loaded)
    return loaded.status();
  return static_cast<const CudaDriverApi *>(loaded->get());
}

Status CudaDriverApi::error(const char *call, CuResult r) const {
  const char *s = nullptr;
  if (!getErrorString || getErrorString(r, &s) != 0)
    s = nullptr;
  return internalError(std::string(call) + " failed (" + std::to_string(r) +
                       "): " + (s ? s : "unknown CUDA error"));
}

} // namespace birkhoff::cuda
