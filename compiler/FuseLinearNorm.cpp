//===- FuseLinearNorm.cpp - linear + rms_norm fusion ----------------------===//
//
// q_norm after wq_a and kv_norm after wkv normalize a GEMM output that nothing
// else reads; the fused kernel normalizes in the GEMM epilogue.
//
//===----------------------------------------------------------------------===//
#include "compiler/Passes.h"

#include "v4/V4Ops.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSELINEARNORM
#include "compiler/Passes.h.inc"

namespace {

struct FuseNormIntoLinear : OpRewritePattern<v4::RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(v4::RmsNormOp norm,
                                PatternRewriter &rewriter) const override {
    auto linear = norm.getInput().getDefiningOp<v4::LinearOp>();
    if (!linear || !linear.getResult().hasOneUse())
      return failure();
    rewriter.setInsertionPoint(norm);
    auto fused = v4::LinearRmsNormOp::create(
        rewriter, linear.getLoc(), norm.getType(), linear.getInput(),
        linear.getWeightAttr(), norm.getWeightAttr(), norm.getEpsAttr());
    rewriter.replaceOp(norm, fused);
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
