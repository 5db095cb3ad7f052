//===- V4Dialect.h - the v4 dialect ----------------------------*- C++ -*-===//
//
// The model-level dialect of Birkhoff. See docs/dialect.md.
//
//===----------------------------------------------------------------------===//

#ifndef BIRKHOFF_V4_V4DIALECT_H
#define BIRKHOFF_V4_V4DIALECT_H

#include "mlir/IR/Dialect.h"
// The dialect's module-attribute helpers are typed by its attributes.
#include "v4/V4Attrs.h"

#include "v4/V4Dialect.h.inc"

#endif // BIRKHOFF_V4_V4DIALECT_H
