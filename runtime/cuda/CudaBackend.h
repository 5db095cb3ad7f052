//===- CudaBackend.h - Running a "cuda" artifact on a GPU -----------------===//
//
// The CUDA backend (docs/cuda.md): the driver is loaded with dlopen
// (lib/cuda/CudaDriverApi), the artifact's cubins become modules, the weights
// the launches read are copied to device memory once, and each session owns
// its state buffers, an activation arena and a stream. Kernels take the
// launch ABI struct (lib/cuda/LaunchAbi.h) and their grids follow the
// per-kernel GridRule. No CUDA header or library is needed to build this.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_CUDA_CUDABACKEND_H
#define BIRKHOFF_RUNTIME_CUDA_CUDABACKEND_H

#include "../Backend.h"

#include <optional>
#include <string>

namespace birkhoff::rt {

/// Loads `program` (target "cuda") on CUDA device `ordinal`. Errors: no driver
/// (NotFound "no CUDA driver: ..."), no such device, cubins built for another
/// architecture (Unsupported, naming both), too little device memory
/// (OutOfRange), driver failures (naming the call). `origin` names the
/// artifact. With `decodeGraphs`, sessions replay one-token calls as CUDA
/// graphs captured on their first such call. `progress` (ModelOptions::
/// progress), when set, hears "uploading weights".
Expected<std::unique_ptr<ModelBackend>>
makeCudaBackend(const Program &program, int ordinal, const std::string &origin,
                bool decodeGraphs = true,
                const ModelOptions::Progress &progress = {});

/// The compute capability (major·10 + minor) a cubin architecture such as
/// "sm_90a" runs on, and whether it is architecture-specific (the "a"
/// suffix: only that exact capability). Nullopt when `arch` is malformed.
struct CudaArch {
  int capability = 0;
  bool specific = false;
};
std::optional<CudaArch> parseCudaArch(const std::string &arch);

/// Whether a cubin for `arch` runs on a device of compute capability
/// `major`.`minor`: the same major version and a minor version at least the
/// cubin's, or exactly the capability for an "a" architecture.
bool cubinRunsOn(const CudaArch &arch, int major, int minor);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_CUDA_CUDABACKEND_H
