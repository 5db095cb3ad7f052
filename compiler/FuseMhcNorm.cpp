//===- FuseMhcNorm.cpp - mhc_pre/mhc_head + rms_norm fusion ---------------===//
//
// The RMSNorm after the mHC pre-mix (attn_norm, ffn_norm) and after the head
// collapse (norm) reads `u` once; fusing saves a round trip of `u` through
// memory and one launch per site.
//
//===----------------------------------------------------------------------===//
#include "compiler/Passes.h"

#include "v4/V4Ops.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4FUSEMHCNORM
#include "compiler/Passes.h.inc"

namespace {

/// The normalized value of each mHC op: the sublayer input `u`, the head's
/// collapsed state.
Value normed(v4::MhcPreOp pre) { return pre.getU(); }
Value normed(v4::MhcHeadOp head) { return head.getResult(); }

/// The fused op: all attributes of the mHC op plus the norm's weight and eps.
v4::MhcPreNormOp createFused(PatternRewriter &rewriter, v4::MhcPreOp pre,
                             v4::RmsNormOp norm) {
  return v4::MhcPreNormOp::create(
      rewriter, pre.getLoc(), pre.getResultTypes(), pre.getInput(),
      pre.getFnAttr(), pre.getBaseAttr(), pre.getScaleAttr(),
      norm.getWeightAttr(), pre.getSinkhornItersAttr(), pre.getHcEpsAttr(),
      pre.getNormEpsAttr(), norm.getEpsAttr());
}
v4::MhcHeadNormOp createFused(PatternRewriter &rewriter, v4::MhcHeadOp head,
                              v4::RmsNormOp norm) {
  return v4::MhcHeadNormOp::create(rewriter, head.getLoc(), head.getType(),
                                   head.getInput(), head.getFnAttr(),
                                   head.getBaseAttr(), head.getScaleAttr(),
                                   norm.getWeightAttr(), head.getHcEpsAttr(),
                                   head.getNormEpsAttr(), norm.getEpsAttr());
}

/// rms_norm(mhc_pre(x).u) -> mhc_pre_norm(x), and likewise for mhc_head.
template <typename MhcOp>
struct FuseNormIntoMhc : OpRewritePattern<v4::RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(v4::RmsNormOp norm,
                                PatternRewriter &rewriter) const override {
    auto mhc = norm.getInput().getDefiningOp<MhcOp>();
    if (!mhc || norm.getInput() != normed(mhc) || !normed(mhc).hasOneUse())
      return failure();
    rewriter.setInsertionPoint(mhc);
    Operation *fused = createFused(rewriter, mhc, norm);
    rewriter.replaceOp(norm, fused->getResult(0));
    // The normed value had no use but the norm, so all results map one to
    // one.
    rewriter.replaceOp(mhc, fused->getResults());
    return success();
  }
};

struct V4FuseMhcNormPass : impl::V4FuseMhcNormBase<V4FuseMhcNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseNormIntoMhc<v4::MhcPreOp>, FuseNormIntoMhc<v4::MhcHeadOp>>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
