//===- birkhoff-opt.cpp - mlir-opt for Birkhoff ---------------------------===//
//
// Parses, verifies, transforms and prints Birkhoff IR. Registers the v4
// dialect and func; the compiler's passes and the bk dialect join below.
//
//===----------------------------------------------------------------------===//

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "v4/V4Dialect.h"

// ---- COMPILER-AUTHOR: registration of passes and the bk dialect goes here ----
#include "compiler/Passes.h"
#include "kernel/BkDialect.h"
// --------------------------------------------------------------------------------

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<birkhoff::v4::V4Dialect, mlir::func::FuncDialect>();

  // ---- COMPILER-AUTHOR: add here ----
  birkhoff::registerCompilerPasses();
  registry.insert<birkhoff::bk::BkDialect>();
  // -----------------------------------

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Birkhoff optimizer driver\n", registry));
}
