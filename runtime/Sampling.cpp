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

/// One candidate: its logit and id. Candidates rank by descending logit,
/// equal logits by ascending id.
struct Candidate {
  float logit;
  int32_t id;
  bool operator<(const Candidate &o) const {
    return logit > o.logit || (logit == o.logit && id < o.id);
  }
};

/// Draws from `weights` (any order; their sum `sum`) the index of one.
template <class WeightOf>
size_t draw(size_t n, double sum, uint64_t &rng, const WeightOf &weightOf) {
  double u = double(nextRandom(rng) >> 11) * 0x1p-53 * sum;
  for (size_t i = 0; i < n; ++i) {
    u -= weightOf(i);
    if (u < 0.0)
      return i;
  }
  return n - 1;
}

/// Sampling from a short sorted candidate list (top-k): softmax at the
/// temperature, then the top-p prefix.
int32_t sampleSorted(std::span<const Candidate> c, const GenerateOptions &o,
                     uint64_t &rng) {
  std::vector<double> probs(c.size());
  const double mx = double(c[0].logit) / o.temperature;
  double sum = 0.0;
  for (size_t i = 0; i < c.size(); ++i)
    sum += probs[i] = std::exp(double(c[i].logit) / o.temperature - mx);
  size_t keep = c.size();
  if (o.topP < 1.0f) {
    double acc = 0.0;
    for (size_t i = 0; i < c.size(); ++i) {
      acc += probs[i];
      if (acc >= double(o.topP) * sum) {
        keep = i + 1;
        break;
      }
    }
    sum = std::accumulate(probs.begin(), probs.begin() + keep, 0.0);
  }
  return c[draw(keep, sum, rng, [&](size_t i) { return probs[i]; })].id;
}

/// Top-p over the whole vocabulary without sorting it: the logits fall into
/// kBuckets equal ranges between their min and max (a bucket index never
/// decreases with the logit), whose masses locate the bucket where the
/// nucleus ends; only that bucket is sorted to find the exact cut. The
/// draw walks the nucleus in id order, then the boundary bucket's kept
/// prefix: a different order than the sorted one, the same distribution.
int32_t sampleNucleus(std::span<const float> logits, const GenerateOptions &o,
                      uint64_t &rng) {
  constexpr int kBuckets = 4096;
  const size_t n = logits.size();
  float lo = logits[0], hi = logits[0];
  for (float l : logits) {
    lo = std::min(lo, l);
    hi = std::max(hi, l);
  }
  if (!std::isfinite(hi - lo)) {
    // An infinite logit (or NaN): the sorted path, which needs no ranges.
    std::vector<Candidate> c(n);
    for (size_t i = 0; i < n; ++i)
      c[i] = {logits[i], int32_t(i)};
    std::sort(c.begin(), c.end());
    return sampleSorted(c, o, rng);
  }
  const float invT = 1.0f / o.temperature;
  const float scale = hi > lo ? float(kBuckets - 1) / (hi - lo) : 0.0f;
  auto bucketOf = [&](float l) { return int((l - lo) * scale); };
  std::vector<float> w(n);
  std::vector<double> mass(kBuckets, 0.0);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    w[i] = std::exp((logits[i] - hi) * invT);
    mass[size_t(bucketOf(logits[i]))] += w[i];
    sum += w[i];
  }
  const double target = double(o.topP) * sum;
  double above = 0.0; // mass of the buckets above the boundary one
  int boundary = kBuckets - 1;
  for (; boundary > 0; --boundary) {
    if (above + mass[size_t(boundary)] >= target)
      break;
    above += mass[size_t(boundary)];
  }
  std::vector<Candidate> edge;
  for (size_t i = 0; i < n; ++i)
    if (bucketOf(logits[i]) == boundary)
      edge.push_back({logits[i], int32_t(i)});
  std::sort(edge.begin(), edge.end());
  size_t edgeKeep = edge.size();
  double kept = above;
  for (size_t i = 0; i < edge.size(); ++i) {
    kept += w[size_t(edge[i].id)];
    if (kept >= target) {
      edgeKeep = i + 1;
      break;
    }
  }
  double u = double(nextRandom(rng) >> 11) * 0x1p-53 * kept;
  for (size_t i = 0; i < n; ++i)
    if (bucketOf(logits[i]) > boundary) {
      u -= w[i];
      if (u < 0.0)
        return int32_t(i);
    }
  for (size_t i = 0; i < edgeKeep; ++i) {
    u -= w[size_t(edge[i].id)];
    if (u < 0.0)
      return edge[i].id;
  }
  return edgeKeep > 0 ? edge[edgeKeep - 1].id : argmax(logits);
}

} // namespace

// Candidates rank by descending logit (equal logits: lower id first). Top-k
// keeps the k best, top-p the shortest prefix holding that share of the
// probability; the draw is exact for the kept set whatever order it walks.
// A vocabulary-sized sort per token was the serve loop's bottleneck (64
// sequences: about 0.8 s a step at 129K ids), so only top-k's k candidates,
// or the bucket where top-p's nucleus ends, are ever sorted.
int32_t sampleToken(std::span<const float> logits,
                    const GenerateOptions &options, uint64_t &rng) {
  if (options.temperature <= 0.0f || options.topK == 1 || logits.size() < 2)
    return argmax(logits);
  const size_t n = logits.size();
  if (options.topK > 0 && size_t(options.topK) < n) {
    std::vector<Candidate> c(n);
    for (size_t i = 0; i < n; ++i)
      c[i] = {logits[i], int32_t(i)};
    const auto k = c.begin() + options.topK;
    std::nth_element(c.begin(), k - 1, c.end());
    std::sort(c.begin(), k);
    return sampleSorted(std::span(c.data(), size_t(options.topK)), options,
                        rng);
  }
  if (options.topP < 1.0f)
    return sampleNucleus(logits, options, rng);
  // Plain temperature sampling: every id, in id order.
  float hi = logits[0];
  for (float l : logits)
    hi = std::max(hi, l);
  const float invT = 1.0f / options.temperature;
  std::vector<float> w(n);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i)
    sum += w[i] = std::exp((logits[i] - hi) * invT);
  return int32_t(draw(n, sum, rng, [&](size_t i) { return double(w[i]); }));
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
