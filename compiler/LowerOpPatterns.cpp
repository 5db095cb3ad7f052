//===- LowerOpPatterns.cpp - One v4 op -> bk launches pattern per op ------===//
//
// The patterns of v4-lower-to-kernels (LowerToKernels.cpp), one per v4 op of a
// function body: each emits its op's launches of docs/kernels.md with the
// catalogue's input/output/weight/state order and replaces the op with the
// buffers it writes. Ops with the same kernel shape share one template
// (linear / linear_rms_norm, mhc_pre / mhc_pre_norm, ...).
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
  /// The layer of the op's launches: from its `layer` attribute or the names
  /// of its weights; ops without either (mhc_post, rope, ...) belong to the
  /// current layer.
  virtual int64_t layerOf(OpTy op) const { return lowering_.layer(); }
  virtual LogicalResult lower(OpTy op, ValueRange ins,
                              ConversionPatternRewriter &rewriter) const = 0;

  /// `ref`, checked to name a v4.weight, appended to `ws`.
  LogicalResult addWeight(OpTy op, FlatSymbolRefAttr ref,
                          SmallVectorImpl<Attribute> &ws) const {
    FailureOr<FlatSymbolRefAttr> w = lowering_.weight(op, ref);
    if (failed(w))
      return failure();
    ws.push_back(*w);
    return success();
  }

  KernelLowering &lowering_;
};

double toDouble(const APFloat &f) { return f.convertToDouble(); }

//===----------------------------------------------------------------------===//
// Embedding and mHC
//===----------------------------------------------------------------------===//

struct LowerEmbed : LowerOp<v4::EmbedOp> {
  using LowerOp::LowerOp;
  int64_t layerOf(v4::EmbedOp op) const override {
    return layerOfWeight(op.getWeight());
  }
  LogicalResult lower(v4::EmbedOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(addWeight(op, op.getWeightAttr(), ws)))
      return failure();
    // embed + mhc_expand are one kernel: embed writes every stream.
    v4::MhcExpandOp expand;
    if (op.getResult().hasOneUse())
      expand = dyn_cast<v4::MhcExpandOp>(*op.getResult().getUsers().begin());
    Value o = lowering_.out(rewriter, expand ? expand.getResult() : op, "x");
    EmbedParams p;
    p.dim = elemsPerToken(op.getType());
    p.hc = expand ? int64_t(expand.getHc()) : 1;
    lowering_.launch(rewriter, p, ins, {o}, ws, {});
    if (!expand) {
      rewriter.replaceOp(op, o);
      return success();
    }
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

/// mhc_pre and mhc_pre_norm (the latter with its norm weight and eps).
template <typename OpTy, typename Params> struct LowerMhcPre : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  using LowerOp<OpTy>::lowering_;
  static constexpr bool kNorm = std::is_same_v<OpTy, v4::MhcPreNormOp>;

  int64_t layerOf(OpTy op) const override { return layerOfWeight(op.getFn()); }
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(this->addWeight(op, op.getFnAttr(), ws)) ||
        failed(this->addWeight(op, op.getBaseAttr(), ws)) ||
        failed(this->addWeight(op, op.getScaleAttr(), ws)))
      return failure();
    Value u = lowering_.out(rewriter, op.getU(), "u"),
          post = lowering_.out(rewriter, op.getPost(), "post"),
          comb = lowering_.out(rewriter, op.getComb(), "comb");
    Params p;
    p.dim = elemsPerToken(op.getU().getType());
    p.hc = elemsPerToken(op.getPost().getType());
    p.iters = op.getSinkhornIters();
    p.hcEps = toDouble(op.getHcEps());
    p.normEps = toDouble(op.getNormEps());
    if constexpr (kNorm) {
      if (failed(this->addWeight(op, op.getNormAttr(), ws)))
        return failure();
      p.eps = toDouble(op.getEps());
    }
    lowering_.launch(rewriter, p, ins, {u, post, comb}, ws, {});
    rewriter.replaceOp(op, {u, post, comb});
    return success();
  }
};

struct LowerMhcPost : LowerOp<v4::MhcPostOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::MhcPostOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Value o = lowering_.out(rewriter, op.getResult(), "x");
    MhcPostParams p;
    p.dim = elemsPerToken(op.getSublayer().getType());
    p.hc = elemsPerToken(op.getPost().getType());
    lowering_.launch(rewriter, p, ins, {o}, {}, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

/// mhc_head and mhc_head_norm (the latter with its norm weight and eps).
template <typename OpTy, typename Params> struct LowerMhcHead : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  using LowerOp<OpTy>::lowering_;
  static constexpr bool kNorm = std::is_same_v<OpTy, v4::MhcHeadNormOp>;

  int64_t layerOf(OpTy op) const override { return layerOfWeight(op.getFn()); }
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(this->addWeight(op, op.getFnAttr(), ws)) ||
        failed(this->addWeight(op, op.getBaseAttr(), ws)) ||
        failed(this->addWeight(op, op.getScaleAttr(), ws)))
      return failure();
    Value o = lowering_.out(rewriter, op.getResult(), "u");
    Params p;
    p.dim = elemsPerToken(op.getType());
    p.hc = op.getInput().getType().getDimSize(1);
    p.hcEps = toDouble(op.getHcEps());
    p.normEps = toDouble(op.getNormEps());
    if constexpr (kNorm) {
      if (failed(this->addWeight(op, op.getNormAttr(), ws)))
        return failure();
      p.eps = toDouble(op.getEps());
    }
    lowering_.launch(rewriter, p, ins, {o}, ws, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Norms, linears, rope
//===----------------------------------------------------------------------===//

struct LowerRmsNorm : LowerOp<v4::RmsNormOp> {
  using LowerOp::LowerOp;
  int64_t layerOf(v4::RmsNormOp op) const override {
    return layerOfWeight(op.getWeight());
  }
  LogicalResult lower(v4::RmsNormOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(addWeight(op, op.getWeightAttr(), ws)))
      return failure();
    Value o = lowering_.out(rewriter, op.getResult(), "norm");
    RmsNormParams p;
    p.n = elemsPerToken(op.getType());
    p.eps = toDouble(op.getEps());
    lowering_.launch(rewriter, p, ins, {o}, ws, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

/// linear and linear_rms_norm (the latter with its norm weight and eps).
template <typename OpTy, typename Params> struct LowerLinear : LowerOp<OpTy> {
  using LowerOp<OpTy>::LowerOp;
  using LowerOp<OpTy>::lowering_;
  static constexpr bool kNorm = std::is_same_v<OpTy, v4::LinearRmsNormOp>;

  int64_t layerOf(OpTy op) const override {
    return layerOfWeight(op.getWeight());
  }
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(this->addWeight(op, op.getWeightAttr(), ws)))
      return failure();
    Params p;
    p.inFeatures = elemsPerToken(op.getInput().getType());
    p.outFeatures = elemsPerToken(op.getType());
    // Every linear rounds its output to bf16 except the LM head, whose
    // logits stay fp32.
    p.roundOutput = lowering_.official() && !lowering_.isLogits(op);
    if constexpr (kNorm) {
      if (failed(this->addWeight(op, op.getNormAttr(), ws)))
        return failure();
      p.eps = toDouble(op.getEps());
    }
    Value o = lowering_.out(rewriter, op.getResult(),
                            kNorm ? "linear_norm" : "linear");
    lowering_.launch(rewriter, p, ins, {o}, ws, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

struct LowerHeadRmsNorm : LowerOp<v4::HeadRmsNormOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::HeadRmsNormOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Value o = lowering_.out(rewriter, op.getResult(), "q");
    int64_t heads = op.getHeads();
    HeadRmsNormParams p;
    p.heads = heads;
    p.headDim = elemsPerToken(op.getType()) / heads;
    p.eps = toDouble(op.getEps());
    lowering_.launch(rewriter, p, ins, {o}, {}, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

struct LowerRope : LowerOp<v4::RopeOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::RopeOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Value o = lowering_.out(rewriter, op.getResult(), "rope");
    RopeParams p;
    p.heads = op.getHeads();
    p.headDim = op.getHeadDim();
    KernelLowering::setRope(p, op.getRope());
    p.inverse = op.getInverse();
    if (lowering_.official()) {
      FailureOr<int64_t> mode = lowering_.afterRope(op);
      if (failed(mode))
        return failure();
      p.afterRope = *mode;
    }
    lowering_.launch(rewriter, p, ins, {o}, {}, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

struct LowerHeadRmsNormRope : LowerOp<v4::HeadRmsNormRopeOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::HeadRmsNormRopeOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    Value o = lowering_.out(rewriter, op.getResult(), "rope");
    HeadRmsNormRopeParams p;
    p.heads = op.getHeads();
    p.headDim = op.getHeadDim();
    KernelLowering::setRope(p, op.getRope());
    p.eps = toDouble(op.getEps());
    lowering_.launch(rewriter, p, ins, {o}, {}, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Attention: compressor, indexer, sparse attention, grouped output
//===----------------------------------------------------------------------===//

/// A compressor writes its entries into a state, so it has no result buffer:
/// the attention or indexer that reads them finds that state.
struct LowerCompressor : LowerOp<v4::CompressorOp> {
  using LowerOp::LowerOp;
  int64_t layerOf(v4::CompressorOp op) const override { return op.getLayer(); }
  LogicalResult lower(v4::CompressorOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(addWeight(op, op.getWkvAttr(), ws)) ||
        failed(addWeight(op, op.getWgateAttr(), ws)) ||
        failed(addWeight(op, op.getApeAttr(), ws)) ||
        failed(addWeight(op, op.getNormAttr(), ws)))
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
    lowering_.launch(rewriter, p, ins, {}, ws, {tail, ents});
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
    Value o = lowering_.out(rewriter, op.getResult(), "topk");
    lowering_.launch(rewriter, p, ins, {o}, {}, {*keys});
    rewriter.replaceOp(op, o);
    return success();
  }
};

/// Attention reads the window ring and, for csa/hca, the compressed entries;
/// the ring is written after it, by `window_write`.
struct LowerSparseAttention : LowerOp<v4::SparseAttentionOp> {
  using LowerOp::LowerOp;
  int64_t layerOf(v4::SparseAttentionOp op) const override {
    return op.getLayer();
  }
  LogicalResult lower(v4::SparseAttentionOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(addWeight(op, op.getSinkAttr(), ws)))
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
    lowering_.launch(rewriter, p, ins, {o}, ws, states);
    // The ring is written after attention read the previous tokens.
    lowering_.launch(rewriter, ring, {ins[1]}, {}, {}, {states[0]});
    rewriter.replaceOp(op, o);
    return success();
  }
};

struct LowerGroupedLinear : LowerOp<v4::GroupedLinearOp> {
  using LowerOp::LowerOp;
  int64_t layerOf(v4::GroupedLinearOp op) const override {
    return layerOfWeight(op.getWeight());
  }
  LogicalResult lower(v4::GroupedLinearOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(addWeight(op, op.getWeightAttr(), ws)))
      return failure();
    Value o = lowering_.out(rewriter, op.getResult(), "grouped");
    int64_t groups = op.getGroups();
    GroupedLinearParams p;
    p.groups = groups;
    p.inPerGroup = elemsPerToken(op.getInput().getType()) / groups;
    p.outPerGroup = elemsPerToken(op.getType()) / groups;
    lowering_.launch(rewriter, p, ins, {o}, ws, {});
    rewriter.replaceOp(op, o);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// MoE
//===----------------------------------------------------------------------===//

struct LowerRouterScores : LowerOp<v4::RouterScoresOp> {
  using LowerOp::LowerOp;
  int64_t layerOf(v4::RouterScoresOp op) const override {
    return layerOfWeight(op.getGate());
  }
  LogicalResult lower(v4::RouterScoresOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    if (failed(addWeight(op, op.getGateAttr(), ws)))
      return failure();
    Value o = lowering_.out(rewriter, op.getResult(), "scores");
    RouterScoresParams p;
    p.dim = elemsPerToken(op.getInput().getType());
    p.experts = elemsPerToken(op.getType());
    lowering_.launch(rewriter, p, ins, {o}, ws, {});
    rewriter.replaceOp(op, o);
    return success();
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
  int64_t layerOf(OpTy op) const override {
    if constexpr (kFused)
      return layerOfWeight(op.getGate());
    else
      return layerOfWeight(table(op).getValue());
  }
  LogicalResult lower(OpTy op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    FailureOr<FlatSymbolRefAttr> tableRef = lowering_.weight(op, table(op));
    if (failed(tableRef))
      return failure();
    SmallVector<Attribute> ws;
    Params p;
    if constexpr (kFused) {
      FailureOr<v4::WeightOp> gate = lowering_.weightOp(op, op.getGate());
      if (failed(gate))
        return failure();
      ws.push_back(op.getGateAttr());
      p.experts = gate->getType().getShape()[0];
      p.dim = elemsPerToken(op.getInput().getType());
    } else {
      p.experts = elemsPerToken(op.getScores().getType());
    }
    ws.push_back(*tableRef);
    p.topk = op.getTopk();
    p.routeScale = toDouble(op.getRouteScale());
    p.hash = bool(op.getTid2eidAttr());
    Value idx = lowering_.out(rewriter, op.getIndices(), "idx"),
          wts = lowering_.out(rewriter, op.getWeights(), "wts");
    lowering_.launch(rewriter, p, ins, {idx, wts}, ws, {});
    rewriter.replaceOp(op, {idx, wts});
    return success();
  }
};

/// Weights: the experts' [w1, w2, w3] in order, then the shared expert's.
/// Its layer is the current one, set by the router before it.
struct LowerMoe : LowerOp<v4::MoeOp> {
  using LowerOp::LowerOp;
  LogicalResult lower(v4::MoeOp op, ValueRange ins,
                      ConversionPatternRewriter &rewriter) const override {
    SmallVector<Attribute> ws;
    auto addTriple = [&](ArrayAttr triple) {
      for (Attribute w : triple)
        if (failed(addWeight(op, cast<FlatSymbolRefAttr>(w), ws)))
          return failure();
      return success();
    };
    for (Attribute expert : op.getExperts())
      if (failed(addTriple(cast<ArrayAttr>(expert))))
        return failure();
    if (failed(addTriple(op.getShared())))
      return failure();
    Value o = lowering_.out(rewriter, op.getResult(), "moe");
    MoeParams p;
    p.dim = elemsPerToken(op.getType());
    p.inter = op.getInter();
    p.experts = op.getNumExperts();
    p.topk = elemsPerToken(op.getIndices().getType());
    p.swigluLimit = toDouble(op.getSwigluLimit());
    p.sharedClamp = op.getSharedClamp();
    lowering_.launch(rewriter, p, ins, {o}, ws, {});
    rewriter.replaceOp(op, o);
    return success();
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
      LowerRope, LowerHeadRmsNormRope, LowerCompressor, LowerIndexerTopk,
      LowerSparseAttention, LowerGroupedLinear, LowerRouterScores,
      LowerRouting<v4::RouteSelectOp, RouteSelectParams>,
      LowerRouting<v4::RouterOp, RouterParams>, LowerMoe>(
      lowering, types, patterns.getContext());
}

} // namespace birkhoff
