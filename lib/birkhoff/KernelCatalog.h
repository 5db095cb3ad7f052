//===- KernelCatalog.h - The kernels a Birkhoff program may launch ---------===//
//
// The contract between the compiler (which emits launches) and the runtime
// backends (which implement them); docs/kernels.md gives the semantics. Both
// sides check launches against this table.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_KERNELCATALOG_H
#define BIRKHOFF_KERNELCATALOG_H

#include <span>
#include <string_view>

namespace birkhoff {

struct KernelSignature {
  std::string_view name;
  int minInputs, maxInputs;   // buffers (the token ids count as one)
  int outputs;
  int minWeights, maxWeights; // -1 maxWeights: any number (moe)
  int minStates, maxStates;
  /// Parameters every launch of this kernel must carry.
  std::span<const std::string_view> requiredParams;
};

/// All kernels, in no particular order.
std::span<const KernelSignature> kernelCatalog();
/// The signature of `name`, or nullptr when no such kernel exists.
const KernelSignature *findKernel(std::string_view name);

} // namespace birkhoff

#endif // BIRKHOFF_KERNELCATALOG_H
