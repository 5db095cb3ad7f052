//===- BkDialect.h - The `bk` kernel-level dialect -------------*- C++ -*-===//
//
// C++ namespace birkhoff::bk. Ops: bk.weight, bk.state, bk.alloc, bk.launch;
// type !bk.buffer; attribute #bk.schedule. Entry functions are func.func ops
// with the `bk.entry` unit attribute and `bk.max_tokens`; their two arguments
// are the token ids and the logits buffer.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_DIALECTS_KERNEL_BKDIALECT_H
#define BIRKHOFF_DIALECTS_KERNEL_BKDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"

#include "kernel/BkDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "kernel/BkTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "kernel/BkAttrs.h.inc"

#define GET_OP_CLASSES
#include "kernel/BkOps.h.inc"

namespace birkhoff::bk {
/// Function attributes of an entry point.
inline constexpr llvm::StringLiteral kEntryAttr = "bk.entry";
inline constexpr llvm::StringLiteral kMaxTokensAttr = "bk.max_tokens";
inline constexpr llvm::StringLiteral kArenaAttr = "bk.arena_elems_per_token";
} // namespace birkhoff::bk

#endif // BIRKHOFF_DIALECTS_KERNEL_BKDIALECT_H
