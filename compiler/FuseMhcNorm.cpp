//===- FuseMhcNorm.cpp - mhc_pre/mhc_head + rms_norm fusion ---------------===//
//
// The RMSNorm after the mHC pre-mix (attn_norm, ffn_norm) and after the head
// collapse (norm) reads `u` once; fusing saves a round trip of `u` through
// memory and one launch per site.
//
//===----------------------------------------------------------------------===//
#include "compiler/OpAccess.h"
#include "compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSEMHCNORM
#include "compiler/Passes.h.inc"

namespace {

/// rms_norm(mhc_pre(x).u) -> mhc_pre_norm(x), and likewise for mhc_head.
struct FuseIntoMhc : RewritePattern {
  explicit FuseIntoMhc(MLIRContext *ctx)
      : RewritePattern("v4.rms_norm", /*benefit=*/1, ctx) {}

  LogicalResult matchAndRewrite(Operation *norm,
                                PatternRewriter &rewriter) const override {
    Operation *producer = norm->getOperand(0).getDefiningOp();
    if (!producer)
      return failure();
    StringRef name = producer->getName().getStringRef();
    StringRef fused;
    if (name == "v4.mhc_pre")
      fused = "v4.mhc_pre_norm";
    else if (name == "v4.mhc_head")
      fused = "v4.mhc_head_norm";
    else
      return failure();
    if (!onlyUsedBy(producer->getResult(0), norm) || !norm->getAttr("weight") ||
        !norm->getAttr("eps"))
      return failure();
    OperationState state(producer->getLoc(), fused);
    state.addOperands(producer->getOperands());
    state.addTypes(producer->getResultTypes());
    state.addAttributes(producer->getAttrs());
    state.addAttribute("norm", norm->getAttr("weight"));
    state.addAttribute("eps", norm->getAttr("eps"));
    rewriter.setInsertionPoint(producer);
    Operation *op = rewriter.create(state);
    rewriter.replaceOp(norm, op->getResult(0));
    // `u` had no use but the norm, so all results map one to one.
    rewriter.replaceOp(producer, op->getResults());
    return success();
  }
};

struct V4FuseMhcNormPass : impl::V4FuseMhcNormBase<V4FuseMhcNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseIntoMhc>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
