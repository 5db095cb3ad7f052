//===- LowerToKernels.cpp - v4 ops to bk kernel launches ------------------===//
//
// One v4 op becomes one launch of docs/kernels.md with the catalogue's
// input/output/weight/state order; its parameters are the kernel's params
// struct (birkhoff/KernelParams.h), encoded, so no key is spelled here. Two
// exceptions keep
// the program minimal: `embed` + `mhc_expand` are one `embed` launch, and
// `sparse_attention` is followed by the `window_write` of its kv.
//
// With the module attribute `v4.numerics = "official"` every launch also gets
// `numerics = 1` and the official-only parameters of docs/kernels.md
// ("The `official` numerics profile"); state rows then hold the deployment
// formats (FP8 KV entries, FP4 indexer keys). In the reference profile those
// parameters are absent (they decode to their defaults, 0) and rows are f32.
//
//===----------------------------------------------------------------------===//
#include "compiler/OpAccess.h"
#include "compiler/Passes.h"

#include "kernel/BkDialect.h"
#include "v4/V4Ops.h"

#include "birkhoff/KernelParams.h"
#include "birkhoff/OfficialNumerics.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4LOWERTOKERNELS
#include "compiler/Passes.h.inc"

namespace {

/// Elements per token of an activation `tensor<S x d1 x d2 ...>`.
int64_t elemsPerToken(Type t) {
  auto ranked = dyn_cast<RankedTensorType>(t);
  if (!ranked || ranked.getRank() < 1)
    return -1;
  int64_t n = 1;
  for (int64_t d : ranked.getShape().drop_front()) {
    if (ShapedType::isDynamic(d))
      return -1;
    n *= d;
  }
  return n;
}

bool isIntTensor(Type t) {
  auto ranked = dyn_cast<RankedTensorType>(t);
  return ranked && ranked.getElementType().isInteger(32);
}

/// "layers.7.attn.wkv.weight" -> 7; other names -> nullopt.
std::optional<int64_t> layerOfWeight(StringRef name) {
  if (!name.consume_front("layers."))
    return std::nullopt;
  int64_t layer;
  if (name.consumeInteger(10, layer) || !name.starts_with("."))
    return std::nullopt;
  return layer;
}

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

class FuncLowering {
public:
  FuncLowering(ModuleOp module, SymbolTable &symbols, bool official)
      : module_(module), symbols_(symbols), b_(module.getContext()),
        official_(official) {}

  LogicalResult lower(func::FuncOp fn, int64_t maxTokens);

private:
  // ---- emission helpers ----
  Value alloc(Value v, StringRef label);
  Value out(Value v, StringRef label) {
    return v == returned_ ? logits_ : alloc(v, label);
  }
  FailureOr<Value> in(Operation *op, Value v) {
    auto it = buffers_.find(v);
    if (it == buffers_.end())
      return op->emitError("v4-lower-to-kernels: operand has no buffer");
    return it->second;
  }
  FailureOr<SmallVector<Value>> ins(Operation *op, ValueRange vs) {
    SmallVector<Value> r;
    for (Value v : vs) {
      FailureOr<Value> b = in(op, v);
      if (failed(b))
        return failure();
      r.push_back(*b);
    }
    return r;
  }
  /// A launch of `P`'s kernel with params `p` (`numerics` set from the
  /// profile).
  template <typename P>
  void launch(P p, ValueRange inputs, ValueRange outputs,
              ArrayRef<Attribute> weights, ArrayRef<Attribute> states,
              int64_t layer);
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
  FlatSymbolRefAttr state(int64_t layer, StringRef kind, int64_t bytesPerRow,
                          int64_t fixedRows, int64_t tokensPerRow);
  FailureOr<FlatSymbolRefAttr> weight(Operation *op, StringRef attr);
  FailureOr<v4::WeightOp> weightOp(Operation *op, StringRef name);
  int64_t layerOf(Operation *op);

  // ---- official numerics ----
  /// Bytes of one stored KV row (window ring, compressed KV entries): the
  /// FP8 KV entry of KvEntryLayout in official numerics, else headDim f32.
  FailureOr<int64_t> kvRowBytes(Operation *op, int64_t headDim,
                                int64_t ropeDim);
  /// Bytes of one stored indexer key: FP4 codes + scales in official
  /// numerics, else dim f32.
  FailureOr<int64_t> keyRowBytes(Operation *op, int64_t dim);
  /// `after_rope` of a rope launch (docs/kernels.md): 1 when its result is
  /// the attention kv (stored as KV entries), 2 when it is the indexer
  /// queries, 0 otherwise and for the inverse rope.
  FailureOr<int64_t> afterRope(Operation *rope);
  /// The v4.rope that produced the kv / indexer queries `v` of `user`;
  /// official numerics quantize there, so any other producer is an error.
  FailureOr<v4::RopeOp> quantizingRope(Operation *user, Value v,
                                       StringRef what);

  LogicalResult lowerOp(Operation *op);

  ModuleOp module_;
  SymbolTable &symbols_;
  OpBuilder b_;
  bool official_;
  DenseMap<Value, Value> buffers_;
  /// Compressed-entry values -> the state that holds them.
  DenseMap<Value, FlatSymbolRefAttr> entries_;
  DenseSet<Operation *> done_;
  Value returned_, logits_;
  int64_t layer_ = -1;
};

Value FuncLowering::alloc(Value v, StringRef label) {
  std::string name =
      (layer_ >= 0 ? "l" + std::to_string(layer_) + "." : "") + label.str();
  auto a = bk::AllocOp::create(
      b_, v.getLoc(), bk::BufferType::get(b_.getContext()),
      b_.getStringAttr(name), b_.getI64IntegerAttr(elemsPerToken(v.getType())),
      b_.getBoolAttr(isIntTensor(v.getType())), IntegerAttr());
  buffers_[v] = a.getResult();
  return a.getResult();
}

template <typename P>
void FuncLowering::launch(P p, ValueRange inputs, ValueRange outputs,
                          ArrayRef<Attribute> weights,
                          ArrayRef<Attribute> states, int64_t layer) {
  p.numerics = official_ ? 1 : 0;
  SmallVector<NamedAttribute> params;
  for (const EncodedParam &e : encodeParams(KernelParams(p))) {
    Attribute value = e.type == ParamType::Real
                          ? Attribute(b_.getF64FloatAttr(e.value))
                          : Attribute(b_.getI64IntegerAttr(int64_t(e.value)));
    params.push_back(
        b_.getNamedAttr(StringRef(e.key.data(), e.key.size()), value));
  }
  bk::LaunchOp::create(
      b_, b_.getUnknownLoc(),
      b_.getStringAttr(StringRef(P::kName.data(), P::kName.size())), inputs,
      outputs, b_.getArrayAttr(weights), b_.getArrayAttr(states),
      b_.getDictionaryAttr(params), DictionaryAttr(),
      b_.getI64IntegerAttr(layer));
}

FlatSymbolRefAttr FuncLowering::state(int64_t layer, StringRef kind,
                                      int64_t bytesPerRow, int64_t fixedRows,
                                      int64_t tokensPerRow) {
  std::string name = "layers." + std::to_string(layer) + ".attn." + kind.str();
  if (!symbols_.lookup(name)) {
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPointToStart(module_.getBody());
    auto s = bk::StateOp::create(b_, module_.getLoc(), name, layer, kind,
                                 bytesPerRow, fixedRows, tokensPerRow);
    symbols_.insert(s);
  }
  return FlatSymbolRefAttr::get(b_.getContext(), name);
}

FailureOr<v4::WeightOp> FuncLowering::weightOp(Operation *op, StringRef name) {
  auto w = symbols_.lookup<v4::WeightOp>(name);
  if (!w)
    return op->emitError("v4-lower-to-kernels: @")
           << name << " is not a v4.weight";
  return w;
}

FailureOr<FlatSymbolRefAttr> FuncLowering::weight(Operation *op,
                                                  StringRef attr) {
  auto ref = dyn_cast_or_null<FlatSymbolRefAttr>(op->getAttr(attr));
  if (!ref)
    return op->emitError("v4-lower-to-kernels: missing weight '")
           << attr << "'";
  if (failed(weightOp(op, ref.getValue())))
    return failure();
  return ref;
}

/// The layer of an op: from its `layer` attribute or its weights' names;
/// ops without either (mhc_post, rope, ...) belong to the current layer.
int64_t FuncLowering::layerOf(Operation *op) {
  if (std::optional<int64_t> l = getInt(op, "layer"))
    return *l;
  for (NamedAttribute a : op->getAttrs()) {
    auto ref = dyn_cast<FlatSymbolRefAttr>(a.getValue());
    if (!ref)
      continue;
    std::optional<int64_t> l = layerOfWeight(ref.getValue());
    return l ? *l : -1;
  }
  return layer_;
}

FailureOr<int64_t> FuncLowering::kvRowBytes(Operation *op, int64_t headDim,
                                            int64_t ropeDim) {
  if (!official_)
    return headDim * 4;
  Expected<official::KvEntryLayout> layout =
      official::KvEntryLayout::make(size_t(headDim), size_t(ropeDim));
  if (!layout)
    return op->emitError("v4-lower-to-kernels: numerics official stores KV "
                         "entries as FP8 + bf16 RoPE dims, which this model "
                         "cannot: ")
           << layout.status().message();
  return int64_t(layout->entryBytes());
}

FailureOr<int64_t> FuncLowering::keyRowBytes(Operation *op, int64_t dim) {
  if (!official_)
    return dim * 4;
  if (dim % int64_t(official::kFp4Block) != 0)
    return op->emitError("v4-lower-to-kernels: numerics official stores "
                         "indexer keys as FP4 in 32-blocks, but "
                         "index_head_dim ")
           << dim << " is not a multiple of 32";
  return int64_t(official::fp4KeyBytes(size_t(dim)));
}

FailureOr<int64_t> FuncLowering::afterRope(Operation *rope) {
  if (rope->hasAttr("inverse"))
    return 0;
  int64_t mode = 0;
  for (OpOperand &use : rope->getResult(0).getUses()) {
    Operation *user = use.getOwner();
    int64_t m = 0;
    if (isa<v4::SparseAttentionOp>(user) && use.getOperandNumber() == 1)
      m = 1;
    else if (isa<v4::IndexerTopkOp>(user) && use.getOperandNumber() == 0)
      m = 2;
    if (m && mode && m != mode)
      return rope->emitError("v4-lower-to-kernels: a rope result cannot be "
                             "both attention kv and indexer queries");
    mode = m ? m : mode;
  }
  return mode;
}

FailureOr<v4::RopeOp> FuncLowering::quantizingRope(Operation *user, Value v,
                                                   StringRef what) {
  auto rope = v.getDefiningOp<v4::RopeOp>();
  if (!rope || rope.getInverse())
    return user->emitError("v4-lower-to-kernels: with numerics official the ")
           << what << " must come from a v4.rope (the launch that quantizes "
           << "it, docs/kernels.md)";
  return rope;
}

LogicalResult FuncLowering::lowerOp(Operation *op) {
  if (done_.contains(op))
    return success();
  layer_ = layerOf(op);
  const int64_t L = layer_;
  auto need = [&](std::optional<int64_t> v,
                  StringRef attr) -> FailureOr<int64_t> {
    if (!v)
      return op->emitError("v4-lower-to-kernels: missing attribute '")
             << attr << "'";
    return *v;
  };
#define BK_INT(var, attr)                                                      \
  FailureOr<int64_t> var##OrErr = need(getInt(op, attr), attr);                \
  if (failed(var##OrErr))                                                      \
    return failure();                                                          \
  int64_t var = *var##OrErr;
#define BK_FLOAT(var, attr)                                                    \
  std::optional<double> var##Opt = getFloat(op, attr);                         \
  if (!var##Opt)                                                               \
    return op->emitError("v4-lower-to-kernels: missing attribute '")           \
           << attr << "'";                                                     \
  double var = *var##Opt;
#define BK_WEIGHT(var, attr)                                                   \
  FailureOr<FlatSymbolRefAttr> var##OrErr = weight(op, attr);                  \
  if (failed(var##OrErr))                                                      \
    return failure();                                                          \
  FlatSymbolRefAttr var = *var##OrErr;
#define BK_INS(var, range)                                                     \
  FailureOr<SmallVector<Value>> var##OrErr = ins(op, range);                   \
  if (failed(var##OrErr))                                                      \
    return failure();                                                          \
  SmallVector<Value> var = *var##OrErr;

  BK_INS(inBufs, op->getOperands().take_front(
                     isa<v4::SparseAttentionOp, v4::IndexerTopkOp>(op)
                         ? 2
                         : op->getNumOperands()));
  auto res = [&](unsigned i) { return op->getResult(i); };
  auto dimOf = [&](Value v) { return elemsPerToken(v.getType()); };

  if (isa<v4::EmbedOp>(op)) {
    BK_WEIGHT(w, "weight");
    // embed + mhc_expand are one kernel: embed writes every stream.
    Value result = res(0);
    int64_t hc = 1;
    if (result.hasOneUse() &&
        isa<v4::MhcExpandOp>(*result.getUsers().begin())) {
      Operation *expand = *result.getUsers().begin();
      hc = getInt(expand, "hc").value_or(1);
      result = expand->getResult(0);
      done_.insert(expand);
    }
    Value o = out(result, "x");
    EmbedParams p;
    p.dim = dimOf(res(0));
    p.hc = hc;
    launch(p, inBufs, {o}, {w}, {}, L);
    return success();
  }
  if (isa<v4::MhcExpandOp>(op)) {
    // An expand whose input is not an embed: the catalogue has no copy kernel.
    return op->emitError(
        "v4-lower-to-kernels: mhc_expand must follow v4.embed");
  }
  if (isa<v4::MhcPreOp, v4::MhcPreNormOp>(op)) {
    BK_WEIGHT(fn, "fn");
    BK_WEIGHT(base, "base");
    BK_WEIGHT(scale, "scale");
    BK_INT(iters, "sinkhorn_iters");
    BK_FLOAT(hcEps, "hc_eps");
    BK_FLOAT(normEps, "norm_eps");
    int64_t hc = dimOf(res(1));
    SmallVector<Attribute> ws = {fn, base, scale};
    auto fill = [&](auto &p) {
      p.dim = dimOf(res(0));
      p.hc = hc;
      p.iters = iters;
      p.hcEps = hcEps;
      p.normEps = normEps;
    };
    Value u = out(res(0), "u"), post = out(res(1), "post"),
          comb = out(res(2), "comb");
    if (isa<v4::MhcPreNormOp>(op)) {
      BK_WEIGHT(norm, "norm");
      BK_FLOAT(eps, "eps");
      ws.push_back(norm);
      MhcPreNormParams p;
      fill(p);
      p.eps = eps;
      launch(p, inBufs, {u, post, comb}, ws, {}, L);
    } else {
      MhcPreParams p;
      fill(p);
      launch(p, inBufs, {u, post, comb}, ws, {}, L);
    }
    return success();
  }
  if (isa<v4::MhcPostOp>(op)) {
    Value o = out(res(0), "x");
    MhcPostParams p;
    p.dim = dimOf(op->getOperand(0));
    p.hc = dimOf(op->getOperand(2));
    launch(p, inBufs, {o}, {}, {}, L);
    return success();
  }
  if (isa<v4::MhcHeadOp, v4::MhcHeadNormOp>(op)) {
    BK_WEIGHT(fn, "fn");
    BK_WEIGHT(base, "base");
    BK_WEIGHT(scale, "scale");
    BK_FLOAT(hcEps, "hc_eps");
    BK_FLOAT(normEps, "norm_eps");
    auto streams = cast<RankedTensorType>(op->getOperand(0).getType());
    SmallVector<Attribute> ws = {fn, base, scale};
    auto fill = [&](auto &p) {
      p.dim = dimOf(res(0));
      p.hc = streams.getDimSize(1);
      p.hcEps = hcEps;
      p.normEps = normEps;
    };
    Value o = out(res(0), "u");
    if (isa<v4::MhcHeadNormOp>(op)) {
      BK_WEIGHT(norm, "norm");
      BK_FLOAT(eps, "eps");
      ws.push_back(norm);
      MhcHeadNormParams p;
      fill(p);
      p.eps = eps;
      launch(p, inBufs, {o}, ws, {}, L);
    } else {
      MhcHeadParams p;
      fill(p);
      launch(p, inBufs, {o}, ws, {}, L);
    }
    return success();
  }
  if (isa<v4::RmsNormOp>(op)) {
    BK_WEIGHT(w, "weight");
    BK_FLOAT(eps, "eps");
    Value o = out(res(0), "norm");
    RmsNormParams p;
    p.n = dimOf(res(0));
    p.eps = eps;
    launch(p, inBufs, {o}, {w}, {}, L);
    return success();
  }
  if (isa<v4::LinearOp, v4::LinearRmsNormOp>(op)) {
    BK_WEIGHT(w, "weight");
    SmallVector<Attribute> ws = {w};
    auto fill = [&](auto &p) {
      p.inFeatures = dimOf(op->getOperand(0));
      p.outFeatures = dimOf(res(0));
      // Every linear rounds its output to bf16 except the LM head, whose
      // logits stay fp32.
      p.roundOutput = official_ && res(0) != returned_;
    };
    if (isa<v4::LinearRmsNormOp>(op)) {
      BK_WEIGHT(norm, "norm");
      BK_FLOAT(eps, "eps");
      ws.push_back(norm);
      LinearRmsNormParams p;
      fill(p);
      p.eps = eps;
      launch(p, inBufs, {out(res(0), "linear_norm")}, ws, {}, L);
    } else {
      LinearParams p;
      fill(p);
      launch(p, inBufs, {out(res(0), "linear")}, ws, {}, L);
    }
    return success();
  }
  if (isa<v4::HeadRmsNormOp>(op)) {
    BK_INT(heads, "heads");
    BK_FLOAT(eps, "eps");
    Value o = out(res(0), "q");
    HeadRmsNormParams p;
    p.heads = heads;
    p.headDim = dimOf(res(0)) / heads;
    p.eps = eps;
    launch(p, inBufs, {o}, {}, {}, L);
    return success();
  }
  if (isa<v4::RopeOp, v4::HeadRmsNormRopeOp>(op)) {
    BK_INT(heads, "heads");
    BK_INT(headDim, "head_dim");
    auto rope = dyn_cast_or_null<v4::RopeAttr>(op->getAttr("rope"));
    if (!rope)
      return op->emitError("v4-lower-to-kernels: missing rope attribute");
    auto fill = [&](auto &p) {
      p.heads = heads;
      p.headDim = headDim;
      setRope(p, rope);
    };
    Value o = out(res(0), "rope");
    if (isa<v4::HeadRmsNormRopeOp>(op)) {
      BK_FLOAT(eps, "eps");
      HeadRmsNormRopeParams p;
      fill(p);
      p.eps = eps;
      launch(p, inBufs, {o}, {}, {}, L);
    } else {
      RopeParams p;
      fill(p);
      p.inverse = op->hasAttr("inverse");
      if (official_) {
        FailureOr<int64_t> mode = afterRope(op);
        if (failed(mode))
          return failure();
        p.afterRope = *mode;
      }
      launch(p, inBufs, {o}, {}, {}, L);
    }
    return success();
  }
  if (isa<v4::CompressorOp>(op)) {
    BK_WEIGHT(wkv, "wkv");
    BK_WEIGHT(wgate, "wgate");
    BK_WEIGHT(ape, "ape");
    BK_WEIGHT(norm, "norm");
    BK_INT(ratio, "ratio");
    BK_INT(dc, "head_dim");
    BK_FLOAT(eps, "eps");
    std::optional<std::string> kind = getEnumName(op, "kind");
    std::optional<std::string> role = getEnumName(op, "role");
    if (!kind || !role || (*kind != "csa" && *kind != "hca"))
      return op->emitError(
          "v4-lower-to-kernels: compressor needs kind and role");
    bool overlap = *kind == "csa";
    int64_t coff = overlap ? 2 : 1;
    bool indexer = *role == "indexer";
    auto rope = dyn_cast_or_null<v4::RopeAttr>(op->getAttr("rope"));
    if (!rope)
      return op->emitError("v4-lower-to-kernels: missing rope attribute");
    // Entries are indexer keys or attention KV rows, in the profile's format.
    FailureOr<int64_t> entryBytes =
        indexer ? keyRowBytes(op, dc) : kvRowBytes(op, dc, rope.getDim());
    if (failed(entryBytes))
      return failure();
    // Tail rows: [c (coff*Dc) | z (coff*Dc)] f32 in both profiles; CSA keeps
    // the previous block too (2*ratio rows), HCA the current one (ratio rows).
    FlatSymbolRefAttr tail =
        state(L, indexer ? "index_tail" : "compressor_tail", 2 * coff * dc * 4,
              overlap ? 2 * ratio : ratio, 0);
    FlatSymbolRefAttr ents = state(L, indexer ? "index_entries" : "kv_entries",
                                   *entryBytes, 0, ratio);
    entries_[res(0)] = ents;
    CompressorParams p;
    p.dim = dimOf(op->getOperand(0));
    p.headDim = dc;
    p.ratio = ratio;
    p.overlap = overlap;
    p.eps = eps;
    if (official_)
      p.entryFormat = indexer ? 2 : 1;
    setRope(p, rope);
    launch(p, inBufs, {}, {wkv, wgate, ape, norm}, {tail, ents}, L);
    return success();
  }
  if (isa<v4::IndexerTopkOp>(op)) {
    BK_INT(heads, "heads");
    BK_INT(headDim, "head_dim");
    BK_INT(topk, "topk");
    BK_INT(ratio, "ratio");
    auto ents = entries_.find(op->getOperand(2));
    if (ents == entries_.end())
      return op->emitError(
          "v4-lower-to-kernels: indexer keys come from no compressor");
    IndexerTopkParams p;
    p.heads = heads;
    p.headDim = headDim;
    p.topk = topk;
    p.ratio = ratio;
    if (official_) {
      // The queries were Hadamard-rotated and FP4-simulated by their rope
      // (after_rope = 2); the keys are stored as FP4 codes + scales.
      if (failed(quantizingRope(op, op->getOperand(0), "indexer queries")))
        return failure();
      p.keyFormat = 1;
    }
    Value o = out(res(0), "topk");
    launch(p, inBufs, {o}, {}, {ents->second}, L);
    return success();
  }
  if (isa<v4::SparseAttentionOp>(op)) {
    BK_WEIGHT(sink, "sink");
    BK_INT(heads, "heads");
    BK_INT(headDim, "head_dim");
    BK_INT(window, "window");
    std::optional<std::string> kind = getEnumName(op, "kind");
    if (!kind)
      return op->emitError(
          "v4-lower-to-kernels: sparse_attention needs a kind");
    int64_t mode = *kind == "window" ? 0 : *kind == "csa" ? 1 : 2;
    // Official numerics store the kv as KV entries, whose layout depends on
    // the rope dims; the kv's rope FP8-simulated it (after_rope = 1).
    int64_t ropeDim = 0;
    if (official_) {
      FailureOr<v4::RopeOp> kvRope =
          quantizingRope(op, op->getOperand(1), "attention kv");
      if (failed(kvRope))
        return failure();
      ropeDim = kvRope->getRope().getDim();
    }
    FailureOr<int64_t> rowBytes = kvRowBytes(op, headDim, ropeDim);
    if (failed(rowBytes))
      return failure();
    SmallVector<Value> inputs = inBufs;
    SmallVector<Attribute> states = {state(L, "window", *rowBytes, window, 0)};
    int64_t ratio = 0, topk = 0;
    for (Value extra : op->getOperands().drop_front(2)) {
      if (auto ct = dyn_cast<v4::CompressedType>(extra.getType())) {
        auto ents = entries_.find(extra);
        if (ents == entries_.end())
          return op->emitError(
              "v4-lower-to-kernels: entries come from no compressor");
        // Attention reads window rows and compressed entries alike.
        auto entryState = symbols_.lookup<bk::StateOp>(ents->second.getValue());
        if (!entryState || entryState.getBytesPerRow() != *rowBytes)
          return op->emitError("v4-lower-to-kernels: compressed entries of ")
                 << (entryState ? entryState.getBytesPerRow() : 0)
                 << " bytes do not match the " << *rowBytes
                 << "-byte KV rows of the attention";
        states.push_back(ents->second);
        ratio = ct.getRatio();
      } else {
        FailureOr<Value> t = in(op, extra);
        if (failed(t))
          return failure();
        inputs.push_back(*t);
        topk = dimOf(extra);
      }
    }
    if ((mode == 1) != (topk > 0) || (mode > 0) != (states.size() == 2))
      return op->emitError(
                 "v4-lower-to-kernels: sparse_attention operands do not "
                 "match its kind '")
             << *kind << "'";
    SparseAttentionParams p;
    p.heads = heads;
    p.headDim = headDim;
    p.window = window;
    p.mode = mode;
    p.ratio = ratio;
    p.topk = topk;
    WindowWriteParams ring;
    ring.window = window;
    ring.headDim = headDim;
    if (official_) {
      p.kvFormat = ring.kvFormat = 1;
      p.ropeDim = ring.ropeDim = ropeDim;
    }
    Value o = out(res(0), "attn");
    launch(p, inputs, {o}, {sink}, states, L);
    // The ring is written after attention read the previous tokens.
    launch(ring, {inBufs[1]}, {}, {}, {states[0]}, L);
    return success();
  }
  if (isa<v4::GroupedLinearOp>(op)) {
    BK_WEIGHT(w, "weight");
    BK_INT(groups, "groups");
    Value o = out(res(0), "grouped");
    GroupedLinearParams p;
    p.groups = groups;
    p.inPerGroup = dimOf(op->getOperand(0)) / groups;
    p.outPerGroup = dimOf(res(0)) / groups;
    launch(p, inBufs, {o}, {w}, {}, L);
    return success();
  }
  if (isa<v4::RouterScoresOp>(op)) {
    BK_WEIGHT(gate, "gate");
    Value o = out(res(0), "scores");
    RouterScoresParams p;
    p.dim = dimOf(op->getOperand(0));
    p.experts = dimOf(res(0));
    launch(p, inBufs, {o}, {gate}, {}, L);
    return success();
  }
  if (isa<v4::RouteSelectOp, v4::RouterOp>(op)) {
    bool fused = isa<v4::RouterOp>(op);
    BK_INT(topk, "topk");
    BK_FLOAT(routeScale, "route_scale");
    bool hash = op->hasAttr("tid2eid");
    if (hash == op->hasAttr("bias"))
      return op->emitError(
          "v4-lower-to-kernels: routing needs exactly one of bias, tid2eid");
    BK_WEIGHT(table, hash ? "tid2eid" : "bias");
    auto fill = [&](auto &p, int64_t experts) {
      p.experts = experts;
      p.topk = topk;
      p.routeScale = routeScale;
      p.hash = hash;
    };
    if (fused) {
      BK_WEIGHT(gate, "gate");
      FailureOr<v4::WeightOp> g = weightOp(op, gate.getValue());
      if (failed(g))
        return failure();
      RouterParams p;
      fill(p, g->getType().getShape()[0]);
      p.dim = dimOf(op->getOperand(0));
      Value idx = out(res(0), "idx"), wts = out(res(1), "wts");
      launch(p, inBufs, {idx, wts}, {gate, table}, {}, L);
    } else {
      RouteSelectParams p;
      fill(p, dimOf(op->getOperand(0)));
      Value idx = out(res(0), "idx"), wts = out(res(1), "wts");
      launch(p, inBufs, {idx, wts}, {table}, {}, L);
    }
    return success();
  }
  if (isa<v4::MoeOp>(op)) {
    BK_INT(inter, "inter");
    BK_FLOAT(limit, "swiglu_limit");
    auto experts = dyn_cast_or_null<ArrayAttr>(op->getAttr("experts"));
    auto shared = dyn_cast_or_null<ArrayAttr>(op->getAttr("shared"));
    if (!experts || !shared || shared.size() != 3)
      return op->emitError("v4-lower-to-kernels: moe needs experts and shared");
    SmallVector<Attribute> ws;
    for (Attribute e : experts) {
      auto triple = dyn_cast<ArrayAttr>(e);
      if (!triple || triple.size() != 3)
        return op->emitError(
            "v4-lower-to-kernels: each expert is [w1, w2, w3]");
      ws.append(triple.begin(), triple.end());
    }
    ws.append(shared.begin(), shared.end());
    for (Attribute w : ws)
      if (!isa<FlatSymbolRefAttr>(w) ||
          failed(weightOp(op, cast<FlatSymbolRefAttr>(w).getValue())))
        return failure();
    Value o = out(res(0), "moe");
    MoeParams p;
    p.dim = dimOf(res(0));
    p.inter = inter;
    p.experts = int64_t(experts.size());
    p.topk = dimOf(op->getOperand(1));
    p.swigluLimit = limit;
    p.sharedClamp = op->hasAttr("shared_clamp");
    launch(p, inBufs, {o}, ws, {}, L);
    return success();
  }
  return op->emitError("v4-lower-to-kernels: no kernel for '")
         << op->getName() << "'";
#undef BK_INT
#undef BK_FLOAT
#undef BK_WEIGHT
#undef BK_INS
}

LogicalResult FuncLowering::lower(func::FuncOp fn, int64_t maxTokens) {
  MLIRContext *ctx = fn.getContext();
  if (fn.getNumArguments() != 1 || fn.getNumResults() != 1)
    return fn.emitError("v4-lower-to-kernels: an entry takes token ids and "
                        "returns logits");
  auto tokens = dyn_cast<RankedTensorType>(fn.getArgument(0).getType());
  if (!tokens || tokens.getRank() != 1)
    return fn.emitError(
        "v4-lower-to-kernels: token ids must be a rank-1 tensor");
  auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  returned_ = ret.getOperand(0);
  int64_t vocab = elemsPerToken(returned_.getType());
  if (vocab <= 0)
    return fn.emitError("v4-lower-to-kernels: logits need a static vocabulary");

  Type buf = bk::BufferType::get(ctx);
  b_.setInsertionPoint(fn);
  auto newFn =
      func::FuncOp::create(b_, fn.getLoc(), (fn.getName() + ".bk").str(),
                           b_.getFunctionType({buf, buf}, {}));
  int64_t tokensPerCall =
      tokens.isDynamicDim(0) ? maxTokens : tokens.getDimSize(0);
  newFn->setAttr(bk::kEntryAttr, b_.getUnitAttr());
  newFn->setAttr(bk::kMaxTokensAttr, b_.getI64IntegerAttr(tokensPerCall));
  newFn.setArgAttr(0, "bk.name", b_.getStringAttr("tokens"));
  newFn.setArgAttr(0, "bk.elems_per_token", b_.getI64IntegerAttr(1));
  newFn.setArgAttr(1, "bk.name", b_.getStringAttr("logits"));
  newFn.setArgAttr(1, "bk.elems_per_token", b_.getI64IntegerAttr(vocab));
  Block *body = newFn.addEntryBlock();
  buffers_[fn.getArgument(0)] = body->getArgument(0);
  logits_ = body->getArgument(1);
  b_.setInsertionPointToStart(body);
  for (Operation &op : fn.getBody().front().without_terminator())
    if (failed(lowerOp(&op)))
      return failure();
  func::ReturnOp::create(b_, fn.getLoc());
  StringAttr name = fn.getNameAttr();
  symbols_.erase(fn);
  newFn.setName(name);
  return success();
}

struct V4LowerToKernelsPass : impl::V4LowerToKernelsBase<V4LowerToKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    auto numerics = module->getAttrOfType<StringAttr>("v4.numerics");
    bool official = numerics && numerics.getValue() == "official";
    SmallVector<func::FuncOp> fns(module.getOps<func::FuncOp>());
    for (func::FuncOp fn : fns) {
      FuncLowering lowering(module, symbols, official);
      if (failed(lowering.lower(fn, maxTokens)))
        return signalPassFailure();
    }
    // Weights last: the lowering above looked their shapes up.
    OpBuilder b(module.getContext());
    for (v4::WeightOp w :
         llvm::make_early_inc_range(module.getOps<v4::WeightOp>())) {
      b.setInsertionPoint(w);
      auto type = w.getType();
      auto bw = bk::WeightOp::create(b, w.getLoc(), w.getSymName(),
                                     dtypeOf(type.getFormat()), type.getShape(),
                                     w.getScaleAttr());
      w.erase();
      (void)bw;
    }
  }
};

} // namespace
} // namespace birkhoff
