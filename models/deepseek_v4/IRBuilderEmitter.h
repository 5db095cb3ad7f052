//===- IRBuilderEmitter.h - the ops of one `v4` function --------*- C++ -*-===//
//
// Private to the IR builder (IRBuilder.cpp builds the module around it):
// emits the forward pass of V4_SPEC §3 into one function with the dialect's
// typed op builders, and records which checkpoint tensors the ops reference
// so that the module declares exactly those as `v4.weight` symbols.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_IRBUILDEREMITTER_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_IRBUILDEREMITTER_H

#include "deepseek_v4/IRBuilder.h"

#include "v4/V4Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

#include <set>
#include <string>

namespace birkhoff::v4::detail {

/// Calls `get(emitError)`, a dialect `getChecked`, and turns a failed verify
/// into an error that names `what` and carries the verifier's message.
template <typename T, typename GetFn>
Expected<T> checked(mlir::MLIRContext &ctx, const std::string &what,
                    GetFn get) {
  std::string why;
  mlir::ScopedDiagnosticHandler capture(&ctx, [&](mlir::Diagnostic &d) {
    why = d.str();
    return mlir::success();
  });
  T value = get([&] { return mlir::emitError(mlir::UnknownLoc::get(&ctx)); });
  if (!value)
    return invalidArgument("IRBuilder: " + what + " is invalid: " + why);
  return value;
}

class Emitter {
public:
  /// `tokens` is the static token count of the function (decode: 1) or
  /// ShapedType::kDynamic (prefill). Used tensor names go to `used`.
  Emitter(mlir::MLIRContext &ctx, const ModelConfig &cfg,
          const Checkpoint &ckpt, const BuildOptions &options,
          std::set<std::string> &used, int64_t tokens);

  /// Fills `fn` (tokens -> logits) with the whole forward pass.
  Status build(mlir::func::FuncOp fn);

private:
  // ---- types: every activation leads with the token dimension ----
  mlir::RankedTensorType act(int64_t features);
  mlir::RankedTensorType indices(int64_t k);
  mlir::RankedTensorType streams();
  mlir::RankedTensorType combine();

  // ---- attribute values ----
  /// The symbol of checkpoint tensor `tensor` (symbol name = tensor name),
  /// recorded as used; `role` names the op attribute in the error.
  Expected<std::string> weight(std::string tensor, llvm::StringRef role);
  /// An `[w1, w2, w3]` symbol triple of the expert with prefix `p`.
  Expected<mlir::ArrayAttr> expertTriple(const std::string &p,
                                         llvm::StringRef role);
  /// The RoPE of layer `layer`; an error if the config's values fail the
  /// attribute's verifier.
  Expected<RopeAttr> layerRope(int64_t layer);
  std::string layerPrefix(int64_t layer) const;
  llvm::APFloat normEps() const { return llvm::APFloat(cfg_.normEps); }

  // ---- shared ops ----
  Expected<mlir::Value> rmsNorm(mlir::Value x, int64_t n, std::string w);
  Expected<mlir::Value> linear(mlir::Value x, int64_t out, std::string w);
  mlir::Value applyRope(mlir::Value x, int64_t heads, int64_t headDim,
                        RopeAttr rope, bool inverse = false);

  // ---- attention (V4_SPEC §3.4-3.6) ----
  struct Query {
    mlir::Value q;  // per-head normalized, rotated queries [S, H*Dh]
    mlir::Value qr; // the low-rank query, also the indexer's input
  };
  Expected<Query> attentionQuery(int64_t l, mlir::Value xn, RopeAttr rope);
  Expected<mlir::Value> attentionKv(int64_t l, mlir::Value xn, RopeAttr rope);
  Expected<mlir::Value> compressor(int64_t l, mlir::Value xn,
                                   CompressorRole role, RopeAttr rope);
  Expected<mlir::Value> indexerTopk(int64_t l, mlir::Value xn, mlir::Value qr,
                                    RopeAttr rope);
  Expected<mlir::Value> attentionOutput(int64_t l, mlir::Value o,
                                        RopeAttr rope);
  Expected<mlir::Value> attention(int64_t l, mlir::Value xn);

  // ---- MoE (V4_SPEC §3.7) ----
  Expected<RouteSelectOp> routeSelect(int64_t l, mlir::Value xn,
                                      mlir::Value tokens);
  Expected<mlir::Value> ffn(int64_t l, mlir::Value xn, mlir::Value tokens);

  // ---- mHC (V4_SPEC §3.2-3.3) ----
  Expected<mlir::Value> block(int64_t l, mlir::Value x, mlir::Value tokens,
                              bool attn);
  Expected<mlir::Value> head(mlir::Value x);

  mlir::MLIRContext &ctx_;
  mlir::OpBuilder b_;
  const ModelConfig &cfg_;
  const Checkpoint &ckpt_;
  const BuildOptions &options_;
  std::set<std::string> &used_;
  mlir::Location loc_;
  int64_t tokens_;
};

} // namespace birkhoff::v4::detail

#endif // BIRKHOFF_MODELS_DEEPSEEK_V4_IRBUILDEREMITTER_H
