//===- NvrtcApi.h - NVRTC, loaded at run time
//------------------------------===//
//
// The few NVRTC entry points the CUDA code generator needs, bound by dlopen
// from libnvrtc.so.13 (then libnvrtc.so; BIRKHOFF_NVRTC_PATH first when set).
// The prototypes are declared here so that no CUDA header is needed to build.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CUDA_NVRTCAPI_H
#define BIRKHOFF_CUDA_NVRTCAPI_H

#include "birkhoff/Status.h"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace birkhoff::cuda {

class DynamicLibrary;

/// nvrtcProgram is an opaque handle; nvrtcResult an int (0: success).
using NvrtcProgram = struct NvrtcProgramOpaque *;
using NvrtcResult = int;

struct NvrtcApi {
  NvrtcResult (*version)(int *major, int *minor) = nullptr;
  NvrtcResult (*createProgram)(NvrtcProgram *prog, const char *src,
                               const char *name, int numHeaders,
                               const char *const *headers,
                               const char *const *includeNames) = nullptr;
  NvrtcResult (*compileProgram)(NvrtcProgram prog, int numOptions,
                                const char *const *options) = nullptr;
  NvrtcResult (*getProgramLogSize)(NvrtcProgram prog, size_t *size) = nullptr;
  NvrtcResult (*getProgramLog)(NvrtcProgram prog, char *log) = nullptr;
  NvrtcResult (*getCubinSize)(NvrtcProgram prog, size_t *size) = nullptr;
  NvrtcResult (*getCubin)(NvrtcProgram prog, char *cubin) = nullptr;
  NvrtcResult (*getPtxSize)(NvrtcProgram prog, size_t *size) = nullptr;
  NvrtcResult (*getPtx)(NvrtcProgram prog, char *ptx) = nullptr;
  NvrtcResult (*destroyProgram)(NvrtcProgram *prog) = nullptr;
  const char *(*getErrorString)(NvrtcResult result) = nullptr;

  int major = 0, minor = 0; // nvrtcVersion's answer
  std::string libraryPath;

  /// The process-wide NVRTC, loaded on first use. A failure (no library, a
  /// missing symbol) is remembered and returned again on every call.
  static Expected<const NvrtcApi *> get();

  /// "nvrtcXxx failed: <nvrtcGetErrorString>" for a failed call.
  Status error(const char *call, NvrtcResult r) const;

  /// Loads a fresh instance from explicit candidates (tests).
  static Expected<std::unique_ptr<NvrtcApi>>
  load(const std::vector<std::string> &candidates);

  ~NvrtcApi();
  NvrtcApi() = default;
  NvrtcApi(const NvrtcApi &) = delete;
  NvrtcApi &operator=(const NvrtcApi &) = delete;

private:
  std::unique_ptr<DynamicLibrary> lib_;
};

} // namespace birkhoff::cuda

#endif // BIRKHOFF_CUDA_NVRTCAPI_H
