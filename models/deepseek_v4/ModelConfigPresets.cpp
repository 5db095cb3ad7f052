//===- ModelConfigPresets.cpp - Known configs and config.json writing -----===//
//
// The configs Birkhoff makes rather than reads: the `birkhoff synth` presets
// and their edits (--layers, --experts), and the config.json text for a
// config, which parseModelConfig (ModelConfig.cpp) reads back to an equal one.
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/ModelConfig.h"

#include "deepseek_v4/ConfigReader.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace birkhoff::v4 {
using detail::kCsa;
using detail::kDefaultCsaRate;
using detail::kDefaultHcaRate;
using detail::kHca;

Expected<ModelConfig> presetConfig(const std::string &name) {
  ModelConfig c; // the struct's defaults are V4-Flash (V4_SPEC §1.1)
  if (name == "tiny") {
    // V4_SPEC §7.1: every path at CPU-test size, dims multiples of 128.
    c.vocabSize = 1024;
    c.dim = 256;
    c.nLayers = 4;
    c.nHeads = 4;
    c.headDim = 128;
    c.ropeHeadDim = 64;
    c.qLoraRank = 128;
    c.oGroups = 2;
    c.oLoraRank = 128;
    c.windowSize = 16;
    c.attention = {LayerAttention::Window, LayerAttention::CSA,
                   LayerAttention::HCA, LayerAttention::CSA};
    c.routing = {LayerRouting::Hash, LayerRouting::TopK, LayerRouting::TopK,
                 LayerRouting::TopK};
    c.indexNHeads = 4;
    c.indexHeadDim = 128;
    c.indexTopk = 8;
    c.nRoutedExperts = 8;
    c.nActivatedExperts = 2;
    c.moeInterDim = 128;
    c.ropeFactor = 4;
    c.originalSeqLen = 128;
    c.maxPositionEmbeddings = 1024;
    c.nMtpLayers = 1;
    c.fp8Linears = true;
    return c;
  }
  if (name != "flash" && name != "pro")
    return invalidArgument("unknown preset '" + name +
                           "' (expected tiny, flash or pro)");
  bool pro = name == "pro";
  if (pro) {
    c.dim = 7168;
    c.nLayers = 61;
    c.nHeads = 128;
    c.qLoraRank = 1536;
    c.oGroups = 16;
    c.indexTopk = 1024;
    c.nRoutedExperts = 384;
    c.moeInterDim = 3072;
    c.routeScale = 2.5;
  }
  // V4_SPEC §1.3: Flash starts with two window-only layers, Pro with two HCA
  // layers; then CSA on even and HCA on odd layers.
  for (int64_t l = 0; l < c.nLayers; ++l) {
    if (l < 2)
      c.attention.push_back(pro ? LayerAttention::HCA : LayerAttention::Window);
    else
      c.attention.push_back(l % 2 == 0 ? LayerAttention::CSA
                                       : LayerAttention::HCA);
    c.routing.push_back(l < 3 ? LayerRouting::Hash : LayerRouting::TopK);
  }
  c.nMtpLayers = 1;
  c.fp8Linears = true;
  return c;
}

std::string modelConfigToJson(const ModelConfig &c) {
  // nlohmann::ordered_json keeps the keys in a readable order.
  nlohmann::ordered_json j;
  j["architectures"] = {"DeepseekV4ForCausalLM"};
  j["model_type"] = "deepseek_v4";
  j["vocab_size"] = c.vocabSize;
  j["hidden_size"] = c.dim;
  j["num_hidden_layers"] = c.nLayers;
  j["num_attention_heads"] = c.nHeads;
  j["num_key_value_heads"] = 1;
  j["head_dim"] = c.headDim;
  j["qk_rope_head_dim"] = c.ropeHeadDim;
  j["q_lora_rank"] = c.qLoraRank;
  j["o_groups"] = c.oGroups;
  j["o_lora_rank"] = c.oLoraRank;
  j["sliding_window"] = c.windowSize;

  // transformers maps only 0/4/128 from compress_ratios; other rates need
  // the expanded form.
  if (c.csaRatio == kDefaultCsaRate && c.hcaRatio == kDefaultHcaRate) {
    std::vector<int64_t> ratios;
    for (int64_t l = 0; l < c.nLayers; ++l)
      ratios.push_back(c.compressRatio(l));
    for (int64_t m = 0; m < c.nMtpLayers; ++m)
      ratios.push_back(0);
    j["compress_ratios"] = ratios;
  } else {
    std::vector<std::string> types;
    for (LayerAttention k : c.attention)
      types.push_back(layerAttentionName(k));
    j["layer_types"] = types;
    j["compress_rates"] = {{kCsa, c.csaRatio}, {kHca, c.hcaRatio}};
  }
  int64_t nHash = 0;
  while (nHash < c.nLayers && c.routing[nHash] == LayerRouting::Hash)
    ++nHash;
  bool prefix = true;
  for (int64_t l = nHash; l < c.nLayers; ++l)
    prefix &= c.routing[l] == LayerRouting::TopK;
  if (prefix) {
    j["num_hash_layers"] = nHash;
  } else {
    std::vector<std::string> types;
    for (LayerRouting k : c.routing)
      types.push_back(layerRoutingName(k));
    j["mlp_layer_types"] = types;
  }
  j["rope_theta"] = c.ropeTheta;
  j["compress_rope_theta"] = c.compressRopeTheta;
  if (c.yarn)
    j["rope_scaling"] = {{"type", "yarn"},
                         {"factor", c.ropeFactor},
                         {"original_max_position_embeddings", c.originalSeqLen},
                         {"beta_fast", c.betaFast},
                         {"beta_slow", c.betaSlow}};
  j["index_n_heads"] = c.indexNHeads;
  j["index_head_dim"] = c.indexHeadDim;
  j["index_topk"] = c.indexTopk;
  j["n_routed_experts"] = c.nRoutedExperts;
  j["n_shared_experts"] = c.nSharedExperts;
  j["num_experts_per_tok"] = c.nActivatedExperts;
  j["moe_intermediate_size"] = c.moeInterDim;
  j["scoring_func"] = c.scoreFunc;
  j["norm_topk_prob"] = true;
  j["routed_scaling_factor"] = c.routeScale;
  j["swiglu_limit"] = c.swigluLimit;
  j["hc_mult"] = c.hcMult;
  j["hc_sinkhorn_iters"] = c.hcSinkhornIters;
  j["hc_eps"] = c.hcEps;
  j["rms_norm_eps"] = c.normEps;
  j["num_nextn_predict_layers"] = c.nMtpLayers;
  j["max_position_embeddings"] = c.maxPositionEmbeddings;
  j["tie_word_embeddings"] = false;
  j["bos_token_id"] = c.bosTokenId;
  j["eos_token_id"] = c.eosTokenId;
  j["torch_dtype"] = "bfloat16";
  if (c.fp8Linears)
    j["quantization_config"] = {{"quant_method", "fp8"},
                                {"fmt", "e4m3"},
                                {"scale_fmt", "ue8m0"},
                                {"weight_block_size", {128, 128}},
                                {"activation_scheme", "dynamic"}};
  return j.dump(2) + "\n";
}

Status truncateLayers(ModelConfig &config, int64_t nLayers) {
  if (nLayers < 1 || nLayers > config.nLayers)
    return invalidArgument("layer count " + std::to_string(nLayers) +
                           " must be between 1 and " +
                           std::to_string(config.nLayers));
  config.nLayers = nLayers;
  config.attention.resize(nLayers);
  config.routing.resize(nLayers);
  return Status::ok();
}

Status setRoutedExperts(ModelConfig &config, int64_t nExperts) {
  if (nExperts < config.nActivatedExperts)
    return invalidArgument("expert count " + std::to_string(nExperts) +
                           " is below the experts activated per token (" +
                           std::to_string(config.nActivatedExperts) + ")");
  config.nRoutedExperts = nExperts;
  return Status::ok();
}

} // namespace birkhoff::v4
