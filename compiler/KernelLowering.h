//===- KernelLowering.h - What the v4 -> bk patterns share -----*- C++ -*-===//
//
// v4-lower-to-kernels (LowerToKernels.cpp) is one conversion pattern per v4 op
// (LowerOpPatterns.cpp). KernelLowering holds what they share: the module's
// symbols (weights to check, states created once per layer), the numerics
// profile, and the entry function being lowered (its logits buffer, the states
// that hold its compressed entries, the current layer). Its helpers emit what
// every pattern needs: buffers, states and launches built from a kernel's
// params struct (birkhoff/KernelParams.h), so no parameter key is spelled in
// the compiler.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_KERNELLOWERING_H
#define BIRKHOFF_COMPILER_KERNELLOWERING_H

#include "kernel/BkDialect.h"
#include "v4/V4Ops.h"

#include "birkhoff/KernelParams.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>

namespace birkhoff {

/// Elements per token of an activation `tensor<S x d1 x d2 ...>`; -1 when a
/// feature dimension is dynamic.
int64_t elemsPerToken(mlir::Type t);

/// "layers.7.attn.wkv.weight" -> 7; other names (the embedding, the LM head,
/// the mHC head) belong to no layer: -1.
int64_t layerOfWeight(llvm::StringRef name);

class KernelLowering {
public:
  KernelLowering(mlir::ModuleOp module, v4::Numerics numerics,
                 int64_t maxTokens);

  /// The `official` numerics profile: every launch gets `numerics = 1` and
  /// its official-only parameters, state rows hold the deployment formats.
  bool official() const { return numerics_ == v4::Numerics::Official; }
  /// Tokens per call of an entry whose token count is dynamic (@prefill).
  int64_t maxTokens() const { return maxTokens_; }

  // ---- the entry function being lowered ----

  /// Starts an entry: the value it returns is written to `logits`.
  void beginEntry(mlir::Value returned, mlir::Value logits);
  /// The layer of the op being lowered: launches and states carry it.
  int64_t layer() const { return layer_; }
  void setLayer(int64_t layer) { layer_ = layer; }
  /// Set once a pattern has reported an op it cannot lower (report first:
  /// the pass drops the diagnostics that follow, the driver's own).
  bool hasFailed() const { return failed_; }
  void markFailed() { failed_ = true; }
  /// `v` is what the entry returns, i.e. the logits.
  bool isLogits(mlir::Value v) const { return v == returned_; }

  // ---- emission ----

  /// The buffer that holds `v`: a new `bk.alloc` named after the layer and
  /// `label`, or the logits argument for the returned value.
  mlir::Value out(mlir::OpBuilder &b, mlir::Value v, llvm::StringRef label);
  /// A launch of `P`'s kernel with params `p`, `numerics` set from the
  /// profile, in the current layer.
  template <typename P>
  void launch(mlir::OpBuilder &b, P p, mlir::ValueRange inputs,
              mlir::ValueRange outputs, llvm::ArrayRef<mlir::Attribute> weights,
              llvm::ArrayRef<mlir::Attribute> states);
  /// Copies `rope` into the rope fields of `p` (KernelParams.h, RopeSpec).
  template <typename P> static void setRope(P &p, v4::RopeAttr rope) {
    p.ropeDim = rope.getDim();
    p.theta = rope.getThetaValue();
    p.yarn = rope.getYarn();
    p.ropeFactor = rope.getFactorValue();
    p.originalSeqLen = rope.getOriginal();
    p.betaFast = rope.getBetaFastValue();
    p.betaSlow = rope.getBetaSlowValue();
  }
  /// The current layer's state of `kind`, created on first use.
  mlir::FlatSymbolRefAttr state(mlir::OpBuilder &b, llvm::StringRef kind,
                                int64_t bytesPerRow, int64_t fixedRows,
                                int64_t tokensPerRow);
  bk::StateOp lookupState(mlir::FlatSymbolRefAttr ref);
  /// `ref`, checked to name a v4.weight.
  mlir::FailureOr<mlir::FlatSymbolRefAttr> weight(mlir::Operation *op,
                                                  mlir::FlatSymbolRefAttr ref);
  mlir::FailureOr<v4::WeightOp> weightOp(mlir::Operation *op,
                                         llvm::StringRef name);

  /// The state that holds the compressed entries `v` (a compressor result).
  void setEntries(mlir::Value v, mlir::FlatSymbolRefAttr state) {
    entries_[v] = state;
  }
  std::optional<mlir::FlatSymbolRefAttr> entries(mlir::Value v) const;

  // ---- official numerics ----

  /// Bytes of one stored KV row (window ring, compressed KV entries): the
  /// FP8 KV entry of KvEntryLayout in official numerics, else headDim f32.
  mlir::FailureOr<int64_t> kvRowBytes(mlir::Operation *op, int64_t headDim,
                                      int64_t ropeDim);
  /// Bytes of one stored indexer key: FP4 codes + scales in official
  /// numerics, else dim f32.
  mlir::FailureOr<int64_t> keyRowBytes(mlir::Operation *op, int64_t dim);
  /// `after_rope` of a rope launch (docs/kernels.md): 1 when its result is
  /// the attention kv (stored as KV entries), 2 when it is the indexer
  /// queries, 0 otherwise and for the inverse rope.
  mlir::FailureOr<int64_t> afterRope(v4::RopeOp rope);
  /// The v4.rope that produced the kv / indexer queries `v` of `user`;
  /// official numerics quantize there, so any other producer is an error.
  mlir::FailureOr<v4::RopeOp>
  quantizingRope(mlir::Operation *user, mlir::Value v, llvm::StringRef what);

private:
  mlir::ModuleOp module_;
  mlir::SymbolTable symbols_;
  v4::Numerics numerics_;
  int64_t maxTokens_;
  mlir::Value returned_, logits_;
  /// Compressed-entry values -> the state that holds them.
  llvm::DenseMap<mlir::Value, mlir::FlatSymbolRefAttr> entries_;
  int64_t layer_ = -1;
  bool failed_ = false;
};

template <typename P>
void KernelLowering::launch(mlir::OpBuilder &b, P p, mlir::ValueRange inputs,
                            mlir::ValueRange outputs,
                            llvm::ArrayRef<mlir::Attribute> weights,
                            llvm::ArrayRef<mlir::Attribute> states) {
  p.numerics = official() ? 1 : 0;
  llvm::SmallVector<mlir::NamedAttribute> params;
  for (const EncodedParam &e : encodeParams(KernelParams(p))) {
    mlir::Attribute value =
        e.type == ParamType::Real
            ? mlir::Attribute(b.getF64FloatAttr(e.value))
            : mlir::Attribute(b.getI64IntegerAttr(int64_t(e.value)));
    params.push_back(
        b.getNamedAttr(llvm::StringRef(e.key.data(), e.key.size()), value));
  }
  bk::LaunchOp::create(
      b, b.getUnknownLoc(),
      b.getStringAttr(llvm::StringRef(P::kName.data(), P::kName.size())),
      inputs, outputs, b.getArrayAttr(weights), b.getArrayAttr(states),
      b.getDictionaryAttr(params), bk::ScheduleAttr(),
      b.getI64IntegerAttr(layer_));
}

/// One pattern per v4 op of a function body (LowerOpPatterns.cpp), all
/// sharing `lowering`; `types` maps tensors to buffers.
void populateOpLoweringPatterns(KernelLowering &lowering,
                                const mlir::TypeConverter &types,
                                mlir::RewritePatternSet &patterns);

} // namespace birkhoff

#endif // BIRKHOFF_COMPILER_KERNELLOWERING_H
