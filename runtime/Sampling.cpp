//===- Sampling.cpp - Greedy, temperature, top-k and top-p sampling -------===//
//
// Also the sampling defaults a generation config gives.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/Runtime.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace birkhoff {
namespace {

/// splitmix64: small, fast and reproducible across platforms.
uint64_t nextRandom(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best])
      best = int32_t(i);
  return best;
}

} // namespace

int32_t sampleToken(std::span<const float> logits,
                    const GenerateOptions &options, uint64_t &rng) {
  if (options.temperature <= 0.0f || options.topK == 1)
    return argmax(logits);
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  // Candidates by descending logit; equal logits keep the lower id first.
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  size_t keep = ids.size();
  if (options.topK > 0)
    keep = std::min(keep, size_t(options.topK));
  std::vector<double> probs(keep);
  double mx = logits[ids[0]] / options.temperature, sum = 0.0;
  for (size_t i = 0; i < keep; ++i)
    sum += probs[i] =
        std::exp(double(logits[ids[i]]) / options.temperature - mx);
  if (options.topP < 1.0f) {
    double acc = 0.0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      acc += probs[i] / sum;
      if (acc >= options.topP) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    sum = std::accumulate(probs.begin(), probs.begin() + keep, 0.0);
  }
  double u = double(nextRandom(rng) >> 11) * 0x1p-53 * sum;
  for (size_t i = 0; i < keep; ++i) {
    u -= probs[i];
    if (u < 0.0)
      return ids[i];
  }
  return ids[keep - 1];
}

GenerateOptions applyGenerationConfig(const GenerationConfig &config,
                                      GenerateOptions base) {
  if (config.doSample && !*config.doSample) {
    base.temperature = 0.0f;
  } else if (config.doSample) {
    base.temperature = config.temperature.value_or(1.0f);
    if (config.topP)
      base.topP = *config.topP;
    if (config.topK)
      base.topK = *config.topK;
  }
  if (config.maxNewTokens)
    base.maxNewTokens = *config.maxNewTokens;
  return base;
}

std::optional<GenerateResult::Stop>
stopAfter(const ModelInfo &info, const GenerateOptions &options, int32_t token,
          int64_t count, int64_t position, int64_t capacity) {
  if (options.stopAtEos && info.isEndOfSequence(token))
    return GenerateResult::Stop::Eos;
  if (std::find(options.stopTokens.begin(), options.stopTokens.end(), token) !=
      options.stopTokens.end())
    return GenerateResult::Stop::StopToken;
  if (count >= options.maxNewTokens)
    return GenerateResult::Stop::MaxTokens;
  if (position >= capacity)
    return GenerateResult::Stop::ContextFull;
  return std::nullopt;
}

} // namespace birkhoff
