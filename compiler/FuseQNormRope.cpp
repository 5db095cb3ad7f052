//===- FuseQNormRope.cpp - head_rms_norm + rope fusion --------------------===//
//
// The query is normalized per head and then rotated; one pass over q does
// both. Only the forward rotation fuses (the inverse one acts on attention
// outputs, which are never head-normalized).
//
//===----------------------------------------------------------------------===//
#include "compiler/Passes.h"

#include "v4/V4Ops.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSEQNORMROPE
#include "compiler/Passes.h.inc"

namespace {

struct FuseNormIntoRope : OpRewritePattern<v4::RopeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(v4::RopeOp rope,
                                PatternRewriter &rewriter) const override {
    auto norm = rope.getInput().getDefiningOp<v4::HeadRmsNormOp>();
    if (!norm || rope.getInverse() || !norm.getResult().hasOneUse() ||
        norm.getHeads() != rope.getHeads())
      return failure();
    rewriter.setInsertionPoint(rope);
    rewriter.replaceOpWithNewOp<v4::HeadRmsNormRopeOp>(
        rope, rope.getType(), norm.getInput(), rope.getHeadsAttr(),
        rope.getHeadDimAttr(), norm.getEpsAttr(), rope.getRopeAttr());
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
