//===- KernelParams.h - The typed parameters of every catalogue kernel ----===//
//
// One plain struct per kernel of Kernels.def (`LinearParams` for `linear`,
// ...), with the fields, types and defaults declared there, and the one
// conversion between them and the (key, double) pairs an artifact stores.
// The compiler builds a launch's parameters by encoding a struct, the runtime
// decodes them once at load time; neither spells a key. No MLIR here: the
// runtime and the CUDA generator use it as well.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_KERNELPARAMS_H
#define BIRKHOFF_KERNELPARAMS_H

#include "birkhoff/KernelCatalog.h"
#include "birkhoff/Status.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace birkhoff {

#define BK_PARAM_CXX_TYPE_Int int64_t
#define BK_PARAM_CXX_TYPE_Real double
#define BK_PARAM_CXX_TYPE_Bool bool

#define BK_KERNEL(Id, camel, name, ...)                                        \
  struct Id##Params {                                                          \
    static constexpr KernelId kId = KernelId::Id;                              \
    static constexpr std::string_view kName = name;
#define BK_PARAM(Id, field, key, Type, Presence, dflt, Profile, lo, hi)        \
  BK_PARAM_CXX_TYPE_##Type field = dflt;
#define BK_KERNEL_END(Id)                                                      \
  /** DeepSeek's inference numerics (docs/kernels.md). */                      \
  bool official() const { return numerics == 1; }                              \
  bool operator==(const Id##Params &) const = default;                         \
  }                                                                            \
  ;
#include "birkhoff/Kernels.def"

#undef BK_PARAM_CXX_TYPE_Int
#undef BK_PARAM_CXX_TYPE_Real
#undef BK_PARAM_CXX_TYPE_Bool

/// The params of one launch: alternative `1 + KernelId` holds that kernel's
/// struct; std::monostate is "not decoded".
using KernelParams = std::variant<std::monostate
#define BK_KERNEL(Id, ...) , Id##Params
#include "birkhoff/Kernels.def"
                                  >;

/// The params struct of kernel `K`.
template <KernelId K>
using ParamsOf = std::variant_alternative_t<size_t(K) + 1, KernelParams>;

/// The kernel whose params `p` holds; `p` must not be std::monostate.
KernelId kernelIdOf(const KernelParams &p);
/// The `numerics` field of `p` (0 for std::monostate).
int64_t numericsOf(const KernelParams &p);

/// A parameter as the artifact stores it; integers are exact in a double.
using ParamPair = std::pair<std::string, double>;

/// Decodes the (key, value) pairs of a launch of `id`. Fails, naming the
/// kernel and the key, on a missing required parameter, an unknown or
/// repeated key, an Int that is not an exact integer, a Bool that is not 0
/// or 1, and an official-only parameter set to other than its default
/// without numerics = 1. Absent optional parameters take their defaults.
Expected<KernelParams> decodeParams(KernelId id,
                                    std::span<const ParamPair> pairs);
template <typename P>
Expected<P> decodeParamsAs(std::span<const ParamPair> pairs) {
  BK_ASSIGN_OR_RETURN(KernelParams p, decodeParams(P::kId, pairs));
  return std::get<P>(std::move(p));
}

struct EncodedParam {
  std::string_view key;
  double value;
  ParamType type;
};
/// The parameters to store for `p`, in declaration order: every required
/// one, an optional one when it differs from its default, and an
/// official-only one whenever `p` is official. decodeParams inverts it.
std::vector<EncodedParam> encodeParams(const KernelParams &p);
/// The same as (key, value) pairs sorted by key, as the artifact stores them.
std::vector<ParamPair> encodeParamPairs(const KernelParams &p);

/// The RoPE parameters (V4_SPEC P3) that rope, head_rms_norm_rope and
/// compressor share.
struct RopeSpec {
  int64_t ropeDim = 0;
  double theta = 0;
  bool yarn = false;
  double ropeFactor = 0;
  int64_t originalSeqLen = 0;
  double betaFast = 0, betaSlow = 0;
};
template <typename P> RopeSpec ropeSpecOf(const P &p) {
  return {p.ropeDim,        p.theta,    p.yarn,    p.ropeFactor,
          p.originalSeqLen, p.betaFast, p.betaSlow};
}

} // namespace birkhoff

#endif // BIRKHOFF_KERNELPARAMS_H
