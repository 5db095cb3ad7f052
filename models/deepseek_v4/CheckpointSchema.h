//===- CheckpointSchema.h - The tensors a DeepSeek-V4 checkpoint holds ----===//
//
// The expected tensor table of V4_SPEC §5.2 (names, stored dtypes and shapes)
// for a config and a storage format, and the check of a checkpoint against it.
// Two formats occur: DeepSeek's official quantized one (FP8 e4m3 linears with
// 128x128 ue8m0 scales, routed experts as packed FP4 e2m1 with per-32 ue8m0
// scales) and an unquantized one (every linear BF16), which the goldens
// tiny_mix / tiny_rates use. The format is read from the checkpoint itself.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_CHECKPOINTSCHEMA_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_CHECKPOINTSCHEMA_H

#include "birkhoff/DType.h"
#include "birkhoff/Safetensors.h"
#include "birkhoff/Status.h"
#include "deepseek_v4/ModelConfig.h"

#include <cstdint>
#include <string>
#include <vector>

namespace birkhoff::v4 {

/// Storage of the non-expert linears (wq_a, wq_b, wkv, wo_a, wo_b,
/// indexer.wq_b, shared experts, MTP e_proj/h_proj).
enum class LinearFormat : uint8_t { BF16 = 0, FP8 = 1 };
/// Storage of the routed experts' w1/w2/w3.
enum class ExpertFormat : uint8_t { BF16 = 0, FP4 = 1 };

struct CheckpointFormat {
  LinearFormat linears = LinearFormat::FP8;
  ExpertFormat experts = ExpertFormat::FP4;
  /// MTP blocks present (`mtp.0.*` .. `mtp.{n-1}.*`); at most nMtpLayers.
  int64_t mtpLayers = 0;

  bool operator==(const CheckpointFormat &) const = default;
};

/// The format config.json declares: FP8 + FP4 when it has an fp8
/// quantization_config, else BF16 + BF16; all declared MTP layers present.
CheckpointFormat declaredFormat(const ModelConfig &config);
std::string describeFormat(const CheckpointFormat &format);

/// What a tensor is for; the synth tool draws its values by role, the IR
/// builder reads weights by it.
enum class TensorRole : uint8_t {
  Embedding,    // embed.weight
  Head,         // head.weight
  Norm,         // RMSNorm weights
  Linear,       // FP8-capable linear weight (BF16 when unquantized)
  LinearScale,  // its e8m0 128x128 block scales
  ExpertLinear, // routed expert w1/w2/w3 (packed FP4, or BF16)
  ExpertScale,  // its e8m0 per-32 scales
  Projection, // always-BF16 linears: compressor wkv/wgate, indexer weights_proj
  GateWeight, // ffn.gate.weight (BF16)
  GateBias,   // ffn.gate.bias (F32, top-k layers)
  HashTable,  // ffn.gate.tid2eid (I64, hash layers)
  AttnSink,   // attn.attn_sink (F32)
  CompressorApe, // compressor position bias (F32)
  HcFn,          // mHC mixing matrices (F32)
  HcBase,        // mHC biases (F32)
  HcScale,       // mHC scales (F32)
};
const char *tensorRoleName(TensorRole role);

struct ExpectedTensor {
  std::string name;
  /// As the safetensors header states it (packed FP4 reads as I8).
  DType dtype;
  /// What the bytes hold: FP4E2M1x2 for packed experts, else equal to dtype.
  DType element;
  /// As stored ([out, in/2] for packed FP4).
  std::vector<int64_t> shape;
  TensorRole role;
  /// Linears: the logical [out_features, in_features]; empty otherwise.
  std::vector<int64_t> logicalShape;
  /// Quantized weights: the name of their `.scale` tensor; empty otherwise.
  std::string scale;
  /// Main layer index, nLayers + k for MTP block k, -1 for top-level tensors.
  int64_t layer = -1;

  /// The shape's product and its bytes; -1 where it passes int64 (never for
  /// a config that validateModelConfig accepts).
  int64_t numElements() const;
  int64_t byteSize() const;
};

/// The full table in a stable order (top-level embed, layers 0..n-1 in
/// checkpoint naming, final norm/head/hc_head, then MTP blocks); a quantized
/// weight is directly followed by its scale. `config` must have passed
/// validateModelConfig, whose bounds keep every shape product inside 64 bits.
std::vector<ExpectedTensor> expectedTensors(const ModelConfig &config,
                                            const CheckpointFormat &format);

struct ValidateOptions {
  /// Read every e8m0 scale tensor and refuse the NaN byte 0xFF. The scales are
  /// ~6% of a real checkpoint's bytes; turn off to validate headers only.
  bool checkScaleBytes = true;
  /// Read every tid2eid table and refuse expert ids outside [0, E).
  bool checkHashTables = true;
};

/// Checks a checkpoint against the table: the format is detected from the
/// tensors (dtype of the linears and experts, which MTP blocks exist) and must
/// be consistent and agree with config.json; then every expected tensor must
/// exist with its dtype and shape, and no other tensor may exist except the
/// allow-listed MTP copies of embed/head that DeepSeek's convert.py drops
/// (`mtp.{k}.*emb*`, `mtp.{k}.head.weight`). Errors name tensor, file,
/// expected and actual. On success `*format` (if given) receives the format.
Status validateCheckpoint(const ModelConfig &config,
                          const Checkpoint &checkpoint,
                          CheckpointFormat *format,
                          const ValidateOptions &options = {});

} // namespace birkhoff::v4

#endif // BIRKHOFF_MODELS_DEEPSEEK_V4_CHECKPOINTSCHEMA_H
