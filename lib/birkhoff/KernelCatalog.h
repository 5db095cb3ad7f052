//===- KernelCatalog.h - The kernels a Birkhoff program may launch
//---------===//
//
// The contract between the compiler (which emits launches) and the runtime
// backends (which implement them); docs/kernels.md gives the semantics. Both
// sides check launches against this table. Everything here is derived from
// Kernels.def, the one declaration of every kernel; KernelParams.h adds the
// typed parameters.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_KERNELCATALOG_H
#define BIRKHOFF_KERNELCATALOG_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace birkhoff {

/// One value per catalogue kernel, in Kernels.def order.
enum class KernelId : uint8_t {
#define BK_KERNEL(Id, ...) Id,
#include "birkhoff/Kernels.def"
};

inline constexpr size_t kNumKernels = 0
#define BK_KERNEL(...) +1
#include "birkhoff/Kernels.def"
    ;

/// Whether kernel `id` reads token positions or per-sequence state
/// (BK_PER_SEQUENCE in Kernels.def): the host runs it once per sequence of a
/// batched call.
constexpr bool kernelPerSequence(KernelId id) {
  switch (id) {
#define BK_PER_SEQUENCE(Id)                                                    \
  case KernelId::Id:                                                           \
    return true;
#include "birkhoff/Kernels.def"
  default:
    return false;
  }
}

/// Upper bounds of the catalogue's parameter ranges (Kernels.def). They bound
/// what a kernel can index or allocate, not what a model needs: a feature
/// dimension up to 2^24, a sliding window and a compression ratio up to 2^20
/// tokens, up to 2^16 routed experts.
constexpr int64_t kMaxDim = int64_t(1) << 24;
constexpr int64_t kMaxWindow = int64_t(1) << 20;
constexpr int64_t kMaxRatio = int64_t(1) << 20;
constexpr int64_t kMaxExperts = int64_t(1) << 16;

/// How a parameter's value (a double in the artifact) is read.
enum class ParamType : uint8_t {
  Int,  // int64_t; the value must be an exact integer
  Real, // double
  Bool, // 0 or 1
};

struct ParamInfo {
  std::string_view key;   // as stored in the artifact and the bk.launch
  std::string_view field; // the C++ field of the kernel's params struct
  ParamType type;
  bool required;
  double defaultValue; // the value of an absent optional parameter
  /// Only the official numerics profile writes it (docs/kernels.md).
  bool officialOnly;
  /// The inclusive range of the value (Kernels.def); decodeParams refuses
  /// one outside it, at compile time and at load alike.
  double minValue, maxValue;
};

struct KernelSignature {
  KernelId id;
  std::string_view name;
  int minInputs, maxInputs; // buffers (the token ids count as one)
  int outputs;
  int minWeights, maxWeights; // -1 maxWeights: any number (moe)
  int minStates, maxStates;
  /// Every parameter a launch of this kernel may carry, in declaration order.
  std::span<const ParamInfo> params;
  /// The keys of the required ones, in the same order.
  std::span<const std::string_view> requiredParams;

  /// The parameter `key`, or nullptr when the kernel has none of that name.
  const ParamInfo *findParam(std::string_view key) const;
};

/// All kernels, in KernelId order.
std::span<const KernelSignature> kernelCatalog();
/// The signature of `name`, or nullptr when no such kernel exists.
const KernelSignature *findKernel(std::string_view name);
const KernelSignature &kernelSignature(KernelId id);
std::optional<KernelId> kernelIdByName(std::string_view name);
std::string_view kernelName(KernelId id);

} // namespace birkhoff

#endif // BIRKHOFF_KERNELCATALOG_H
