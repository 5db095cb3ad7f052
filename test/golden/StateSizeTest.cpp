//===- StateSizeTest.cpp - Session state matches V4_SPEC §4.2 -------------===//
//
// Per-token session state depends only on the layer schedule and the head
// dimensions, so a V4-Flash-shaped model (all 43 layers, head_dim 512, rope 64,
// index_head_dim 128, the real compression rates) with narrow hidden sizes and
// few experts allocates exactly what full V4-Flash does per token of context.
// This compiles such a checkpoint in the official profile and measures the
// runtime's real allocation: the growth per token of context must be Flash's
// deployment figure, 21·(584+68)/4 + 20·584/128 = 3,514.25 B (±2%).
//
//===----------------------------------------------------------------------===//
#include "GoldenCase.h"

#include "birkhoff/Runtime.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace birkhoff::test {
namespace {

std::string flashScheduleConfig() {
  std::string ratios = "[0, 0";
  for (int l = 2; l < 43; ++l)
    ratios += l % 2 == 0 ? ", 4" : ", 128";
  ratios += ", 0]"; // the MTP layer
  return R"({
  "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4",
  "vocab_size": 512, "hidden_size": 128, "num_hidden_layers": 43,
  "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 512, "qk_rope_head_dim": 64,
  "q_lora_rank": 64, "o_groups": 2, "o_lora_rank": 64, "sliding_window": 128,
  "compress_ratios": )" + ratios + R"(, "num_hash_layers": 3,
  "compress_rope_theta": 160000, "rope_theta": 10000,
  "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536,
                   "beta_fast": 32, "beta_slow": 1},
  "index_n_heads": 2, "index_head_dim": 128, "index_topk": 512,
  "n_routed_experts": 4, "n_shared_experts": 1, "num_experts_per_tok": 2,
  "moe_intermediate_size": 64, "scoring_func": "sqrtsoftplus", "routed_scaling_factor": 1.5,
  "swiglu_limit": 10.0, "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6,
  "rms_norm_eps": 1e-6, "max_position_embeddings": 1048576, "num_nextn_predict_layers": 0,
  "bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": false,
  "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "scale_fmt": "ue8m0",
                          "weight_block_size": [128, 128], "activation_scheme": "dynamic"}
})";
}

TEST(StateSize, FlashScheduleAllocatesTheDeploymentBytesPerToken) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(BIRKHOFF_BIN_DIR) / ".." / "golden-artifacts" / "flash-schedule";
  fs::create_directories(dir);
  { std::ofstream(dir / "config.json") << flashScheduleConfig(); }
  std::string tool = std::string(BIRKHOFF_BIN_DIR) + "/birkhoff";
  fs::path ckpt = dir / "ckpt", artifact = dir / "flash-schedule.bkart";
  if (!fs::exists(ckpt / "model.safetensors.index.json")) {
    std::string cmd = "'" + tool + "' synth --config '" + (dir / "config.json").string() +
                      "' --no-mtp -o '" + ckpt.string() + "' > '" + (dir / "synth.log").string() +
                      "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  Status st = compileArtifact(ckpt.string(), artifact.string(), "--numerics official");
  ASSERT_TRUE(st.isOk()) << st.toString();
  auto model = Model::load(artifact.string());
  ASSERT_TRUE(model.isOk()) << model.status().toString();

  auto bytesAt = [&](int64_t tokens) -> uint64_t {
    SessionOptions o;
    o.maxContext = tokens;
    auto s = Session::create(*model, o);
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return s.isOk() ? (*s)->stateBytes() : 0;
  };
  const int64_t a = 32768, b = 65536;
  double perToken = double(bytesAt(b) - bytesAt(a)) / double(b - a);
  double expected = 21.0 * (584 + 68) / 4 + 20.0 * 584 / 128;
  std::printf("[state] Flash schedule, official: %.2f B/token of context (V4_SPEC: %.2f)\n",
              perToken, expected);
  EXPECT_NEAR(perToken, expected, 0.02 * expected);
}

} // namespace
} // namespace birkhoff::test
