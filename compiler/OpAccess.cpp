//===- OpAccess.cpp -------------------------------------------------------===//
#include "compiler/OpAccess.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace birkhoff {

std::optional<int64_t> getInt(Operation *op, StringRef name) {
  if (auto a = dyn_cast_or_null<IntegerAttr>(op->getAttr(name)))
    return a.getValue().getSExtValue();
  return std::nullopt;
}

std::optional<double> getFloat(Operation *op, StringRef name) {
  if (auto a = dyn_cast_or_null<FloatAttr>(op->getAttr(name)))
    return a.getValueAsDouble();
  return std::nullopt;
}

std::optional<std::string> getSymbol(Operation *op, StringRef name) {
  if (auto a = dyn_cast_or_null<FlatSymbolRefAttr>(op->getAttr(name)))
    return a.getValue().str();
  return std::nullopt;
}

std::optional<std::string> getEnumName(Operation *op, StringRef name) {
  Attribute a = op->getAttr(name);
  if (!a)
    return std::nullopt;
  if (auto s = dyn_cast<StringAttr>(a))
    return s.getValue().str();
  // Enum attributes print as `#dialect<mnemonic case>` or
  // `#dialect.mnemonic<case>`: the case is the last word inside the brackets.
  std::string text;
  llvm::raw_string_ostream os(text);
  a.print(os);
  size_t open = text.find('<'), close = text.rfind('>');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return std::nullopt;
  std::string inner = text.substr(open + 1, close - open - 1);
  size_t space = inner.find_last_of(' ');
  return space == std::string::npos ? inner : inner.substr(space + 1);
}

SmallVector<NamedAttribute> attrsExcept(Operation *op,
                                        ArrayRef<StringRef> names) {
  SmallVector<NamedAttribute> out;
  for (NamedAttribute a : op->getAttrs())
    if (!llvm::is_contained(names, a.getName().getValue()))
      out.push_back(a);
  return out;
}

bool onlyUsedBy(Value result, Operation *user) {
  return result.hasOneUse() && *result.getUsers().begin() == user;
}

} // namespace birkhoff
