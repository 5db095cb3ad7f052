//===- Passes.h - Birkhoff compiler passes and pipelines -------*- C++ -*-===//
#ifndef BIRKHOFF_COMPILER_PASSES_H
#define BIRKHOFF_COMPILER_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <cstdint>
#include <memory>

namespace birkhoff::bk {
class BkDialect;
}
namespace mlir::func {
class FuncDialect;
}

namespace birkhoff {

#define GEN_PASS_DECL
#include "compiler/Passes.h.inc"

/// Registers every pass and the named pipelines with MLIR's registry (for
/// birkhoff-opt): `birkhoff-model`, `birkhoff-lowering`, `birkhoff-full`.
void registerCompilerPasses();

/// v4 -> v4: verify, canonicalize + CSE, fusions, verify.
void buildModelPipeline(mlir::OpPassManager &pm);
/// v4 -> bk: lower, plan memory, verify.
void buildLoweringPipeline(mlir::OpPassManager &pm, int64_t maxTokens);
/// What --target cuda runs on the lowered module before CUDA code
/// generation (compileCudaProgram): bk-choose-schedule.
/// `splitDecodeAttention`: cuda::ScheduleOptions::splitDecodeAttention.
void buildCudaPipeline(mlir::OpPassManager &pm,
                       bool splitDecodeAttention = false);

} // namespace birkhoff

#endif // BIRKHOFF_COMPILER_PASSES_H
