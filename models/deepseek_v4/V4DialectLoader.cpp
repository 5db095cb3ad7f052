//===- V4DialectLoader.cpp ------------------------------------------------===//
#include "deepseek_v4/V4DialectLoader.h"

#include "v4/V4Dialect.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

namespace birkhoff::v4 {
void loadV4Dialect(mlir::MLIRContext &context) {
  context.getOrLoadDialect<V4Dialect>();
}
void registerV4Dialect(mlir::DialectRegistry &registry) {
  registry.insert<V4Dialect>();
}
} // namespace birkhoff::v4
