//===- OpAccess.h - Reading op attributes by name ---------------*- C++ -*-===//
//
// Passes read v4 attributes by their contract names (docs/dialect.md); these
// helpers turn a missing or mistyped attribute into a diagnostic instead of a
// crash, so a malformed input module fails the pass cleanly.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_OPACCESS_H
#define BIRKHOFF_COMPILER_OPACCESS_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Operation.h"

#include <optional>
#include <string>

namespace birkhoff {

std::optional<int64_t> getInt(mlir::Operation *op, llvm::StringRef name);
std::optional<double> getFloat(mlir::Operation *op, llvm::StringRef name);
/// The symbol name of a FlatSymbolRefAttr attribute.
std::optional<std::string> getSymbol(mlir::Operation *op, llvm::StringRef name);
/// The case name of an enum attribute (`#v4.attention_kind<csa>` -> "csa")
/// or the value of a string attribute.
std::optional<std::string> getEnumName(mlir::Operation *op,
                                       llvm::StringRef name);
/// All attributes of `op` (inherent and discardable) except those named.
llvm::SmallVector<mlir::NamedAttribute>
attrsExcept(mlir::Operation *op, llvm::ArrayRef<llvm::StringRef> names);
/// `result` has exactly one use, by `user`.
bool onlyUsedBy(mlir::Value result, mlir::Operation *user);

} // namespace birkhoff

#endif // BIRKHOFF_COMPILER_OPACCESS_H
