//===- Pipelines.cpp - Named pass pipelines and registration --------------===//
#include "compiler/Passes.h"

#include "kernel/BkDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace birkhoff {

namespace {
#define GEN_PASS_REGISTRATION
#include "compiler/Passes.h.inc"
} // namespace

void buildModelPipeline(mlir::OpPassManager &pm) {
  pm.addPass(createV4Verify());
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  pm.addPass(createV4FuseMhcNorm());
  pm.addPass(createV4FuseLinearNorm());
  pm.addPass(createV4FuseQNormRope());
  pm.addPass(createV4FuseRouter());
  pm.addPass(createV4Verify());
}

void buildLoweringPipeline(mlir::OpPassManager &pm, int64_t maxTokens) {
  pm.addPass(createV4LowerToKernels(V4LowerToKernelsOptions{maxTokens}));
  pm.addPass(createBkPlanMemory());
  pm.addPass(createBkVerify(BkVerifyOptions{/*requirePlan=*/true}));
}

void buildCudaPipeline(mlir::OpPassManager &pm, bool splitDecodeAttention) {
  pm.addPass(
      createBkChooseSchedule(BkChooseScheduleOptions{splitDecodeAttention}));
}

void registerCompilerPasses() {
  registerBirkhoffCompilerPasses();
  mlir::PassPipelineRegistration<>(
      "birkhoff-model", "v4 verification, canonicalization and fusions",
      [](mlir::OpPassManager &pm) { buildModelPipeline(pm); });
  mlir::PassPipelineRegistration<>(
      "birkhoff-lowering", "v4 -> bk launches, memory plan, verification",
      [](mlir::OpPassManager &pm) { buildLoweringPipeline(pm, 512); });
  mlir::PassPipelineRegistration<>(
      "birkhoff-cuda", "the CUDA schedule of every launch",
      [](mlir::OpPassManager &pm) { buildCudaPipeline(pm); });
  mlir::PassPipelineRegistration<>(
      "birkhoff-full", "the whole compile pipeline (max_tokens 512)",
      [](mlir::OpPassManager &pm) {
        buildModelPipeline(pm);
        buildLoweringPipeline(pm, 512);
      });
}

} // namespace birkhoff
