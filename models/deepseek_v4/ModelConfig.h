//===- ModelConfig.h - DeepSeek-V4 hyper-parameters -----------------------===//
//
// The configuration of one DeepSeek-V4 model, resolved from either config.json
// form DeepSeek and Hugging Face ship (V4_SPEC §1.1-1.2): the legacy keys
// (`compress_ratios`, `num_hash_layers`, `qk_rope_head_dim`, `rope_scaling`) or
// the expanded ones (`layer_types`, `compress_rates`, `mlp_layer_types`,
// `rope_parameters`). No MLIR here: the synth tool and tests use it too.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_MODELCONFIG_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_MODELCONFIG_H

#include "birkhoff/KernelCatalog.h"
#include "birkhoff/Status.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace birkhoff::v4 {

/// The attention and routing schedule of a layer. Named apart from the `v4`
/// dialect's enums (`v4::AttentionKind`), which the IR builder uses alongside.
/// The values are those of the module's `v4.config` `layer_kinds`.
enum class LayerAttention : uint8_t { Window = 0, CSA = 1, HCA = 2 };
enum class LayerRouting : uint8_t { TopK = 0, Hash = 1 };

struct ModelConfig {
  int64_t vocabSize = 129280;
  int64_t dim = 4096;
  int64_t nLayers = 43;
  int64_t nHeads = 64;
  int64_t headDim = 512;
  int64_t ropeHeadDim = 64;
  int64_t qLoraRank = 1024;
  int64_t oGroups = 8;
  int64_t oLoraRank = 1024;
  int64_t windowSize = 128;
  /// Per main layer (size nLayers).
  std::vector<LayerAttention> attention;
  std::vector<LayerRouting> routing;
  int64_t csaRatio = 4;   // compress rate of CSA layers
  int64_t hcaRatio = 128; // compress rate of HCA layers
  int64_t indexNHeads = 64;
  int64_t indexHeadDim = 128;
  int64_t indexTopk = 512;
  int64_t nRoutedExperts = 256;
  int64_t nSharedExperts = 1;
  int64_t nActivatedExperts = 6;
  int64_t moeInterDim = 2048;
  double routeScale = 1.5;
  double swigluLimit = 10.0;
  std::string scoreFunc = "sqrtsoftplus";
  int64_t hcMult = 4;
  int64_t hcSinkhornIters = 20;
  double hcEps = 1e-6;
  double normEps = 1e-6;
  double ropeTheta = 10000.0;
  double compressRopeTheta = 160000.0;
  // YaRN on compressed layers (attention factor is always 1, V4_SPEC P3).
  bool yarn = true;
  double ropeFactor = 16.0;
  int64_t originalSeqLen = 65536;
  double betaFast = 32.0;
  double betaSlow = 1.0;
  int64_t maxPositionEmbeddings = 1048576;
  int64_t bosTokenId = 0;
  int64_t eosTokenId = 1;
  /// MTP block(s) present in the checkpoint (`mtp.0.*`), kept for later use.
  int64_t nMtpLayers = 0;
  /// Quantization as declared by config.json (FP8 linears with 128x128 ue8m0).
  bool fp8Linears = false;

  /// The compress rate of main layer `layer` (0 for window-only layers); MTP
  /// layers (`layer >= nLayers`) are window-only and give 0.
  int64_t compressRatio(int64_t layer) const;
  bool isHashLayer(int64_t layer) const {
    return routing[layer] == LayerRouting::Hash;
  }

  bool operator==(const ModelConfig &) const = default;
};

/// The HF `layer_types` spelling: "sliding_attention",
/// "compressed_sparse_attention", "heavily_compressed_attention".
const char *layerAttentionName(LayerAttention kind);
/// The HF `mlp_layer_types` spelling: "moe", "hash_moe".
const char *layerRoutingName(LayerRouting kind);

/// Reads and validates `<dir>/config.json` (or the given file). Errors name the
/// key and the file; unsupported variants (DSpark draft layers, V4.1 keys) are
/// refused with a message naming the key.
Expected<ModelConfig> loadModelConfig(const std::string &path);
/// Same, from JSON text (`origin` names it in errors).
Expected<ModelConfig> parseModelConfig(const std::string &jsonText,
                                       const std::string &origin);
/// The largest width or count a config may give (hidden_size, head_dim,
/// ranks, heads, experts, layers, window, index top-k, ...): every product the
/// checkpoint schema and the IR form from them then fits 64 bits.
inline constexpr int64_t kMaxConfigDimension = int64_t(1) << 20;
/// The largest vocab_size: token ids travel as int32.
inline constexpr int64_t kMaxConfigVocab = INT32_MAX;
/// The largest hc_mult: the mHC weights hold (2 + hc) * hc * hc * dim values.
inline constexpr int64_t kMaxConfigHcMult = 256;

/// A config key whose value becomes a kernel launch parameter.
struct ConfigKernelParam {
  const char *configKey;
  KernelId kernel;
  std::string_view param;
  double (*value)(const ModelConfig &); // the key's value in a config
};
/// Every such key, with the parameter whose catalogue range (Kernels.def)
/// validateModelConfig holds its value to: the range the runtime loader
/// checks, so compile refuses what load would.
std::span<const ConfigKernelParam> configKernelParams();

/// Cross-field checks (head dims, groups, experts, top-k, ratios, ...), and
/// every dimension in [1, its maximum above]: OutOfRange names the key. Each
/// key of configKernelParams() must also lie in its parameter's range.
Status validateModelConfig(const ModelConfig &config,
                           const std::string &origin);

/// Presets for `birkhoff synth`: "tiny" (V4_SPEC §7.1), "flash", "pro".
Expected<ModelConfig> presetConfig(const std::string &name);
/// The HF-style config.json text for a config (legacy keys form:
/// `compress_ratios` with one trailing 0 per MTP layer, `num_hash_layers`,
/// `qk_rope_head_dim`, `rope_scaling`). Schedules the legacy keys cannot say
/// (rates other than 4/128, hash layers that are not a prefix) fall back to
/// `layer_types` + `compress_rates` / `mlp_layer_types`. parseModelConfig
/// reads the text back to an equal config.
std::string modelConfigToJson(const ModelConfig &config);

/// Keeps the first `nLayers` layers of the schedule (attention kinds and
/// routing); for `birkhoff synth --layers`. Growing the model is refused.
Status truncateLayers(ModelConfig &config, int64_t nLayers);
/// Sets the routed expert count (`birkhoff synth --experts`); it must stay at
/// least `nActivatedExperts`.
Status setRoutedExperts(ModelConfig &config, int64_t nExperts);

} // namespace birkhoff::v4

#endif // BIRKHOFF_MODELS_DEEPSEEK_V4_MODELCONFIG_H
