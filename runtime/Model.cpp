//===- Model.cpp - Loading an artifact behind the public Model handle -----===//
#include "ArtifactLoader.h"
#include "birkhoff/Runtime.h"
#include "host/HostKernels.h"

namespace birkhoff {

struct Model::Impl {
  rt::LoadedArtifact artifact;
  ModelInfo info;
  ModelOptions options;
};

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() = default;
const ModelInfo &Model::info() const { return impl_->info; }
const rt::LoadedArtifact &Model::artifact() const { return impl_->artifact; }
const ModelOptions &Model::options() const { return impl_->options; }

Expected<std::shared_ptr<const Model>> Model::load(const std::string &path,
                                                   const ModelOptions &options) {
  BK_ASSIGN_OR_RETURN(rt::LoadedArtifact artifact, rt::loadArtifact(path));
  const rt::Program &prog = artifact.program;
  if (prog.target != "host")
    return unsupported(path + ": artifact targets '" + prog.target +
                       "', this runtime runs 'host' artifacts");
  for (const rt::EntryDesc &e : prog.entries)
    for (const rt::LaunchDesc &l : e.launches)
      if (!rt::findHostKernel(l.kernel))
        return unsupported(path + ": the host backend has no kernel '" + l.kernel + "'");
  std::shared_ptr<Model> model(new Model());
  ModelInfo &info = model->impl_->info;
  info.modelName = prog.modelName;
  info.numerics = prog.numerics;
  info.target = prog.target;
  info.vocabSize = prog.config.vocabSize;
  info.nLayers = prog.config.nLayers;
  info.maxContext = prog.maxContext;
  info.maxPrefillTokens = prog.entry("prefill")->maxTokens;
  info.bosTokenId = int32_t(prog.config.bosTokenId);
  info.eosTokenId = int32_t(prog.config.eosTokenId);
  info.weightBytes = prog.weightSectionSize;
  model->impl_->artifact = std::move(artifact);
  model->impl_->options = options;
  return std::shared_ptr<const Model>(std::move(model));
}

} // namespace birkhoff
