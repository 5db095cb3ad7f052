//===- FuseQNormRope.cpp - head_rms_norm + rope fusion --------------------===//
//
// The query is normalized per head and then rotated; one pass over q does
// both. Only the forward rotation fuses (the inverse one acts on attention
// outputs, which are never head-normalized).
//
//===----------------------------------------------------------------------===//
#include "compiler/OpAccess.h"
#include "compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSEQNORMROPE
#include "compiler/Passes.h.inc"

namespace {

struct FuseNormIntoRope : RewritePattern {
  explicit FuseNormIntoRope(MLIRContext *ctx)
      : RewritePattern("v4.rope", /*benefit=*/1, ctx) {}

  LogicalResult matchAndRewrite(Operation *rope,
                                PatternRewriter &rewriter) const override {
    Operation *norm = rope->getOperand(0).getDefiningOp();
    if (!norm || norm->getName().getStringRef() != "v4.head_rms_norm" ||
        rope->hasAttr("inverse") || !onlyUsedBy(norm->getResult(0), rope) ||
        getInt(norm, "heads") != getInt(rope, "heads") || !norm->getAttr("eps"))
      return failure();
    OperationState state(rope->getLoc(), "v4.head_rms_norm_rope");
    state.addOperands(norm->getOperands());
    state.addTypes(rope->getResultTypes());
    state.addAttribute("heads", rope->getAttr("heads"));
    state.addAttribute("head_dim", rope->getAttr("head_dim"));
    state.addAttribute("eps", norm->getAttr("eps"));
    state.addAttribute("rope", rope->getAttr("rope"));
    rewriter.setInsertionPoint(rope);
    Operation *op = rewriter.create(state);
    rewriter.replaceOp(rope, op->getResults());
    rewriter.eraseOp(norm);
    return success();
  }
};

struct V4FuseQNormRopePass : impl::V4FuseQNormRopeBase<V4FuseQNormRopePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseNormIntoRope>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
