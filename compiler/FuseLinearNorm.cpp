//===- FuseLinearNorm.cpp - linear + rms_norm fusion ----------------------===//
//
// q_norm after wq_a and kv_norm after wkv normalize a GEMM output that nothing
// else reads; the fused kernel normalizes in the GEMM epilogue.
//
//===----------------------------------------------------------------------===//
#include "compiler/OpAccess.h"
#include "compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSELINEARNORM
#include "compiler/Passes.h.inc"

namespace {

struct FuseNormIntoLinear : RewritePattern {
  explicit FuseNormIntoLinear(MLIRContext *ctx)
      : RewritePattern("v4.rms_norm", /*benefit=*/1, ctx) {}

  LogicalResult matchAndRewrite(Operation *norm,
                                PatternRewriter &rewriter) const override {
    Operation *linear = norm->getOperand(0).getDefiningOp();
    if (!linear || linear->getName().getStringRef() != "v4.linear" ||
        !onlyUsedBy(linear->getResult(0), norm) || !linear->getAttr("weight") ||
        !norm->getAttr("weight") || !norm->getAttr("eps"))
      return failure();
    OperationState state(linear->getLoc(), "v4.linear_rms_norm");
    state.addOperands(linear->getOperands());
    state.addTypes(norm->getResultTypes());
    state.addAttribute("weight", linear->getAttr("weight"));
    state.addAttribute("norm", norm->getAttr("weight"));
    state.addAttribute("eps", norm->getAttr("eps"));
    rewriter.setInsertionPoint(norm);
    Operation *op = rewriter.create(state);
    rewriter.replaceOp(norm, op->getResults());
    rewriter.eraseOp(linear);
    return success();
  }
};

struct V4FuseLinearNormPass : impl::V4FuseLinearNormBase<V4FuseLinearNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseNormIntoLinear>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
