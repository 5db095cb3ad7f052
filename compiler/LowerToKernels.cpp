//===- LowerToKernels.cpp - v4 ops to bk kernel launches ------------------===//
//
// A dialect conversion of the entry functions: each v4 op becomes launches of
// docs/kernels.md through its pattern (LowerOpPatterns.cpp) and is replaced by
// the buffers it writes. Tensors become `!bk.buffer`s; compressed entries
// become nothing, as they live in states. Each entry takes the token ids and
// the logits buffer as arguments; weights become `bk.weight` once the
// entries, which look their shapes up, are lowered.
//
// With `v4.numerics = #v4.numerics<official>` on the module every launch gets
// `numerics = 1` and the official-only parameters of docs/kernels.md
// ("The `official` numerics profile"); state rows then hold the deployment
// formats (FP8 KV entries, FP4 indexer keys). In the reference profile those
// parameters are absent (they decode to their defaults, 0) and rows are f32.
//
//===----------------------------------------------------------------------===//
#include "compiler/KernelLowering.h"
#include "compiler/Passes.h"

#include "v4/V4Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4LOWERTOKERNELS
#include "compiler/Passes.h.inc"

namespace {

//===----------------------------------------------------------------------===//
// Entry functions, weights, and ops without a kernel
//===----------------------------------------------------------------------===//

/// `@prefill(tokens) -> logits` becomes `@prefill(tokens, logits)` on
/// buffers, without results; its body moves over and is lowered op by op.
struct LowerEntry : OpConversionPattern<func::FuncOp> {
  LowerEntry(KernelLowering &lowering, const TypeConverter &types,
             MLIRContext *ctx)
      : OpConversionPattern(types, ctx), lowering_(lowering) {}

  LogicalResult
  matchAndRewrite(func::FuncOp fn, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (failed(check(fn))) {
      lowering_.markFailed();
      return failure();
    }
    auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
    auto tokens = cast<RankedTensorType>(fn.getArgument(0).getType());
    // A dynamic entry takes the lowering's max_tokens, or its own
    // v4.max_tokens when that is smaller; one whose own is not smaller
    // would only repeat the entry of max_tokens, and is dropped.
    int64_t tokensPerCall =
        tokens.isDynamicDim(0) ? lowering_.maxTokens() : tokens.getDimSize(0);
    auto *v4 = getContext()->getLoadedDialect<v4::V4Dialect>();
    IntegerAttr own =
        v4 ? v4->getMaxTokensAttrHelper().getAttr(fn) : IntegerAttr();
    if (own && tokens.isDynamicDim(0)) {
      if (own.getInt() >= lowering_.maxTokens()) {
        rewriter.eraseOp(fn);
        return success();
      }
      tokensPerCall = own.getInt();
    }
    Type buf = bk::BufferType::get(getContext());
    auto entry = func::FuncOp::create(rewriter, fn.getLoc(), fn.getName(),
                                      rewriter.getFunctionType({buf, buf}, {}));
    entry->setAttr(bk::kEntryAttr, rewriter.getUnitAttr());
    entry->setAttr(bk::kMaxTokensAttr,
                   rewriter.getI64IntegerAttr(tokensPerCall));
    entry.setArgAttr(0, "bk.name", rewriter.getStringAttr("tokens"));
    entry.setArgAttr(0, "bk.elems_per_token", rewriter.getI64IntegerAttr(1));
    entry.setArgAttr(1, "bk.name", rewriter.getStringAttr("logits"));
    entry.setArgAttr(
        1, "bk.elems_per_token",
        rewriter.getI64IntegerAttr(elemsPerToken(ret.getOperand(0).getType())));
    rewriter.inlineRegionBefore(fn.getBody(), entry.getBody(), entry.end());
    // The token ids keep their place; the logits buffer is a new argument.
    TypeConverter::SignatureConversion signature(1);
    signature.addInputs(0, buf);
    signature.addInputs(buf);
    Block *body = rewriter.applySignatureConversion(&entry.getBody().front(),
                                                    signature, typeConverter);
    lowering_.beginEntry(ret.getOperand(0), body->getArgument(1));
    rewriter.eraseOp(fn);
    return success();
  }

private:
  LogicalResult check(func::FuncOp fn) const {
    if (fn.getNumArguments() != 1 || fn.getNumResults() != 1)
      return fn.emitError("v4-lower-to-kernels: an entry takes token ids and "
                          "returns logits");
    auto tokens = dyn_cast<RankedTensorType>(fn.getArgument(0).getType());
    if (!tokens || tokens.getRank() != 1)
      return fn.emitError(
          "v4-lower-to-kernels: token ids must be a rank-1 tensor");
    auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
    if (elemsPerToken(ret.getOperand(0).getType()) <= 0)
      return fn.emitError(
          "v4-lower-to-kernels: logits need a static vocabulary");
    return success();
  }

  KernelLowering &lowering_;
};

/// The logits were written to the entry's argument: nothing is returned.
struct LowerReturn : OpConversionPattern<func::ReturnOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(func::ReturnOp ret, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<func::ReturnOp>(ret);
    return success();
  }
};

StringRef dtypeOf(v4::WeightFormat f) {
  switch (f) {
  case v4::WeightFormat::F32:
    return "f32";
  case v4::WeightFormat::BF16:
    return "bf16";
  case v4::WeightFormat::F8E4M3:
    return "f8e4m3";
  case v4::WeightFormat::E8M0:
    return "f8e8m0";
  case v4::WeightFormat::FP4E2M1:
    return "fp4e2m1x2";
  case v4::WeightFormat::I64:
    return "i64";
  }
  return "";
}

/// A checkpoint tensor becomes an artifact weight with the DType name the
/// kernels read it as.
struct LowerWeight : OpConversionPattern<v4::WeightOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(v4::WeightOp w, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    v4::WeightType type = w.getType();
    rewriter.replaceOpWithNewOp<bk::WeightOp>(
        w, w.getSymName(), dtypeOf(type.getFormat()), type.getShape(),
        w.getScaleAttr());
    return success();
  }
};

/// Any other op in an entry: the catalogue has no kernel for it.
struct NoKernel : ConversionPattern {
  NoKernel(KernelLowering &lowering, const TypeConverter &types,
           MLIRContext *ctx)
      : ConversionPattern(types, MatchAnyOpTypeTag(), /*benefit=*/0, ctx),
        lowering_(lowering) {}

  LogicalResult matchAndRewrite(Operation *op, ArrayRef<ValueRange>,
                                ConversionPatternRewriter &) const override {
    // After an op's own pattern failed, its error is already reported.
    if (lowering_.hasFailed())
      return failure();
    op->emitError("v4-lower-to-kernels: no kernel for '")
        << op->getName() << "'";
    lowering_.markFailed();
    return failure();
  }

  KernelLowering &lowering_;
};

/// Tensors become buffers; compressed entries become nothing (1:0), as they
/// live in states that the patterns find through KernelLowering.
struct BufferTypeConverter : TypeConverter {
  explicit BufferTypeConverter(MLIRContext *ctx) {
    addConversion([](bk::BufferType t) { return t; });
    addConversion(
        [ctx](RankedTensorType) -> Type { return bk::BufferType::get(ctx); });
    addConversion(
        [](v4::CompressedType, SmallVectorImpl<Type> &) { return success(); });
  }
};

void populateLoweringPatterns(KernelLowering &lowering,
                              const TypeConverter &types,
                              RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  populateOpLoweringPatterns(lowering, types, patterns);
  patterns.add<LowerEntry, NoKernel>(lowering, types, ctx);
  patterns.add<LowerReturn, LowerWeight>(types, ctx);
}

struct V4LowerToKernelsPass : impl::V4LowerToKernelsBase<V4LowerToKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    // The profile is read here, once: the patterns pick each launch's
    // variant and each state's row format from it.
    auto numerics = module->getAttrOfType<v4::NumericsAttr>(
        v4::V4Dialect::NumericsAttrHelper::getNameStr());
    KernelLowering lowering(
        module, numerics ? numerics.getValue() : v4::Numerics::Reference,
        maxTokens);
    BufferTypeConverter types(ctx);
    RewritePatternSet patterns(ctx);
    populateLoweringPatterns(lowering, types, patterns);
    FrozenRewritePatternSet frozen(std::move(patterns));

    SmallVector<Operation *> entries;
    for (func::FuncOp fn : module.getOps<func::FuncOp>())
      entries.push_back(fn);
    // bk ops that an entry holds already were not made by a pattern: like
    // any other op there, they have no kernel.
    DenseSet<Operation *> given;
    for (Operation *fn : entries)
      fn->walk([&](Operation *op) {
        if (isa_and_present<bk::BkDialect>(op->getDialect()))
          given.insert(op);
      });
    ConversionTarget target(*ctx);
    target.addDynamicallyLegalDialect<bk::BkDialect>(
        [&](Operation *op) { return !given.contains(op); });
    target.addDynamicallyLegalOp<func::FuncOp>(
        [](func::FuncOp fn) { return fn->hasAttr(bk::kEntryAttr); });
    target.addDynamicallyLegalOp<func::ReturnOp>(
        [](func::ReturnOp ret) { return ret.getNumOperands() == 0; });
    ConversionConfig config;
    config.foldingMode = DialectConversionFoldingMode::Never;

    // Entries first, one after another; a pattern that cannot lower its op
    // has said why, so the driver's "failed to legalize" after it is dropped.
    {
      ScopedDiagnosticHandler quiet(
          ctx, [&](Diagnostic &) { return success(lowering.hasFailed()); });
      if (failed(applyFullConversion(entries, target, frozen, config)))
        return signalPassFailure();
    }
    // Weights last: the patterns above looked their shapes up.
    SmallVector<Operation *> weights;
    for (v4::WeightOp w : module.getOps<v4::WeightOp>())
      weights.push_back(w);
    if (failed(applyFullConversion(weights, target, frozen, config)))
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
