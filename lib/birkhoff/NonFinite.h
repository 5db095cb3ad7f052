//===- NonFinite.h - Find a NaN or an infinity in stored values -*- C++ -*-===//
//
// A checkpoint with a NaN or an infinity in a weight produces NaN logits on
// every step that touches it, far from the cause. The compiler streams every
// stored weight into the artifact anyway, so it scans each one on the way
// and refuses the first non-finite value, naming the tensor.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_NONFINITE_H
#define BIRKHOFF_NONFINITE_H

#include "birkhoff/DType.h"

#include <cstdint>
#include <optional>
#include <span>

namespace birkhoff {

/// The index of the first stored element of `bytes` (little-endian values of
/// `dtype`) that is a NaN or an infinity, or nullopt when all are finite.
/// F32 and BF16: an all-ones exponent; F8E4M3 (e4m3fn, no infinities):
/// S.1111.111; F8E8M0 (scales): 0xff. FP4 and the integer types have no
/// non-finite codes. A trailing partial element is ignored.
std::optional<int64_t> firstNonFinite(DType dtype,
                                      std::span<const uint8_t> bytes);

} // namespace birkhoff

#endif // BIRKHOFF_NONFINITE_H
