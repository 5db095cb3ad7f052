//===- FuseRouter.cpp - router_scores + route_select fusion ---------------===//
//
// The scores are only read by the selection; one kernel computes the gate
// GEMM, the sqrt-softplus and the top-k (or hash lookup) per token.
//
//===----------------------------------------------------------------------===//
#include "compiler/Passes.h"

#include "v4/V4Ops.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSEROUTER
#include "compiler/Passes.h.inc"

namespace {

struct FuseScoresIntoSelect : OpRewritePattern<v4::RouteSelectOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(v4::RouteSelectOp select,
                                PatternRewriter &rewriter) const override {
    auto scores = select.getScores().getDefiningOp<v4::RouterScoresOp>();
    if (!scores || !scores.getResult().hasOneUse())
      return failure();
    rewriter.setInsertionPoint(select);
    rewriter.replaceOpWithNewOp<v4::RouterOp>(
        select, select.getResultTypes(), scores.getInput(), select.getTokens(),
        scores.getGateAttr(), select.getTopkAttr(), select.getRouteScaleAttr(),
        select.getBiasAttr(), select.getTid2eidAttr());
    rewriter.eraseOp(scores);
    return success();
  }
};

struct V4FuseRouterPass : impl::V4FuseRouterBase<V4FuseRouterPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseScoresIntoSelect>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
