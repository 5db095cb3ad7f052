//===- ModelConfig.cpp - Reading DeepSeek-V4 config.json ------------------===//
//
// One reader for the three spellings of a DeepSeek-V4 config: the official
// inference `ModelArgs` keys (V4_SPEC §1.1), the Hugging Face keys with the
// legacy fields (`compress_ratios`, `num_hash_layers`, `qk_rope_head_dim`,
// `rope_scaling`, §1.2) and the expanded HF fields (`layer_types`,
// `compress_rates`, `mlp_layer_types`, `rope_parameters`). The precedence
// follows transformers' DeepseekV4Config: explicit per-layer lists win over the
// legacy keys. Where two spellings of one value are both given they must agree.
// Then the cross-field checks (validateModelConfig). Key lookup and typed
// reads are in ConfigReader; presets and the JSON writer in
// ModelConfigPresets.cpp.
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/ModelConfig.h"

#include "deepseek_v4/ConfigReader.h"

#include "birkhoff/FileSafety.h"
#include "birkhoff/JsonInput.h"
#include "birkhoff/KernelCatalog.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace birkhoff::v4 {
using namespace detail;

namespace {

/// Keys of releases Birkhoff does not implement (V4_SPEC §9): the DSpark
/// draft layers of the non-preview V4 releases and the V4.1 architecture.
Status refuseUnsupportedVariants(const Json &root, const std::string &origin) {
  for (const auto &item : root.items()) {
    const std::string &key = item.key();
    if (key.rfind("dspark", 0) == 0)
      return unsupported(origin + ": key '" + key +
                         "': DSpark draft layers (DeepSeek-V4-Flash-0731 / "
                         "V4-Pro-0813) are not supported");
    if (key == "kv_source_layers" || key == "index_source_layers" ||
        key.rfind("engram", 0) == 0)
      return unsupported(origin + ": key '" + key +
                         "' belongs to DeepSeek-V4.1, which is not supported "
                         "(only the V4 preview architecture is)");
  }
  return Status::ok();
}

/// Fields that must hold one specific value if present (the architecture
/// fixes them; anything else is a different model).
Status checkFixedFields(const ConfigReader &r) {
  std::string s;
  bool present = false;
  BK_RETURN_IF_ERROR(r.read({"model_type"}, s, &present));
  if (present && s != "deepseek_v4")
    return r.keyError(
        "model_type",
        "'" + s + "' is not a DeepSeek-V4 model (expected 'deepseek_v4')",
        StatusCode::Unsupported);
  int64_t kvHeads = 1;
  BK_RETURN_IF_ERROR(r.read({"num_key_value_heads"}, kvHeads, &present));
  if (present && kvHeads != 1)
    return r.keyError(
        "num_key_value_heads",
        std::to_string(kvHeads) +
            " is not supported: V4 attention has one shared KV head",
        StatusCode::Unsupported);
  bool flag = false;
  BK_RETURN_IF_ERROR(r.read({"tie_word_embeddings"}, flag, &present));
  if (present && flag)
    return r.keyError("tie_word_embeddings",
                      "true is not supported: V4 has a separate head.weight",
                      StatusCode::Unsupported);
  BK_RETURN_IF_ERROR(r.read({"norm_topk_prob"}, flag, &present));
  if (present && !flag)
    return r.keyError(
        "norm_topk_prob",
        "false is not supported: V4 renormalizes the top-k weights",
        StatusCode::Unsupported);
  for (const char *key : {"attention_bias", "mlp_bias"}) {
    BK_RETURN_IF_ERROR(r.read({key}, flag, &present));
    if (present && flag)
      return r.keyError(key, "true is not supported: V4 linears have no bias",
                        StatusCode::Unsupported);
  }
  BK_RETURN_IF_ERROR(r.read({"hidden_act"}, s, &present));
  if (present && s != "silu")
    return r.keyError("hidden_act",
                      "'" + s + "' is not supported (V4 uses silu)",
                      StatusCode::Unsupported);
  return Status::ok();
}

/// `compress_rates` (dict) and the scalar `compress_rate_csa/hca` overrides.
Status readCompressRates(const ConfigReader &r, const Json &root,
                         ModelConfig &c, bool &ratesGiven) {
  ratesGiven = false;
  auto it = root.find("compress_rates");
  if (it != root.end() && !it->is_null()) {
    if (!it->is_object())
      return r.keyError("compress_rates",
                        "expected an object, got " + describe(*it));
    for (const auto &item : it->items()) {
      std::string key = "compress_rates." + item.key();
      int64_t rate = 0;
      BK_RETURN_IF_ERROR(r.convert(item.value(), key, rate));
      if (item.key() == kCsa)
        c.csaRatio = rate;
      else if (item.key() == kHca)
        c.hcaRatio = rate;
      else if (item.key() == kSliding && rate == 0)
        continue;
      else
        return r.keyError(key, "unknown layer type (expected '" +
                                   std::string(kCsa) + "' or '" + kHca + "')");
      ratesGiven = true;
    }
  }
  bool present = false;
  BK_RETURN_IF_ERROR(r.read({"compress_rate_csa"}, c.csaRatio, &present));
  ratesGiven |= present;
  BK_RETURN_IF_ERROR(r.read({"compress_rate_hca"}, c.hcaRatio, &present));
  ratesGiven |= present;
  return Status::ok();
}

Status readAttentionSchedule(const ConfigReader &r, const Json &root,
                             ModelConfig &c) {
  bool ratesGiven = false;
  BK_RETURN_IF_ERROR(readCompressRates(r, root, c, ratesGiven));
  c.attention.clear();

  auto types = root.find("layer_types");
  if (types != root.end() && !types->is_null()) {
    if (!types->is_array())
      return r.keyError("layer_types", "expected a list of strings");
    if (int64_t(types->size()) != c.nLayers)
      return r.keyError("layer_types", "has " + std::to_string(types->size()) +
                                           " entries but the model has " +
                                           std::to_string(c.nLayers) +
                                           " layers");
    for (size_t i = 0; i < types->size(); ++i) {
      std::string key = "layer_types[" + std::to_string(i) + "]";
      std::string name;
      BK_RETURN_IF_ERROR(r.convert((*types)[i], key, name));
      if (name == kSliding)
        c.attention.push_back(LayerAttention::Window);
      else if (name == kCsa)
        c.attention.push_back(LayerAttention::CSA);
      else if (name == kHca)
        c.attention.push_back(LayerAttention::HCA);
      else
        return r.keyError(key, "unknown layer type '" + name + "' (expected '" +
                                   kSliding + "', '" + kCsa + "' or '" + kHca +
                                   "')");
    }
    return Status::ok();
  }

  auto ratios = root.find("compress_ratios");
  if (ratios == root.end() || ratios->is_null())
    return notFound(r.origin() + ": missing required key 'layer_types' or "
                                 "'compress_ratios' (the attention "
                                 "schedule)");
  if (!ratios->is_array())
    return r.keyError("compress_ratios", "expected a list of integers");
  // Official configs carry one extra entry per MTP layer (V4_SPEC §1.3); the
  // MTP layer is window-only, so those entries must be 0.
  int64_t n = int64_t(ratios->size());
  int64_t maxTail = std::max<int64_t>(1, c.nMtpLayers);
  if (n < c.nLayers || n > c.nLayers + maxTail)
    return r.keyError("compress_ratios",
                      "has " + std::to_string(n) + " entries; expected " +
                          std::to_string(c.nLayers) +
                          " (one per layer) plus at most " +
                          std::to_string(maxTail) + " for the MTP layer(s)");
  std::vector<int64_t> values(n);
  for (int64_t i = 0; i < n; ++i) {
    std::string key = "compress_ratios[" + std::to_string(i) + "]";
    BK_RETURN_IF_ERROR(r.convert((*ratios)[i], key, values[i]));
    if (values[i] < 0)
      return r.keyError(key,
                        "negative compress ratio " + std::to_string(values[i]));
    if (i >= c.nLayers && values[i] != 0)
      return r.keyError(key,
                        "the MTP layer's ratio must be 0 (window-only), got " +
                            std::to_string(values[i]),
                        StatusCode::Unsupported);
  }
  // Without `compress_rates`, the CSA rate is 4 and the HCA rate is whichever
  // other nonzero value the list holds (default 128).
  if (!ratesGiven) {
    std::set<int64_t> others;
    for (int64_t i = 0; i < c.nLayers; ++i)
      if (values[i] != 0 && values[i] != kDefaultCsaRate)
        others.insert(values[i]);
    if (others.size() > 1)
      return r.keyError(
          "compress_ratios",
          "holds " + std::to_string(others.size() + 1) +
              "+ distinct nonzero ratios; V4 has only CSA (4) and one HCA rate",
          StatusCode::Unsupported);
    c.csaRatio = kDefaultCsaRate;
    c.hcaRatio = others.empty() ? kDefaultHcaRate : *others.begin();
  }
  for (int64_t i = 0; i < c.nLayers; ++i) {
    if (values[i] == 0)
      c.attention.push_back(LayerAttention::Window);
    else if (values[i] == c.csaRatio)
      c.attention.push_back(LayerAttention::CSA);
    else if (values[i] == c.hcaRatio)
      c.attention.push_back(LayerAttention::HCA);
    else
      return r.keyError(
          "compress_ratios[" + std::to_string(i) + "]",
          "ratio " + std::to_string(values[i]) + " is neither the CSA rate (" +
              std::to_string(c.csaRatio) + ") nor the HCA rate (" +
              std::to_string(c.hcaRatio) + ")",
          StatusCode::Unsupported);
  }
  return Status::ok();
}

Status readRoutingSchedule(const ConfigReader &r, const Json &root,
                           ModelConfig &c) {
  c.routing.clear();
  auto types = root.find("mlp_layer_types");
  if (types != root.end() && !types->is_null()) {
    if (!types->is_array())
      return r.keyError("mlp_layer_types", "expected a list of strings");
    if (int64_t(types->size()) != c.nLayers)
      return r.keyError("mlp_layer_types",
                        "has " + std::to_string(types->size()) +
                            " entries but the model has " +
                            std::to_string(c.nLayers) + " layers");
    for (size_t i = 0; i < types->size(); ++i) {
      std::string key = "mlp_layer_types[" + std::to_string(i) + "]";
      std::string name;
      BK_RETURN_IF_ERROR(r.convert((*types)[i], key, name));
      if (name == "hash_moe")
        c.routing.push_back(LayerRouting::Hash);
      else if (name == "moe")
        c.routing.push_back(LayerRouting::TopK);
      else
        return r.keyError(key, "unknown MLP layer type '" + name +
                                   "' (expected 'hash_moe' or 'moe')");
    }
    return Status::ok();
  }
  int64_t nHash = 3; // transformers' and DeepSeek's default
  bool present = false;
  BK_RETURN_IF_ERROR(
      r.read({"num_hash_layers", "n_hash_layers"}, nHash, &present));
  if (nHash < 0)
    return r.keyError("num_hash_layers", "must not be negative");
  for (int64_t i = 0; i < c.nLayers; ++i)
    c.routing.push_back(i < nHash ? LayerRouting::Hash : LayerRouting::TopK);
  return Status::ok();
}

/// One RoPE parameter object: the flat HF form, or one half of the nested
/// {"main", "compress"} form. `isCompress` says whether it is for the
/// compressed layers (the only ones with YaRN); a `rope_theta` inside goes to
/// `theta` when that is given.
Status readRopeObject(const ConfigReader &r, const Json &obj,
                      const std::string &key, bool isCompress, double *theta,
                      ModelConfig &c) {
  if (!obj.is_object())
    return r.keyError(key, "expected an object, got " + describe(obj));
  ConfigReader sub(obj, r.origin(), key + ".");
  std::string type = "default";
  bool present = false;
  BK_RETURN_IF_ERROR(sub.read({"rope_type", "type"}, type, &present));
  if (type != "default" && type != "yarn")
    return sub.keyError("rope_type",
                        "'" + type +
                            "' is not supported (V4 uses 'yarn' or 'default')",
                        StatusCode::Unsupported);
  if (theta)
    BK_RETURN_IF_ERROR(sub.read({"rope_theta"}, *theta, &present));
  if (!isCompress) {
    if (type == "yarn")
      return sub.keyError(
          "rope_type", "YaRN on window-only layers is not part of DeepSeek-V4",
          StatusCode::Unsupported);
    return Status::ok();
  }
  c.yarn = type == "yarn";
  if (!c.yarn)
    return Status::ok();
  BK_RETURN_IF_ERROR(sub.read({"factor"}, c.ropeFactor));
  BK_RETURN_IF_ERROR(
      sub.read({"original_max_position_embeddings"}, c.originalSeqLen));
  BK_RETURN_IF_ERROR(sub.read({"beta_fast"}, c.betaFast, &present));
  BK_RETURN_IF_ERROR(sub.read({"beta_slow"}, c.betaSlow, &present));
  // `attention_factor` / `mscale`: V4 applies no YaRN magnitude correction
  // (transformers forces attention_factor = 1, V4_SPEC P3), so it is not read.
  return Status::ok();
}

/// RoPE: thetas, and YaRN on the compressed layers. Sources in order:
/// `rope_parameters`, `rope_scaling` (flat or nested main/compress), else the
/// official keys `rope_factor` / `original_seq_len` / `beta_fast` / `beta_slow`
/// (YaRN is on when original_seq_len > 0, as in DeepSeek's model.py). With
/// none of them the compressed layers use plain RoPE.
Status readRope(const ConfigReader &r, const Json &root, ModelConfig &c) {
  bool present = false;
  BK_RETURN_IF_ERROR(
      r.read({"compress_rope_theta"}, c.compressRopeTheta, &present));
  BK_RETURN_IF_ERROR(r.read({"rope_theta"}, c.ropeTheta, &present));
  c.yarn = false;

  const char *ropeKey = nullptr;
  for (const char *key : {"rope_parameters", "rope_scaling"}) {
    auto it = root.find(key);
    if (it != root.end() && !it->is_null()) {
      ropeKey = key;
      break;
    }
  }
  if (ropeKey) {
    const Json &rope = root.at(ropeKey);
    if (!rope.is_object())
      return r.keyError(ropeKey, "expected an object, got " + describe(rope));
    if (rope.contains("main") || rope.contains("compress")) {
      if (rope.contains("main"))
        BK_RETURN_IF_ERROR(
            readRopeObject(r, rope.at("main"), std::string(ropeKey) + ".main",
                           /*isCompress=*/false, &c.ropeTheta, c));
      if (rope.contains("compress"))
        BK_RETURN_IF_ERROR(readRopeObject(
            r, rope.at("compress"), std::string(ropeKey) + ".compress",
            /*isCompress=*/true, &c.compressRopeTheta, c));
      return Status::ok();
    }
    // Flat form: transformers pairs it with the top-level compress_rope_theta
    // and rope_theta, so a rope_theta inside is not read.
    return readRopeObject(r, rope, ropeKey, /*isCompress=*/true, nullptr, c);
  }

  bool haveOrig = false, haveFactor = false;
  BK_RETURN_IF_ERROR(r.read({"original_seq_len"}, c.originalSeqLen, &haveOrig));
  BK_RETURN_IF_ERROR(r.read({"rope_factor"}, c.ropeFactor, &haveFactor));
  BK_RETURN_IF_ERROR(r.read({"beta_fast"}, c.betaFast, &present));
  BK_RETURN_IF_ERROR(r.read({"beta_slow"}, c.betaSlow, &present));
  if (haveOrig && c.originalSeqLen > 0) {
    if (!haveFactor)
      return notFound(r.origin() +
                      ": missing required key 'rope_factor' (YaRN is on: "
                      "'original_seq_len' > 0)");
    c.yarn = true;
  }
  return Status::ok();
}

/// FP8 linears from `quantization_config` (HF) or `dtype: fp8` (official).
Status readQuantization(const ConfigReader &r, const Json &root,
                        ModelConfig &c) {
  c.fp8Linears = false;
  bool quantConfig = false;
  auto it = root.find("quantization_config");
  if (it != root.end() && !it->is_null()) {
    if (!it->is_object())
      return r.keyError("quantization_config", "expected an object");
    ConfigReader q(*it, r.origin(), "quantization_config.");
    std::string s;
    BK_RETURN_IF_ERROR(q.read({"quant_method"}, s));
    if (s != "fp8")
      return q.keyError("quant_method",
                        "'" + s + "' is not supported (only 'fp8')",
                        StatusCode::Unsupported);
    bool present = false;
    BK_RETURN_IF_ERROR(q.read({"fmt"}, s, &present));
    if (present && s != "e4m3")
      return q.keyError("fmt", "'" + s + "' is not supported (only 'e4m3')",
                        StatusCode::Unsupported);
    BK_RETURN_IF_ERROR(q.read({"scale_fmt"}, s, &present));
    if (present && s != "ue8m0")
      return q.keyError("scale_fmt",
                        "'" + s + "' is not supported (only 'ue8m0')",
                        StatusCode::Unsupported);
    auto block = it->find("weight_block_size");
    if (block != it->end() && !block->is_null() &&
        *block != Json::array({128, 128}))
      return q.keyError("weight_block_size",
                        describe(*block) +
                            " is not supported (only [128, 128])",
                        StatusCode::Unsupported);
    quantConfig = true;
    c.fp8Linears = true;
  }
  std::string s;
  bool present = false;
  BK_RETURN_IF_ERROR(r.read({"dtype"}, s, &present));
  // HF writes the activation dtype here ("bfloat16"); only DeepSeek's "fp8"
  // and "bf16" speak about the stored linears.
  if (present && s == "fp8")
    c.fp8Linears = true;
  else if (present && s == "bf16" && quantConfig)
    return r.keyError("dtype", "'bf16' contradicts quantization_config (fp8)");
  BK_RETURN_IF_ERROR(r.read({"scale_fmt"}, s, &present));
  if (present && s != "ue8m0")
    return r.keyError("scale_fmt",
                      "'" + s + "' is not supported (only 'ue8m0')",
                      StatusCode::Unsupported);
  BK_RETURN_IF_ERROR(r.read({"expert_dtype"}, s, &present));
  if (present && s != "fp4")
    return r.keyError("expert_dtype",
                      "'" + s +
                          "' is not supported (only 'fp4' routed experts)",
                      StatusCode::Unsupported);
  return Status::ok();
}

Status readTokenIds(const ConfigReader &r, const Json &root, ModelConfig &c) {
  bool present = false;
  BK_RETURN_IF_ERROR(r.read({"bos_token_id"}, c.bosTokenId, &present));
  auto it = root.find("eos_token_id");
  if (it == root.end() || it->is_null())
    return Status::ok();
  // transformers allows a list of end ids; the first is the canonical one.
  if (it->is_array()) {
    if (it->empty())
      return r.keyError("eos_token_id", "empty list");
    return r.convert((*it)[0], "eos_token_id[0]", c.eosTokenId);
  }
  return r.convert(*it, "eos_token_id", c.eosTokenId);
}

Status readHeadDims(const ConfigReader &r, ModelConfig &c) {
  BK_RETURN_IF_ERROR(r.read({"head_dim"}, c.headDim));
  bool haveDim = false, haveFactor = false;
  int64_t ropeDim = 64;
  double factor = 0;
  BK_RETURN_IF_ERROR(
      r.read({"qk_rope_head_dim", "rope_head_dim"}, ropeDim, &haveDim));
  BK_RETURN_IF_ERROR(r.read({"partial_rotary_factor"}, factor, &haveFactor));
  if (haveFactor) {
    double product = factor * double(c.headDim);
    int64_t fromFactor = std::llround(product);
    if (std::fabs(product - double(fromFactor)) > 1e-6)
      return r.keyError("partial_rotary_factor",
                        "times head_dim (" + std::to_string(c.headDim) +
                            ") is not a whole number of dims");
    if (haveDim && fromFactor != ropeDim)
      return r.keyError("partial_rotary_factor",
                        "gives a RoPE dim of " + std::to_string(fromFactor) +
                            " but qk_rope_head_dim is " +
                            std::to_string(ropeDim));
    ropeDim = fromFactor;
  }
  c.ropeHeadDim = ropeDim;
  return Status::ok();
}

Status readAll(const ConfigReader &r, const Json &root, ModelConfig &c) {
  BK_RETURN_IF_ERROR(checkFixedFields(r));
  bool present = false;
  BK_RETURN_IF_ERROR(r.read({"vocab_size"}, c.vocabSize));
  BK_RETURN_IF_ERROR(r.read({"hidden_size", "dim"}, c.dim));
  BK_RETURN_IF_ERROR(r.read({"num_hidden_layers", "n_layers"}, c.nLayers));
  BK_RETURN_IF_ERROR(r.read({"num_attention_heads", "n_heads"}, c.nHeads));
  BK_RETURN_IF_ERROR(readHeadDims(r, c));
  BK_RETURN_IF_ERROR(r.read({"q_lora_rank"}, c.qLoraRank));
  BK_RETURN_IF_ERROR(r.read({"o_groups"}, c.oGroups));
  BK_RETURN_IF_ERROR(r.read({"o_lora_rank"}, c.oLoraRank));
  BK_RETURN_IF_ERROR(r.read({"sliding_window", "window_size"}, c.windowSize));
  c.nMtpLayers = 1; // transformers' and DeepSeek's default
  BK_RETURN_IF_ERROR(r.read({"num_nextn_predict_layers", "n_mtp_layers"},
                            c.nMtpLayers, &present));
  if (c.nLayers < 1)
    return r.keyError("num_hidden_layers", "must be at least 1");
  BK_RETURN_IF_ERROR(readAttentionSchedule(r, root, c));
  BK_RETURN_IF_ERROR(readRoutingSchedule(r, root, c));

  bool anyCsa = false;
  for (LayerAttention k : c.attention)
    anyCsa |= k == LayerAttention::CSA;
  // The indexer only exists in CSA layers; there its sizes are required (a
  // silent default would not match the checkpoint).
  bool *indexerOptional = anyCsa ? nullptr : &present;
  BK_RETURN_IF_ERROR(r.read({"index_n_heads"}, c.indexNHeads, indexerOptional));
  BK_RETURN_IF_ERROR(
      r.read({"index_head_dim"}, c.indexHeadDim, indexerOptional));
  BK_RETURN_IF_ERROR(r.read({"index_topk"}, c.indexTopk, indexerOptional));

  BK_RETURN_IF_ERROR(r.read({"n_routed_experts"}, c.nRoutedExperts));
  BK_RETURN_IF_ERROR(r.read({"n_shared_experts"}, c.nSharedExperts, &present));
  BK_RETURN_IF_ERROR(r.read({"num_experts_per_tok", "n_activated_experts"},
                            c.nActivatedExperts));
  BK_RETURN_IF_ERROR(
      r.read({"moe_intermediate_size", "moe_inter_dim", "intermediate_size"},
             c.moeInterDim));
  BK_RETURN_IF_ERROR(
      r.read({"routed_scaling_factor", "route_scale"}, c.routeScale, &present));
  BK_RETURN_IF_ERROR(r.read({"swiglu_limit"}, c.swigluLimit, &present));
  BK_RETURN_IF_ERROR(
      r.read({"scoring_func", "score_func"}, c.scoreFunc, &present));
  BK_RETURN_IF_ERROR(r.read({"hc_mult"}, c.hcMult, &present));
  BK_RETURN_IF_ERROR(
      r.read({"hc_sinkhorn_iters"}, c.hcSinkhornIters, &present));
  BK_RETURN_IF_ERROR(r.read({"hc_eps"}, c.hcEps, &present));
  BK_RETURN_IF_ERROR(r.read({"rms_norm_eps", "norm_eps"}, c.normEps, &present));
  BK_RETURN_IF_ERROR(readRope(r, root, c));
  // max_seq_len is DeepSeek's buffer size; it stands in only when the HF key
  // is absent.
  BK_RETURN_IF_ERROR(
      r.read({"max_position_embeddings"}, c.maxPositionEmbeddings, &present));
  if (!present)
    BK_RETURN_IF_ERROR(
        r.read({"max_seq_len"}, c.maxPositionEmbeddings, &present));
  BK_RETURN_IF_ERROR(readTokenIds(r, root, c));
  return readQuantization(r, root, c);
}

Status positive(const std::string &origin, const char *key, int64_t v) {
  if (v > 0)
    return Status::ok();
  return invalidArgument(origin + ": key '" + key + "' must be positive, got " +
                         std::to_string(v));
}

/// `v` in [1, max]: a count or a width that the schema and the IR multiply
/// with others. Bounding each keeps every product of them (a weight's
/// elements and bytes, a buffer's width) far inside 64 bits.
Status dimension(const std::string &origin, const char *key, int64_t v,
                 int64_t max) {
  BK_RETURN_IF_ERROR(positive(origin, key, v));
  if (v <= max)
    return Status::ok();
  return makeError(StatusCode::OutOfRange,
                   origin + ": key '" + key + "' is " + std::to_string(v) +
                       ", more than the " + std::to_string(max) +
                       " Birkhoff supports");
}

Status positiveReal(const std::string &origin, const char *key, double v) {
  if (v > 0 && std::isfinite(v))
    return Status::ok();
  std::ostringstream s;
  s << v;
  return invalidArgument(origin + ": key '" + key + "' must be positive, got " +
                         s.str());
}

Status keyFail(const std::string &origin, const char *key,
               const std::string &message,
               StatusCode code = StatusCode::InvalidArgument) {
  return makeError(code, origin + ": key '" + key + "': " + message);
}

std::string str(int64_t v) { return std::to_string(v); }

std::string realText(double v) {
  // Whole numbers in full (16777216, not 1.67772e+07).
  if (std::trunc(v) == v && std::fabs(v) < 1e15)
    return std::to_string(int64_t(v));
  std::ostringstream s;
  s << v;
  return s.str();
}

/// `v` of config key `key` within the range of parameter `param` of kernel
/// `id`, the launch parameter it becomes. The range is the catalogue's
/// (Kernels.def), the one decodeParams checks when the compiler verifies a
/// bk.launch and when the runtime loads it: a config the runtime would
/// refuse as a corrupt artifact fails here, named by its own key.
Status kernelParam(const std::string &origin, const char *key, double v,
                   KernelId id, std::string_view param) {
  const ParamInfo *info = kernelSignature(id).findParam(param);
  if (!info)
    return internalError("kernel '" + std::string(kernelName(id)) +
                         "' has no parameter '" + std::string(param) + "'");
  if (v >= info->minValue && v <= info->maxValue)
    return Status::ok();
  return makeError(StatusCode::OutOfRange,
                   origin + ": key '" + key + "' is " + realText(v) +
                       ", outside [" + realText(info->minValue) + ", " +
                       realText(info->maxValue) + "] (parameter '" +
                       std::string(param) + "' of kernel '" +
                       std::string(kernelName(id)) + "')");
}

} // namespace

/// The config keys that become launch parameters, with the parameter each
/// becomes (models/deepseek_v4/IRBuilder.cpp).
std::span<const ConfigKernelParam> configKernelParams() {
  static const ConfigKernelParam kTable[] = {
      {"hidden_size", KernelId::Embed, "dim",
       [](const ModelConfig &c) -> double { return double(c.dim); }},
      {"hc_mult", KernelId::MhcPre, "hc",
       [](const ModelConfig &c) -> double { return double(c.hcMult); }},
      {"hc_sinkhorn_iters", KernelId::MhcPre, "iters",
       [](const ModelConfig &c) -> double {
         return double(c.hcSinkhornIters);
       }},
      {"hc_eps", KernelId::MhcPre, "hc_eps",
       [](const ModelConfig &c) -> double { return c.hcEps; }},
      {"rms_norm_eps", KernelId::RmsNorm, "eps",
       [](const ModelConfig &c) -> double { return c.normEps; }},
      {"num_attention_heads", KernelId::SparseAttention, "heads",
       [](const ModelConfig &c) -> double { return double(c.nHeads); }},
      {"head_dim", KernelId::SparseAttention, "head_dim",
       [](const ModelConfig &c) -> double { return double(c.headDim); }},
      {"qk_rope_head_dim", KernelId::Rope, "rope_dim",
       [](const ModelConfig &c) -> double { return double(c.ropeHeadDim); }},
      {"rope_theta", KernelId::Rope, "theta",
       [](const ModelConfig &c) -> double { return c.ropeTheta; }},
      {"compress_rope_theta", KernelId::Compressor, "theta",
       [](const ModelConfig &c) -> double { return c.compressRopeTheta; }},
      {"sliding_window", KernelId::SparseAttention, "window",
       [](const ModelConfig &c) -> double { return double(c.windowSize); }},
      {"o_groups", KernelId::GroupedLinear, "groups",
       [](const ModelConfig &c) -> double { return double(c.oGroups); }},
      {"index_topk", KernelId::IndexerTopk, "topk",
       [](const ModelConfig &c) -> double { return double(c.indexTopk); }},
      {"n_routed_experts", KernelId::Moe, "experts",
       [](const ModelConfig &c) -> double { return double(c.nRoutedExperts); }},
      {"num_experts_per_tok", KernelId::Moe, "topk",
       [](const ModelConfig &c) -> double {
         return double(c.nActivatedExperts);
       }},
      {"moe_intermediate_size", KernelId::Moe, "inter",
       [](const ModelConfig &c) -> double { return double(c.moeInterDim); }},
      {"routed_scaling_factor", KernelId::RouteSelect, "route_scale",
       [](const ModelConfig &c) -> double { return c.routeScale; }},
      {"swiglu_limit", KernelId::Moe, "swiglu_limit",
       [](const ModelConfig &c) -> double { return c.swigluLimit; }},
  };
  return kTable;
}

const char *layerAttentionName(LayerAttention kind) {
  switch (kind) {
  case LayerAttention::Window:
    return kSliding;
  case LayerAttention::CSA:
    return kCsa;
  case LayerAttention::HCA:
    return kHca;
  }
  return "<invalid attention kind>";
}

const char *layerRoutingName(LayerRouting kind) {
  return kind == LayerRouting::Hash ? "hash_moe" : "moe";
}

int64_t ModelConfig::compressRatio(int64_t layer) const {
  if (layer < 0 || layer >= int64_t(attention.size()))
    return 0;
  switch (attention[layer]) {
  case LayerAttention::Window:
    return 0;
  case LayerAttention::CSA:
    return csaRatio;
  case LayerAttention::HCA:
    return hcaRatio;
  }
  return 0;
}

Expected<ModelConfig> parseModelConfig(const std::string &jsonText,
                                       const std::string &origin) {
  // A key given twice is an error: "the last one wins" would let a stray
  // line silently change the model.
  JsonParseOptions limits;
  limits.rejectDuplicateKeys = true;
  Expected<Json> parsed = parseJsonInput(jsonText, origin, limits);
  if (!parsed)
    return invalidArgument(parsed.status().message());
  Json root = parsed.take();
  if (!root.is_object())
    return invalidArgument(origin +
                           ": expected a JSON object at the top level");
  BK_RETURN_IF_ERROR(refuseUnsupportedVariants(root, origin));
  ConfigReader reader(root, origin);
  ModelConfig config;
  BK_RETURN_IF_ERROR(readAll(reader, root, config));
  BK_RETURN_IF_ERROR(validateModelConfig(config, origin));
  return config;
}

Expected<ModelConfig> loadModelConfig(const std::string &path) {
  std::error_code ec;
  std::string file =
      std::filesystem::is_directory(path, ec) ? path + "/config.json" : path;
  Expected<std::string> text = readInputFile(file);
  if (!text)
    return text.status().withContext("the model config");
  return parseModelConfig(*text, file);
}

Status validateModelConfig(const ModelConfig &c, const std::string &origin) {
  // Widths and counts up to 2^20 (V4-Pro's largest is 7168); token ids are
  // int32; hc_mult is squared and cubed in the mHC weights.
  BK_RETURN_IF_ERROR(
      dimension(origin, "vocab_size", c.vocabSize, kMaxConfigVocab));
  for (auto [key, v] : std::initializer_list<std::pair<const char *, int64_t>>{
           {"hidden_size", c.dim},
           {"num_hidden_layers", c.nLayers},
           {"num_attention_heads", c.nHeads},
           {"head_dim", c.headDim},
           {"qk_rope_head_dim", c.ropeHeadDim},
           {"q_lora_rank", c.qLoraRank},
           {"o_groups", c.oGroups},
           {"o_lora_rank", c.oLoraRank},
           {"sliding_window", c.windowSize},
           {"n_routed_experts", c.nRoutedExperts},
           {"num_experts_per_tok", c.nActivatedExperts},
           {"moe_intermediate_size", c.moeInterDim},
           {"hc_sinkhorn_iters", c.hcSinkhornIters}})
    BK_RETURN_IF_ERROR(dimension(origin, key, v, kMaxConfigDimension));
  BK_RETURN_IF_ERROR(dimension(origin, "hc_mult", c.hcMult, kMaxConfigHcMult));
  BK_RETURN_IF_ERROR(
      positive(origin, "max_position_embeddings", c.maxPositionEmbeddings));
  BK_RETURN_IF_ERROR(
      positiveReal(origin, "routed_scaling_factor", c.routeScale));
  BK_RETURN_IF_ERROR(positiveReal(origin, "swiglu_limit", c.swigluLimit));
  BK_RETURN_IF_ERROR(positiveReal(origin, "hc_eps", c.hcEps));
  BK_RETURN_IF_ERROR(positiveReal(origin, "rms_norm_eps", c.normEps));
  BK_RETURN_IF_ERROR(positiveReal(origin, "rope_theta", c.ropeTheta));
  BK_RETURN_IF_ERROR(
      positiveReal(origin, "compress_rope_theta", c.compressRopeTheta));

  if (c.ropeHeadDim % 2 != 0)
    return keyFail(origin, "qk_rope_head_dim",
                   "RoPE rotates pairs; " + str(c.ropeHeadDim) + " is odd");
  if (c.headDim <= c.ropeHeadDim)
    return keyFail(origin, "head_dim",
                   str(c.headDim) + " must exceed qk_rope_head_dim (" +
                       str(c.ropeHeadDim) + "): heads need non-RoPE dims");
  if (c.nHeads % c.oGroups != 0)
    return keyFail(origin, "o_groups",
                   "num_attention_heads (" + str(c.nHeads) +
                       ") is not divisible by o_groups (" + str(c.oGroups) +
                       ")");
  if (int64_t(c.attention.size()) != c.nLayers)
    return keyFail(origin, "layer_types",
                   "has " + str(int64_t(c.attention.size())) + " entries for " +
                       str(c.nLayers) + " layers");
  if (int64_t(c.routing.size()) != c.nLayers)
    return keyFail(origin, "mlp_layer_types",
                   "has " + str(int64_t(c.routing.size())) + " entries for " +
                       str(c.nLayers) + " layers");
  bool anyCsa = false, anyHca = false;
  for (LayerAttention k : c.attention) {
    anyCsa |= k == LayerAttention::CSA;
    anyHca |= k == LayerAttention::HCA;
  }
  // DeepSeek's code ties the overlapping compressor and the indexer to ratio
  // 4; V4.1's ratios 1 and 2 are a different architecture.
  if (anyCsa && c.csaRatio != kDefaultCsaRate)
    return keyFail(origin, "compress_rates.compressed_sparse_attention",
                   "CSA rate " + str(c.csaRatio) + " is not supported (only 4)",
                   StatusCode::Unsupported);
  if (anyHca && c.hcaRatio > kMaxConfigDimension)
    return keyFail(origin, "compress_rates.heavily_compressed_attention",
                   "HCA rate " + str(c.hcaRatio) + " is more than the " +
                       str(kMaxConfigDimension) + " Birkhoff supports",
                   StatusCode::OutOfRange);
  if (anyHca && c.hcaRatio <= kDefaultCsaRate)
    return keyFail(origin, "compress_rates.heavily_compressed_attention",
                   "HCA rate " + str(c.hcaRatio) +
                       " is not supported (it must exceed the CSA rate 4)",
                   StatusCode::Unsupported);
  if (anyCsa) {
    BK_RETURN_IF_ERROR(
        dimension(origin, "index_n_heads", c.indexNHeads, kMaxConfigDimension));
    BK_RETURN_IF_ERROR(dimension(origin, "index_head_dim", c.indexHeadDim,
                                 kMaxConfigDimension));
    BK_RETURN_IF_ERROR(
        dimension(origin, "index_topk", c.indexTopk, kMaxConfigDimension));
    if (c.indexHeadDim < c.ropeHeadDim)
      return keyFail(origin, "index_head_dim",
                     str(c.indexHeadDim) +
                         " is smaller than qk_rope_head_dim (" +
                         str(c.ropeHeadDim) + ")");
  }
  if (c.nActivatedExperts > c.nRoutedExperts)
    return keyFail(origin, "num_experts_per_tok",
                   str(c.nActivatedExperts) + " exceeds n_routed_experts (" +
                       str(c.nRoutedExperts) + ")");
  if (c.nSharedExperts != 1)
    return keyFail(origin, "n_shared_experts",
                   str(c.nSharedExperts) +
                       " is not supported (V4 has exactly 1)",
                   StatusCode::Unsupported);
  if (c.scoreFunc != "sqrtsoftplus")
    return keyFail(origin, "scoring_func",
                   "'" + c.scoreFunc +
                       "' is not supported (V4 uses sqrtsoftplus)",
                   StatusCode::Unsupported);
  if (c.nMtpLayers < 0)
    return keyFail(origin, "num_nextn_predict_layers", "must not be negative");
  if (c.yarn) {
    BK_RETURN_IF_ERROR(
        positiveReal(origin, "rope_scaling.factor", c.ropeFactor));
    BK_RETURN_IF_ERROR(positive(origin,
                                "rope_scaling.original_max_position_embeddings",
                                c.originalSeqLen));
    BK_RETURN_IF_ERROR(
        positiveReal(origin, "rope_scaling.beta_fast", c.betaFast));
    BK_RETURN_IF_ERROR(
        positiveReal(origin, "rope_scaling.beta_slow", c.betaSlow));
  }
  if (c.bosTokenId < 0 || c.bosTokenId >= c.vocabSize)
    return keyFail(origin, "bos_token_id",
                   str(c.bosTokenId) + " is outside the vocabulary");
  if (c.eosTokenId < 0 || c.eosTokenId >= c.vocabSize)
    return keyFail(origin, "eos_token_id",
                   str(c.eosTokenId) + " is outside the vocabulary");
  // Past the config's own bounds and cross-field checks, each value must lie in
  // the range of the launch parameter it becomes. index_topk matters only with
  // CSA layers (an indexer-less config leaves it 0).
  for (const ConfigKernelParam &k : configKernelParams()) {
    if (std::string_view(k.configKey) == "index_topk" && !anyCsa)
      continue;
    BK_RETURN_IF_ERROR(
        kernelParam(origin, k.configKey, k.value(c), k.kernel, k.param));
  }

  return Status::ok();
}

} // namespace birkhoff::v4
