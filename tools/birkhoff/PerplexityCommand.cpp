//===- PerplexityCommand.cpp - `birkhoff perplexity`: score a text --------===//
//
// llama.cpp's llama-perplexity for an artifact: the text (or the ids of an
// .npy) is cut into windows, each runs from a fresh sequence, and every
// token of a window but its first is scored (scoreWindows, Runtime.h).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "JsonOut.h"
#include "ModelLoad.h"
#include "TextOut.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/Log.h"
#include "birkhoff/Npy.h"
#include "birkhoff/Progress.h"
#include "birkhoff/Runtime.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

namespace birkhoff::tools {
namespace {

/// --window's default, cut to the context where that is smaller.
constexpr int64_t kDefaultWindow = 512;

/// The command line, as the declarations read it.
struct PerplexityArgs {
  std::string path, device = "host";
  /// The input: one of them.
  std::optional<std::string> file, text, tokens;
  std::optional<int64_t> window, windows;
  int64_t maxContext = 0, threads = 0;
  bool noBos = false, json = false, verify = false;
};

int fail(const Status &st) {
  std::fprintf(stderr, "birkhoff perplexity: %s\n", st.toString().c_str());
  return 1;
}

/// The ids of --tokens: a 1-D array (a text's tokens, cut like text) or a
/// 2-D one (its rows are the windows).
struct TokenArray {
  std::vector<int64_t> shape;
  std::vector<int32_t> ids; // row-major
};

Expected<TokenArray> readTokenArray(const std::string &path) {
  BK_ASSIGN_OR_RETURN(NpyArray arr, readNpy(path));
  if (arr.descr != "<i4" && arr.descr != "<i8")
    return invalidArgument(path + ": token ids must be int32 or int64, not " +
                           arr.descr);
  if (arr.shape.size() != 1 && arr.shape.size() != 2)
    return invalidArgument(
        path +
        ": token ids must be a 1-D array (a text's tokens) or a 2-D "
        "one ([windows, tokens]), not " +
        std::to_string(arr.shape.size()) + "-D");
  TokenArray out;
  out.shape = arr.shape;
  // Each id as an int32, never narrowed; the model then checks it against
  // its vocabulary.
  const std::vector<int64_t> ids = arr.asInt64();
  out.ids.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] > cli::kMaxTokenId)
      return invalidArgument(path + ": token id " + std::to_string(ids[i]) +
                             " at index " + std::to_string(i) +
                             " is outside [0, " +
                             std::to_string(cli::kMaxTokenId) + "]");
    out.ids.push_back(int32_t(ids[i]));
  }
  return out;
}

/// `tokens` cut into consecutive windows of `size` tokens, at most `limit`
/// of them (0: all); a last shorter window counts if it has 2 tokens.
std::vector<std::vector<int32_t>> cut(const std::vector<int32_t> &tokens,
                                      int64_t size, int64_t limit) {
  std::vector<std::vector<int32_t>> windows;
  for (size_t at = 0; at + 2 <= tokens.size(); at += size_t(size)) {
    if (limit > 0 && int64_t(windows.size()) == limit)
      break;
    const size_t end = std::min(tokens.size(), at + size_t(size));
    windows.emplace_back(tokens.begin() + std::ptrdiff_t(at),
                         tokens.begin() + std::ptrdiff_t(end));
  }
  return windows;
}

int runPerplexity(const CLI::App &app, const PerplexityArgs &args) {
  if (!args.file && !args.text && !args.tokens)
    return cli::usageError(app, "--file, --text or --tokens is required");
  // The inputs first: a bad file fails before a model loads.
  std::optional<std::string> text = args.text;
  if (args.file) {
    Expected<std::string> read = readInputFile(*args.file);
    if (!read)
      return fail(read.status());
    text = read.take();
  }
  std::optional<TokenArray> array;
  if (args.tokens) {
    Expected<TokenArray> read = readTokenArray(*args.tokens);
    if (!read)
      return fail(read.status());
    array = read.take();
    if (array->shape.size() == 2 && args.window)
      return cli::usageError(app, "--window does not apply to a 2-D --tokens "
                                  "array: its rows are the windows");
  }

  ModelOptions mo;
  mo.numThreads = int(args.threads);
  mo.device = args.device;
  mo.verifyWeights = args.verify;
  auto t0 = std::chrono::steady_clock::now();
  auto model = loadWithProgress(args.path, mo, "perplexity");
  if (!model)
    return fail(model.status());
  const double loadSec =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  const ModelInfo &info = (*model)->info();
  if (mo.device != "host")
    logf(LogLevel::Info, "device: %s\n", info.device.c_str());
  const int64_t context = args.maxContext ? args.maxContext : info.maxContext;

  // The windows: a 2-D array's rows, or a token stream cut into --window
  // tokens each.
  const int64_t limit = args.windows.value_or(0);
  std::vector<std::vector<int32_t>> windows;
  int64_t size = 0;
  if (array && array->shape.size() == 2) {
    const int64_t rows = array->shape[0], cols = array->shape[1];
    size = cols;
    for (int64_t r = 0; r < rows && (limit == 0 || r < limit); ++r)
      windows.emplace_back(array->ids.begin() + std::ptrdiff_t(r * cols),
                           array->ids.begin() + std::ptrdiff_t((r + 1) * cols));
    if (windows.empty())
      return fail(invalidArgument(*args.tokens + " holds no windows (0 rows)"));
  } else {
    size = args.window.value_or(std::min(kDefaultWindow, context));
    if (size > context || size < 2)
      return cli::usageError(
          app, (args.window ? "--window " + std::to_string(*args.window)
                            : std::string("a window of 2 tokens")) +
                   " is more than the context, " + std::to_string(context) +
                   " tokens (" +
                   (args.maxContext ? "--max-context" : "the artifact's") +
                   ")");
    std::vector<int32_t> stream;
    if (array) {
      stream = std::move(array->ids);
    } else {
      if (!(*model)->hasTokenizer())
        return fail(unsupported(
            std::string(args.file ? "--file" : "--text") +
            " needs a tokenizer, and " + args.path +
            " has none (it takes and gives token ids only: use --tokens, or "
            "compile with a tokenizer.json)"));
      Expected<std::vector<int32_t>> encoded = (*model)->encode(*text);
      if (!encoded)
        return fail(encoded.status());
      if (!args.noBos)
        stream.push_back(info.bosTokenId);
      stream.insert(stream.end(), encoded->begin(), encoded->end());
    }
    windows = cut(stream, size, limit);
    if (windows.empty())
      return fail(invalidArgument(
          std::string(array        ? *args.tokens + " holds "
                      : args.noBos ? "the text is "
                                   : "the text and its BOS are ") +
          std::to_string(stream.size()) +
          " token(s); a perplexity needs at least 2"));
  }

  // The positions a window reaches, not the context it could fill, are what
  // the trained context bounds.
  int64_t total = 0, longest = 0;
  for (const auto &w : windows) {
    total += int64_t(w.size());
    longest = std::max(longest, int64_t(w.size()));
  }
  if (std::optional<std::string> w = info.contextWarning(longest))
    logf(LogLevel::Warning, "birkhoff perplexity: warning: %s\n", w->c_str());

  ScoreOptions so;
  so.maxContext = args.maxContext;
  Progress scoring("perplexity: scoring", uint64_t(total),
                   Progress::Unit::Items);
  int64_t shown = 0;
  so.progress = [&](int64_t fed, int64_t) {
    scoring.add(uint64_t(fed - shown));
    shown = fed;
  };
  auto t1 = std::chrono::steady_clock::now();
  Expected<ScoreResult> score = scoreWindows(*model, windows, so);
  scoring.finish();
  if (!score)
    return fail(score.status());
  const double sec =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
          .count();
  const double tokensPerSec = sec > 0 ? double(score->fed) / sec : 0.0;

  const TextOut say{!args.json};
  say("windows     %zu of %lld tokens", windows.size(), (long long)size);
  if (windows.back().size() != size_t(size))
    say(" (the last %zu)", windows.back().size());
  say("\ntokens      %lld fed, %lld scored\n", (long long)score->fed,
      (long long)score->tokens);
  say("mean NLL    %.6f nats per token\n", score->meanNll());
  say("perplexity  %.4f\n", score->perplexity());
  logf(LogLevel::Info, "time: %lld tokens in %.3f s (%.1f tokens/s)\n",
       (long long)score->fed, sec, tokensPerSec);
  if (args.json) {
    nlohmann::json sums = nlohmann::json::array(),
                   scored = nlohmann::json::array();
    for (const WindowScore &w : score->windows) {
      sums.push_back(w.nll);
      scored.push_back(w.tokens);
    }
    nlohmann::json out = {{"device", info.device},
                          {"numerics", info.numerics},
                          {"load_s", loadSec},
                          {"windows", windows.size()},
                          {"window_tokens", size},
                          {"tokens_fed", score->fed},
                          {"tokens_scored", score->tokens},
                          {"nll_sum_nats", score->nll},
                          {"mean_nll_nats", score->meanNll()},
                          {"perplexity", score->perplexity()},
                          {"score_s", sec},
                          {"tokens_per_s", tokensPerSec},
                          {"window_nll_sums_nats", std::move(sums)},
                          {"window_tokens_scored", std::move(scored)}};
    printJson(out);
  }
  return 0;
}

cli::Runner declarePerplexity(CLI::App &app) {
  auto args = std::make_shared<PerplexityArgs>();
  cli::addPositional(app, "artifact", args->path, "the artifact to score with");
  // The input: exactly one of these three.
  CLI::Option *file = cli::addText(
      app, "--file F", args->file,
      "the text of the file F, encoded with the artifact's tokenizer after "
      "the config's BOS id",
      "none");
  CLI::Option *text = cli::addText(app, "--text T", args->text,
                                   "the text T, as --file's", "none");
  CLI::Option *tokens = cli::addText(
      app, "--tokens IDS.npy", args->tokens,
      "token ids, an .npy of int32/int64: 1-D, cut like text; 2-D [K, N], K "
      "windows of N tokens as given",
      "none");
  file->excludes(text)->excludes(tokens);
  text->excludes(tokens);
  cli::addInt(app, "--window N", args->window, 2, kMaxContextTokens,
              "tokens per window (the last may be shorter, if at least 2); "
              "at most the context",
              "512, or the context where smaller");
  cli::addInt(app, "--windows K", args->windows, 1, INT32_MAX,
              "score only the first K windows", "all");
  cli::addFlag(app, "--no-bos", args->noBos,
               "with --file or --text: no BOS id before the text")
      ->excludes(tokens);
  cli::addInt(app, "--max-context N", args->maxContext, 0, kMaxContextTokens,
              "the context a window may fill, in tokens", "0 (the artifact's)");
  cli::addInt(app, "--threads N", args->threads, 0, cli::kMaxThreads,
              "host threads one call uses at most, of the process's worker "
              "pool (0: all cores)");
  cli::addDevice(app, args->device);
  cli::addFlag(app, "--verify", args->verify,
               "check every stored weight's checksum at load (the CUDA device "
               "always does; a damaged weight is exit 1 naming it)");
  cli::addFlag(app, "--json", args->json,
               "print one JSON object instead: the figures, the timings and "
               "each window's NLL sum");
  return [&app, args] { return runPerplexity(app, *args); };
}

} // namespace

cli::Command perplexityCommand() {
  return {
      "perplexity", "score a text's perplexity under an artifact",
      "birkhoff perplexity <artifact> (--file F | --text T | --tokens "
      "IDS.npy)\n"
      "                    [--window N] [--windows K] [--no-bos] "
      "[--max-context N] [--threads T]\n"
      "                    [--device host|cuda|cuda:N] [--verify] [--json]",
      "Cuts the text (encoded with the artifact's tokenizer after the BOS "
      "id) or the ids into windows of --window tokens, runs each from a "
      "fresh sequence, several to an engine step, and scores every token of "
      "a window but its first by the logits of the one before it. Prints "
      "the windows, the tokens scored, their mean negative log-likelihood "
      "in nats and its exponential, the perplexity; the time goes to "
      "stderr.",
      declarePerplexity};
}

} // namespace birkhoff::tools
