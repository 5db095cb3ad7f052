//===- SynthModel.h - A synth model whose weights are never written -------===//
//
// What `birkhoff compile --synth-preset` compiles: the model `birkhoff synth`
// would write (same config, same tensors, same values), held as a config, a
// declared checkpoint (names, dtypes, shapes; no bytes) and one recipe per
// tensor, so that the artifact stores recipes and the runtime regenerates
// exactly the bytes synth would have written. A 20 GB model compiles without
// 20 GB of anything.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_SYNTHMODEL_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_SYNTHMODEL_H

#include "birkhoff/Safetensors.h"
#include "birkhoff/Status.h"
#include "birkhoff/WeightSynthesis.h"
#include "deepseek_v4/ModelConfig.h"
#include "deepseek_v4/Synth.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace birkhoff::v4 {

/// `--layers N` / `--experts E` of `birkhoff synth` and `birkhoff compile
/// --synth-preset`: truncates the schedule, sets the routed expert count.
/// Errors start with the option's name.
Status applySynthShape(ModelConfig &config, std::optional<int64_t> layers,
                       std::optional<int64_t> experts);

/// What synth needs of a config beyond validateModelConfig: packed FP4
/// experts need hidden_size and moe_intermediate_size multiples of 32.
Status checkSynthConfig(const ModelConfig &config, const std::string &origin);

struct SynthModel {
  /// Equal to what config.json of the synth checkpoint reads back as.
  ModelConfig config;
  /// Every tensor of the checkpoint, declared only (bytes() fails).
  Checkpoint checkpoint;
  /// Each tensor's recipe, scales (BlockScale) included.
  std::map<std::string, WeightRecipe> recipes;
};

/// The model writeSynthCheckpoint(shape, options, dir) would write; `origin`
/// names it in messages (e.g. "synth preset flash").
Expected<SynthModel> makeSynthModel(const ModelConfig &shape,
                                    const SynthOptions &options,
                                    const std::string &origin);

} // namespace birkhoff::v4

#endif // BIRKHOFF_MODELS_DEEPSEEK_V4_SYNTHMODEL_H
