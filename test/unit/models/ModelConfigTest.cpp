//===- ModelConfigTest.cpp - config.json parsing, presets, round trip -----===//
#include "deepseek_v4/ModelConfig.h"

#include "birkhoff/KernelParams.h"

#include "TempDir.h"
#include "TestSupport.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <sys/stat.h>

namespace birkhoff::v4 {
namespace {

using test::goldenDir;
using A = LayerAttention;
using R = LayerRouting;
using Json = nlohmann::json;

Json goldenConfigJson(const std::string &name) {
  return Json::parse(test::readBytes(goldenDir(name) + "/config.json"));
}

Expected<ModelConfig> parse(const Json &j) {
  return parseModelConfig(j.dump(), "test.json");
}

// The expanded HF form (layer_types, compress_rates, mlp_layer_types).
TEST(ModelConfig, TinyMixGoldenExpandedForm) {
  auto c = loadModelConfig(goldenDir("tiny_mix"));
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->vocabSize, 512);
  EXPECT_EQ(c->dim, 128);
  EXPECT_EQ(c->nLayers, 5);
  EXPECT_EQ(c->nHeads, 4);
  EXPECT_EQ(c->headDim, 64);
  EXPECT_EQ(c->ropeHeadDim, 16);
  EXPECT_EQ(c->qLoraRank, 64);
  EXPECT_EQ(c->oGroups, 2);
  EXPECT_EQ(c->oLoraRank, 32);
  EXPECT_EQ(c->windowSize, 8);
  EXPECT_EQ(c->attention,
            (std::vector<A>{A::Window, A::CSA, A::HCA, A::CSA, A::HCA}));
  EXPECT_EQ(c->csaRatio, 4);
  EXPECT_EQ(c->hcaRatio, 16);
  EXPECT_EQ(c->compressRatio(0), 0);
  EXPECT_EQ(c->compressRatio(1), 4);
  EXPECT_EQ(c->compressRatio(2), 16);
  EXPECT_EQ(c->compressRatio(5), 0); // the MTP layer
  EXPECT_EQ(c->routing,
            (std::vector<R>{R::Hash, R::Hash, R::TopK, R::TopK, R::TopK}));
  EXPECT_TRUE(c->isHashLayer(1));
  EXPECT_FALSE(c->isHashLayer(2));
  EXPECT_EQ(c->nRoutedExperts, 8);
  EXPECT_EQ(c->nActivatedExperts, 2);
  EXPECT_EQ(c->nSharedExperts, 1);
  EXPECT_EQ(c->moeInterDim, 64);
  EXPECT_EQ(c->indexNHeads, 16);
  EXPECT_EQ(c->indexHeadDim, 32);
  EXPECT_EQ(c->indexTopk, 8);
  EXPECT_EQ(c->hcMult, 4);
  EXPECT_EQ(c->hcSinkhornIters, 20);
  EXPECT_DOUBLE_EQ(c->hcEps, 1e-6);
  EXPECT_DOUBLE_EQ(c->normEps, 1e-6);
  EXPECT_DOUBLE_EQ(c->routeScale, 1.5);
  EXPECT_DOUBLE_EQ(c->swigluLimit, 10.0);
  EXPECT_DOUBLE_EQ(c->ropeTheta, 10000.0);
  EXPECT_DOUBLE_EQ(c->compressRopeTheta, 160000.0);
  EXPECT_TRUE(c->yarn);
  EXPECT_DOUBLE_EQ(c->ropeFactor, 16.0);
  EXPECT_EQ(c->originalSeqLen, 256);
  EXPECT_DOUBLE_EQ(c->betaFast, 32.0);
  EXPECT_DOUBLE_EQ(c->betaSlow, 1.0);
  EXPECT_EQ(c->maxPositionEmbeddings, 4096);
  EXPECT_EQ(c->bosTokenId, 0);
  EXPECT_EQ(c->eosTokenId, 1);
  EXPECT_EQ(c->nMtpLayers, 1); // transformers' default when the key is absent
  EXPECT_FALSE(c->fp8Linears);
}

// The legacy HF form (compress_ratios, num_hash_layers).
TEST(ModelConfig, TinyRatesGoldenLegacyForm) {
  auto c = loadModelConfig(goldenDir("tiny_rates") + "/config.json");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->dim, 64);
  EXPECT_EQ(c->nLayers, 4);
  EXPECT_EQ(c->nHeads, 2);
  EXPECT_EQ(c->qLoraRank, 32);
  EXPECT_EQ(c->oLoraRank, 16);
  EXPECT_EQ(c->windowSize, 128);
  EXPECT_EQ(c->attention, (std::vector<A>{A::CSA, A::HCA, A::CSA, A::Window}));
  EXPECT_EQ(c->csaRatio, 4);
  EXPECT_EQ(c->hcaRatio, 128);
  EXPECT_EQ(c->routing, (std::vector<R>{R::Hash, R::TopK, R::TopK, R::TopK}));
  EXPECT_EQ(c->nRoutedExperts, 16);
  EXPECT_EQ(c->nActivatedExperts, 4);
  EXPECT_EQ(c->indexHeadDim, 16);
  EXPECT_EQ(c->indexTopk, 32);
  EXPECT_EQ(c->hcMult, 2);
  EXPECT_FALSE(c->fp8Linears);
}

TEST(ModelConfig, QuantizedGoldens) {
  for (const char *name : {"tiny_quant", "tiny_dq", "tiny_dq2"}) {
    auto c = loadModelConfig(goldenDir(name));
    ASSERT_TRUE(c.isOk()) << name << ": " << c.status().toString();
    EXPECT_TRUE(c->fp8Linears) << name;
  }
  auto dq2 = loadModelConfig(goldenDir("tiny_dq2"));
  ASSERT_TRUE(dq2.isOk());
  EXPECT_EQ(dq2->attention, (std::vector<A>{A::CSA, A::HCA}));
  EXPECT_EQ(dq2->hcaRatio, 8);
  EXPECT_EQ(dq2->nActivatedExperts, 4);
  EXPECT_EQ(dq2->nRoutedExperts, 4);
}

// V4_SPEC §7.1 verbatim: DeepSeek's ModelArgs keys, 5 compress ratios for 4
// layers + MTP, dtype fp8; it is the "tiny" preset.
const char *kOfficialTiny = R"({
  "vocab_size": 1024, "dim": 256, "moe_inter_dim": 128,
  "n_layers": 4, "n_hash_layers": 1, "n_mtp_layers": 1,
  "n_heads": 4, "head_dim": 128, "rope_head_dim": 64,
  "q_lora_rank": 128, "o_groups": 2, "o_lora_rank": 128,
  "window_size": 16,
  "compress_ratios": [0, 4, 128, 4, 0],
  "compress_rope_theta": 160000, "rope_theta": 10000,
  "original_seq_len": 128, "rope_factor": 4, "beta_fast": 32, "beta_slow": 1,
  "index_n_heads": 4, "index_head_dim": 128, "index_topk": 8,
  "n_routed_experts": 8, "n_shared_experts": 1, "n_activated_experts": 2,
  "score_func": "sqrtsoftplus", "route_scale": 1.5, "swiglu_limit": 10.0,
  "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6, "norm_eps": 1e-6,
  "dtype": "fp8", "scale_fmt": "ue8m0", "expert_dtype": "fp4",
  "max_seq_len": 1024, "max_batch_size": 2
})";

TEST(ModelConfig, OfficialKeysEqualTinyPreset) {
  auto c = parseModelConfig(kOfficialTiny, "inference/config.json");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  auto preset = presetConfig("tiny");
  ASSERT_TRUE(preset.isOk());
  EXPECT_EQ(*c, *preset);
  EXPECT_TRUE(c->yarn);
  EXPECT_EQ(c->originalSeqLen, 128);
  EXPECT_DOUBLE_EQ(c->ropeFactor, 4);
}

// V4_SPEC §7.3: the same model under HF names, with rope_scaling.
TEST(ModelConfig, HfLegacyKeysEqualTinyPreset) {
  Json j = Json::parse(R"({
    "model_type": "deepseek_v4", "hidden_size": 256, "num_hidden_layers": 4,
    "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 128, "qk_rope_head_dim": 64,
    "q_lora_rank": 128, "o_groups": 2, "o_lora_rank": 128, "sliding_window": 16,
    "compress_ratios": [0, 4, 128, 4, 0], "num_hash_layers": 1, "n_routed_experts": 8,
    "n_shared_experts": 1, "num_experts_per_tok": 2, "moe_intermediate_size": 128,
    "routed_scaling_factor": 1.5, "scoring_func": "sqrtsoftplus", "norm_topk_prob": true,
    "swiglu_limit": 10.0, "index_n_heads": 4, "index_head_dim": 128, "index_topk": 8,
    "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6, "rms_norm_eps": 1e-6,
    "rope_theta": 10000, "compress_rope_theta": 160000,
    "rope_scaling": {"type": "yarn", "factor": 4, "original_max_position_embeddings": 128,
                     "beta_fast": 32, "beta_slow": 1},
    "vocab_size": 1024, "max_position_embeddings": 1024, "tie_word_embeddings": false,
    "num_nextn_predict_layers": 1,
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "scale_fmt": "ue8m0",
                            "weight_block_size": [128, 128], "activation_scheme": "dynamic"}
  })");
  auto c = parse(j);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(*c, *presetConfig("tiny"));

  // transformers 5 spelling: rope_parameters, nested per rope type, and
  // partial_rotary_factor instead of qk_rope_head_dim.
  j.erase("rope_scaling");
  j.erase("qk_rope_head_dim");
  j["partial_rotary_factor"] = 0.5;
  j["rope_parameters"] = Json::parse(R"({
    "main": {"rope_type": "default", "rope_theta": 10000},
    "compress": {"rope_type": "yarn", "rope_theta": 160000, "factor": 4,
                 "original_max_position_embeddings": 128, "beta_fast": 32, "beta_slow": 1,
                 "attention_factor": 1.0}})");
  c = parse(j);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(*c, *presetConfig("tiny"));
}

TEST(ModelConfig, NoRopeScalingMeansNoYarn) {
  Json j = goldenConfigJson("tiny_mix");
  j.erase("rope_scaling");
  auto c = parse(j);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_FALSE(c->yarn);
  j["rope_parameters"] = {{"rope_type", "default"}};
  c = parse(j);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_FALSE(c->yarn);
}

TEST(ModelConfig, CompressRatiosPickHcaRate) {
  Json j = goldenConfigJson("tiny_rates");
  j["compress_ratios"] = {4, 16, 0, 16};
  auto c = parse(j);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->hcaRatio, 16);
  EXPECT_EQ(c->attention, (std::vector<A>{A::CSA, A::HCA, A::Window, A::HCA}));
  // compress_rates fixes the rates the list must use.
  j["compress_rates"] = {{"compressed_sparse_attention", 4},
                         {"heavily_compressed_attention", 16}};
  c = parse(j);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->hcaRatio, 16);
  // Explicit layer_types win over compress_ratios.
  j["layer_types"] = {"sliding_attention", "sliding_attention",
                      "compressed_sparse_attention",
                      "heavily_compressed_attention"};
  c = parse(j);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->attention,
            (std::vector<A>{A::Window, A::Window, A::CSA, A::HCA}));
}

TEST(ModelConfig, PresetsFollowSpec) {
  auto flash = presetConfig("flash");
  ASSERT_TRUE(flash.isOk());
  EXPECT_EQ(flash->nLayers, 43);
  EXPECT_EQ(flash->dim, 4096);
  int csa = 0, hca = 0, window = 0;
  for (A k : flash->attention)
    (k == A::CSA ? csa : k == A::HCA ? hca : window)++;
  EXPECT_EQ(window, 2);
  EXPECT_EQ(csa, 21);
  EXPECT_EQ(hca, 20);
  EXPECT_EQ(flash->attention[2], A::CSA);
  EXPECT_EQ(flash->attention[3], A::HCA);
  EXPECT_EQ(flash->attention[42], A::CSA);
  EXPECT_TRUE(flash->isHashLayer(2));
  EXPECT_FALSE(flash->isHashLayer(3));
  EXPECT_TRUE(validateModelConfig(*flash, "flash").isOk());

  auto pro = presetConfig("pro");
  ASSERT_TRUE(pro.isOk());
  EXPECT_EQ(pro->nLayers, 61);
  EXPECT_EQ(pro->dim, 7168);
  EXPECT_EQ(pro->nRoutedExperts, 384);
  EXPECT_DOUBLE_EQ(pro->routeScale, 2.5);
  csa = hca = window = 0;
  for (A k : pro->attention)
    (k == A::CSA ? csa : k == A::HCA ? hca : window)++;
  EXPECT_EQ(window, 0);
  EXPECT_EQ(csa, 30);
  EXPECT_EQ(hca, 31);
  EXPECT_EQ(pro->attention[0], A::HCA);
  EXPECT_EQ(pro->attention[1], A::HCA);
  EXPECT_EQ(pro->attention[60], A::CSA);
  EXPECT_TRUE(validateModelConfig(*pro, "pro").isOk());

  auto tiny = presetConfig("tiny");
  ASSERT_TRUE(tiny.isOk());
  EXPECT_EQ(tiny->attention,
            (std::vector<A>{A::Window, A::CSA, A::HCA, A::CSA}));
  EXPECT_EQ(tiny->routing,
            (std::vector<R>{R::Hash, R::TopK, R::TopK, R::TopK}));
  EXPECT_FALSE(presetConfig("huge").isOk());
}

// modelConfigToJson -> parseModelConfig gives the same config back.
TEST(ModelConfig, JsonRoundTrip) {
  std::vector<ModelConfig> configs;
  for (const char *p : {"tiny", "flash", "pro"})
    configs.push_back(*presetConfig(p));
  for (const char *g :
       {"tiny_mix", "tiny_rates", "tiny_quant", "tiny_dq", "tiny_dq2"})
    configs.push_back(*loadModelConfig(goldenDir(g)));
  // Hash layers that are not a prefix, no YaRN, no MTP, odd values.
  ModelConfig odd = *presetConfig("tiny");
  odd.routing = {R::TopK, R::Hash, R::TopK, R::Hash};
  odd.yarn =
      false; // without YaRN its parameters are not written: keep the defaults
  odd.ropeFactor = ModelConfig().ropeFactor;
  odd.originalSeqLen = ModelConfig().originalSeqLen;
  odd.nMtpLayers = 0;
  odd.routeScale = 2.0 / 3.0;
  odd.eosTokenId = 7;
  configs.push_back(odd);
  for (const ModelConfig &c : configs) {
    std::string text = modelConfigToJson(c);
    auto back = parseModelConfig(text, "roundtrip.json");
    ASSERT_TRUE(back.isOk()) << back.status().toString() << "\n" << text;
    EXPECT_EQ(*back, c) << text;
  }
  // The official presets use the legacy keys with the MTP entry.
  Json flash = Json::parse(modelConfigToJson(*presetConfig("flash")));
  EXPECT_EQ(flash["compress_ratios"].size(), 44u);
  EXPECT_EQ(flash["compress_ratios"][43], 0);
  EXPECT_EQ(flash["num_hash_layers"], 3);
  EXPECT_FALSE(flash.contains("layer_types"));
  EXPECT_EQ(flash["quantization_config"]["quant_method"], "fp8");
}

TEST(ModelConfig, TruncateAndExperts) {
  ModelConfig c = *presetConfig("flash");
  ASSERT_TRUE(truncateLayers(c, 4).isOk());
  EXPECT_EQ(c.nLayers, 4);
  EXPECT_EQ(c.attention,
            (std::vector<A>{A::Window, A::Window, A::CSA, A::HCA}));
  EXPECT_EQ(c.routing.size(), 4u);
  EXPECT_TRUE(validateModelConfig(c, "x").isOk());
  EXPECT_FALSE(truncateLayers(c, 5).isOk());
  EXPECT_FALSE(truncateLayers(c, 0).isOk());
  ASSERT_TRUE(setRoutedExperts(c, 8).isOk());
  EXPECT_EQ(c.nRoutedExperts, 8);
  EXPECT_FALSE(setRoutedExperts(c, 5).isOk()); // below top-6
}

// ---- refused configs: each error names the key and the file -----------------

struct BadCase {
  const char *what;
  std::function<void(Json &)> edit;
  StatusCode code;
  const char *mustMention;
};

TEST(ModelConfig, BadConfigsNameTheKey) {
  std::vector<BadCase> cases = {
      {"missing key", [](Json &j) { j.erase("vocab_size"); },
       StatusCode::NotFound, "vocab_size"},
      {"missing schedule", [](Json &j) { j.erase("layer_types"); },
       StatusCode::NotFound, "layer_types"},
      {"unknown layer type",
       [](Json &j) { j["layer_types"][2] = "dense_attention"; },
       StatusCode::InvalidArgument, "layer_types[2]"},
      {"unknown mlp type", [](Json &j) { j["mlp_layer_types"][0] = "dense"; },
       StatusCode::InvalidArgument, "mlp_layer_types[0]"},
      {"layer_types length", [](Json &j) { j["layer_types"].erase(0); },
       StatusCode::InvalidArgument, "layer_types"},
      {"rope dim = head dim", [](Json &j) { j["qk_rope_head_dim"] = 64; },
       StatusCode::InvalidArgument, "head_dim"},
      {"odd rope dim", [](Json &j) { j["qk_rope_head_dim"] = 15; },
       StatusCode::InvalidArgument, "qk_rope_head_dim"},
      // Dimensions whose products would pass 64 bits (heads * head_dim was
      // signed overflow in the schema) are refused by name, in range.
      {"huge heads",
       [](Json &j) { j["num_attention_heads"] = int64_t(1) << 40; },
       StatusCode::OutOfRange, "num_attention_heads"},
      {"huge moe width",
       [](Json &j) { j["moe_intermediate_size"] = 4611686018427387920ll; },
       StatusCode::OutOfRange, "moe_intermediate_size"},
      {"huge vocab", [](Json &j) { j["vocab_size"] = int64_t(1) << 32; },
       StatusCode::OutOfRange, "vocab_size"},
      {"huge hc_mult", [](Json &j) { j["hc_mult"] = 1 << 20; },
       StatusCode::OutOfRange, "hc_mult"},
      {"huge window", [](Json &j) { j["sliding_window"] = int64_t(1) << 31; },
       StatusCode::OutOfRange, "sliding_window"},
      {"huge index top-k", [](Json &j) { j["index_topk"] = int64_t(1) << 40; },
       StatusCode::OutOfRange, "index_topk"},
      {"rotary factor disagrees",
       [](Json &j) { j["partial_rotary_factor"] = 0.5; },
       StatusCode::InvalidArgument, "partial_rotary_factor"},
      {"dspark key", [](Json &j) { j["dspark_markov_rank"] = 8; },
       StatusCode::Unsupported, "dspark_markov_rank"},
      {"V4.1 kv_source_layers",
       [](Json &j) {
         j["kv_source_layers"] = Json::array({0, 1});
       },
       StatusCode::Unsupported, "kv_source_layers"},
      {"V4.1 index_source_layers",
       [](Json &j) { j["index_source_layers"] = Json::array({0}); },
       StatusCode::Unsupported, "index_source_layers"},
      {"V4.1 engram", [](Json &j) { j["engram_vocab_size"] = 100; },
       StatusCode::Unsupported, "engram_vocab_size"},
      {"kv heads", [](Json &j) { j["num_key_value_heads"] = 8; },
       StatusCode::Unsupported, "num_key_value_heads"},
      {"score func", [](Json &j) { j["scoring_func"] = "softmax"; },
       StatusCode::Unsupported, "scoring_func"},
      {"shared experts", [](Json &j) { j["n_shared_experts"] = 2; },
       StatusCode::Unsupported, "n_shared_experts"},
      {"model type", [](Json &j) { j["model_type"] = "deepseek_v3"; },
       StatusCode::Unsupported, "model_type"},
      {"tied embeddings", [](Json &j) { j["tie_word_embeddings"] = true; },
       StatusCode::Unsupported, "tie_word_embeddings"},
      {"csa rate",
       [](Json &j) { j["compress_rates"]["compressed_sparse_attention"] = 2; },
       StatusCode::Unsupported, "compressed_sparse_attention"},
      {"hca rate",
       [](Json &j) { j["compress_rates"]["heavily_compressed_attention"] = 1; },
       StatusCode::Unsupported, "heavily_compressed_attention"},
      {"unknown rate key", [](Json &j) { j["compress_rates"]["sparse"] = 4; },
       StatusCode::InvalidArgument, "compress_rates.sparse"},
      {"wrong type", [](Json &j) { j["hidden_size"] = "128"; },
       StatusCode::InvalidArgument, "hidden_size"},
      {"aliases disagree", [](Json &j) { j["dim"] = 256; },
       StatusCode::InvalidArgument, "'dim'"},
      {"top-k > experts", [](Json &j) { j["num_experts_per_tok"] = 9; },
       StatusCode::InvalidArgument, "num_experts_per_tok"},
      {"groups", [](Json &j) { j["o_groups"] = 3; },
       StatusCode::InvalidArgument, "o_groups"},
      {"negative dim", [](Json &j) { j["q_lora_rank"] = -1; },
       StatusCode::InvalidArgument, "q_lora_rank"},
      {"index keys", [](Json &j) { j.erase("index_topk"); },
       StatusCode::NotFound, "index_topk"},
      {"zero topk", [](Json &j) { j["index_topk"] = 0; },
       StatusCode::InvalidArgument, "index_topk"},
      {"hc_mult", [](Json &j) { j["hc_mult"] = 0; },
       StatusCode::InvalidArgument, "hc_mult"},
      {"quant method",
       [](Json &j) {
         j["quantization_config"] = {{"quant_method", "awq"}};
       },
       StatusCode::Unsupported, "quantization_config.quant_method"},
      {"rope type", [](Json &j) { j["rope_scaling"]["type"] = "longrope"; },
       StatusCode::Unsupported, "rope_scaling.rope_type"},
      {"yarn without factor",
       [](Json &j) { j["rope_scaling"].erase("factor"); }, StatusCode::NotFound,
       "rope_scaling.factor"},
      {"expert dtype", [](Json &j) { j["expert_dtype"] = "fp8"; },
       StatusCode::Unsupported, "expert_dtype"},
      // Issue 15: values the runtime loader refused as a corrupt artifact
      // now fail here, by the same ranges (Kernels.def).
      {"sinkhorn iters",
       [](Json &j) { j["hc_sinkhorn_iters"] = int64_t(1000000000000); },
       StatusCode::OutOfRange, "hc_sinkhorn_iters"},
      {"sinkhorn iters past the kernel's",
       [](Json &j) { j["hc_sinkhorn_iters"] = 1001; }, StatusCode::OutOfRange,
       "'hc_sinkhorn_iters' is 1001, outside [1, 1000]"},
      {"window 1e9", [](Json &j) { j["sliding_window"] = 1000000000; },
       StatusCode::OutOfRange, "sliding_window"},
      {"index top-k 1e9", [](Json &j) { j["index_topk"] = 1000000000; },
       StatusCode::OutOfRange, "index_topk"},
      {"eps 1e300", [](Json &j) { j["rms_norm_eps"] = 1e300; },
       StatusCode::OutOfRange, "'rms_norm_eps' is 1e+300, outside [0, 1]"},
      {"hc_mult past the kernel's", [](Json &j) { j["hc_mult"] = 65; },
       StatusCode::OutOfRange, "'hc_mult' is 65, outside [1, 64]"},
  };
  for (const BadCase &bc : cases) {
    Json j = goldenConfigJson("tiny_mix");
    bc.edit(j);
    auto c = parseModelConfig(j.dump(), "bad/config.json");
    ASSERT_FALSE(c.isOk()) << bc.what;
    EXPECT_EQ(c.status().code(), bc.code)
        << bc.what << ": " << c.status().toString();
    EXPECT_NE(c.status().message().find(bc.mustMention), std::string::npos)
        << bc.what << ": " << c.status().message();
    EXPECT_NE(c.status().message().find("bad/config.json"), std::string::npos)
        << bc.what << ": " << c.status().message();
  }
}

// The compiler holds each config key that becomes a launch parameter to that
// parameter's catalogue range: the very ParamInfo decodeParams checks when
// the runtime loads the launch, not a copy of its numbers.
TEST(ModelConfig, KernelParamLimitsAreTheLoaders) {
  ASSERT_FALSE(configKernelParams().empty());
  for (const ConfigKernelParam &k : configKernelParams()) {
    const ParamInfo *info = kernelSignature(k.kernel).findParam(k.param);
    ASSERT_NE(info, nullptr) << k.configKey;
    // Just past the top of the range: the loader's decode refuses it, and so
    // does the config check, naming the config key and the same range.
    double past = info->type == ParamType::Real ? info->maxValue * 2 + 1
                                                : info->maxValue + 1;
    std::vector<ParamPair> pairs;
    for (const ParamInfo &p : kernelSignature(k.kernel).params)
      if (p.required)
        pairs.emplace_back(std::string(p.key),
                           p.key == k.param ? past : p.minValue);
    EXPECT_FALSE(decodeParams(k.kernel, pairs).isOk()) << k.configKey;
  }
  ModelConfig c = *parse(goldenConfigJson("tiny_mix"));
  c.hcSinkhornIters = 1001;
  Status st = validateModelConfig(c, "x");
  const ParamInfo *iters = kernelSignature(KernelId::MhcPre).findParam("iters");
  ASSERT_NE(iters, nullptr);
  EXPECT_EQ(iters->maxValue, 1000);
  EXPECT_EQ(st.code(), StatusCode::OutOfRange) << st.toString();
  EXPECT_NE(st.message().find("outside [1, 1000] (parameter 'iters' of kernel "
                              "'mhc_pre')"),
            std::string::npos)
      << st.message();
  c.hcSinkhornIters = 1000;
  EXPECT_TRUE(validateModelConfig(c, "x").isOk());
}

TEST(ModelConfig, BadLegacyRatios) {
  Json j = goldenConfigJson("tiny_rates");
  j["compress_ratios"] = {4, 128, 16, 0}; // two HCA candidates
  auto c = parse(j);
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("compress_ratios"), std::string::npos);

  j["compress_ratios"] = {4, 128, 4}; // too short
  c = parse(j);
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("compress_ratios"), std::string::npos);

  j["compress_ratios"] = {4, 128, 4, 0, 4}; // MTP entry must be 0
  c = parse(j);
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("compress_ratios[4]"), std::string::npos);

  j["compress_ratios"] = {4, 2, 4, 0}; // V4.1-style ratio 2
  c = parse(j);
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.status().code(), StatusCode::Unsupported);

  j["compress_ratios"] = {4, 128, 4, 0};
  j["compress_rates"] = {{"heavily_compressed_attention", 64}};
  c = parse(j);
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("compress_ratios[1]"), std::string::npos);
}

TEST(ModelConfig, NotJsonOrMissingFile) {
  auto c = parseModelConfig("{\"vocab_size\": ", "broken.json");
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("broken.json"), std::string::npos);
  c = parseModelConfig("[1, 2]", "array.json");
  ASSERT_FALSE(c.isOk());
  c = loadModelConfig("/nonexistent/birkhoff/dir");
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.status().code(), StatusCode::NotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/birkhoff/dir"),
            std::string::npos);
}

// Issue 15: a key given twice is an error, not "the last one wins".
TEST(ModelConfig, DuplicateKeyIsRefused) {
  std::string text = kOfficialTiny;
  text.insert(text.find('{') + 1, "\"vocab_size\": 7,");
  auto c = parseModelConfig(text, "dup/config.json");
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find(
                "dup/config.json: key 'vocab_size' appears twice"),
            std::string::npos)
      << c.status().message();
}

// Issue 15: a value nested 100,000 deep is refused (no stack overflow), and
// a huge wrong value is shown cut short.
TEST(ModelConfig, DeepOrHugeValuesAreSafe) {
  Json j = goldenConfigJson("tiny_mix");
  std::string text = j.dump();
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string withDeep = text;
  withDeep.insert(1, "\"extra\": " + deep + ",");
  auto c = parseModelConfig(withDeep, "deep/config.json");
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("nesting deeper than"), std::string::npos)
      << c.status().message();
  j["hidden_size"] = Json::array();
  for (int i = 0; i < 100000; ++i)
    j["hidden_size"].push_back(i);
  c = parseModelConfig(j.dump(), "huge/config.json");
  ASSERT_FALSE(c.isOk());
  EXPECT_LT(c.status().message().size(), 300u) << c.status().message();
}

// Issue 15: a FIFO as config.json is refused instead of blocking forever.
TEST(ModelConfig, FifoIsRefused) {
  test::TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("config.json").c_str(), 0600), 0);
  auto c = loadModelConfig(dir.path());
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.status().message().find("is a FIFO, not a regular file"),
            std::string::npos)
      << c.status().message();
}

} // namespace
} // namespace birkhoff::v4
