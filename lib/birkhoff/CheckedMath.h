//===- CheckedMath.h - Size arithmetic that reports overflow --------------===//
//
// Sizes in Birkhoff come from files and flags: an artifact's max_context and
// state layouts, a config's dimensions, a tensor's shape, `--max-context`. A
// product of two of them can pass 64 bits; a wrapped size then allocates too
// little and a kernel writes past it, and signed overflow is undefined
// behaviour besides. So every size product built from such values goes
// through these helpers instead of `*` and `+`.
//
// Limits that the sizes are bounded by first (kMaxContextTokens) live here
// too, so the loader, the engine and the compiler agree on them.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CHECKEDMATH_H
#define BIRKHOFF_CHECKEDMATH_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace birkhoff {

/// The most tokens of context an artifact, an engine or a session holds: the
/// kernels address positions as int32 with headroom (2^30), and at that bound
/// every state, page and table size below fits 64 bits.
inline constexpr int64_t kMaxContextTokens = int64_t(1) << 30;

/// a * b, or nullopt when the exact product does not fit in T.
template <typename T> std::optional<T> checkedMul(T a, T b) {
  T out;
  if (__builtin_mul_overflow(a, b, &out))
    return std::nullopt;
  return out;
}

/// a + b, or nullopt when the exact sum does not fit in T.
template <typename T> std::optional<T> checkedAdd(T a, T b) {
  T out;
  if (__builtin_add_overflow(a, b, &out))
    return std::nullopt;
  return out;
}

/// The product of `factors`, or nullopt when one is negative or the product
/// does not fit in int64_t (an empty list is 1, like a scalar's shape).
inline std::optional<int64_t> checkedProduct(std::span<const int64_t> factors) {
  int64_t out = 1;
  for (int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(out, f, &out))
      return std::nullopt;
  return out;
}
inline std::optional<int64_t>
checkedProduct(std::initializer_list<int64_t> factors) {
  return checkedProduct(
      std::span<const int64_t>(factors.begin(), factors.size()));
}

/// The product of `factors` as a size; an OutOfRange error naming `what` and
/// the factors when one is negative or the product passes int64_t.
inline Expected<int64_t> checkedSize(std::string_view what,
                                     std::span<const int64_t> factors) {
  if (std::optional<int64_t> p = checkedProduct(factors))
    return *p;
  std::string text;
  for (size_t i = 0; i < factors.size(); ++i)
    text += (i ? " * " : "") + std::to_string(factors[i]);
  return outOfRange(std::string(what) + ": " + text +
                    " is negative or overflows 64 bits");
}
inline Expected<int64_t> checkedSize(std::string_view what,
                                     std::initializer_list<int64_t> factors) {
  return checkedSize(what,
                     std::span<const int64_t>(factors.begin(), factors.size()));
}

} // namespace birkhoff

#endif // BIRKHOFF_CHECKEDMATH_H
