//===- V4Ops.h - v4 ops ----------------------------------------*- C++ -*-===//
//
// All v4 ops (birkhoff::v4::LinearOp, MhcPreOp, ...), plus the TokenMajor
// trait shared by all of them.
//
//===----------------------------------------------------------------------===//

#ifndef BIRKHOFF_V4_V4OPS_H
#define BIRKHOFF_V4_V4OPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "v4/V4Attrs.h"
#include "v4/V4Dialect.h"
#include "v4/V4Types.h"

namespace birkhoff::v4::OpTrait {

namespace detail {
/// [V4-1] Checks that all tensor operands and results agree on dimension 0.
mlir::LogicalResult verifyTokenMajor(mlir::Operation *op);
} // namespace detail

/// Shared invariant of every v4 op: activations, ids, indices and weights of
/// routing all lead with the token dimension, and it is the same one.
template <typename ConcreteType>
class TokenMajor : public mlir::OpTrait::TraitBase<ConcreteType, TokenMajor> {
public:
  static mlir::LogicalResult verifyTrait(mlir::Operation *op) {
    return detail::verifyTokenMajor(op);
  }
};

} // namespace birkhoff::v4::OpTrait

#define GET_OP_CLASSES
#include "v4/V4Ops.h.inc"

#endif // BIRKHOFF_V4_V4OPS_H
