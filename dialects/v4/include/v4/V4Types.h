//===- V4Types.h - v4 types ------------------------------------*- C++ -*-===//
//
// !v4.weight<FORMAT, SHAPE> and !v4.compressed<Dc, ratio>.
//
//===----------------------------------------------------------------------===//

#ifndef BIRKHOFF_V4_V4TYPES_H
#define BIRKHOFF_V4_V4TYPES_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"
#include "v4/V4Attrs.h"

#define GET_TYPEDEF_CLASSES
#include "v4/V4Types.h.inc"

namespace birkhoff::v4 {

/// Expected shape of the e8m0 scale of a `[out, in]` weight in `format`
/// (f8e4m3: 128x128 blocks; fp4e2m1: one per 32 inputs). Empty for formats
/// without scales.
llvm::SmallVector<int64_t, 2> expectedScaleShape(WeightFormat format,
                                                 llvm::ArrayRef<int64_t> shape);

} // namespace birkhoff::v4

#endif // BIRKHOFF_V4_V4TYPES_H
