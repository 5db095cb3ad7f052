//===- KernelSourceInternal.h - Shared pieces of the kernel generators ----===//
//
// The generators of compiler/cuda/KernelSource*.cpp: a checked reader of one
// launch's params and weights, the generated body of a kernel, literal
// formatting, and the per-kernel generator entry points that
// generateKernelSource dispatches to. Not part of the public API.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_CUDA_KERNELSOURCEINTERNAL_H
#define BIRKHOFF_COMPILER_CUDA_KERNELSOURCEINTERNAL_H

#include "KernelSource.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace birkhoff::cuda::detail {

inline constexpr int kBlock = 256;
/// Weight chunks a lane of a cluster kernel loads before decoding the first
/// (warpRowDots' PF): a cluster streams its weights through at most 8 SMs, so
/// each needs many bytes in flight. Those kernels run one block per SM with
/// the register budget that takes (minBlocksPerSm 1).
inline constexpr int kClusterPrefetch = 4;
/// Activation rows of K floats a cluster kernel stages at once in shared
/// memory (gemv.cuh stageRows): up to 4 within `budget` bytes, 0 when not
/// even one fits.
inline int64_t stagedTokens(int64_t k, int64_t budget = 40 * 1024) {
  return std::min<int64_t>(4, budget / (4 * k));
}

/// Typed, checked access to one launch's params and weights; errors name the
/// kernel and the key.
class LaunchReader {
public:
  explicit LaunchReader(const CudaLaunchSpec &s) : spec_(s) {}

  Expected<double> num(const char *key) const {
    for (const auto &[k, v] : spec_.params)
      if (k == key) {
        if (!std::isfinite(v))
          return invalidArgument(where() + "parameter '" + key +
                                 "' is not finite");
        return v;
      }
    return notFound(where() + "has no parameter '" + key + "'");
  }
  Expected<int64_t> integer(const char *key, int64_t min = 1,
                            int64_t max = INT_MAX) const {
    BK_ASSIGN_OR_RETURN(double v, num(key));
    if (v != std::floor(v) || v < double(min) || v > double(max))
      return invalidArgument(where() + "parameter '" + key +
                             "' = " + std::to_string(v) +
                             " is not an integer in [" + std::to_string(min) +
                             ", " + std::to_string(max) + "]");
    return int64_t(v);
  }
  /// Tokens per call of the launch's entry (0: unknown).
  int64_t maxTokens() const { return spec_.maxTokens; }
  double numOr(const char *key, double fallback) const {
    for (const auto &[k, v] : spec_.params)
      if (k == key)
        return v;
    return fallback;
  }
  /// dtype of launch weight i, which must be one of `allowed`.
  Expected<DType> weight(size_t i, std::initializer_list<DType> allowed) const {
    if (i >= spec_.weightDTypes.size())
      return invalidArgument(where() + "needs weight " + std::to_string(i) +
                             " but has " +
                             std::to_string(spec_.weightDTypes.size()));
    DType t = spec_.weightDTypes[i];
    if (std::find(allowed.begin(), allowed.end(), t) == allowed.end())
      return unsupported(where() + "weight " + std::to_string(i) +
                         " of dtype " + std::string(dtypeName(t)) +
                         " is not generated for CUDA");
    return t;
  }
  /// Checks launch weight i's shape when the spec gives it.
  Status shape(size_t i, const std::vector<int64_t> &want) const {
    if (i >= spec_.weightShapes.size() || spec_.weightShapes[i].empty())
      return Status::ok();
    if (spec_.weightShapes[i] != want) {
      std::string w, h;
      for (int64_t d : want)
        w += (w.empty() ? "" : "x") + std::to_string(d);
      for (int64_t d : spec_.weightShapes[i])
        h += (h.empty() ? "" : "x") + std::to_string(d);
      return invalidArgument(where() + "weight " + std::to_string(i) + " is " +
                             h + ", expected " + w);
    }
    return Status::ok();
  }
  /// The logical shape of launch weight i (empty when the spec has none).
  std::vector<int64_t> shapeOf(size_t i) const {
    return i < spec_.weightShapes.size() ? spec_.weightShapes[i]
                                         : std::vector<int64_t>{};
  }
  std::string where() const {
    return "CUDA launch of '" + spec_.kernel + "': ";
  }
  const CudaLaunchSpec &spec() const { return spec_; }

private:
  const CudaLaunchSpec &spec_;
};

/// A float as an exact hex literal ("0x1.0c6f7ap-20f").
inline std::string f32(float v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%af", double(v));
  return buf;
}
inline std::string i(int64_t v) { return std::to_string(v); }
inline std::string dt(DType t) { return std::to_string(int(t)); }
inline std::string flag(bool v) { return v ? "true" : "false"; }

/// A generated body: the includes, any constants, and one call in the kernel.
struct Body {
  std::string include;   // "bk/linear.cuh"
  std::string constants; // file-scope definitions
  std::string call;      // statement(s) with `args` in scope
  GridRule grid;
  // Resident blocks per SM the register budget must allow (the second
  // __launch_bounds__ argument): without it ptxas picks a budget itself and
  // may spill small kernels.
  int minBlocksPerSm = 4;
  // Blocks per thread block cluster along x (__cluster_dims__); 1: none.
  // grid.x is always a multiple of it.
  int cluster = 1;
  // Device scratch the kernel needs (BkLaunch::scratch), in bytes.
  uint64_t scratchBytes = 0;
  // Kernels that run after this one with the same arguments
  // (KernelSource::then); their own `then` must be empty.
  std::vector<Body> then;
};

/// True for a launch of the `official` numerics profile (numerics = 1).
inline bool isOfficial(const LaunchReader &r) {
  return r.numOr("numerics", 0) == 1;
}

using GeneratorFn = Expected<Body> (*)(const LaunchReader &,
                                       const CudaCodegenOptions &);
/// Official profile: kernels whose reference generator also handles
/// numerics = 1 (the same numerics, or a flag it reads itself).
bool officialUsesReferenceGenerator(std::string_view kernel);
/// Official profile: the kernel's own generator, or nullptr when its official
/// numerics are not generated (KernelSourceOfficial.cpp).
GeneratorFn officialGenerator(std::string_view kernel);

/// The inverse frequencies exactly as runtime/host/Rope.cpp computes them
/// (same float/double expressions, same libm calls): generated kernels embed
/// the bits, so the device rotates by the host's angles.
Expected<std::vector<float>> ropeInvFreq(const LaunchReader &r,
                                         int64_t ropeDim);
/// The official profile's frequencies (lib/birkhoff/OfficialNumerics
/// ropeInvFreq: its own fp32 YaRN ramp) for the launch's rope params.
Expected<std::vector<float>> officialInvFreq(const LaunchReader &r,
                                             int64_t ropeDim);
/// `__constant__ float <name>[]` holding `inv` (one 0 when empty).
std::string invFreqConstant(const std::string &name,
                            const std::vector<float> &inv);

// Generators of the kernels beyond the foundation (one file per family).
// KernelSourceProjections.cpp
Expected<Body> genLinearRmsNorm(const LaunchReader &,
                                const CudaCodegenOptions &);
Expected<Body> genGroupedLinear(const LaunchReader &,
                                const CudaCodegenOptions &);
Expected<Body> genRouterScores(const LaunchReader &,
                               const CudaCodegenOptions &);
Expected<Body> genRouteSelect(const LaunchReader &, const CudaCodegenOptions &);
Expected<Body> genRouter(const LaunchReader &, const CudaCodegenOptions &);
// KernelSourceMoe.cpp
Expected<Body> genMoe(const LaunchReader &, const CudaCodegenOptions &);
// KernelSourceCompressor.cpp
Expected<Body> genCompressor(const LaunchReader &, const CudaCodegenOptions &);
// KernelSourceAttention.cpp
Expected<Body> genHeadRmsNormRope(const LaunchReader &,
                                  const CudaCodegenOptions &);
Expected<Body> genIndexerTopk(const LaunchReader &, const CudaCodegenOptions &);
Expected<Body> genSparseAttention(const LaunchReader &,
                                  const CudaCodegenOptions &);
Expected<Body> genWindowWrite(const LaunchReader &, const CudaCodegenOptions &);

} // namespace birkhoff::cuda::detail

#endif // BIRKHOFF_COMPILER_CUDA_KERNELSOURCEINTERNAL_H
