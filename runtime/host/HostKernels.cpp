//===- HostKernels.cpp - Kernel id to implementation ----------------------===//
#include "HostKernels.h"

#include <array>

namespace birkhoff::rt {
namespace {

// run<Id>: the launch's params as kernel Id's struct, then its host kernel.
#define BK_KERNEL(Id, camel, name, ...)                                        \
  Status run##Id(const KernelArgs &a) {                                        \
    const auto *p = std::get_if<Id##Params>(&a.launch->params);                \
    if (!p)                                                                    \
      return internalError("launch of '" name "' has no decoded params");      \
    return camel##Kernel(a, *p);                                               \
  }
#include "birkhoff/Kernels.def"

constexpr std::array<HostKernelFn, kNumKernels> kHostKernels = {
#define BK_KERNEL(Id, ...) run##Id,
#include "birkhoff/Kernels.def"
};

} // namespace

HostKernelFn hostKernel(KernelId id) { return kHostKernels[size_t(id)]; }

} // namespace birkhoff::rt
