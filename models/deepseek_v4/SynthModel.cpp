//===- SynthModel.cpp - A synth model whose weights are never written -----===//
#include "deepseek_v4/SynthModel.h"

#include "deepseek_v4/CheckpointSchema.h"

namespace birkhoff::v4 {

Status applySynthShape(ModelConfig &config, std::optional<int64_t> layers,
                       std::optional<int64_t> experts) {
  if (layers)
    if (Status s = truncateLayers(config, *layers); !s)
      return makeError(s.code(), "--layers: " + s.message());
  if (experts)
    if (Status s = setRoutedExperts(config, *experts); !s)
      return makeError(s.code(), "--experts: " + s.message());
  return Status::ok();
}

Status checkSynthConfig(const ModelConfig &config, const std::string &origin) {
  BK_RETURN_IF_ERROR(validateModelConfig(config, origin));
  if (declaredFormat(config).experts == ExpertFormat::FP4 &&
      (config.dim % 32 || config.moeInterDim % 32))
    return invalidArgument(
        origin +
        ": packed FP4 experts need hidden_size and moe_intermediate_size "
        "to be multiples of 32 (got " +
        std::to_string(config.dim) + ", " + std::to_string(config.moeInterDim) +
        "); use --unquantized");
  return Status::ok();
}

Expected<SynthModel> makeSynthModel(const ModelConfig &shape,
                                    const SynthOptions &options,
                                    const std::string &origin) {
  // Through config.json's text, as a compile of the written checkpoint reads
  // it: the two paths see one config.
  BK_ASSIGN_OR_RETURN(
      ModelConfig config,
      parseModelConfig(modelConfigToJson(synthConfig(shape, options)), origin));
  BK_RETURN_IF_ERROR(checkSynthConfig(config, origin));
  SynthModel model;
  std::vector<TensorInfo> declared;
  for (const ExpectedTensor &t :
       expectedTensors(config, declaredFormat(config))) {
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    declared.push_back(std::move(info));
    model.recipes[t.name] = synthRecipe(t, config, options.seed);
  }
  BK_ASSIGN_OR_RETURN(model.checkpoint,
                      Checkpoint::declared(origin, std::move(declared)));
  model.config = std::move(config);
  return model;
}

} // namespace birkhoff::v4
