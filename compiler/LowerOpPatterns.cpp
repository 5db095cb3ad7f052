//===- LowerOpPatterns.cpp - One v4 op -> bk launches pattern per op ------===//
//
// The patterns of v4-lower-to-kernels (LowerToKernels.cpp), one per v4 op of a
// function body: each fills its kernel's params struct from the op's typed
// accessors, launches it with the catalogue's input/output/weight/state order
// (docs/kernels.md) and replaces the op with the buffers it writes. Ops with
// the same kernel shape share one template (linear / linear_rms_norm,
// mhc_pre / mhc_pre_norm, ...).
//
//===----------------------------------------------------------------------===//
#include "compiler/KernelLowering.h"

#include "mlir/Transforms/DialectConversion.h"

#include <type_traits>

using namespace mlir;

namespace birkhoff {
namespace {

//===----------------------------------------------------------------------===//
// The pattern base
//===----------------------------------------------------------------------===//

/// Lowers one v4 op to launches. The base sets the current layer (`layerOf`)
/// and hands `lower` the buffers of the op's operands in order; compressed
/// entries have none, so they are exactly the launch inputs. An op `lower`
/// cannot lower ends the conversion, with the error `lower` reported.
template <typename OpTy> class LowerOp : public OpConversionPattern<OpTy> {
public:
  using Adaptor = typename OpConversionPattern<OpTy>::OneToNOpAdaptor;

  LowerOp(KernelLowering &lowering, const TypeConverter &types,
          MLIRContext *ctx)
      : OpConversionPattern<OpTy>(types, ctx), lowering_(lowering) {}

  LogicalResult
  matchAndRewrite(OpTy op, Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const final {
    lowering_.setLayer(layerOf(op));
    SmallVector<Value> ins;
    for (ValueRange buffers : adaptor.getOperands())
      ins.append(buffers.begin(), buffers.end());
    if (succeeded(lower(op, ins, rewriter)))
      return success();
    lowering_.markFailed();
    return failure();
  }

protected:
  /// The layer of the op's launches: its `layer` attribute, else the layer
  /// its weight names (`weight`, the mHC `fn`, the router `gate`, the routing
  /// table); ops without either (mhc_post, rope, moe, ...) belong to the
  /// current layer.
  int64_t layerOf(OpTy op) const {
    if constexpr (requires { op.getLayer(); })
      return op.getLayer();
    else if constexpr (requires { op.getWeight(); })
      return layerOfWeight(op.getWeight());
    else if constexpr (requires { op.getFn(); })
      return layerOfWeight(op.getFn());
    else if constexpr (requires { op.getGate(); })
      return layerOfWeight(op.getGate());
    else if constexpr (requires { op.getTid2eidAttr(); })
      return layerOfWeight(op.getBiasAttr() ? *op.getBias() : *op.getTid2eid());
    else
      return lowering_.layer();
  }
  virtual LogicalResult lower(OpTy op, ValueRange ins,
                              ConversionPatternRewriter &rewriter) const = 0;

  /// `refs`, each checked to name a v4.weight.
  FailureOr<SmallVector<Attribute>>
  weights(OpTy op, ArrayRef<FlatSymbolRefAttr> refs) const {
    SmallVector<Attribute> ws;
    for (FlatSymbolRefAttr ref : refs) {
      FailureOr<FlatSymbolRefAttr> w = lowering_.weight(op, ref);
      if (failed(w))
        return failure();
      ws.push_back(*w);
    }
    return ws;
  }

  /// The common case: one launch of `p`'s kernel reading `ins`, the weights
  /// `refs` and `states`, writing one new buffer per result of the op (named
  /// by `labels`, in result order), which then replace the results.
  template <typename P>
  LogicalResult emit(OpTy op, ConversionPatternRewriter &rewriter, P p,
                     ValueRange ins, ArrayRef<FlatSymbolRefAttr> refs,
                     ArrayRef<StringRef> labels,
                     ArrayRef<Attribute> states = {}) const {
    FailureOr<SmallVector<Attribute>> ws = weights(op, refs);
    if (failed(ws))
      return failure();
    SmallVector<Value> outs;
    for (auto [result, label] : llvm::zip_equal(op->getResults(), labels))
      outs.push_back(lowering_.out(rewriter, result, label));
    lowering_.launch(rewriter, p, ins, outs, *ws, states);
    rewriter.replaceOp(op, outs);
    return success();
  }

  KernelLowering &lowering_;
};

double toDouble(const APFloat &f) { return f.convertToDouble(); }

//===----------------------------------------------------------------------===//
// Embedding and mHC
//===----------------------------------------------------------------------===//

/// embed + mhc_expand are one kernel: embed writes every stream.
struct LowerEmbed : LowerOp<v4::EmbedOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::EmbedOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    v4::MhcExpandOp expand;
    if (op.getResult().hasOneUse())
      expand = dyn_cast<v4::MhcExpandOp>(*op.getResult().getUsers().begin());
    EmbedParams p;
    p.dim = elemsPerToken(op.getType());
    p.hc = expand ? int64_t(expand.getHc()) : 1;
    if (!expand)
      return emit(op, rewriter, p, ins, {op.getWeightAttr()}, {"x"});
    FailureOr<SmallVector<Attribute>> ws = weights(op, {op.getWeightAttr()});
    if (failed(ws))
      return failure();
    Value o = lowering_.out(rewriter, expand.getResult(), "x");
    lowering_.launch(rewriter, p, ins, {o}, *ws, {});
    rewriter.replaceOp(expand, o);
    rewriter.eraseOp(op);
    return success();
  }
};

/// An expand whose input is not an embed: the catalogue has no copy kernel.
struct LowerMhcExpand : LowerOp<v4::MhcExpandOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::MhcExpandOp op, ValueRange,
                      ConversionPatternRewriter &) const override {
    return op.emitError("v4-lower-to-kernels: mhc_expand must follow v4.embed");
  }
};

/// The mHC weights of mhc_pre/mhc_head, plus the norm of their fused forms.
template <typename OpTy> SmallVector<FlatSymbolRefAttr> mhcWeights(OpTy op) {
  SmallVector<FlatSymbolRefAttr> refs = {op.getFnAttr(), op.getBaseAttr(),
                                         op.getScaleAttr()};
  if constexpr (requires { op.getNormAttr(); })
    refs.push_back(op.getNormAttr());
  return refs;
}

/// mhc_pre and mhc_pre_norm (the latter with its norm weight and eps).
template <typename OpTy, typename Params> struct LowerMhcPre : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Params p;
    p.dim = elemsPerToken(op.getU().getType());
    p.hc = elemsPerToken(op.getPost().getType());
    p.iters = op.getSinkhornIters();
    p.hcEps = toDouble(op.getHcEps());
    p.normEps = toDouble(op.getNormEps());
    if constexpr (std::is_same_v<OpTy, v4::MhcPreNormOp>)
      p.eps = toDouble(op.getEps());
    return this->emit(op, rewriter, p, ins, mhcWeights(op),
                      {"u", "post", "comb"});
  }
};

struct LowerMhcPost : LowerOp<v4::MhcPostOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::MhcPostOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    MhcPostParams p;
    p.dim = elemsPerToken(op.getSublayer().getType());
    p.hc = elemsPerToken(op.getPost().getType());
    return emit(op, rewriter, p, ins, {}, {"x"});
  }
};

/// mhc_head and mhc_head_norm (the latter with its norm weight and eps).
template <typename OpTy, typename Params> struct LowerMhcHead : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Params p;
    p.dim = elemsPerToken(op.getType());
    p.hc = op.getInput().getType().getDimSize(1);
    p.hcEps = toDouble(op.getHcEps());
    p.normEps = toDouble(op.getNormEps());
    if constexpr (std::is_same_v<OpTy, v4::MhcHeadNormOp>)
      p.eps = toDouble(op.getEps());
    return this->emit(op, rewriter, p, ins, mhcWeights(op), {"u"});
  }
};

//===----------------------------------------------------------------------===//
// Norms, linears, rope
//===----------------------------------------------------------------------===//

struct LowerRmsNorm : LowerOp<v4::RmsNormOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::RmsNormOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    RmsNormParams p;
    p.n = elemsPerToken(op.getType());
    p.eps = toDouble(op.getEps());
    return emit(op, rewriter, p, ins, {op.getWeightAttr()}, {"norm"});
  }
};

/// linear and linear_rms_norm (the latter with its norm weight and eps).
template <typename OpTy, typename Params> struct LowerLinear : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  using LowerOp<OpTy>::lowering_;
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Params p;
    p.inFeatures = elemsPerToken(op.getInput().getType());
    p.outFeatures = elemsPerToken(op.getType());
    // Every linear rounds its output to bf16 except the LM head, whose
    // logits stay fp32.
    p.roundOutput = lowering_.official() && !lowering_.isLogits(op);
    if constexpr (std::is_same_v<OpTy, v4::LinearRmsNormOp>) {
      p.eps = toDouble(op.getEps());
      return this->emit(op, rewriter, p, ins,
                        {op.getWeightAttr(), op.getNormAttr()},
                        {"linear_norm"});
    } else {
      return this->emit(op, rewriter, p, ins, {op.getWeightAttr()}, {"linear"});
    }
  }
};

struct LowerHeadRmsNorm : LowerOp<v4::HeadRmsNormOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::HeadRmsNormOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    int64_t heads = op.getHeads();
    HeadRmsNormParams p;
    p.heads = heads;
    p.headDim = elemsPerToken(op.getType()) / heads;
    p.eps = toDouble(op.getEps());
    return emit(op, rewriter, p, ins, {}, {"q"});
  }
};

/// rope and head_rms_norm_rope (the latter normalizes each head first; only
/// the plain rope is ever inverse or quantizing).
template <typename OpTy, typename Params> struct LowerRope : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  using LowerOp<OpTy>::lowering_;
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Params p;
    p.heads = op.getHeads();
    p.headDim = op.getHeadDim();
    KernelLowering::setRope(p, op.getRope());
    if constexpr (std::is_same_v<OpTy, v4::HeadRmsNormRopeOp>) {
      p.eps = toDouble(op.getEps());
    } else {
      p.inverse = op.getInverse();
      if (lowering_.official()) {
        FailureOr<int64_t> mode = lowering_.afterRope(op);
        if (failed(mode))
          return failure();
        p.afterRope = *mode;
      }
    }
    return this->emit(op, rewriter, p, ins, {}, {"rope"});
  }
};

//===----------------------------------------------------------------------===//
// Attention: compressor, indexer, sparse attention, grouped output
//===----------------------------------------------------------------------===//

/// A compressor writes its entries into a state, so it has no result buffer:
/// the attention or indexer that reads them finds that state.
struct LowerCompressor : LowerOp<v4::CompressorOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::CompressorOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Attribute>> ws =
        weights(op, {op.getWkvAttr(), op.getWgateAttr(), op.getApeAttr(),
                     op.getNormAttr()});
    if (failed(ws))
      return failure();
    int64_t ratio = op.getRatio(), dc = op.getHeadDim(), coff = op.getCoff();
    bool overlap = op.getKind() == v4::CompressorKind::CSA;
    bool indexer = op.getRole() == v4::CompressorRole::Indexer;
    // Entries are indexer keys or attention KV rows, in the profile's format.
    FailureOr<int64_t> entryBytes =
        indexer ? lowering_.keyRowBytes(op, dc)
                : lowering_.kvRowBytes(op, dc, op.getRope().getDim());
    if (failed(entryBytes))
      return failure();
    // Tail rows: [c (coff*Dc) | z (coff*Dc)] f32 in both profiles; CSA keeps
    // the previous block too (2*ratio rows), HCA the current one (ratio rows).
    FlatSymbolRefAttr tail =
        lowering_.state(rewriter, indexer ? "index_tail" : "compressor_tail",
                        2 * coff * dc * 4, overlap ? 2 * ratio : ratio, 0);
    FlatSymbolRefAttr ents =
        lowering_.state(rewriter, indexer ? "index_entries" : "kv_entries",
                        *entryBytes, 0, ratio);
    lowering_.setEntries(op.getResult(), ents);
    CompressorParams p;
    p.dim = elemsPerToken(op.getInput().getType());
    p.headDim = dc;
    p.ratio = ratio;
    p.overlap = overlap;
    p.eps = toDouble(op.getEps());
    if (lowering_.official())
      p.entryFormat = indexer ? 2 : 1;
    KernelLowering::setRope(p, op.getRope());
    lowering_.launch(rewriter, p, ins, {}, *ws, {tail, ents});
    rewriter.replaceOpWithMultiple(op, SmallVector<SmallVector<Value>>(1));
    return success();
  }
};

struct LowerIndexerTopk : LowerOp<v4::IndexerTopkOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::IndexerTopkOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    std::optional<FlatSymbolRefAttr> keys = lowering_.entries(op.getKeys());
    if (!keys)
      return op.emitError(
          "v4-lower-to-kernels: indexer keys come from no compressor");
    IndexerTopkParams p;
    p.heads = op.getHeads();
    p.headDim = op.getHeadDim();
    p.topk = op.getTopk();
    p.ratio = op.getRatio();
    if (lowering_.official()) {
      // The queries were Hadamard-rotated and FP4-simulated by their rope
      // (after_rope = 2); the keys are stored as FP4 codes + scales.
      if (failed(
              lowering_.quantizingRope(op, op.getQuery(), "indexer queries")))
        return failure();
      p.keyFormat = 1;
    }
    return emit(op, rewriter, p, ins, {}, {"topk"}, {*keys});
  }
};

/// Attention reads the window ring and, for csa/hca, the compressed entries;
/// the ring is written after it, by `window_write`.
struct LowerSparseAttention : LowerOp<v4::SparseAttentionOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::SparseAttentionOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Attribute>> ws = weights(op, {op.getSinkAttr()});
    if (failed(ws))
      return failure();
    int64_t headDim = op.getHeadDim(), window = op.getWindow();
    v4::AttentionKind kind = op.getKind();
    int64_t mode = kind == v4::AttentionKind::Window ? 0
                   : kind == v4::AttentionKind::CSA  ? 1
                                                     : 2;
    // Official numerics store the kv as KV entries, whose layout depends on
    // the rope dims; the kv's rope FP8-simulated it (after_rope = 1).
    int64_t ropeDim = 0;
    if (lowering_.official()) {
      FailureOr<v4::RopeOp> kvRope =
          lowering_.quantizingRope(op, op.getKv(), "attention kv");
      if (failed(kvRope))
        return failure();
      ropeDim = kvRope->getRope().getDim();
    }
    FailureOr<int64_t> rowBytes = lowering_.kvRowBytes(op, headDim, ropeDim);
    if (failed(rowBytes))
      return failure();
    SmallVector<Attribute> states = {
        lowering_.state(rewriter, "window", *rowBytes, window, 0)};
    int64_t ratio = 0, topk = 0;
    if (Value entries = op.getEntries()) {
      std::optional<FlatSymbolRefAttr> ents = lowering_.entries(entries);
      if (!ents)
        return op.emitError(
            "v4-lower-to-kernels: entries come from no compressor");
      // Attention reads window rows and compressed entries alike.
      bk::StateOp entryState = lowering_.lookupState(*ents);
      if (!entryState || entryState.getBytesPerRow() != *rowBytes)
        return op.emitError("v4-lower-to-kernels: compressed entries of ")
               << (entryState ? entryState.getBytesPerRow() : 0)
               << " bytes do not match the " << *rowBytes
               << "-byte KV rows of the attention";
      states.push_back(*ents);
      ratio = cast<v4::CompressedType>(entries.getType()).getRatio();
    }
    if (Value indices = op.getTopk())
      topk = elemsPerToken(indices.getType());
    if ((mode == 1) != (topk > 0) || (mode > 0) != (states.size() == 2))
      return op.emitError("v4-lower-to-kernels: sparse_attention operands do "
                          "not match its kind '")
             << v4::stringifyAttentionKind(kind) << "'";
    SparseAttentionParams p;
    p.heads = op.getHeads();
    p.headDim = headDim;
    p.window = window;
    p.mode = mode;
    p.ratio = ratio;
    p.topk = topk;
    WindowWriteParams ring;
    ring.window = window;
    ring.headDim = headDim;
    if (lowering_.official()) {
      p.kvFormat = ring.kvFormat = 1;
      p.ropeDim = ring.ropeDim = ropeDim;
    }
    Value o = lowering_.out(rewriter, op.getResult(), "attn");
    // `ins` are q, kv and the top-k indices: the entries are a state.
    lowering_.launch(rewriter, p, ins, {o}, *ws, states);
    // The ring is written after attention read the previous tokens.
    lowering_.launch(rewriter, ring, {ins[1]}, {}, {}, {states[0]});
    rewriter.replaceOp(op, o);
    return success();
  }
};

struct LowerGroupedLinear : LowerOp<v4::GroupedLinearOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::GroupedLinearOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    int64_t groups = op.getGroups();
    GroupedLinearParams p;
    p.groups = groups;
    p.inPerGroup = elemsPerToken(op.getInput().getType()) / groups;
    p.outPerGroup = elemsPerToken(op.getType()) / groups;
    return emit(op, rewriter, p, ins, {op.getWeightAttr()}, {"grouped"});
  }
};

//===----------------------------------------------------------------------===//
// MoE
//===----------------------------------------------------------------------===//

struct LowerRouterScores : LowerOp<v4::RouterScoresOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::RouterScoresOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    RouterScoresParams p;
    p.dim = elemsPerToken(op.getInput().getType());
    p.experts = elemsPerToken(op.getType());
    return emit(op, rewriter, p, ins, {op.getGateAttr()}, {"scores"});
  }
};

/// route_select (scores in) and router (the gate GEMM fused in): biased
/// top-k or the hash table, whichever of `bias`/`tid2eid` the op names.
template <typename OpTy, typename Params> struct LowerRouting : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  using LowerOp<OpTy>::lowering_;
  static constexpr bool kFused = std::is_same_v<OpTy, v4::RouterOp>;

  static FlatSymbolRefAttr table(OpTy op) {
    return op.getBiasAttr() ? op.getBiasAttr() : op.getTid2eidAttr();
  }
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Params p;
    p.topk = op.getTopk();
    p.routeScale = toDouble(op.getRouteScale());
    p.hash = bool(op.getTid2eidAttr());
    if constexpr (kFused) {
      FailureOr<v4::WeightOp> gate = lowering_.weightOp(op, op.getGate());
      if (failed(gate))
        return failure();
      p.experts = gate->getType().getShape()[0];
      p.dim = elemsPerToken(op.getInput().getType());
      return this->emit(op, rewriter, p, ins, {op.getGateAttr(), table(op)},
                        {"idx", "wts"});
    } else {
      p.experts = elemsPerToken(op.getScores().getType());
      return this->emit(op, rewriter, p, ins, {table(op)}, {"idx", "wts"});
    }
  }
};

/// Weights: the experts' [w1, w2, w3] in order, then the shared expert's.
/// Its layer is the current one, set by the router before it.
struct LowerMoe : LowerOp<v4::MoeOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::MoeOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<FlatSymbolRefAttr> refs;
    auto addTriple = [&](ArrayAttr triple) {
      for (Attribute w : triple)
        refs.push_back(cast<FlatSymbolRefAttr>(w));
    };
    for (Attribute expert : op.getExperts())
      addTriple(cast<ArrayAttr>(expert));
    addTriple(op.getShared());
    MoeParams p;
    p.dim = elemsPerToken(op.getType());
    p.inter = op.getInter();
    p.experts = op.getNumExperts();
    p.topk = elemsPerToken(op.getIndices().getType());
    p.swigluLimit = toDouble(op.getSwigluLimit());
    p.sharedClamp = op.getSharedClamp();
    return emit(op, rewriter, p, ins, refs, {"moe"});
  }
};

} // namespace

void populateOpLoweringPatterns(KernelLowering &lowering,
                                const TypeConverter &types,
                                RewritePatternSet &patterns) {
  patterns.add<
      LowerEmbed, LowerMhcExpand, LowerMhcPre<v4::MhcPreOp, MhcPreParams>,
      LowerMhcPre<v4::MhcPreNormOp, MhcPreNormParams>, LowerMhcPost,
      LowerMhcHead<v4::MhcHeadOp, MhcHeadParams>,
      LowerMhcHead<v4::MhcHeadNormOp, MhcHeadNormParams>, LowerRmsNorm,
      LowerLinear<v4::LinearOp, LinearParams>,
      LowerLinear<v4::LinearRmsNormOp, LinearRmsNormParams>, LowerHeadRmsNorm,
      LowerRope<v4::RopeOp, RopeParams>,
      LowerRope<v4::HeadRmsNormRopeOp, HeadRmsNormRopeParams>, LowerCompressor,
      LowerIndexerTopk, LowerSparseAttention, LowerGroupedLinear,
      LowerRouterScores, LowerRouting<v4::RouteSelectOp, RouteSelectParams>,
      LowerRouting<v4::RouterOp, RouterParams>, LowerMoe>(
      lowering, types, patterns.getContext());
}

} // namespace birkhoff
