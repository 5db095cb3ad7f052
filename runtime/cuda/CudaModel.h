//===- CudaModel.h - A program loaded on a GPU (CUDA backend internals) ---===//
//
// What the sessions of one CUDA model share: the driver, the device's primary
// context, the kernels' modules and functions, the weights in device memory
// and, per launch, the device arrays of its weight and scale pointers.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_CUDA_CUDAMODEL_H
#define BIRKHOFF_RUNTIME_CUDA_CUDAMODEL_H

#include "../Backend.h"
#include "cuda/CudaDriverApi.h"
#include "cuda/LaunchAbi.h"

#include <string>
#include <vector>

namespace birkhoff::rt {

/// One kernel of a launch.
struct PreparedKernel {
  cuda::CuFunction function = nullptr;
  cuda::GridRule grid;
};

/// What a session needs to launch one launch of an entry: its kernels, run
/// in order with the same arguments.
struct PreparedLaunch {
  std::vector<PreparedKernel> kernels;
  cuda::CuDevicePtr weights = 0; // device array: data pointer per weight
  cuda::CuDevicePtr scales = 0;  // device array: scale pointer per weight
  uint64_t scratchBytes = 0;     // the kernels' BkLaunch::scratch need
  uint64_t scratchOffset = 0;    // where its region starts in the scratch
};

class CudaModel : public ModelBackend {
public:
  CudaModel(const cuda::CudaDriverApi &api, int ordinal)
      : api(api), ordinal(ordinal) {}
  ~CudaModel() override;

  Expected<std::unique_ptr<EngineBackend>>
  createEngine(const Program &program,
               const EngineShape &shape) const override;
  std::string deviceName() const override;

  /// Makes the device's context current on the calling thread (sessions may
  /// be used from any thread).
  Status makeCurrent() const;
  /// Device memory free now, for the up-front checks.
  Expected<uint64_t> freeMemory() const;

  const cuda::CudaDriverApi &api;
  const int ordinal;
  cuda::CuDevice device = 0;
  cuda::CuContext context = nullptr;   // primary context, retained
  std::string name;                    // the device's name
  std::vector<cuda::CuModule> modules; // per Program::cudaKernels entry
  cuda::CuDevicePtr weightBlock = 0;   // every weight a launch reads
  uint64_t weightBytes = 0;
  cuda::CuDevicePtr launchTables = 0; // the pointer arrays of all launches
  std::vector<std::vector<PreparedLaunch>> launches; // [entry][launch]
  /// A session's kernel scratch (ScratchLayout: a region per distinct first
  /// kernel of a launch).
  uint64_t scratchBytes = 0;
  bool decodeGraphs = true; // replay one-token calls as CUDA graphs
};

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_CUDA_CUDAMODEL_H
