//===- FuseRouter.cpp - router_scores + route_select fusion ---------------===//
//
// The scores are only read by the selection; one kernel computes the gate
// GEMM, the sqrt-softplus and the top-k (or hash lookup) per token.
//
//===----------------------------------------------------------------------===//
#include "compiler/OpAccess.h"
#include "compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSEROUTER
#include "compiler/Passes.h.inc"

namespace {

struct FuseScoresIntoSelect : RewritePattern {
  explicit FuseScoresIntoSelect(MLIRContext *ctx)
      : RewritePattern("v4.route_select", /*benefit=*/1, ctx) {}

  LogicalResult matchAndRewrite(Operation *select,
                                PatternRewriter &rewriter) const override {
    Operation *scores = select->getOperand(0).getDefiningOp();
    if (!scores || scores->getName().getStringRef() != "v4.router_scores" ||
        !onlyUsedBy(scores->getResult(0), select) || !scores->getAttr("gate"))
      return failure();
    OperationState state(select->getLoc(), "v4.router");
    state.addOperands({scores->getOperand(0), select->getOperand(1)});
    state.addTypes(select->getResultTypes());
    state.addAttributes(select->getAttrs());
    state.addAttribute("gate", scores->getAttr("gate"));
    rewriter.setInsertionPoint(select);
    Operation *op = rewriter.create(state);
    rewriter.replaceOp(select, op->getResults());
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
