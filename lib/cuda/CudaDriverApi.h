//===- CudaDriverApi.h - The CUDA driver API, loaded at run time ----------===//
//
// The driver entry points a GPU runtime needs, bound by dlopen from
// libcuda.so.1 (BIRKHOFF_CUDA_DRIVER_PATH first when set). Prototypes and the
// few enum values used are declared here (values from cuda.h, stable ABI), so
// no CUDA header is needed to build, and a machine without a driver gets a
// clean "no CUDA driver" status instead of a link or load failure.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CUDA_CUDADRIVERAPI_H
#define BIRKHOFF_CUDA_CUDADRIVERAPI_H

#include "birkhoff/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace birkhoff::cuda {

class DynamicLibrary;

using CuResult = int; // CUresult; 0 is CUDA_SUCCESS
using CuDevice = int;
using CuContext = struct CuContextOpaque *;
using CuModule = struct CuModuleOpaque *;
using CuFunction = struct CuFunctionOpaque *;
using CuStream = struct CuStreamOpaque *;
using CuGraph = struct CuGraphOpaque *;
using CuEvent = struct CuEventOpaque *;
using CuGraphExec = struct CuGraphExecOpaque *;
using CuDevicePtr = unsigned long long;
using CuMemHandle = unsigned long long; // CUmemGenericAllocationHandle

// cuda.h's virtual memory management structs (CUmemLocation,
// CUmemAllocationProp, CUmemAccessDesc), field for field.
struct CuMemLocation {
  int type = 1; // CU_MEM_LOCATION_TYPE_DEVICE
  int id = 0;   // device ordinal
};
struct CuMemAllocationProp {
  int type = 1;                 // CU_MEM_ALLOCATION_TYPE_PINNED
  int requestedHandleTypes = 0; // none
  CuMemLocation location;
  void *win32HandleMetaData = nullptr;
  unsigned char compressionType = 0;
  unsigned char gpuDirectRDMACapable = 0;
  unsigned short usage = 0;
  unsigned char reserved[4] = {};
};
static_assert(sizeof(CuMemAllocationProp) == 32, "cuda.h layout");
struct CuMemAccessDesc {
  CuMemLocation location;
  int flags = 3; // CU_MEM_ACCESS_FLAGS_PROT_READWRITE
};
static_assert(sizeof(CuMemAccessDesc) == 12, "cuda.h layout");

// cuda.h enum values used by Birkhoff.
inline constexpr int kCuDeviceAttrComputeCapabilityMajor = 75;
inline constexpr int kCuDeviceAttrComputeCapabilityMinor = 76;
inline constexpr int kCuFuncAttrMaxThreadsPerBlock = 0;
inline constexpr int kCuFuncAttrSharedSizeBytes = 1;
inline constexpr int kCuFuncAttrLocalSizeBytes = 3;
inline constexpr int kCuFuncAttrNumRegs = 4;
inline constexpr CuResult kCudaErrorNoDevice = 100;
inline constexpr unsigned kCuStreamNonBlocking = 1;
// CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: other threads' calls stay legal while
// a session captures its decode step.
inline constexpr int kCuStreamCaptureModeThreadLocal = 1;

struct CudaDriverApi {
  CuResult (*init)(unsigned flags) = nullptr;
  CuResult (*driverGetVersion)(int *version) = nullptr;
  CuResult (*deviceGetCount)(int *count) = nullptr;
  CuResult (*deviceGet)(CuDevice *dev, int ordinal) = nullptr;
  CuResult (*deviceGetAttribute)(int *value, int attrib,
                                 CuDevice dev) = nullptr;
  CuResult (*deviceGetName)(char *name, int len, CuDevice dev) = nullptr;
  CuResult (*primaryCtxRetain)(CuContext *ctx, CuDevice dev) = nullptr;
  CuResult (*primaryCtxRelease)(CuDevice dev) = nullptr;
  CuResult (*ctxSetCurrent)(CuContext ctx) = nullptr;
  CuResult (*ctxSynchronize)() = nullptr;
  CuResult (*moduleLoadData)(CuModule *module, const void *image) = nullptr;
  CuResult (*moduleUnload)(CuModule module) = nullptr;
  CuResult (*moduleGetFunction)(CuFunction *fn, CuModule module,
                                const char *name) = nullptr;
  CuResult (*funcGetAttribute)(int *value, int attrib, CuFunction fn) = nullptr;
  CuResult (*launchKernel)(CuFunction fn, unsigned gx, unsigned gy, unsigned gz,
                           unsigned bx, unsigned by, unsigned bz,
                           unsigned sharedBytes, CuStream stream, void **params,
                           void **extra) = nullptr;
  CuResult (*memAlloc)(CuDevicePtr *ptr, size_t bytes) = nullptr;
  CuResult (*memFree)(CuDevicePtr ptr) = nullptr;
  CuResult (*memcpyHtoD)(CuDevicePtr dst, const void *src,
                         size_t bytes) = nullptr;
  CuResult (*memcpyDtoH)(void *dst, CuDevicePtr src, size_t bytes) = nullptr;
  CuResult (*memsetD8)(CuDevicePtr dst, unsigned char value,
                       size_t n) = nullptr;
  CuResult (*memGetInfo)(size_t *free, size_t *total) = nullptr;
  // Stream-ordered copies and fills (the runtime's sessions run on their own
  // non-blocking stream, which the synchronous calls above do not order).
  CuResult (*memcpyHtoDAsync)(CuDevicePtr dst, const void *src, size_t bytes,
                              CuStream stream) = nullptr;
  CuResult (*memcpyDtoHAsync)(void *dst, CuDevicePtr src, size_t bytes,
                              CuStream stream) = nullptr;
  CuResult (*memcpyDtoDAsync)(CuDevicePtr dst, CuDevicePtr src, size_t bytes,
                              CuStream stream) = nullptr;
  CuResult (*memsetD8Async)(CuDevicePtr dst, unsigned char value, size_t n,
                            CuStream stream) = nullptr;
  CuResult (*streamCreate)(CuStream *stream, unsigned flags) = nullptr;
  CuResult (*streamDestroy)(CuStream stream) = nullptr;
  CuResult (*streamSynchronize)(CuStream stream) = nullptr;
  CuResult (*getErrorString)(CuResult r, const char **str) = nullptr;
  // CUDA graphs: a session captures its decode step once and replays it.
  CuResult (*streamBeginCapture)(CuStream stream, int mode) = nullptr;
  CuResult (*streamEndCapture)(CuStream stream, CuGraph *graph) = nullptr;
  CuResult (*graphInstantiate)(CuGraphExec *exec, CuGraph graph,
                               unsigned long long flags) = nullptr;
  CuResult (*graphLaunch)(CuGraphExec exec, CuStream stream) = nullptr;
  CuResult (*graphExecDestroy)(CuGraphExec exec) = nullptr;
  CuResult (*graphDestroy)(CuGraph graph) = nullptr;
  // Events: per-launch times while a session profiles.
  CuResult (*eventCreate)(CuEvent *event, unsigned flags) = nullptr;
  CuResult (*eventDestroy)(CuEvent event) = nullptr;
  CuResult (*eventRecord)(CuEvent event, CuStream stream) = nullptr;
  CuResult (*eventElapsedTime)(float *ms, CuEvent start, CuEvent end) = nullptr;
  // Virtual memory: session state reserves its whole capacity as addresses
  // and maps physical pages as the context grows.
  CuResult (*memGetAllocationGranularity)(size_t *granularity,
                                          const CuMemAllocationProp *prop,
                                          int option) = nullptr;
  CuResult (*memAddressReserve)(CuDevicePtr *ptr, size_t size, size_t alignment,
                                CuDevicePtr addr,
                                unsigned long long flags) = nullptr;
  CuResult (*memAddressFree)(CuDevicePtr ptr, size_t size) = nullptr;
  CuResult (*memCreate)(CuMemHandle *handle, size_t size,
                        const CuMemAllocationProp *prop,
                        unsigned long long flags) = nullptr;
  CuResult (*memRelease)(CuMemHandle handle) = nullptr;
  CuResult (*memMap)(CuDevicePtr ptr, size_t size, size_t offset,
                     CuMemHandle handle, unsigned long long flags) = nullptr;
  CuResult (*memUnmap)(CuDevicePtr ptr, size_t size) = nullptr;
  CuResult (*memSetAccess)(CuDevicePtr ptr, size_t size,
                           const CuMemAccessDesc *desc, size_t count) = nullptr;

  std::string libraryPath;

  /// The process-wide driver, loaded and cuInit'ed on first use. A machine
  /// without libcuda gets NotFound "no CUDA driver: ..."; with a driver but no
  /// device, cuInit's error. Failures are remembered.
  static Expected<const CudaDriverApi *> get();

  /// Loads (and cuInit's) a fresh instance from explicit candidates (tests).
  static Expected<std::unique_ptr<CudaDriverApi>>
  load(const std::vector<std::string> &candidates);

  /// "<call> failed (<code>): <cuGetErrorString>".
  Status error(const char *call, CuResult r) const;
  /// Status::ok() when r is CUDA_SUCCESS, else error(call, r).
  Status check(const char *call, CuResult r) const {
    return r == 0 ? Status::ok() : error(call, r);
  }

  ~CudaDriverApi();
  CudaDriverApi() = default;
  CudaDriverApi(const CudaDriverApi &) = delete;
  CudaDriverApi &operator=(const CudaDriverApi &) = delete;

private:
  std::unique_ptr<DynamicLibrary> lib_;
};

} // namespace birkhoff::cuda

#endif // BIRKHOFF_CUDA_CUDADRIVERAPI_H
