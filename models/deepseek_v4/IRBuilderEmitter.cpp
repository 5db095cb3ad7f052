//===- IRBuilderEmitter.cpp - the ops of one `v4` function ----------------===//
//
// One helper per part of a block (V4_SPEC §3): the attention query, KV,
// compressor, indexer and output paths, the MoE, and the mHC mixing around
// each sublayer. Ops are created in forward-pass order, so the printed IR
// reads top-down like the spec.
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/IRBuilderEmitter.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/ErrorHandling.h"

using namespace mlir;

namespace birkhoff::v4::detail {
namespace {

/// The dialect's spelling of a layer's attention schedule entry.
AttentionKind attentionKind(LayerAttention layer) {
  switch (layer) {
  case LayerAttention::Window:
    return AttentionKind::Window;
  case LayerAttention::CSA:
    return AttentionKind::CSA;
  case LayerAttention::HCA:
    return AttentionKind::HCA;
  }
  llvm_unreachable("unknown LayerAttention");
}

/// The compressor of a compressed (CSA or HCA) layer.
CompressorKind compressorKind(LayerAttention layer) {
  return layer == LayerAttention::CSA ? CompressorKind::CSA
                                      : CompressorKind::HCA;
}

} // namespace

Emitter::Emitter(MLIRContext &ctx, const ModelConfig &cfg,
                 const Checkpoint &ckpt, const BuildOptions &options,
                 std::set<std::string> &used, int64_t tokens)
    : ctx_(ctx), b_(&ctx), cfg_(cfg), ckpt_(ckpt), options_(options),
      used_(used), loc_(UnknownLoc::get(&ctx)), tokens_(tokens) {}

//===----------------------------------------------------------------------===//
// Types and attribute values
//===----------------------------------------------------------------------===//

RankedTensorType Emitter::act(int64_t features) {
  return RankedTensorType::get({tokens_, features}, b_.getF32Type());
}
RankedTensorType Emitter::indices(int64_t k) {
  return RankedTensorType::get({tokens_, k}, b_.getI32Type());
}
RankedTensorType Emitter::streams() {
  return RankedTensorType::get({tokens_, cfg_.hcMult, cfg_.dim},
                               b_.getF32Type());
}
RankedTensorType Emitter::combine() {
  return RankedTensorType::get({tokens_, cfg_.hcMult, cfg_.hcMult},
                               b_.getF32Type());
}

Expected<std::string> Emitter::weight(std::string tensor, StringRef role) {
  if (!ckpt_.find(tensor))
    return notFound("IRBuilder: checkpoint tensor '" + tensor +
                    "' is missing (needed for " + role.str() + ")");
  used_.insert(tensor);
  return tensor;
}

Expected<ArrayAttr> Emitter::expertTriple(const std::string &p,
                                          StringRef role) {
  SmallVector<Attribute, 3> refs;
  for (const char *w : {"w1", "w2", "w3"}) {
    BK_ASSIGN_OR_RETURN(std::string name, weight(p + w + ".weight", role));
    refs.push_back(FlatSymbolRefAttr::get(&ctx_, name));
  }
  return b_.getArrayAttr(refs);
}

/// Window-only layers: rope_theta, no YaRN; compressed layers:
/// compress_rope_theta with YaRN (V4_SPEC §1.3, P3).
Expected<RopeAttr> Emitter::layerRope(int64_t layer) {
  bool compressed = cfg_.compressRatio(layer) > 0;
  double theta = compressed ? cfg_.compressRopeTheta : cfg_.ropeTheta;
  return checked<RopeAttr>(
      ctx_, "layer " + std::to_string(layer) + " RoPE", [&](auto emitError) {
        return RopeAttr::getChecked(
            emitError, &ctx_, cfg_.ropeHeadDim, theta, compressed && cfg_.yarn,
            cfg_.ropeFactor, cfg_.originalSeqLen, cfg_.betaFast, cfg_.betaSlow);
      });
}

std::string Emitter::layerPrefix(int64_t layer) const {
  return "layers." + std::to_string(layer) + ".";
}

//===----------------------------------------------------------------------===//
// Shared ops
//===----------------------------------------------------------------------===//

Expected<Value> Emitter::rmsNorm(Value x, int64_t n, std::string w) {
  BK_ASSIGN_OR_RETURN(std::string weightName, weight(std::move(w), "weight"));
  return RmsNormOp::create(b_, loc_, act(n), x, weightName, normEps())
      .getResult();
}

Expected<Value> Emitter::linear(Value x, int64_t out, std::string w) {
  BK_ASSIGN_OR_RETURN(std::string weightName, weight(std::move(w), "weight"));
  return LinearOp::create(b_, loc_, act(out), x, weightName).getResult();
}

Value Emitter::applyRope(Value x, int64_t heads, int64_t headDim, RopeAttr rope,
                         bool inverse) {
  return RopeOp::create(b_, loc_, act(heads * headDim), x, heads, headDim, rope,
                        inverse)
      .getResult();
}

//===----------------------------------------------------------------------===//
// Attention (V4_SPEC §3.4-3.6)
//===----------------------------------------------------------------------===//

/// Steps 1-4: low-rank query, per-head norm, RoPE.
Expected<Emitter::Query> Emitter::attentionQuery(int64_t l, Value xn,
                                                 RopeAttr rope) {
  const int64_t h = cfg_.nHeads, dh = cfg_.headDim;
  std::string a = layerPrefix(l) + "attn.";
  BK_ASSIGN_OR_RETURN(Value qa, linear(xn, cfg_.qLoraRank, a + "wq_a.weight"));
  BK_ASSIGN_OR_RETURN(Value qr,
                      rmsNorm(qa, cfg_.qLoraRank, a + "q_norm.weight"));
  BK_ASSIGN_OR_RETURN(Value q, linear(qr, h * dh, a + "wq_b.weight"));
  q = HeadRmsNormOp::create(b_, loc_, act(h * dh), q, h, normEps());
  return Query{applyRope(q, h, dh, rope), qr};
}

/// Steps 5-6: one shared KV head (K = V), normalized and rotated.
Expected<Value> Emitter::attentionKv(int64_t l, Value xn, RopeAttr rope) {
  const int64_t dh = cfg_.headDim;
  std::string a = layerPrefix(l) + "attn.";
  BK_ASSIGN_OR_RETURN(Value kv, linear(xn, dh, a + "wkv.weight"));
  BK_ASSIGN_OR_RETURN(kv, rmsNorm(kv, dh, a + "kv_norm.weight"));
  return applyRope(kv, /*heads=*/1, dh, rope);
}

/// §3.5: the compressed entries of a CSA/HCA layer, attention KV (`Main`,
/// head_dim wide) or indexer keys (`Indexer`, index_head_dim wide).
Expected<Value> Emitter::compressor(int64_t l, Value xn, CompressorRole role,
                                    RopeAttr rope) {
  bool indexer = role == CompressorRole::Indexer;
  int64_t ratio = cfg_.compressRatio(l);
  int64_t dc = indexer ? cfg_.indexHeadDim : cfg_.headDim;
  std::string p = layerPrefix(l) +
                  (indexer ? "attn.indexer.compressor." : "attn.compressor.");
  BK_ASSIGN_OR_RETURN(std::string wkv, weight(p + "wkv.weight", "wkv"));
  BK_ASSIGN_OR_RETURN(std::string wgate, weight(p + "wgate.weight", "wgate"));
  BK_ASSIGN_OR_RETURN(std::string ape, weight(p + "ape", "ape"));
  BK_ASSIGN_OR_RETURN(std::string norm, weight(p + "norm.weight", "norm"));
  return CompressorOp::create(b_, loc_, CompressedType::get(&ctx_, dc, ratio),
                              compressorKind(cfg_.attention[l]), role, xn,
                              ratio, dc, wkv, wgate, ape, norm, rope, normEps(),
                              l)
      .getResult();
}

/// §3.6: the lightning indexer's top-k compressed entries per query (CSA).
Expected<Value> Emitter::indexerTopk(int64_t l, Value xn, Value qr,
                                     RopeAttr rope) {
  const int64_t hi = cfg_.indexNHeads, di = cfg_.indexHeadDim;
  std::string a = layerPrefix(l) + "attn.indexer.";
  BK_ASSIGN_OR_RETURN(Value qi, linear(qr, hi * di, a + "wq_b.weight"));
  qi = applyRope(qi, hi, di, rope);
  BK_ASSIGN_OR_RETURN(Value w, linear(xn, hi, a + "weights_proj.weight"));
  BK_ASSIGN_OR_RETURN(Value keys,
                      compressor(l, xn, CompressorRole::Indexer, rope));
  return IndexerTopkOp::create(b_, loc_, indices(cfg_.indexTopk), qi, w, keys,
                               hi, di, cfg_.indexTopk, cfg_.compressRatio(l))
      .getResult();
}

/// Steps 9-11: undo the RoPE of the output, grouped wo_a, then wo_b.
Expected<Value> Emitter::attentionOutput(int64_t l, Value o, RopeAttr rope) {
  std::string a = layerPrefix(l) + "attn.";
  o = applyRope(o, cfg_.nHeads, cfg_.headDim, rope, /*inverse=*/true);
  BK_ASSIGN_OR_RETURN(std::string woA, weight(a + "wo_a.weight", "weight"));
  Value z = GroupedLinearOp::create(
      b_, loc_, act(cfg_.oGroups * cfg_.oLoraRank), o, woA, cfg_.oGroups);
  return linear(z, cfg_.dim, a + "wo_b.weight");
}

Expected<Value> Emitter::attention(int64_t l, Value xn) {
  const int64_t h = cfg_.nHeads, dh = cfg_.headDim;
  LayerAttention layer = cfg_.attention[l];
  BK_ASSIGN_OR_RETURN(RopeAttr rope, layerRope(l));
  BK_ASSIGN_OR_RETURN(Query query, attentionQuery(l, xn, rope));
  BK_ASSIGN_OR_RETURN(Value kv, attentionKv(l, xn, rope));
  Value entries, topk; // HCA reads all entries, CSA the indexer's top-k
  if (layer != LayerAttention::Window) {
    BK_ASSIGN_OR_RETURN(entries, compressor(l, xn, CompressorRole::Main, rope));
  }
  if (layer == LayerAttention::CSA) {
    BK_ASSIGN_OR_RETURN(topk, indexerTopk(l, xn, query.qr, rope));
  }
  BK_ASSIGN_OR_RETURN(std::string sink,
                      weight(layerPrefix(l) + "attn.attn_sink", "sink"));
  Value o = SparseAttentionOp::create(
      b_, loc_, act(h * dh), attentionKind(layer), query.q, kv, entries, topk,
      h, dh, cfg_.windowSize, sink, l);
  return attentionOutput(l, o, rope);
}

//===----------------------------------------------------------------------===//
// MoE (V4_SPEC §3.7)
//===----------------------------------------------------------------------===//

/// Router scores, then the experts of each token: hash layers look them up
/// in tid2eid, the others take the top-k of the biased scores.
Expected<RouteSelectOp> Emitter::routeSelect(int64_t l, Value xn,
                                             Value tokens) {
  std::string g = layerPrefix(l) + "ffn.gate.";
  const int64_t k = cfg_.nActivatedExperts;
  BK_ASSIGN_OR_RETURN(std::string gate, weight(g + "weight", "gate"));
  Value scores =
      RouterScoresOp::create(b_, loc_, act(cfg_.nRoutedExperts), xn, gate);
  FlatSymbolRefAttr bias, tid2eid;
  if (cfg_.isHashLayer(l)) {
    BK_ASSIGN_OR_RETURN(std::string t, weight(g + "tid2eid", "tid2eid"));
    tid2eid = FlatSymbolRefAttr::get(&ctx_, t);
  } else {
    BK_ASSIGN_OR_RETURN(std::string t, weight(g + "bias", "bias"));
    bias = FlatSymbolRefAttr::get(&ctx_, t);
  }
  return RouteSelectOp::create(b_, loc_, indices(k), act(k), scores, tokens, k,
                               llvm::APFloat(cfg_.routeScale), bias, tid2eid);
}

Expected<Value> Emitter::ffn(int64_t l, Value xn, Value tokens) {
  std::string f = layerPrefix(l) + "ffn.";
  BK_ASSIGN_OR_RETURN(RouteSelectOp route, routeSelect(l, xn, tokens));
  SmallVector<Attribute> experts;
  for (int64_t i = 0; i < cfg_.nRoutedExperts; ++i) {
    BK_ASSIGN_OR_RETURN(
        ArrayAttr triple,
        expertTriple(f + "experts." + std::to_string(i) + ".", "experts"));
    experts.push_back(triple);
  }
  BK_ASSIGN_OR_RETURN(ArrayAttr shared,
                      expertTriple(f + "shared_experts.", "shared"));
  return MoeOp::create(b_, loc_, act(cfg_.dim), xn, route.getIndices(),
                       route.getWeights(), b_.getArrayAttr(experts), shared,
                       cfg_.moeInterDim, llvm::APFloat(cfg_.swigluLimit),
                       options_.sharedExpertClamp)
      .getResult();
}

//===----------------------------------------------------------------------===//
// mHC and the function (V4_SPEC §3.2-3.3)
//===----------------------------------------------------------------------===//

/// One residual half: mhc_pre -> norm -> sublayer -> mhc_post.
Expected<Value> Emitter::block(int64_t l, Value x, Value tokens, bool attn) {
  std::string hc = layerPrefix(l) + (attn ? "hc_attn_" : "hc_ffn_");
  BK_ASSIGN_OR_RETURN(std::string fn, weight(hc + "fn", "fn"));
  BK_ASSIGN_OR_RETURN(std::string base, weight(hc + "base", "base"));
  BK_ASSIGN_OR_RETURN(std::string scale, weight(hc + "scale", "scale"));
  auto pre = MhcPreOp::create(
      b_, loc_, act(cfg_.dim), act(cfg_.hcMult), combine(), x, fn, base, scale,
      cfg_.hcSinkhornIters, llvm::APFloat(cfg_.hcEps), normEps());
  std::string norm =
      layerPrefix(l) + (attn ? "attn_norm.weight" : "ffn_norm.weight");
  BK_ASSIGN_OR_RETURN(Value xn, rmsNorm(pre.getU(), cfg_.dim, norm));
  Expected<Value> y = attn ? attention(l, xn) : ffn(l, xn, tokens);
  if (!y)
    return y.status();
  return MhcPostOp::create(b_, loc_, streams(), *y, x, pre.getPost(),
                           pre.getComb())
      .getResult();
}

/// Collapse the streams, final norm and the vocabulary projection.
Expected<Value> Emitter::head(Value x) {
  BK_ASSIGN_OR_RETURN(std::string fn, weight("hc_head_fn", "fn"));
  BK_ASSIGN_OR_RETURN(std::string base, weight("hc_head_base", "base"));
  BK_ASSIGN_OR_RETURN(std::string scale, weight("hc_head_scale", "scale"));
  Value u = MhcHeadOp::create(b_, loc_, act(cfg_.dim), x, fn, base, scale,
                              llvm::APFloat(cfg_.hcEps), normEps());
  BK_ASSIGN_OR_RETURN(u, rmsNorm(u, cfg_.dim, "norm.weight"));
  return linear(u, cfg_.vocabSize, "head.weight");
}

Status Emitter::build(func::FuncOp fn) {
  Block *entry = fn.addEntryBlock();
  b_.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0);
  BK_ASSIGN_OR_RETURN(std::string embed, weight("embed.weight", "weight"));
  Value e = EmbedOp::create(b_, loc_, act(cfg_.dim), tokens, embed);
  Value x = MhcExpandOp::create(b_, loc_, streams(), e, cfg_.hcMult);
  for (int64_t l = 0; l < cfg_.nLayers; ++l) {
    BK_ASSIGN_OR_RETURN(x, block(l, x, tokens, /*attn=*/true));
    BK_ASSIGN_OR_RETURN(x, block(l, x, tokens, /*attn=*/false));
  }
  BK_ASSIGN_OR_RETURN(Value logits, head(x));
  func::ReturnOp::create(b_, loc_, logits);
  return Status::ok();
}

} // namespace birkhoff::v4::detail
