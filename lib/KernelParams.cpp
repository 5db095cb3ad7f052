//===- KernelParams.cpp ---------------------------------------------------===//
#include "birkhoff/KernelParams.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace birkhoff {
namespace {

/// Shortest text that reads back as `v` (64.5, 1e-06, 10000, 1e+300).
std::string numberText(double v) {
  // Whole numbers in full (a range's 1000 and 16777216, not 1e+03).
  if (std::trunc(v) == v && std::fabs(v) < 1e15)
    return std::to_string(int64_t(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int digits = 1; digits <= 17; ++digits) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", digits, v);
    if (std::strtod(shorter, nullptr) == v)
      return shorter;
  }
  return buf;
}

Status paramError(const KernelSignature &sig, std::string_view key,
                  const std::string &what) {
  return invalidArgument("kernel '" + std::string(sig.name) + "': parameter '" +
                         std::string(key) + "' " + what);
}

/// Checks `pairs` against `sig` and returns every parameter's value, in
/// declaration order, defaults filled in.
Expected<std::vector<double>> checkedValues(const KernelSignature &sig,
                                            std::span<const ParamPair> pairs) {
  std::vector<double> values(sig.params.size());
  std::vector<bool> seen(sig.params.size(), false);
  for (const auto &[key, v] : pairs) {
    const ParamInfo *info = sig.findParam(key);
    if (!info)
      return paramError(sig, key, "is not a parameter of this kernel");
    size_t i = size_t(info - sig.params.data());
    if (seen[i])
      return paramError(sig, key, "is given twice");
    seen[i] = true;
    switch (info->type) {
    case ParamType::Int:
      // 2^63 is the first double past int64_t's range.
      if (!std::isfinite(v) || std::trunc(v) != v ||
          std::fabs(v) >= 9223372036854775808.0)
        return paramError(sig, key,
                          "= " + numberText(v) + " is not an integer");
      break;
    case ParamType::Bool:
      if (v != 0.0 && v != 1.0)
        return paramError(sig, key, "= " + numberText(v) + " is not 0 or 1");
      break;
    case ParamType::Real:
      break;
    }
    // The one range check: the compiler's bk.launch verifier and the runtime
    // loader both decode here, so neither accepts what the other refuses.
    if (!(v >= info->minValue && v <= info->maxValue))
      return paramError(sig, key,
                        "= " + numberText(v) + " is outside [" +
                            numberText(info->minValue) + ", " +
                            numberText(info->maxValue) + "]");
    values[i] = v;
  }
  for (size_t i = 0; i < sig.params.size(); ++i) {
    if (seen[i])
      continue;
    if (sig.params[i].required)
      return paramError(sig, sig.params[i].key, "is missing");
    values[i] = sig.params[i].defaultValue;
  }
  // An official-only parameter means nothing in the reference profile: one
  // set there is a compiler bug, not a choice.
  const ParamInfo *numerics = sig.findParam("numerics");
  bool official =
      numerics && values[size_t(numerics - sig.params.data())] == 1.0;
  for (size_t i = 0; i < sig.params.size() && !official; ++i)
    if (sig.params[i].officialOnly && values[i] != sig.params[i].defaultValue)
      return paramError(sig, sig.params[i].key,
                        "= " + numberText(values[i]) +
                            " is official-only (needs numerics = 1)");
  return values;
}

template <typename T> T fromDouble(double v) {
  if constexpr (std::is_same_v<T, bool>)
    return v != 0.0;
  else
    return static_cast<T>(v);
}

} // namespace

KernelId kernelIdOf(const KernelParams &p) {
  assert(p.index() > 0 && "params not decoded");
  return KernelId(p.index() - 1);
}

int64_t numericsOf(const KernelParams &p) {
  return std::visit(
      [](const auto &q) -> int64_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(q)>, std::monostate>)
          return 0;
        else
          return q.numerics;
      },
      p);
}

Expected<KernelParams> decodeParams(KernelId id,
                                    std::span<const ParamPair> pairs) {
  const KernelSignature &sig = kernelSignature(id);
  BK_ASSIGN_OR_RETURN(std::vector<double> values, checkedValues(sig, pairs));
  switch (id) {
#define BK_KERNEL(Id, ...)                                                     \
  case KernelId::Id: {                                                         \
    Id##Params p;                                                              \
    size_t i = 0;
#define BK_PARAM(Id, field, ...)                                               \
  p.field = fromDouble<decltype(p.field)>(values[i++]);
#define BK_KERNEL_END(Id)                                                      \
  (void)i;                                                                     \
  return KernelParams(std::move(p));                                           \
  }
#include "birkhoff/Kernels.def"
  }
  return internalError("decodeParams: not a catalogue kernel");
}

std::vector<EncodedParam> encodeParams(const KernelParams &params) {
  std::vector<EncodedParam> out;
  if (params.index() == 0)
    return out;
  const KernelSignature &sig = kernelSignature(kernelIdOf(params));
  std::vector<double> values;
  values.reserve(sig.params.size());
  switch (kernelIdOf(params)) {
#define BK_KERNEL(Id, ...)                                                     \
  case KernelId::Id: {                                                         \
    const auto &p = std::get<Id##Params>(params);
#define BK_PARAM(Id, field, ...) values.push_back(double(p.field));
#define BK_KERNEL_END(Id)                                                      \
  break;                                                                       \
  }
#include "birkhoff/Kernels.def"
  }
  bool official = numericsOf(params) == 1;
  for (size_t i = 0; i < sig.params.size(); ++i) {
    const ParamInfo &info = sig.params[i];
    if (info.required || values[i] != info.defaultValue ||
        (info.officialOnly && official))
      out.push_back({info.key, values[i], info.type});
  }
  return out;
}

std::vector<ParamPair> encodeParamPairs(const KernelParams &p) {
  std::vector<ParamPair> out;
  for (const EncodedParam &e : encodeParams(p))
    out.emplace_back(std::string(e.key), e.value);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace birkhoff
