//===- CudaCompiler.h - CUDA C++ to cubin through NVRTC
//--------------------===//
//
// Compiles one generated kernel source (KernelSource.h) for a GPU
// architecture with the device templates as headers, and reports the
// resources ptxas gave the entry function.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_CUDA_CUDACOMPILER_H
#define BIRKHOFF_COMPILER_CUDA_CUDACOMPILER_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace birkhoff::cuda {

struct CompiledKernel {
  std::vector<uint8_t> cubin;
  std::string ptx;
  // ptxas's report for the entry function (-Xptxas=-v).
  int registers = 0;
  int spillStoreBytes = 0, spillLoadBytes = 0;
  int stackBytes = 0;  // stack frame (local arrays, calls); not spills
  int sharedBytes = 0; // static shared memory
  std::string log;     // NVRTC's full log
};

/// Compiles `source` whose kernel entry is `entry` for `arch` (sm_90a:
/// compute_90a features, cubin for sm_90a). Options: -std=c++17,
/// -default-device, -Xptxas=-v, the embedded templates as headers. Errors carry
/// NVRTC's log.
Expected<CompiledKernel> compileCudaSource(const std::string &source,
                                           const std::string &entry,
                                           const std::string &arch = "sm_90a");

/// Fills the resource fields of `k` from ptxas's verbose log for `entry`.
Status parsePtxasResources(const std::string &log, const std::string &entry,
                           CompiledKernel &k);

} // namespace birkhoff::cuda

#endif // BIRKHOFF_COMPILER_CUDA_CUDACOMPILER_H
