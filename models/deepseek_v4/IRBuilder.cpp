//===- IRBuilder.cpp - DeepSeek-V4 checkpoint to `v4` IR ------------------===//
//
// The module around the two functions: the `v4.config` / `v4.numerics`
// attributes, the `v4.weight` declarations of the tensors the functions use,
// and the checks on options and config that come before any op. The ops of
// the forward pass are emitted by IRBuilderEmitter.cpp.
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/IRBuilder.h"

#include "deepseek_v4/IRBuilderEmitter.h"

#include "birkhoff/OfficialNumerics.h"

#include "v4/V4Dialect.h"
#include "v4/V4Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Verifier.h"

#include <set>

using namespace mlir;

namespace birkhoff::v4 {
namespace {

/// The `v4` weight format and logical shape of a checkpoint tensor.
Expected<std::pair<WeightFormat, std::vector<int64_t>>>
weightFormat(const TensorInfo &t) {
  std::vector<int64_t> shape = t.shape;
  switch (t.dtype) {
  case DType::F32:
    return std::make_pair(WeightFormat::F32, shape);
  case DType::BF16:
    return std::make_pair(WeightFormat::BF16, shape);
  case DType::F8E4M3:
    return std::make_pair(WeightFormat::F8E4M3, shape);
  case DType::F8E8M0:
    return std::make_pair(WeightFormat::E8M0, shape);
  case DType::I64:
    return std::make_pair(WeightFormat::I64, shape);
  case DType::I8:
  case DType::FP4E2M1x2:
    // Packed FP4: two e2m1 codes per byte along the input axis.
    if (shape.size() != 2)
      return invalidArgument("IRBuilder: packed FP4 tensor '" + t.name +
                             "' must be 2-D");
    shape[1] *= 2;
    return std::make_pair(WeightFormat::FP4E2M1, shape);
  default:
    return unsupported("IRBuilder: tensor '" + t.name + "' has dtype " +
                       std::string(dtypeName(t.dtype)) +
                       ", which no weight of the program may have");
  }
}

/// Declares `name` (once) as a `v4.weight`; quantized weights also declare
/// their block scales, a sibling `.scale` tensor.
Status declareWeight(OpBuilder &b, const Checkpoint &ckpt,
                     const std::string &name, std::set<std::string> &declared) {
  if (!declared.insert(name).second)
    return Status::ok();
  const TensorInfo *t = ckpt.find(name);
  if (!t)
    return notFound("IRBuilder: checkpoint tensor '" + name + "' is missing");
  BK_ASSIGN_OR_RETURN(auto fmt, weightFormat(*t));
  MLIRContext *ctx = b.getContext();
  BK_ASSIGN_OR_RETURN(
      WeightType type,
      detail::checked<WeightType>(
          *ctx, "the weight type of '" + name + "'", [&](auto emitError) {
            return WeightType::getChecked(emitError, ctx, fmt.first,
                                          ArrayRef<int64_t>(fmt.second));
          }));
  if (!type.needsScale()) {
    WeightOp::create(b, b.getUnknownLoc(), name, type);
    return Status::ok();
  }
  std::string base = name;
  if (base.size() > 7 && base.ends_with(".weight"))
    base.resize(base.size() - 7);
  std::string scale = base + ".scale";
  if (!ckpt.find(scale))
    return notFound("IRBuilder: quantized tensor '" + name +
                    "' has no scale tensor '" + scale + "'");
  WeightOp::create(b, b.getUnknownLoc(), name, type, scale);
  return declareWeight(b, ckpt, scale, declared);
}

/// The official profile's storage formats must fit the model's dimensions
/// (docs/kernels.md, "The `official` numerics profile").
Status checkOfficialDims(const ModelConfig &c) {
  Expected<official::KvEntryLayout> layout =
      official::KvEntryLayout::make(size_t(c.headDim), size_t(c.ropeHeadDim));
  if (!layout)
    return invalidArgument(
        "IRBuilder: --numerics official needs head_dim - rope_head_dim to be "
        "a positive multiple of 64 (FP8 KV entries), but head_dim is " +
        std::to_string(c.headDim) + " and rope_head_dim " +
        std::to_string(c.ropeHeadDim) + " (" + layout.status().message() + ")");
  bool hasCsa = false;
  for (LayerAttention k : c.attention)
    hasCsa |= k == LayerAttention::CSA;
  if (hasCsa && c.indexHeadDim % int64_t(official::kFp4Block) != 0)
    return invalidArgument(
        "IRBuilder: --numerics official stores indexer keys as FP4 in "
        "32-blocks, but index_head_dim is " +
        std::to_string(c.indexHeadDim) + ", not a multiple of 32");
  return Status::ok();
}

DictionaryAttr configAttr(Builder &b, const ModelConfig &c) {
  SmallVector<int64_t> kinds, ratios, hash;
  for (int64_t l = 0; l < c.nLayers; ++l) {
    kinds.push_back(int64_t(c.attention[l]));
    ratios.push_back(c.compressRatio(l));
    hash.push_back(c.isHashLayer(l) ? 1 : 0);
  }
  auto i = [&](StringRef n, int64_t v) {
    return b.getNamedAttr(n, b.getI64IntegerAttr(v));
  };
  auto f = [&](StringRef n, double v) {
    return b.getNamedAttr(n, b.getF64FloatAttr(v));
  };
  SmallVector<NamedAttribute> attrs = {
      i("vocab_size", c.vocabSize),
      i("dim", c.dim),
      i("n_layers", c.nLayers),
      i("n_heads", c.nHeads),
      i("head_dim", c.headDim),
      i("rope_head_dim", c.ropeHeadDim),
      i("q_lora_rank", c.qLoraRank),
      i("o_groups", c.oGroups),
      i("o_lora_rank", c.oLoraRank),
      i("window_size", c.windowSize),
      i("index_n_heads", c.indexNHeads),
      i("index_head_dim", c.indexHeadDim),
      i("index_topk", c.indexTopk),
      i("n_routed_experts", c.nRoutedExperts),
      i("n_activated_experts", c.nActivatedExperts),
      i("moe_inter_dim", c.moeInterDim),
      f("route_scale", c.routeScale),
      f("swiglu_limit", c.swigluLimit),
      i("hc_mult", c.hcMult),
      i("hc_sinkhorn_iters", c.hcSinkhornIters),
      f("hc_eps", c.hcEps),
      f("norm_eps", c.normEps),
      f("rope_theta", c.ropeTheta),
      f("compress_rope_theta", c.compressRopeTheta),
      f("rope_factor", c.ropeFactor),
      i("original_seq_len", c.originalSeqLen),
      f("beta_fast", c.betaFast),
      f("beta_slow", c.betaSlow),
      i("bos_token_id", c.bosTokenId),
      i("eos_token_id", c.eosTokenId),
      i("max_position_embeddings", c.maxPositionEmbeddings),
      b.getNamedAttr("yarn", b.getBoolAttr(c.yarn)),
      b.getNamedAttr("layer_kinds", b.getDenseI64ArrayAttr(kinds)),
      b.getNamedAttr("compress_ratios", b.getDenseI64ArrayAttr(ratios)),
      b.getNamedAttr("hash_layers", b.getDenseI64ArrayAttr(hash))};
  return b.getDictionaryAttr(attrs);
}

} // namespace

void loadIRBuilderDialects(MLIRContext &context) {
  context.loadDialect<func::FuncDialect, V4Dialect>();
}

Expected<OwningOpRef<ModuleOp>> buildV4Module(MLIRContext &context,
                                              const ModelConfig &config,
                                              const Checkpoint &checkpoint,
                                              const BuildOptions &options) {
  std::optional<Numerics> numerics = symbolizeNumerics(options.numerics);
  if (!numerics)
    return invalidArgument("IRBuilder: numerics must be 'reference' or "
                           "'official', got '" +
                           options.numerics + "'");
  if (int64_t(config.attention.size()) != config.nLayers ||
      int64_t(config.routing.size()) != config.nLayers)
    return invalidArgument(
        "IRBuilder: config has " + std::to_string(config.attention.size()) +
        " attention kinds for " + std::to_string(config.nLayers) + " layers");
  if (*numerics == Numerics::Official)
    BK_RETURN_IF_ERROR(checkOfficialDims(config));
  loadIRBuilderDialects(context);
  OpBuilder b(&context);
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  V4Dialect *dialect = context.getLoadedDialect<V4Dialect>();
  dialect->getConfigAttrHelper().setAttr(*module, configAttr(b, config));
  dialect->getNumericsAttrHelper().setAttr(
      *module, NumericsAttr::get(&context, *numerics));

  std::set<std::string> used;
  std::vector<func::FuncOp> fns;
  // The entries: prefill chunks (the lowering's max_tokens), steps of up to
  // kBatchEntryTokens tokens (decode batches: their kernels' schedules are
  // those of few tokens), and one token.
  struct Entry {
    StringRef name;
    int64_t tokens, maxTokens;
  };
  for (Entry en : {Entry{"prefill", ShapedType::kDynamic, 0},
                   Entry{"batch", ShapedType::kDynamic, kBatchEntryTokens},
                   Entry{"decode", 1, 0}}) {
    const int64_t tokens = en.tokens;
    const StringRef name = en.name;
    auto tokType = RankedTensorType::get({tokens}, b.getI32Type());
    auto logitsType =
        RankedTensorType::get({tokens, config.vocabSize}, b.getF32Type());
    b.setInsertionPointToEnd(module->getBody());
    auto fn = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType({tokType}, {logitsType}));
    if (en.maxTokens)
      dialect->getMaxTokensAttrHelper().setAttr(
          fn, b.getI64IntegerAttr(en.maxTokens));
    detail::Emitter emitter(context, config, checkpoint, options, used, tokens);
    BK_RETURN_IF_ERROR(
        emitter.build(fn).withContext("building @" + name.str()));
    fns.push_back(fn);
  }
  // Weights first, in checkpoint-name order: the module reads top-down.
  b.setInsertionPointToStart(module->getBody());
  std::set<std::string> declared;
  for (const std::string &name : used)
    BK_RETURN_IF_ERROR(declareWeight(b, checkpoint, name, declared));
  if (failed(verify(*module)))
    return internalError("IRBuilder: the built module does not verify");
  return module;
}

} // namespace birkhoff::v4
