//===- CudaTarget.h - The CUDA kernels of a bk module ----------*- C++ -*-===//
//
// `birkhoff compile --target cuda`: every bk.launch of the lowered module
// gets the cubin of its specialization (compiler/cuda: KernelSource generates
// the source, CudaCompiler compiles it with NVRTC). Launches whose generated
// sources, grid rules and clusters are identical share one kernel, whose
// scratch is the largest any of them needs. No GPU is needed, only NVRTC.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_CUDATARGET_H
#define BIRKHOFF_COMPILER_CUDATARGET_H

#include "birkhoff/Status.h"
#include "cuda/LaunchAbi.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mlir {
class Operation;
}

namespace birkhoff::cuda {
struct KernelSource;
}

namespace birkhoff {

struct CudaTargetOptions {
  std::string arch = "sm_90a";
  /// Norm reductions in the host's order (bitwise equal to runtime/host);
  /// false: block tree sums (CudaCodegenOptions::hostOrderReductions).
  bool hostOrderReductions = true;
  /// Kernels compiled at once (NVRTC runs of distinct sources); 0: one per
  /// hardware thread.
  int threads = 0;
};

/// One compiled specialization, as the artifact's CudaKernel table stores it.
struct CudaKernelImage {
  std::string name;   // extern "C" entry
  std::string kernel; // catalogue kernel
  std::string arch;
  std::string source; // the generated CUDA C++ (for --dump-kernels)
  std::vector<uint8_t> cubin;
  std::string ptx;
  int registers = 0, spillBytes = 0, stackBytes = 0, sharedBytes = 0;
  cuda::GridRule grid;
  int cluster = 1;           // blocks per thread block cluster (informative)
  uint64_t scratchBytes = 0; // device scratch per session (BkLaunch::scratch)
  int launches = 0;          // launches of the module that run it
};

/// The kernels of a module and, per bk.launch operation, the indices of the
/// kernels it runs, in order (one, or several for an op lowered to several
/// kernels: KernelSource::then).
struct CudaProgram {
  std::vector<CudaKernelImage> kernels;
  std::map<const mlir::Operation *, std::vector<int>> launchKernels;
};

/// A program's kernels by what makes two launches' kernels one: the source,
/// grid rule and cluster (a source can serve several grid rules). A shared
/// kernel's scratch is the largest any of its launches needs.
class CudaKernelTable {
public:
  CudaKernelTable(CudaProgram &program, std::string arch)
      : program_(program), arch_(std::move(arch)) {}

  /// The index in program.kernels of `source`'s kernel (of catalogue kernel
  /// `kernel`), added if new, its launch count and scratch updated. Not yet
  /// compiled: compileCudaProgram compiles the table's kernels at the end.
  Expected<int> add(const cuda::KernelSource &source, std::string_view kernel);

private:
  static std::string key(const cuda::KernelSource &source);
  CudaProgram &program_;
  std::string arch_;
  std::map<std::string, int> byKey_;
};

/// Catalogue kernels the module launches that the CUDA code generator does
/// not generate yet, sorted and without duplicates.
std::vector<std::string> missingCudaKernels(mlir::Operation *bkModule);

/// Generates and compiles the kernel of every launch of `bkModule` (a
/// ModuleOp after the lowering pipeline). Launch kinds that are not generated
/// yet fail as a whole: Unsupported "--target cuda: kernels not yet generated
/// for CUDA: a, b (N of M launches)". Other errors name the launch.
Expected<CudaProgram> compileCudaProgram(mlir::Operation *bkModule,
                                         const CudaTargetOptions &options);

/// Writes <name>.cu, <name>.ptx, <name>.cubin for every kernel and
/// resources.txt (one line per kernel: registers, spills, stack, shared
/// memory, block, grid rule, launches) into `dir`: into a folder beside it
/// first, which then replaces `dir` whole (a failure or an interrupt leaves
/// a previous `dir` as it was). `dir` may not be a file.
Status dumpCudaKernels(const CudaProgram &program, const std::string &dir);

} // namespace birkhoff

#endif // BIRKHOFF_COMPILER_CUDATARGET_H
