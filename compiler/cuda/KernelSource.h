//===- KernelSource.h - CUDA C++ source of one launch
//----------------------===//
//
// Each launch is specialized ahead of time: its kernel's device template
// (compiler/cuda/templates) is instantiated with the launch's constants (dims,
// eps, RoPE frequencies, weight formats) in a one-kernel source that NVRTC
// compiles (CudaCompiler.h). docs/cuda.md lists what is generated.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_CUDA_KERNELSOURCE_H
#define BIRKHOFF_COMPILER_CUDA_KERNELSOURCE_H

#include "birkhoff/DType.h"
#include "birkhoff/KernelParams.h"
#include "birkhoff/Status.h"
#include "cuda/LaunchAbi.h"

#include "Schedule.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace birkhoff::cuda {

/// What the generator needs of one launch: the catalogue kernel's decoded
/// params (KernelParams.h; the variant's alternative names the kernel) and its
/// weights' formats (launch order; an absent optional weight is any dtype with
/// an empty shape).
struct CudaLaunchSpec {
  KernelParams params;
  std::vector<DType> weightDTypes;
  std::vector<std::vector<int64_t>> weightShapes; // logical shapes
  /// Tokens per call of the launch's entry (bk.max_tokens; 0: unknown).
  /// Entries of many tokens get tensor-core kernels where one exists; a
  /// one-token entry (decode) keeps the GEMV kernels.
  int64_t maxTokens = 0;
  /// The launch's schedule (Schedule.h), which the generator only reads; a
  /// spec without one is refused.
  std::optional<Schedule> schedule;

  CudaLaunchSpec() = default;
  /// A launch with `p` (a kernel's params struct, e.g. LinearParams).
  explicit CudaLaunchSpec(KernelParams p) : params(std::move(p)) {}

  /// The launch's kernel; `params` must hold a kernel's struct.
  KernelId kernel() const { return kernelIdOf(params); }
  void weight(DType t, std::vector<int64_t> shape) {
    weightDTypes.push_back(t);
    weightShapes.push_back(std::move(shape));
  }
};

/// `spec` with chooseSchedule's schedule (default options) unless it has one
/// already: what bk-choose-schedule writes on a bk.launch, for specs built
/// without MLIR (birkhoff-kernelgen, tests).
CudaLaunchSpec scheduled(CudaLaunchSpec spec);

/// A spec of a launch of `kernel` whose params are the artifact's (key,
/// value) pairs, decoded as the runtime decodes them (decodeParams: a missing,
/// unknown, repeated or ill-typed parameter is a named error).
Expected<CudaLaunchSpec> launchSpecOf(std::string_view kernel,
                                      std::span<const ParamPair> pairs);

struct CudaCodegenOptions {
  /// Norm reductions in the host kernels' sequential order, making rms_norm
  /// and head_rms_norm bitwise equal to runtime/host (slower: one thread sums
  /// a row). false: tree reductions.
  bool hostOrderReductions = true;
};

struct KernelSource {
  std::string source; // includes "bk/*.cuh" (the embedded templates)
  std::string entry;  // extern "C" kernel name, unique per specialization
  GridRule grid;
  // Blocks per thread block cluster along x, fixed at compile time by the
  // kernel's __cluster_dims__ (plain cuLaunchKernel launches honor it; grid.x
  // is a multiple of it). 1: the kernel uses no cluster. Informational.
  int cluster = 1;
  // Device scratch bytes the kernel needs per session (BkLaunch::scratch);
  // 0: none.
  uint64_t scratchBytes = 0;
  // The kernels that run after this one, in order, with the same launch
  // arguments: a launch that lowers to several kernels (a GEMV over the whole
  // GPU, then the step that needs all of its outputs). Each has its own
  // entry, grid and cluster; they share the launch's scratch.
  std::vector<KernelSource> then;

  /// Every kernel of the launch, in order: this one, then `then`.
  std::vector<const KernelSource *> sequence() const {
    std::vector<const KernelSource *> all = {this};
    for (const KernelSource &next : then)
      all.push_back(&next);
    return all;
  }
};

/// The source of `spec`'s launch: its first kernel, the others in `then`.
/// The spec must carry a schedule (InvalidArgument otherwise). Kernels without
/// a CUDA generator (and official launches of kernels whose official numerics
/// are not generated) give Unsupported "... not yet generated for CUDA".
Expected<KernelSource>
generateKernelSource(const CudaLaunchSpec &spec,
                     const CudaCodegenOptions &opts = {});

/// How a kernel's launches of the official numerics profile (numerics = 1)
/// are generated.
enum class CudaOfficialGenerator : uint8_t {
  Reference, // the reference generator (same numerics, or it reads the flag)
  Own,       // a generator of its own (KernelSourceOfficial.cpp)
  None,      // not generated: Unsupported
};
/// What the CUDA generator does for kernel `id` (one entry per catalogue
/// kernel, KernelSource.cpp).
struct CudaKernelSupport {
  bool generated = false; // false: no CUDA generator at all
  CudaOfficialGenerator official = CudaOfficialGenerator::None;
};
CudaKernelSupport cudaKernelSupport(KernelId id);

/// Kernels generateKernelSource handles (for the reference profile), in
/// catalogue order.
std::vector<std::string_view> cudaGeneratedKernels();

} // namespace birkhoff::cuda

#endif // BIRKHOFF_COMPILER_CUDA_KERNELSOURCE_H
