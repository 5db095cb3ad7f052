//===- TrainedModel.h - Checks of the default model against transformers ---===//
//
// models/deepseek_v4/tiny and its reference data (tools/tiny-model/train.py):
// shared by the host tests (TrainedModelTest.cpp) and the GPU tests
// (test/gpu/GpuModelTest.cpp), which run the same checks on each backend.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TEST_GOLDEN_TRAINEDMODEL_H
#define BIRKHOFF_TEST_GOLDEN_TRAINEDMODEL_H

#include "birkhoff/Runtime.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace birkhoff::test {

/// The checkpoint's folder in the source tree.
std::string trainedModelDir();

/// reference/reference.json (a discarded value when it cannot be read).
nlohmann::json readTrainedReference();

/// exp(mean NLL) of the reference's held-out windows under `model`, as
/// `birkhoff perplexity` computes it (scoreWindows); NaN after a failure,
/// which is also reported.
double trainedPerplexity(const std::shared_ptr<const Model> &model,
                         const nlohmann::json &ref);

/// Runs the reference's greedy continuations (argmax, the lowest id on ties)
/// and expects each to equal transformers' token for token; prints how many
/// agree under `tag`.
void expectGreedyContinuations(const std::shared_ptr<const Model> &model,
                               const nlohmann::json &ref,
                               const std::string &tag);

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_GOLDEN_TRAINEDMODEL_H
