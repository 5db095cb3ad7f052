//===- KernelSourceInternal.h - Shared pieces of the kernel generators ----===//
//
// The generators of compiler/cuda/KernelSource*.cpp: a checked reader of one
// launch's weights (and range checks of its typed params), the generated body
// of a kernel, literal formatting, and the per-kernel generators, each taking
// its kernel's params struct (KernelParams.h), that generateKernelSource
// dispatches to. Not part of the public API.
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

/// Slots of the moe kernels' token sort: the power of two that holds the
/// (token, expert) pairs of a y-slice.
inline int64_t moeSortSlots(int64_t tokensPerY, int64_t topk) {
  int64_t n = 1;
  while (n < tokensPerY * topk)
    n <<= 1;
  return n;
}

/// The artifact key of field `f` of `p` (a reference into `p`), for
/// messages: generators read the typed fields and name them by their keys.
#define BK_KERNEL(Id, ...)                                                     \
  inline std::string_view paramKey(const Id##Params &p, const void *f) {
#define BK_PARAM(Id, field, key, ...)                                          \
  if (static_cast<const void *>(&p.field) == f)                                \
    return key;
#define BK_KERNEL_END(Id)                                                      \
  return "?";                                                                  \
  }
#include "birkhoff/Kernels.def"

/// Checked access to one launch's weights, and range checks of its typed
/// params (decoded before any generator runs); errors name the kernel and
/// the key.
class LaunchReader {
public:
  explicit LaunchReader(const CudaLaunchSpec &s) : spec_(s) {}

  /// Field `v` of `p`, which must lie in [min, max].
  template <typename P>
  Expected<int64_t> range(const P &p, const int64_t &v, int64_t min = 1,
                          int64_t max = INT_MAX) const {
    if (v < min || v > max)
      return invalidArgument(
          where() + "parameter '" + std::string(paramKey(p, &v)) +
          "' = " + std::to_string(v) + " is not in [" + std::to_string(min) +
          ", " + std::to_string(max) + "]");
    return v;
  }
  /// Tokens per call of the launch's entry (0: unknown).
  int64_t maxTokens() const { return spec_.maxTokens; }
  /// The launch's schedule (generateKernelSource checked it is present).
  const Schedule &schedule() const { return *spec_.schedule; }
  /// The schedule's variant, which must be one of `known` (the variants the
  /// kernel's generator emits).
  Expected<std::string>
  variant(std::initializer_list<std::string_view> known) const {
    const std::string &v = schedule().variant;
    if (std::find(known.begin(), known.end(), v) != known.end())
      return v;
    std::string list;
    for (std::string_view k : known)
      list += (list.empty() ? "" : ", ") + std::string(k);
    return invalidArgument(where() + "schedule variant '" + v +
                           "' is not one of " + list);
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
    return "CUDA launch of '" + std::string(kernelName(spec_.kernel())) + "': ";
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

/// The grid of a GEMV of a warp per output row (`s.warps` rows a block) and
/// `s.tokensPerY` tokens per y-slice.
inline GridRule warpRowGrid(int64_t rows, const Schedule &s) {
  return {0, (rows + s.warps - 1) / s.warps, s.tokensPerY, int(32 * s.warps)};
}

/// A generator of kernel P's launches.
template <typename P>
using Generator = Expected<Body> (*)(const P &, const LaunchReader &,
                                     const CudaCodegenOptions &);

/// The inverse frequencies exactly as runtime/host/Rope.cpp computes them
/// (same float/double expressions, same libm calls): generated kernels embed
/// the bits, so the device rotates by the host's angles.
std::vector<float> ropeInvFreq(const RopeSpec &rope);
/// The official profile's frequencies (lib/birkhoff/OfficialNumerics
/// ropeInvFreq: its own fp32 YaRN ramp) for the launch's rope params.
std::vector<float> officialInvFreq(const RopeSpec &rope);
/// `__constant__ float <name>[]` holding `inv` (one 0 when empty).
std::string invFreqConstant(const std::string &name,
                            const std::vector<float> &inv);

// The generators, one per kernel and profile; KernelSource.cpp's table says
// which kernel uses which.
#define BK_GENERATOR(name, P)                                                  \
  Expected<Body> name(const P &, const LaunchReader &,                         \
                      const CudaCodegenOptions &);
// KernelSource.cpp
BK_GENERATOR(genEmbed, EmbedParams)
BK_GENERATOR(genRmsNorm, RmsNormParams)
BK_GENERATOR(genHeadRmsNorm, HeadRmsNormParams)
BK_GENERATOR(genRope, RopeParams)
BK_GENERATOR(genLinear, LinearParams)
BK_GENERATOR(genMhcPre, MhcPreParams)
BK_GENERATOR(genMhcPreNorm, MhcPreNormParams)
BK_GENERATOR(genMhcHead, MhcHeadParams)
BK_GENERATOR(genMhcHeadNorm, MhcHeadNormParams)
BK_GENERATOR(genMhcPost, MhcPostParams)
// KernelSourceProjections.cpp
BK_GENERATOR(genLinearRmsNorm, LinearRmsNormParams)
BK_GENERATOR(genGroupedLinear, GroupedLinearParams)
BK_GENERATOR(genRouterScores, RouterScoresParams)
BK_GENERATOR(genRouteSelect, RouteSelectParams)
BK_GENERATOR(genRouter, RouterParams)
// KernelSourceMoe.cpp (both profiles)
BK_GENERATOR(genMoe, MoeParams)
// KernelSourceCompressor.cpp (both profiles)
BK_GENERATOR(genCompressor, CompressorParams)
// KernelSourceAttention.cpp
BK_GENERATOR(genHeadRmsNormRope, HeadRmsNormRopeParams)
BK_GENERATOR(genIndexerTopk, IndexerTopkParams)
BK_GENERATOR(genSparseAttention, SparseAttentionParams)
BK_GENERATOR(genWindowWrite, WindowWriteParams)
// KernelSourceOfficial.cpp: the official profile's own generators.
BK_GENERATOR(genRmsNormOfficial, RmsNormParams)
BK_GENERATOR(genHeadRmsNormOfficial, HeadRmsNormParams)
BK_GENERATOR(genRopeOfficial, RopeParams)
BK_GENERATOR(genHeadRmsNormRopeOfficial, HeadRmsNormRopeParams)
BK_GENERATOR(genWindowWriteOfficial, WindowWriteParams)
BK_GENERATOR(genLinearOfficial, LinearParams)
BK_GENERATOR(genLinearRmsNormOfficial, LinearRmsNormParams)
#undef BK_GENERATOR

/// linear_bf16_mma.cuh (variant "mma" of the official bf16 linear and of the
/// official grouped linear): `groups` groups of `rows` weight rows over
/// `in` columns each, bf16 or fp8 weights; outputs bf16-rounded when `round`.
Expected<Body> linearBf16MmaBody(const LaunchReader &r, int64_t groups,
                                 int64_t in, int64_t rows, DType w, bool round);

} // namespace birkhoff::cuda::detail

#endif // BIRKHOFF_COMPILER_CUDA_KERNELSOURCEINTERNAL_H
