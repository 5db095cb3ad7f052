//===- Model.cpp - Loading an artifact behind the public Model handle -----===//
#include "ArtifactLoader.h"
#include "Backend.h"
#include "WeightGeneration.h"
#include "WeightVerification.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/Tokenizer.h"
#include "birkhoff/WorkerPool.h"
#include "cuda/CudaBackend.h"
#include "host/HostBackend.h"

#include <cstdlib>

namespace birkhoff {

struct Model::Impl {
  rt::LoadedArtifact artifact;
  ModelInfo info;
  ModelOptions options;
  std::unique_ptr<rt::ModelBackend> backend;
};

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() = default;
const ModelInfo &Model::info() const { return impl_->info; }

std::optional<std::string> ModelInfo::contextWarning(int64_t context) const {
  if (trainedContext <= 0 || context <= trainedContext)
    return std::nullopt;
  return "a context of " + std::to_string(context) + " tokens exceeds the " +
         std::to_string(trainedContext) + " that model '" + modelName +
         "' was trained for (max_position_embeddings); positions beyond it "
         "were never seen in training";
}
const rt::LoadedArtifact &Model::artifact() const { return impl_->artifact; }
const ModelOptions &Model::options() const { return impl_->options; }
const rt::ModelBackend &Model::backend() const { return *impl_->backend; }

namespace {

Status noTokenizer(const ModelInfo &info) {
  return unsupported("model '" + info.modelName +
                     "' has no tokenizer: the artifact takes and gives token "
                     "ids only (compile it from a checkpoint with a "
                     "tokenizer.json, or with --tokenizer FILE)");
}

} // namespace

bool Model::hasTokenizer() const {
  return impl_->artifact.program.tokenizer != nullptr;
}

Expected<std::vector<int32_t>> Model::encode(std::string_view text) const {
  const Tokenizer *tok = impl_->artifact.program.tokenizer.get();
  if (!tok)
    return noTokenizer(impl_->info);
  return tok->encode(text);
}

Expected<std::string> Model::decode(std::span<const int32_t> ids,
                                    bool skipSpecial) const {
  const Tokenizer *tok = impl_->artifact.program.tokenizer.get();
  if (!tok)
    return noTokenizer(impl_->info);
  return tok->decode(ids, skipSpecial);
}

struct TextDecoder::Impl {
  std::shared_ptr<const Tokenizer> tokenizer;
  std::optional<Tokenizer::IncrementalDecoder> decoder;
};

TextDecoder::TextDecoder() : impl_(std::make_unique<Impl>()) {}
TextDecoder::~TextDecoder() = default;

Expected<std::unique_ptr<TextDecoder>> TextDecoder::create(const Model &model,
                                                           bool skipSpecial) {
  const std::shared_ptr<const Tokenizer> &tok =
      model.artifact().program.tokenizer;
  if (!tok)
    return noTokenizer(model.info());
  std::unique_ptr<TextDecoder> d(new TextDecoder());
  d->impl_->tokenizer = tok;
  d->impl_->decoder.emplace(*tok, skipSpecial);
  return d;
}

Expected<std::string> TextDecoder::push(int32_t id) {
  return impl_->decoder->push(id);
}

std::string TextDecoder::finish() { return impl_->decoder->finish(); }

namespace {

/// "cuda" -> 0, "cuda:N" -> N; nullopt for anything else.
std::optional<int> cudaOrdinal(const std::string &device) {
  if (device == "cuda")
    return 0;
  if (device.rfind("cuda:", 0) != 0 || device.size() == 5 || device.size() > 9)
    return std::nullopt;
  int n = 0;
  for (size_t i = 5; i < device.size(); ++i) {
    if (device[i] < '0' || device[i] > '9')
      return std::nullopt;
    n = n * 10 + (device[i] - '0');
  }
  return n;
}

} // namespace

Expected<std::shared_ptr<const Model>>
Model::load(const std::string &path, const ModelOptions &options) {
  std::optional<int> ordinal = cudaOrdinal(options.device);
  if (options.device != "host" && !ordinal)
    return invalidArgument("unknown device '" + options.device +
                           "' (host, cuda or cuda:<ordinal>)");
  BK_ASSIGN_OR_RETURN(rt::LoadedArtifact artifact, rt::loadArtifact(path));
  const rt::Program &prog = artifact.program;
  // The target decides the device; say so before touching any driver.
  if (ordinal && prog.target != "cuda")
    return unsupported(path + ": artifact targets '" + prog.target +
                       "', device '" + options.device +
                       "' runs artifacts compiled with --target cuda");
  if (!ordinal && prog.target != "host")
    return unsupported(path + ": artifact targets '" + prog.target +
                       "'; load it with device 'cuda' (birkhoff run --device "
                       "cuda), or compile the checkpoint with --target host");
  // Weights generated at load time get their bytes before any backend
  // reads (or uploads) them.
  // One pool for the load and every engine of the model: the process's
  // unless the caller brought one.
  ModelOptions resolved = options;
  if (!resolved.workers)
    resolved.workers = WorkerPool::shared();
  const Workers workers(*resolved.workers, options.numThreads);
  // Before any backend reads a weight. Every thread of the pool: a check of
  // the whole file is bound by memory or disk, not by an engine's share.
  if (ordinal || options.verifyWeights)
    BK_RETURN_IF_ERROR(rt::verifyWeights(prog, Workers(*resolved.workers), path,
                                         options.progress)
                           .status());
  BK_RETURN_IF_ERROR(
      rt::materializeGeneratedWeights(artifact, workers, options.progress)
          .withContext(path));
  std::unique_ptr<rt::ModelBackend> backend;
  if (ordinal) {
    BK_ASSIGN_OR_RETURN(backend, rt::makeCudaBackend(prog, *ordinal, path,
                                                     options.cudaGraphs,
                                                     options.progress));
  } else {
    BK_ASSIGN_OR_RETURN(backend, rt::makeHostBackend(prog, resolved.workers,
                                                     options.numThreads, path));
  }
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
  info.trainedContext = prog.config.maxPositionEmbeddings;
  info.weightBytes = prog.weightSectionSize + prog.generatedBytes;
  info.device = backend->deviceName();
  info.generationConfig = prog.generationConfig;
  model->impl_->artifact = std::move(artifact);
  // The load's progress callback is the caller's, for the load only.
  resolved.progress = nullptr;
  model->impl_->options = std::move(resolved);
  model->impl_->backend = std::move(backend);
  return std::shared_ptr<const Model>(std::move(model));
}

} // namespace birkhoff
