//===- IRBuilder.cpp - DeepSeek-V4 checkpoint to `v4` IR ------------------===//
//
// Ops are created by name through OperationState so that this file depends
// only on the op/attribute names of the `v4` contract (docs/dialect.md), not
// on generated builder signatures. The registered dialect verifies them.
//
// The v4 types and attributes are built from their textual form: the dialect's
// C++ enums share the names of ModelConfig's (`birkhoff::v4::AttentionKind`),
// so this file includes no dialect header (V4DialectLoader.cpp loads it).
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/IRBuilder.h"

#include "deepseek_v4/V4DialectLoader.h"

#include "birkhoff/OfficialNumerics.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FormatVariadic.h"

#include <set>

using namespace mlir;

namespace birkhoff::v4 {
namespace {

std::string fmtDouble(double v) { return llvm::formatv("{0:e}", v).str(); }

/// Emits the ops of one function; remembers which checkpoint tensors it used.
class Emitter {
public:
  Emitter(MLIRContext &ctx, const ModelConfig &cfg, const Checkpoint &ckpt,
          const BuildOptions &options, std::set<std::string> &used,
          int64_t tokens)
      : ctx_(ctx), b_(&ctx), cfg_(cfg), ckpt_(ckpt), options_(options),
        used_(used), loc_(UnknownLoc::get(&ctx)), tokens_(tokens) {}

  Status build(func::FuncOp fn);

private:
  // ---- types ----
  Type f32() { return b_.getF32Type(); }
  Type act(int64_t n) { return RankedTensorType::get({tokens_, n}, f32()); }
  Type ints(int64_t n) {
    return RankedTensorType::get({tokens_, n}, b_.getI32Type());
  }
  Type stream() {
    return RankedTensorType::get({tokens_, cfg_.hcMult, cfg_.dim}, f32());
  }
  Type comb() {
    return RankedTensorType::get({tokens_, cfg_.hcMult, cfg_.hcMult}, f32());
  }
  Type compressed(int64_t dc, int64_t ratio) {
    return parsed<Type>(llvm::formatv("!v4.compressed<{0}, {1}>", dc, ratio));
  }
  /// A dialect type or attribute from its assembly; the text is built here
  /// from validated integers, so failing to parse is an internal error.
  template <typename T> T parsed(const std::string &text) {
    T result;
    if constexpr (std::is_same_v<T, Type>)
      result = parseType(text, &ctx_);
    else
      result = parseAttribute(text, &ctx_);
    if (!result)
      llvm::report_fatal_error(llvm::Twine("IRBuilder: cannot parse ") + text);
    return result;
  }

  // ---- attributes ----
  NamedAttribute i64(StringRef name, int64_t v) {
    return b_.getNamedAttr(name, b_.getI64IntegerAttr(v));
  }
  NamedAttribute f64(StringRef name, double v) {
    return b_.getNamedAttr(name, b_.getF64FloatAttr(v));
  }
  /// A weight reference; records the tensor (and its scale) as used.
  Expected<NamedAttribute> weight(StringRef attr, const std::string &tensor) {
    if (!ckpt_.find(tensor))
      return notFound("IRBuilder: checkpoint tensor '" + tensor +
                      "' is missing (needed for " + attr.str() + ")");
    used_.insert(tensor);
    return b_.getNamedAttr(attr, FlatSymbolRefAttr::get(&ctx_, tensor));
  }
  FlatSymbolRefAttr ref(const std::string &tensor) {
    used_.insert(tensor);
    return FlatSymbolRefAttr::get(&ctx_, tensor);
  }
  /// Window-only layers: rope_theta, no YaRN; compressed layers:
  /// compress_rope_theta with YaRN (V4_SPEC §1.3, P3).
  NamedAttribute rope(int64_t layer) {
    bool isCompressed = cfg_.compressRatio(layer) > 0;
    bool yarn = isCompressed && cfg_.yarn;
    double theta = isCompressed ? cfg_.compressRopeTheta : cfg_.ropeTheta;
    std::string text = llvm::formatv(
        "#v4.rope<dim = {0}, theta = {1}, yarn = {2}, factor = {3}, original = "
        "{4}, beta_fast = {5}, beta_slow = {6}>",
        cfg_.ropeHeadDim, fmtDouble(theta), yarn ? "true" : "false",
        fmtDouble(cfg_.ropeFactor), cfg_.originalSeqLen,
        fmtDouble(cfg_.betaFast), fmtDouble(cfg_.betaSlow));
    return b_.getNamedAttr("rope", parsed<Attribute>(text));
  }
  NamedAttribute unit(StringRef name) {
    return b_.getNamedAttr(name, b_.getUnitAttr());
  }

  Operation *create(StringRef name, ValueRange operands, TypeRange results,
                    ArrayRef<NamedAttribute> attrs) {
    OperationState state(loc_, name);
    state.addOperands(operands);
    state.addTypes(results);
    state.addAttributes(attrs);
    return b_.create(state);
  }

  std::string lp(int64_t l) { return "layers." + std::to_string(l) + "."; }

  Expected<Value> rmsNorm(Value x, int64_t n, const std::string &w);
  Expected<Value> linear(Value x, int64_t out, const std::string &w);
  Expected<Value> attention(int64_t l, Value xn);
  Expected<Value> ffn(int64_t l, Value xn, Value tokens);
  Expected<Value> block(int64_t l, Value x, Value tokens, bool attn);
  Expected<Value> compressor(int64_t l, Value xn, bool indexer);

  MLIRContext &ctx_;
  OpBuilder b_;
  const ModelConfig &cfg_;
  const Checkpoint &ckpt_;
  const BuildOptions &options_;
  std::set<std::string> &used_;
  Location loc_;
  int64_t tokens_;
};

Expected<Value> Emitter::rmsNorm(Value x, int64_t n, const std::string &w) {
  BK_ASSIGN_OR_RETURN(NamedAttribute wa, weight("weight", w));
  return create("v4.rms_norm", {x}, {act(n)}, {wa, f64("eps", cfg_.normEps)})
      ->getResult(0);
}

Expected<Value> Emitter::linear(Value x, int64_t out, const std::string &w) {
  BK_ASSIGN_OR_RETURN(NamedAttribute wa, weight("weight", w));
  return create("v4.linear", {x}, {act(out)}, {wa})->getResult(0);
}

Expected<Value> Emitter::compressor(int64_t l, Value xn, bool indexer) {
  AttentionKind kind = cfg_.attention[l];
  int64_t ratio = cfg_.compressRatio(l);
  int64_t dc = indexer ? cfg_.indexHeadDim : cfg_.headDim;
  std::string p =
      lp(l) + (indexer ? "attn.indexer.compressor." : "attn.compressor.");
  BK_ASSIGN_OR_RETURN(NamedAttribute wkv, weight("wkv", p + "wkv.weight"));
  BK_ASSIGN_OR_RETURN(NamedAttribute wgate,
                      weight("wgate", p + "wgate.weight"));
  BK_ASSIGN_OR_RETURN(NamedAttribute ape, weight("ape", p + "ape"));
  BK_ASSIGN_OR_RETURN(NamedAttribute norm, weight("norm", p + "norm.weight"));
  NamedAttribute ropeAttr = rope(l);
  Type t = compressed(dc, ratio);
  return create("v4.compressor", {xn}, {t},
                {b_.getNamedAttr("kind", parsed<Attribute>(
                                             kind == AttentionKind::CSA
                                                 ? "#v4<compressor_kind csa>"
                                                 : "#v4<compressor_kind hca>")),
                 i64("ratio", ratio), i64("head_dim", dc), wkv, wgate, ape,
                 norm, ropeAttr, f64("eps", cfg_.normEps), i64("layer", l),
                 b_.getNamedAttr(
                     "role",
                     parsed<Attribute>(indexer ? "#v4<compressor_role indexer>"
                                               : "#v4<compressor_role main>"))})
      ->getResult(0);
}

Expected<Value> Emitter::attention(int64_t l, Value xn) {
  const int64_t h = cfg_.nHeads, dh = cfg_.headDim;
  std::string a = lp(l) + "attn.";
  NamedAttribute ropeAttr = rope(l);
  // Query path (§3.4 steps 1-4); qr also feeds the indexer.
  BK_ASSIGN_OR_RETURN(Value qa, linear(xn, cfg_.qLoraRank, a + "wq_a.weight"));
  BK_ASSIGN_OR_RETURN(Value qr,
                      rmsNorm(qa, cfg_.qLoraRank, a + "q_norm.weight"));
  BK_ASSIGN_OR_RETURN(Value q, linear(qr, h * dh, a + "wq_b.weight"));
  q = create("v4.head_rms_norm", {q}, {act(h * dh)},
             {i64("heads", h), f64("eps", cfg_.normEps)})
          ->getResult(0);
  q = create("v4.rope", {q}, {act(h * dh)},
             {i64("heads", h), i64("head_dim", dh), ropeAttr})
          ->getResult(0);
  // KV path (steps 5-6): one shared head, K = V.
  BK_ASSIGN_OR_RETURN(Value kv, linear(xn, dh, a + "wkv.weight"));
  BK_ASSIGN_OR_RETURN(kv, rmsNorm(kv, dh, a + "kv_norm.weight"));
  kv = create("v4.rope", {kv}, {act(dh)},
              {i64("heads", 1), i64("head_dim", dh), ropeAttr})
           ->getResult(0);

  AttentionKind kind = cfg_.attention[l];
  SmallVector<Value> operands = {q, kv};
  int32_t hasEntries = 0, hasTopk = 0;
  if (kind != AttentionKind::Window) {
    BK_ASSIGN_OR_RETURN(Value entries, compressor(l, xn, /*indexer=*/false));
    operands.push_back(entries);
    hasEntries = 1;
  }
  if (kind == AttentionKind::CSA) {
    const int64_t hi = cfg_.indexNHeads, di = cfg_.indexHeadDim;
    BK_ASSIGN_OR_RETURN(Value qi,
                        linear(qr, hi * di, a + "indexer.wq_b.weight"));
    qi = create("v4.rope", {qi}, {act(hi * di)},
                {i64("heads", hi), i64("head_dim", di), ropeAttr})
             ->getResult(0);
    BK_ASSIGN_OR_RETURN(Value w,
                        linear(xn, hi, a + "indexer.weights_proj.weight"));
    BK_ASSIGN_OR_RETURN(Value keys, compressor(l, xn, /*indexer=*/true));
    Value topk =
        create("v4.indexer_topk", {qi, w, keys}, {ints(cfg_.indexTopk)},
               {i64("heads", hi), i64("head_dim", di),
                i64("topk", cfg_.indexTopk),
                i64("ratio", cfg_.compressRatio(l))})
            ->getResult(0);
    operands.push_back(topk);
    hasTopk = 1;
  }
  BK_ASSIGN_OR_RETURN(NamedAttribute sink, weight("sink", a + "attn_sink"));
  Attribute kindAttr = parsed<Attribute>(
      kind == AttentionKind::Window ? "#v4<attention_kind window>"
      : kind == AttentionKind::CSA  ? "#v4<attention_kind csa>"
                                    : "#v4<attention_kind hca>");
  Value o = create("v4.sparse_attention", operands, {act(h * dh)},
                   {b_.getNamedAttr("kind", kindAttr), i64("heads", h),
                    i64("head_dim", dh), i64("window", cfg_.windowSize), sink,
                    i64("layer", l),
                    b_.getNamedAttr(
                        "operandSegmentSizes",
                        b_.getDenseI32ArrayAttr({1, 1, hasEntries, hasTopk}))})
                ->getResult(0);
  // Output path (steps 9-11).
  o = create("v4.rope", {o}, {act(h * dh)},
             {i64("heads", h), i64("head_dim", dh), ropeAttr, unit("inverse")})
          ->getResult(0);
  BK_ASSIGN_OR_RETURN(NamedAttribute woa, weight("weight", a + "wo_a.weight"));
  Value z =
      create("v4.grouped_linear", {o}, {act(cfg_.oGroups * cfg_.oLoraRank)},
             {woa, i64("groups", cfg_.oGroups)})
          ->getResult(0);
  return linear(z, cfg_.dim, a + "wo_b.weight");
}

Expected<Value> Emitter::ffn(int64_t l, Value xn, Value tokens) {
  std::string f = lp(l) + "ffn.";
  const int64_t e = cfg_.nRoutedExperts, k = cfg_.nActivatedExperts;
  BK_ASSIGN_OR_RETURN(NamedAttribute gate, weight("gate", f + "gate.weight"));
  Value scores =
      create("v4.router_scores", {xn}, {act(e)}, {gate})->getResult(0);
  SmallVector<NamedAttribute> sel = {i64("topk", k),
                                     f64("route_scale", cfg_.routeScale)};
  if (cfg_.isHashLayer(l)) {
    BK_ASSIGN_OR_RETURN(NamedAttribute t,
                        weight("tid2eid", f + "gate.tid2eid"));
    sel.push_back(t);
  } else {
    BK_ASSIGN_OR_RETURN(NamedAttribute t, weight("bias", f + "gate.bias"));
    sel.push_back(t);
  }
  Operation *route =
      create("v4.route_select", {scores, tokens}, {ints(k), act(k)}, sel);
  SmallVector<Attribute> experts;
  for (int64_t i = 0; i < e; ++i) {
    std::string p = f + "experts." + std::to_string(i) + ".";
    for (const char *w : {"w1", "w2", "w3"})
      if (!ckpt_.find(p + w + ".weight"))
        return notFound("IRBuilder: checkpoint tensor '" + p + w +
                        ".weight' is missing");
    experts.push_back(b_.getArrayAttr(
        {ref(p + "w1.weight"), ref(p + "w2.weight"), ref(p + "w3.weight")}));
  }
  std::string s = f + "shared_experts.";
  for (const char *w : {"w1", "w2", "w3"})
    if (!ckpt_.find(s + w + ".weight"))
      return notFound("IRBuilder: checkpoint tensor '" + s + w +
                      ".weight' is missing");
  ArrayAttr shared = b_.getArrayAttr(
      {ref(s + "w1.weight"), ref(s + "w2.weight"), ref(s + "w3.weight")});
  SmallVector<NamedAttribute> attrs = {
      b_.getNamedAttr("experts", b_.getArrayAttr(experts)),
      b_.getNamedAttr("shared", shared), i64("inter", cfg_.moeInterDim),
      f64("swiglu_limit", cfg_.swigluLimit)};
  if (options_.sharedExpertClamp)
    attrs.push_back(unit("shared_clamp"));
  return create("v4.moe", {xn, route->getResult(0), route->getResult(1)},
                {act(cfg_.dim)}, attrs)
      ->getResult(0);
}

/// One residual half (§3.3): mhc_pre -> norm -> sublayer -> mhc_post.
Expected<Value> Emitter::block(int64_t l, Value x, Value tokens, bool attn) {
  std::string site = attn ? "attn" : "ffn";
  std::string p = lp(l);
  BK_ASSIGN_OR_RETURN(NamedAttribute fn,
                      weight("fn", p + "hc_" + site + "_fn"));
  BK_ASSIGN_OR_RETURN(NamedAttribute base,
                      weight("base", p + "hc_" + site + "_base"));
  BK_ASSIGN_OR_RETURN(NamedAttribute scale,
                      weight("scale", p + "hc_" + site + "_scale"));
  Operation *pre =
      create("v4.mhc_pre", {x}, {act(cfg_.dim), act(cfg_.hcMult), comb()},
             {fn, base, scale, i64("sinkhorn_iters", cfg_.hcSinkhornIters),
              f64("hc_eps", cfg_.hcEps), f64("norm_eps", cfg_.normEps)});
  BK_ASSIGN_OR_RETURN(Value xn, rmsNorm(pre->getResult(0), cfg_.dim,
                                        p + site + "_norm.weight"));
  Expected<Value> y = attn ? attention(l, xn) : ffn(l, xn, tokens);
  if (!y)
    return y.status();
  return create("v4.mhc_post", {*y, x, pre->getResult(1), pre->getResult(2)},
                {stream()}, {})
      ->getResult(0);
}

Status Emitter::build(func::FuncOp fn) {
  Block *entry = fn.addEntryBlock();
  b_.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0);
  BK_ASSIGN_OR_RETURN(NamedAttribute embed, weight("weight", "embed.weight"));
  Value e =
      create("v4.embed", {tokens}, {act(cfg_.dim)}, {embed})->getResult(0);
  Value x = create("v4.mhc_expand", {e}, {stream()}, {i64("hc", cfg_.hcMult)})
                ->getResult(0);
  for (int64_t l = 0; l < cfg_.nLayers; ++l) {
    BK_ASSIGN_OR_RETURN(x, block(l, x, tokens, /*attn=*/true));
    BK_ASSIGN_OR_RETURN(x, block(l, x, tokens, /*attn=*/false));
  }
  BK_ASSIGN_OR_RETURN(NamedAttribute hfn, weight("fn", "hc_head_fn"));
  BK_ASSIGN_OR_RETURN(NamedAttribute hbase, weight("base", "hc_head_base"));
  BK_ASSIGN_OR_RETURN(NamedAttribute hscale, weight("scale", "hc_head_scale"));
  Value u = create("v4.mhc_head", {x}, {act(cfg_.dim)},
                   {hfn, hbase, hscale, f64("hc_eps", cfg_.hcEps),
                    f64("norm_eps", cfg_.normEps)})
                ->getResult(0);
  BK_ASSIGN_OR_RETURN(u, rmsNorm(u, cfg_.dim, "norm.weight"));
  BK_ASSIGN_OR_RETURN(Value logits, linear(u, cfg_.vocabSize, "head.weight"));
  func::ReturnOp::create(b_, loc_, logits);
  return Status::ok();
}

/// The `v4` weight format and logical shape of a checkpoint tensor.
Expected<std::pair<std::string, std::vector<int64_t>>>
weightFormat(const TensorInfo &t) {
  std::vector<int64_t> shape = t.shape;
  switch (t.dtype) {
  case DType::F32:
    return std::make_pair(std::string("f32"), shape);
  case DType::BF16:
    return std::make_pair(std::string("bf16"), shape);
  case DType::F8E4M3:
    return std::make_pair(std::string("f8e4m3"), shape);
  case DType::F8E8M0:
    return std::make_pair(std::string("e8m0"), shape);
  case DType::I64:
    return std::make_pair(std::string("i64"), shape);
  case DType::I8:
  case DType::FP4E2M1x2:
    // Packed FP4: two e2m1 codes per byte along the input axis.
    if (shape.size() != 2)
      return invalidArgument("IRBuilder: packed FP4 tensor '" + t.name +
                             "' must be 2-D");
    shape[1] *= 2;
    return std::make_pair(std::string("fp4e2m1"), shape);
  default:
    return unsupported("IRBuilder: tensor '" + t.name + "' has dtype " +
                       std::string(dtypeName(t.dtype)) +
                       ", which no weight of the program may have");
  }
}

Status declareWeight(OpBuilder &b, const Checkpoint &ckpt,
                     const std::string &name, std::set<std::string> &declared) {
  if (!declared.insert(name).second)
    return Status::ok();
  const TensorInfo *t = ckpt.find(name);
  if (!t)
    return notFound("IRBuilder: checkpoint tensor '" + name + "' is missing");
  BK_ASSIGN_OR_RETURN(auto fmt, weightFormat(*t));
  std::string dims;
  for (size_t i = 0; i < fmt.second.size(); ++i)
    dims += (i ? "x" : "") + std::to_string(fmt.second[i]);
  std::string text = "!v4.weight<" + fmt.first + ", " + dims + ">";
  Type type = parseType(text, b.getContext());
  if (!type)
    return internalError("IRBuilder: cannot build type " + text);
  OperationState state(b.getUnknownLoc(), "v4.weight");
  state.addAttribute("sym_name", b.getStringAttr(name));
  state.addAttribute("weight_type", TypeAttr::get(type));
  // Quantized weights carry their block scales as a sibling `.scale` tensor.
  if (fmt.first == "f8e4m3" || fmt.first == "fp4e2m1") {
    std::string base = name;
    if (base.size() > 7 && base.ends_with(".weight"))
      base.resize(base.size() - 7);
    std::string scale = base + ".scale";
    if (!ckpt.find(scale))
      return notFound("IRBuilder: quantized tensor '" + name +
                      "' has no scale tensor '" + scale + "'");
    state.addAttribute("scale", FlatSymbolRefAttr::get(b.getContext(), scale));
    b.create(state);
    return declareWeight(b, ckpt, scale, declared);
  }
  b.create(state);
  return Status::ok();
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
  for (AttentionKind k : c.attention)
    hasCsa |= k == AttentionKind::CSA;
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
  context.getOrLoadDialect<func::FuncDialect>();
  loadV4Dialect(context);
}

Expected<OwningOpRef<ModuleOp>> buildV4Module(MLIRContext &context,
                                              const ModelConfig &config,
                                              const Checkpoint &checkpoint,
                                              const BuildOptions &options) {
  if (options.numerics != "reference" && options.numerics != "official")
    return invalidArgument("IRBuilder: numerics must be 'reference' or "
                           "'official', got '" +
                           options.numerics + "'");
  if (int64_t(config.attention.size()) != config.nLayers ||
      int64_t(config.routing.size()) != config.nLayers)
    return invalidArgument(
        "IRBuilder: config has " + std::to_string(config.attention.size()) +
        " attention kinds for " + std::to_string(config.nLayers) + " layers");
  if (options.numerics == "official")
    BK_RETURN_IF_ERROR(checkOfficialDims(config));
  loadIRBuilderDialects(context);
  OpBuilder b(&context);
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  (*module)->setAttr("v4.config", configAttr(b, config));
  (*module)->setAttr("v4.numerics", b.getStringAttr(options.numerics));

  std::set<std::string> used;
  std::vector<func::FuncOp> fns;
  for (auto [name, tokens] :
       {std::pair<StringRef, int64_t>{"prefill", ShapedType::kDynamic},
        std::pair<StringRef, int64_t>{"decode", 1}}) {
    auto tokType = RankedTensorType::get({tokens}, b.getI32Type());
    auto logitsType =
        RankedTensorType::get({tokens, config.vocabSize}, b.getF32Type());
    b.setInsertionPointToEnd(module->getBody());
    auto fn = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType({tokType}, {logitsType}));
    Emitter emitter(context, config, checkpoint, options, used, tokens);
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
