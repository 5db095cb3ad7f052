//===- V4Attrs.h - v4 attributes and enums ---------------------*- C++ -*-===//
//
// Enums (WeightFormat, CompressorKind, CompressorRole, AttentionKind,
// Numerics), their attributes, and #v4.rope.
//
//===----------------------------------------------------------------------===//

#ifndef BIRKHOFF_V4_V4ATTRS_H
#define BIRKHOFF_V4_V4ATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "v4/V4Enums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "v4/V4Attrs.h.inc"

#endif // BIRKHOFF_V4_V4ATTRS_H
