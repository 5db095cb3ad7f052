//===- CudaTemplates.h - The device templates, embedded in the binary -----===//
#ifndef BIRKHOFF_COMPILER_CUDA_CUDATEMPLATES_H
#define BIRKHOFF_COMPILER_CUDA_CUDATEMPLATES_H

#include <span>

namespace birkhoff::cuda {

/// One header of compiler/cuda/templates, as generated sources include it
/// ("bk/<file>.cuh") and its text.
struct DeviceTemplate {
  const char *includeName;
  const char *text;
};

/// All device templates (generated at build time by EmbedTemplates.cmake).
std::span<const DeviceTemplate> deviceTemplates();

} // namespace birkhoff::cuda

#endif // BIRKHOFF_COMPILER_CUDA_CUDATEMPLATES_H
