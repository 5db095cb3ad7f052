//===- KernelCatalog.cpp --------------------------------------------------===//
#include "birkhoff/KernelCatalog.h"

#include <array>
#include <cassert>

namespace birkhoff {
namespace {

#define BK_REQUIRED_Required true
#define BK_REQUIRED_Optional false
#define BK_OFFICIAL_Official true
#define BK_OFFICIAL_Any false

// One ParamInfo array per kernel.
#define BK_KERNEL(Id, ...) constexpr ParamInfo k##Id##Params[] = {
#define BK_PARAM(Id, field, key, Type, Presence, dflt, Profile, lo, hi)        \
  {key,                                                                        \
   #field,                                                                     \
   ParamType::Type,                                                            \
   BK_REQUIRED_##Presence,                                                     \
   double(dflt),                                                               \
   BK_OFFICIAL_##Profile,                                                      \
   double(lo),                                                                 \
   double(hi)},
#define BK_KERNEL_END(Id)                                                      \
  }                                                                            \
  ;
#include "birkhoff/Kernels.def"

// One array of required keys per kernel (every kernel has one at least).
#define BK_KEY_IF_Required(key) key,
#define BK_KEY_IF_Optional(key)
#define BK_KERNEL(Id, ...) constexpr std::string_view k##Id##Required[] = {
#define BK_PARAM(Id, field, key, Type, Presence, dflt, Profile, lo, hi)        \
  BK_KEY_IF_##Presence(key)
#define BK_KERNEL_END(Id)                                                      \
  }                                                                            \
  ;
#include "birkhoff/Kernels.def"
#undef BK_KEY_IF_Required
#undef BK_KEY_IF_Optional

// clang-format off
constexpr std::array<KernelSignature, kNumKernels> kCatalog = {{
#define BK_KERNEL(Id, camel, name, minIn, maxIn, outs, minW, maxW, minS, maxS) \
  {KernelId::Id, name, minIn, maxIn, outs, minW, maxW, minS, maxS,             \
   k##Id##Params, k##Id##Required},
#include "birkhoff/Kernels.def"
}};
// clang-format on
static_assert(
    [] {
      for (size_t i = 0; i < kCatalog.size(); ++i)
        if (size_t(kCatalog[i].id) != i)
          return false;
      return true;
    }(),
    "kCatalog is indexed by KernelId");

#undef BK_REQUIRED_Required
#undef BK_REQUIRED_Optional
#undef BK_OFFICIAL_Official
#undef BK_OFFICIAL_Any

} // namespace

const ParamInfo *KernelSignature::findParam(std::string_view key) const {
  for (const ParamInfo &p : params)
    if (p.key == key)
      return &p;
  return nullptr;
}

std::span<const KernelSignature> kernelCatalog() { return kCatalog; }

const KernelSignature *findKernel(std::string_view name) {
  for (const KernelSignature &k : kCatalog)
    if (k.name == name)
      return &k;
  return nullptr;
}

const KernelSignature &kernelSignature(KernelId id) {
  assert(size_t(id) < kCatalog.size() && "not a catalogue kernel");
  return kCatalog[size_t(id)];
}

std::optional<KernelId> kernelIdByName(std::string_view name) {
  if (const KernelSignature *k = findKernel(name))
    return k->id;
  return std::nullopt;
}

std::string_view kernelName(KernelId id) { return kernelSignature(id).name; }

} // namespace birkhoff
