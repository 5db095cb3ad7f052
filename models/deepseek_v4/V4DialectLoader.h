//===- V4DialectLoader.h - Load the v4 dialect without its headers -*- C++
//-*-===//
//
// The dialect's enums (`birkhoff::v4::AttentionKind`) collide with
// ModelConfig.h's; code that includes ModelConfig.h loads the dialect
// through this function instead of including the dialect headers.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_V4DIALECTLOADER_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_V4DIALECTLOADER_H

namespace mlir {
class MLIRContext;
class DialectRegistry;
} // namespace mlir

namespace birkhoff::v4 {
void loadV4Dialect(mlir::MLIRContext &context);
void registerV4Dialect(mlir::DialectRegistry &registry);
} // namespace birkhoff::v4

#endif
