//===- Perplexity.cpp - Scoring token windows on an engine ----------------===//
//
// scoreWindows plans the steps first: the windows, in order, cut into steps
// of at most stepTokens tokens, each step finishing the window the one before
// left and starting the next ones while tokens remain. The plan says how
// many windows a step holds, so the engine gets that many slots and no more.
// A window's tokens reach its sum in their order whatever the packing, so its
// score is the same number however it was batched.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/CheckedMath.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/WorkerPool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace birkhoff {
namespace {

/// -log softmax(row)[target] in double: the maximum is subtracted before the
/// exponentials, so none overflows and the largest term is exactly 1.
double tokenNll(const float *row, size_t vocab, int32_t target) {
  float most = row[0];
  for (size_t v = 1; v < vocab; ++v)
    most = std::max(most, row[v]);
  const double m = most;
  double sum = 0;
  for (size_t v = 0; v < vocab; ++v)
    sum += std::exp(double(row[v]) - m);
  return m + std::log(sum) - double(row[target]);
}

/// The first window scoreWindows refuses, as its error; OK when none.
Status checkWindows(std::span<const std::vector<int32_t>> windows,
                    int64_t vocab, int64_t context) {
  if (windows.empty())
    return invalidArgument("no windows to score");
  for (size_t i = 0; i < windows.size(); ++i) {
    const std::vector<int32_t> &w = windows[i];
    const std::string name = "window " + std::to_string(i);
    if (w.size() < 2)
      return invalidArgument(name + " has " + std::to_string(w.size()) +
                             " token(s); a window needs at least 2 (its "
                             "first is context only)");
    if (int64_t(w.size()) > context)
      return outOfRange(name + " has " + std::to_string(w.size()) +
                        " tokens, more than the context of " +
                        std::to_string(context) + " tokens");
    for (size_t t = 0; t < w.size(); ++t)
      if (w[t] < 0 || w[t] >= vocab)
        return invalidArgument(name + ": token " + std::to_string(t) +
                               " has id " + std::to_string(w[t]) +
                               ", outside the vocabulary [0, " +
                               std::to_string(vocab) + ")");
  }
  return Status::ok();
}

/// A window's tokens [begin, end) in one step.
struct Piece {
  size_t window;
  int64_t begin, end;
};

/// The windows, in order, cut into steps of at most `stepTokens` tokens.
std::vector<std::vector<Piece>>
planSteps(std::span<const std::vector<int32_t>> windows, int64_t stepTokens) {
  std::vector<std::vector<Piece>> steps(1);
  int64_t room = stepTokens;
  for (size_t i = 0; i < windows.size(); ++i) {
    const int64_t n = int64_t(windows[i].size());
    for (int64_t at = 0; at < n;) {
      if (room == 0) {
        steps.emplace_back();
        room = stepTokens;
      }
      const int64_t end = std::min(n, at + room);
      steps.back().push_back({i, at, end});
      room -= end - at;
      at = end;
    }
  }
  return steps;
}

} // namespace

double ScoreResult::meanNll() const {
  return tokens > 0 ? nll / double(tokens) : 0.0;
}

double ScoreResult::perplexity() const { return std::exp(meanNll()); }

Expected<ScoreResult>
scoreWindows(std::shared_ptr<const Model> model,
             std::span<const std::vector<int32_t>> windows,
             const ScoreOptions &options) {
  if (!model)
    return invalidArgument("scoreWindows: no model");
  if (options.maxContext < 0 || options.maxContext > kMaxContextTokens ||
      options.stepTokens < 0)
    return invalidArgument("scoreWindows: maxContext must be in [0, 2^30] "
                           "and stepTokens not negative");
  const ModelInfo &info = model->info();
  const int64_t context =
      options.maxContext > 0 ? options.maxContext : info.maxContext;
  BK_RETURN_IF_ERROR(checkWindows(windows, info.vocabSize, context));
  const int64_t stepTokens = std::max<int64_t>(
      1, options.stepTokens > 0 ? options.stepTokens : info.maxPrefillTokens);

  ScoreResult result;
  result.windows.resize(windows.size());
  size_t longest = 0;
  for (const std::vector<int32_t> &w : windows) {
    longest = std::max(longest, w.size());
    result.fed += int64_t(w.size());
  }
  const std::vector<std::vector<Piece>> plan = planSteps(windows, stepTokens);
  // A slot for each window of the fullest step (a window's slot frees once
  // the step it ends in has run); a slot's state grows to the longest window
  // only, not the whole context.
  size_t slots = 1;
  for (const std::vector<Piece> &step : plan)
    slots = std::max(slots, step.size());
  if (slots > size_t(1) << 20)
    return invalidArgument("scoreWindows: steps of " +
                           std::to_string(stepTokens) + " tokens hold " +
                           std::to_string(slots) +
                           " windows, more than an engine's 2^20 sequences");
  EngineOptions eo;
  eo.maxSequences = int(slots);
  eo.maxContext = int64_t(longest);
  BK_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                      Engine::create(model, eo));
  const Workers workers(*model->options().workers, model->options().numThreads);

  std::vector<SequenceId> sequenceOf(windows.size(), 0);
  int64_t fed = 0;
  // Per wanted batch index, in batch order: its window and the token its
  // logits score.
  std::vector<std::pair<size_t, int32_t>> targets;
  std::vector<double> nll;
  Batch batch;
  StepResult step;
  for (const std::vector<Piece> &pieces : plan) {
    batch.clear();
    targets.clear();
    for (const Piece &p : pieces) {
      const std::vector<int32_t> &w = windows[p.window];
      if (p.begin == 0) {
        Expected<SequenceId> id = engine->addSequence();
        if (!id)
          return id.status().withContext("window " + std::to_string(p.window));
        sequenceOf[p.window] = *id;
      }
      for (int64_t t = p.begin; t < p.end; ++t) {
        // The last token's logits would score a token past the window.
        const bool scores = t + 1 < int64_t(w.size());
        batch.add(w[size_t(t)], sequenceOf[p.window], t, scores);
        if (scores)
          targets.push_back({p.window, w[size_t(t) + 1]});
      }
    }
    BK_RETURN_IF_ERROR(engine->step(batch, step));
    if (!step.failed.empty()) {
      const auto &[sequence, why] = step.failed.front();
      for (const Piece &p : pieces)
        if (sequenceOf[p.window] == sequence)
          return why.withContext("window " + std::to_string(p.window));
      return why;
    }
    if (step.rows.size() != targets.size())
      return internalError(
          "scoreWindows: a step returned " + std::to_string(step.rows.size()) +
          " logits rows for " + std::to_string(targets.size()) + " wanted");
    // The rows in parallel, then the sums in batch order: each window's
    // tokens in their order, however the windows were packed.
    const size_t vocab = size_t(step.vocab);
    nll.resize(targets.size());
    workers.parallelFor(int64_t(targets.size()), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        nll[size_t(r)] = tokenNll(step.logits.data() + size_t(r) * vocab, vocab,
                                  targets[size_t(r)].second);
    });
    for (size_t r = 0; r < targets.size(); ++r) {
      WindowScore &s = result.windows[targets[r].first];
      s.nll += nll[r];
      ++s.tokens;
    }
    fed += int64_t(batch.size());
    for (const Piece &p : pieces)
      if (p.end == int64_t(windows[p.window].size()))
        BK_RETURN_IF_ERROR(engine->removeSequence(sequenceOf[p.window]));
    if (options.progress)
      options.progress(fed, result.fed);
  }
  for (const WindowScore &s : result.windows) {
    result.nll += s.nll;
    result.tokens += s.tokens;
  }
  return result;
}

} // namespace birkhoff
