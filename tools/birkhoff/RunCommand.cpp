//===- RunCommand.cpp - `birkhoff run`: feed tokens, dump logits, generate
//-===//
#include "ChatLoop.h"
#include "Commands.h"
#include "JsonOut.h"
#include "ModelLoad.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/JsonInput.h"
#include "birkhoff/Log.h"
#include "birkhoff/Npy.h"
#include "birkhoff/Runtime.h"

#include <nlohmann/json.hpp>

#include <cfloat>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace birkhoff::tools {
namespace {

/// The command line, as the declarations read it.
struct RunArgs {
  std::string path, device = "host", system, effort = "high";
  /// The prompt: one of them, or --chat.
  std::optional<std::string> tokens, prompt, batch;
  bool chat = false, thinking = false, noBos = false;
  std::vector<int64_t> chunks, stopIds;
  std::optional<std::string> dumpLogits, dumpTokens;
  std::optional<int64_t> generate, topK;
  std::optional<double> temperature, topP;
  int64_t seed = 0, maxContext = 0, threads = 0;
  bool noEosStop = false, noCudaGraphs = false, verify = false, json = false;
};

bool isNpyPath(const std::string &spec) {
  return spec.size() > 4 && spec.substr(spec.size() - 4) == ".npy";
}

Expected<std::vector<int32_t>> readTokens(const std::string &spec) {
  std::vector<int32_t> out;
  if (isNpyPath(spec)) {
    BK_ASSIGN_OR_RETURN(NpyArray arr, readNpy(spec));
    if (arr.descr != "<i4" && arr.descr != "<i8")
      return invalidArgument(spec + ": token ids must be int32 or int64, not " +
                             arr.descr);
    // Each id as an int32, never narrowed (the model then checks it
    // against its vocabulary).
    std::vector<int64_t> ids = arr.asInt64();
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] > cli::kMaxTokenId)
        return invalidArgument(spec + ": token id " + std::to_string(ids[i]) +
                               " at index " + std::to_string(i) +
                               " is outside [0, " +
                               std::to_string(cli::kMaxTokenId) + "]");
      out.push_back(int32_t(ids[i]));
    }
    return out;
  }
  Expected<std::vector<int64_t>> ids =
      cli::parseIntList(spec, 0, cli::kMaxTokenId);
  if (!ids)
    return ids.status().withContext("--tokens");
  for (int64_t v : *ids)
    out.push_back(int32_t(v));
  return out;
}

/// A stop reason's words for people and its key for JSON (snake_case,
/// stable for scripts).
struct StopNames {
  GenerateResult::Stop stop;
  const char *name, *key;
};
constexpr StopNames kStops[] = {
    {GenerateResult::Stop::MaxTokens, "max tokens", "max_tokens"},
    {GenerateResult::Stop::Eos, "end of sequence", "eos"},
    {GenerateResult::Stop::StopToken, "stop token", "stop_token"},
    {GenerateResult::Stop::Callback, "callback", "callback"},
    {GenerateResult::Stop::ContextFull, "context full", "context_full"},
};

const char *stopName(GenerateResult::Stop stop) {
  for (const StopNames &s : kStops)
    if (s.stop == stop)
      return s.name;
  return "unknown";
}

const char *stopKey(GenerateResult::Stop stop) {
  for (const StopNames &s : kStops)
    if (s.stop == stop)
      return s.key;
  return "unknown";
}

int fail(const Status &st) {
  std::fprintf(stderr, "birkhoff run: %s\n", st.toString().c_str());
  return 1;
}

/// "greedy", or the temperature, top-k, top-p and seed sampled with.
std::string samplingSummary(const GenerateOptions &g) {
  if (g.temperature <= 0.0f || g.topK == 1)
    return "greedy";
  char buf[128];
  std::snprintf(buf, sizeof(buf),
                "temperature %g, top-k %lld, top-p %g, seed %llu",
                double(g.temperature), (long long)g.topK, double(g.topP),
                (unsigned long long)g.seed);
  return buf;
}

/// The prompts of --batch: a JSON list of non-empty lists of token ids.
Expected<std::vector<std::vector<int32_t>>> readBatch(const std::string &path) {
  BK_ASSIGN_OR_RETURN(std::string text, readInputFile(path));
  Expected<nlohmann::json> parsed = parseJsonInput(text, path);
  if (!parsed)
    return invalidArgument(parsed.status().message());
  nlohmann::json j = parsed.take();
  if (!j.is_array() || j.empty())
    return invalidArgument(path + " must hold a non-empty JSON list of "
                                  "token-id lists");
  std::vector<std::vector<int32_t>> prompts;
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json &p = j[i];
    if (!p.is_array() || p.empty())
      return invalidArgument(path + ": prompt " + std::to_string(i) +
                             " is not a non-empty list of token ids");
    std::vector<int32_t> ids;
    for (const nlohmann::json &t : p) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
          t.get<int64_t>() > INT32_MAX)
        return invalidArgument(path + ": prompt " + std::to_string(i) +
                               " holds " + jsonSnippet(t) + ", not a token id");
      ids.push_back(int32_t(t.get<int64_t>()));
    }
    prompts.push_back(std::move(ids));
  }
  return prompts;
}

/// `run --batch`: every prompt in one engine, prefilled in one step, then
/// decoded together until each stops.
int runBatch(const RunArgs &args, std::shared_ptr<const Model> model,
             int64_t maxContext, const GenerateOptions &g) {
  auto prompts = readBatch(*args.batch);
  if (!prompts)
    return fail(prompts.status());
  const int n = int(prompts->size());
  EngineOptions eo;
  eo.maxSequences = n;
  eo.maxContext = maxContext;
  auto engine = Engine::create(model, eo);
  if (!engine)
    return fail(engine.status());
  const bool dumpLogits = args.dumpLogits.has_value();
  const int64_t vocab = model->info().vocabSize;
  for (auto [flag, dir] : {std::pair("--dump-logits", &args.dumpLogits),
                           std::pair("--dump-tokens", &args.dumpTokens)})
    if (*dir) {
      std::error_code ec;
      std::filesystem::create_directories(**dir, ec);
      if (ec)
        return fail(
            ioError(std::string(flag) + " " + **dir + ": " + ec.message()));
    }
  std::vector<SequenceId> ids;
  for (int i = 0; i < n; ++i) {
    auto id = (*engine)->addSequence();
    if (!id)
      return fail(id.status());
    ids.push_back(*id);
  }
  std::vector<std::vector<float>> logits(static_cast<size_t>(n));
  std::vector<std::vector<int32_t>> generated(static_cast<size_t>(n));
  std::vector<std::optional<GenerateResult::Stop>> stop(static_cast<size_t>(n));
  std::vector<uint64_t> rng(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    rng[size_t(i)] = g.seed + uint64_t(i);
  Batch batch;
  StepResult result;
  std::vector<int32_t> last(size_t(n), -1); // batch index of each last token
  for (int i = 0; i < n; ++i)
    for (size_t t = 0; t < (*prompts)[size_t(i)].size(); ++t) {
      const bool isLast = t + 1 == (*prompts)[size_t(i)].size();
      if (isLast)
        last[size_t(i)] = int32_t(batch.size());
      batch.add((*prompts)[size_t(i)][t], ids[size_t(i)], int64_t(t),
                dumpLogits || isLast);
    }
  auto t0 = std::chrono::steady_clock::now();
  auto seconds = [](auto since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         since)
        .count();
  };
  int64_t steps = 0, decoded = 0;
  double prefillSec = 0;
  for (;;) {
    Status st = (*engine)->step(batch, result);
    if (!st.isOk())
      return fail(st);
    if (!result.failed.empty())
      return fail(result.failed.front().second.withContext(
          "sequence of prompt " +
          std::to_string(
              std::find(ids.begin(), ids.end(), result.failed.front().first) -
              ids.begin())));
    if (steps++ == 0)
      prefillSec = seconds(t0);
    else
      decoded += int64_t(batch.size());
    // Keep the dumped rows, then sample each running prompt's next token.
    if (dumpLogits)
      for (size_t b = 0; b < batch.size(); ++b) {
        const size_t i =
            size_t(std::find(ids.begin(), ids.end(), batch.sequences[b]) -
                   ids.begin());
        std::span<const float> l = result.logitsOf(int32_t(b));
        logits[i].insert(logits[i].end(), l.begin(), l.end());
      }
    Batch next;
    std::vector<int32_t> nextLast(size_t(n), -1);
    for (int i = 0; i < n; ++i) {
      if (last[size_t(i)] < 0)
        continue;
      auto &out = generated[size_t(i)];
      if (int64_t(out.size()) >= g.maxNewTokens) {
        stop[size_t(i)] = GenerateResult::Stop::MaxTokens;
        continue;
      }
      const int32_t tok =
          sampleToken(result.logitsOf(last[size_t(i)]), g, rng[size_t(i)]);
      out.push_back(tok);
      const int64_t pos = *(*engine)->position(ids[size_t(i)]);
      stop[size_t(i)] = stopAfter(model->info(), g, tok, int64_t(out.size()),
                                  pos, (*engine)->capacity());
      if (stop[size_t(i)])
        continue;
      nextLast[size_t(i)] = int32_t(next.size());
      next.add(tok, ids[size_t(i)], pos, true);
    }
    if (next.size() == 0)
      break;
    batch = std::move(next);
    last = std::move(nextLast);
  }
  const double total = seconds(t0);
  int64_t promptTokens = 0;
  for (const auto &p : *prompts)
    promptTokens += int64_t(p.size());
  // --json: one object at the end, a result per prompt in prompt order.
  nlohmann::json results = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    if (args.json) {
      const auto &p = (*prompts)[size_t(i)];
      results.push_back(
          {{"prompt", i},
           {"prompt_tokens", p.size()},
           {"generated_tokens", generated[size_t(i)].size()},
           {"tokens", generated[size_t(i)]},
           {"stop", stop[size_t(i)] ? nlohmann::json(stopKey(*stop[size_t(i)]))
                                    : nlohmann::json(nullptr)}});
    } else {
      std::printf("%d:", i);
      for (int32_t t : generated[size_t(i)])
        std::printf(" %d", t);
      std::printf("\n");
      std::fflush(stdout);
      if (stop[size_t(i)])
        logf(LogLevel::Info, "prompt %d: %zu tokens, stop: %s\n", i,
             generated[size_t(i)].size(), stopName(*stop[size_t(i)]));
    }
    const std::string name = std::to_string(i) + ".npy";
    if (dumpLogits) {
      const int64_t rows = int64_t(logits[size_t(i)].size()) / vocab;
      Status st =
          writeNpyF32((std::filesystem::path(*args.dumpLogits) / name).string(),
                      {rows, vocab}, logits[size_t(i)].data());
      if (!st.isOk())
        return fail(st);
    }
    if (args.dumpTokens) {
      Status st = writeNpyI32(
          (std::filesystem::path(*args.dumpTokens) / name).string(),
          {int64_t(generated[size_t(i)].size())}, generated[size_t(i)].data());
      if (!st.isOk())
        return fail(st);
    }
  }
  if (args.json) {
    nlohmann::json out = {
        {"prompts", n},
        {"prompt_tokens", promptTokens},
        {"prefill_ms", 1e3 * prefillSec},
        {"decode_steps", steps - 1},
        {"decoded_tokens", decoded},
        {"decode_ms", 1e3 * (total - prefillSec)},
        {"decode_tokens_per_s",
         total > prefillSec ? double(decoded) / (total - prefillSec) : 0.0},
        {"results", std::move(results)}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  logf(LogLevel::Info,
       "batch: %d prompts, %lld prompt tokens in one step (%.3f s), "
       "%lld tokens decoded in %lld steps (%.3f s)\n",
       n, (long long)promptTokens, prefillSec, (long long)decoded,
       (long long)(steps - 1), total - prefillSec);
  return 0;
}

int runRun(const CLI::App &app, const RunArgs &args) {
  if (!args.tokens && !args.prompt && !args.batch && !args.chat)
    return cli::usageError(app,
                           "--tokens, --prompt, --batch or --chat is required");
  const int64_t generateN = args.generate.value_or(0);
  ModelOptions modelOptions;
  modelOptions.numThreads = int(args.threads);
  modelOptions.device = args.device;
  modelOptions.cudaGraphs = !args.noCudaGraphs;
  modelOptions.verifyWeights = args.verify;
  auto model = loadWithProgress(args.path, modelOptions, "run");
  if (!model)
    return fail(model.status());
  if (modelOptions.device != "host")
    logf(LogLevel::Info, "device: %s\n", (*model)->info().device.c_str());
  if (std::optional<std::string> w = (*model)->info().contextWarning(
          args.maxContext ? args.maxContext : (*model)->info().maxContext))
    logf(LogLevel::Warning, "birkhoff run: warning: %s\n", w->c_str());
  // The artifact's generation defaults, then the flags given.
  const std::optional<GenerationConfig> &stored =
      (*model)->info().generationConfig;
  GenerateOptions g;
  if (stored)
    g = applyGenerationConfig(*stored, g);
  g.maxNewTokens = generateN;
  if (args.temperature)
    g.temperature = float(*args.temperature);
  if (args.topK)
    g.topK = *args.topK;
  if (args.topP)
    g.topP = float(*args.topP);
  g.seed = uint64_t(args.seed);
  if (stored && (generateN > 0 || args.chat))
    logf(LogLevel::Info,
         "sampling: %s (the artifact's generation config where no "
         "flag is given)\n",
         samplingSummary(g).c_str());
  g.stopAtEos = !args.noEosStop;
  for (int64_t v : args.stopIds)
    g.stopTokens.push_back(int32_t(v));
  const bool json = args.json;
  if (args.chat) {
    SessionOptions so;
    so.maxContext = args.maxContext;
    auto session = Session::create(*model, so);
    if (!session)
      return fail(session.status());
    ChatLoopOptions co;
    co.system = args.system;
    co.thinking = args.thinking;
    co.effort = *chat::parseReasoningEffort(args.effort);
    co.generate = g;
    if (!args.generate)
      co.generate.maxNewTokens =
          stored && stored->maxNewTokens ? *stored->maxNewTokens : 512;
    Status st = runChatLoop(*model, **session, co);
    return st.isOk() ? 0 : fail(st);
  }
  if (args.batch)
    return runBatch(args, *model, args.maxContext, g);
  SessionOptions sessionOptions;
  sessionOptions.maxContext = args.maxContext;
  auto session = Session::create(*model, sessionOptions);
  if (!session)
    return fail(session.status());
  const bool text = args.prompt.has_value();
  Expected<std::vector<int32_t>> tokens = std::vector<int32_t>();
  std::unique_ptr<TextDecoder> textOut;
  if (text) {
    if (!(*model)->hasTokenizer())
      return fail(unsupported(
          "--prompt needs a tokenizer, and " + args.path +
          " has none (it takes and gives token ids only: use --tokens, or "
          "compile with a tokenizer.json)"));
    auto encoded = (*model)->encode(*args.prompt);
    if (!encoded)
      return fail(encoded.status());
    if (!args.noBos)
      tokens->push_back((*model)->info().bosTokenId);
    tokens->insert(tokens->end(), encoded->begin(), encoded->end());
    auto decoder = TextDecoder::create(**model);
    if (!decoder)
      return fail(decoder.status());
    textOut = decoder.take();
  } else {
    tokens = readTokens(*args.tokens);
    // --json holds the generated text wherever the artifact can decode it;
    // only --prompt streams text.
    if (json && (*model)->hasTokenizer()) {
      auto decoder = TextDecoder::create(**model);
      if (!decoder)
        return fail(decoder.status());
      textOut = decoder.take();
    }
  }
  if (!tokens)
    return fail(tokens.status());
  if (tokens->empty())
    return fail(invalidArgument(text ? "--prompt is empty (with --no-bos)"
                                     : "--tokens is empty"));

  std::vector<int64_t> split; // call sizes
  int64_t n = int64_t(tokens->size());
  if (!args.chunks.empty()) {
    // P,C with P >= 1 was checked with the options; the prompt's length is
    // known only now.
    const int64_t p = args.chunks[0], c = args.chunks[1];
    if (p + c > n) {
      const std::string message = "--chunks needs P,C with P >= 1 and P + C "
                                  "<= " +
                                  std::to_string(n) + " prompt tokens";
      return cli::usageError(app, message);
    }
    split.push_back(p);
    if (c > 0)
      split.push_back(c);
    for (int64_t i = p + c; i < n; ++i)
      split.push_back(1);
  } else {
    split.push_back(n);
  }

  int64_t vocab = (*model)->info().vocabSize;
  bool wantLogits = args.dumpLogits.has_value();
  std::vector<float> all, chunkLogits;
  auto t0 = std::chrono::steady_clock::now();
  int64_t done = 0;
  for (int64_t len : split) {
    Status st = (*session)->prefill(
        std::span<const int32_t>(tokens->data() + done, size_t(len)),
        wantLogits ? &chunkLogits : nullptr);
    if (!st.isOk())
      return fail(st);
    if (wantLogits)
      all.insert(all.end(), chunkLogits.begin(), chunkLogits.end());
    done += len;
  }
  double prefillSec =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  logf(LogLevel::Info,
       "prompt: %lld tokens in %zu call(s), %.3f s (%.1f tokens/s)\n",
       (long long)n, split.size(), prefillSec, double(n) / prefillSec);
  if (wantLogits) {
    Status st = writeNpyF32(*args.dumpLogits, {n, vocab}, all.data());
    if (!st.isOk())
      return fail(st);
  }

  nlohmann::json out = {{"prompt_tokens", n},
                        {"prompt_calls", split.size()},
                        {"prefill_ms", 1e3 * prefillSec},
                        {"prefill_tokens_per_s", double(n) / prefillSec},
                        {"generated_tokens", 0},
                        {"tokens", nlohmann::json::array()},
                        {"stop", nullptr}};
  if (textOut)
    out["text"] = "";
  if (generateN > 0) {
    auto t1 = std::chrono::steady_clock::now();
    Status streamError = Status::ok();
    std::string text; // --json's: the object holds it, nothing streams
    auto result = (*session)->generate({}, g, [&](int32_t tok) {
      if (json) {
        if (textOut) {
          Expected<std::string> piece = textOut->push(tok);
          if (!piece) {
            streamError = piece.status();
            return false;
          }
          text += *piece;
        }
        return true;
      }
      if (!textOut) {
        std::printf("%d ", tok);
      } else {
        Expected<std::string> piece = textOut->push(tok);
        if (!piece) {
          streamError = piece.status();
          return false;
        }
        std::fwrite(piece->data(), 1, piece->size(), stdout);
      }
      std::fflush(stdout);
      return true;
    });
    if (json) {
      if (textOut)
        text += textOut->finish();
    } else {
      if (textOut) {
        std::string rest = textOut->finish();
        std::fwrite(rest.data(), 1, rest.size(), stdout);
      }
      std::printf("\n");
      std::fflush(stdout);
    }
    if (!result)
      return fail(result.status());
    if (!streamError.isOk())
      return fail(streamError);
    logf(LogLevel::Info, "stop: %s\n", stopName(result->stop));
    double sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
            .count();
    logf(LogLevel::Info, "generated %zu tokens in %.3f s (%.2f ms/token)\n",
         result->tokens.size(), sec,
         1e3 * sec / double(std::max<size_t>(1, result->tokens.size())));
    const double count = double(result->tokens.size());
    out["generated_tokens"] = result->tokens.size();
    out["tokens"] = result->tokens;
    if (textOut)
      out["text"] = text;
    out["stop"] = stopKey(result->stop);
    out["decode_ms"] = 1e3 * sec;
    out["decode_ms_per_token"] = count > 0 ? 1e3 * sec / count : 0.0;
    out["decode_tokens_per_s"] = sec > 0 ? count / sec : 0.0;
    if (args.dumpTokens.has_value()) {
      Status st =
          writeNpyI32(*args.dumpTokens, {int64_t(result->tokens.size())},
                      result->tokens.data());
      if (!st.isOk())
        return fail(st);
    }
  }
  if (json)
    printJson(out);
  return 0;
}

cli::Runner declareRun(CLI::App &app) {
  auto args = std::make_shared<RunArgs>();
  cli::addPositional(app, "artifact", args->path, "the artifact to run");
  // The prompt: exactly one of these four.
  CLI::Option *tokens = cli::addText(
      app, "--tokens IDS", args->tokens,
      "the prompt: comma-separated ids, each in [0, 2147483647], or an .npy "
      "of int32/int64 (read once the artifact loads; a bad file is exit 1)",
      "none");
  cli::alsoCheck(tokens, [](const std::string &spec) -> std::string {
    if (isNpyPath(spec))
      return "";
    Expected<std::vector<int32_t>> ids = readTokens(spec);
    return ids ? "" : ids.status().message();
  });
  CLI::Option *prompt = cli::addText(
      app, "--prompt TEXT", args->prompt,
      "the prompt as text, encoded with the artifact's tokenizer after the "
      "config's BOS id; added tokens written in it become their ids",
      "none");
  CLI::Option *batch = cli::addText(
      app, "--batch FILE", args->batch,
      "several prompts, a JSON list of token-id lists, run as one batch on "
      "an engine",
      "none");
  CLI::Option *chat = cli::addFlag(
      app, "--chat", args->chat,
      "chat on the terminal in DeepSeek-V4's chat format: one message a "
      "line, the reply streamed");
  tokens->excludes(prompt)->excludes(batch)->excludes(chat);
  prompt->excludes(batch)->excludes(chat);
  batch->excludes(chat);
  cli::addFlag(app, "--no-bos", args->noBos,
               "with --prompt: no BOS id before the text")
      ->needs(prompt);
  cli::addFlag(app, "--thinking", args->thinking,
               "with --chat: thinking mode (the reasoning goes to stderr)");
  cli::addChoice(app, "--reasoning-effort", args->effort,
                 {"low", "high", "max"},
                 "with --chat --thinking: the thinking effort");
  cli::addText(app, "--system TEXT", args->system,
               "with --chat: a first system message");
  CLI::Option *chunks = cli::addIntList(
      app, "--chunks P,C", args->chunks, 0, kMaxContextTokens,
      "feed the first P tokens in one prefill call, the next C in another, "
      "the rest one token per call (P + C at most the prompt's tokens)",
      /*allowEmpty=*/false);
  cli::alsoCheck(chunks, [](const std::string &text) -> std::string {
    Expected<std::vector<int64_t>> pc =
        cli::parseIntList(text, 0, kMaxContextTokens);
    if (pc && pc->size() == 2 && (*pc)[0] >= 1)
      return "";
    return "--chunks expects P,C with P >= 1, got '" + text + "'";
  });
  chunks->excludes(batch);
  cli::addText(app, "--dump-logits FILE", args->dumpLogits,
               "write the prompt's logits, f32 [n, vocab], as .npy (--batch: "
               "a folder of <i>.npy, every token fed)",
               "none");
  cli::addInt(app, "--generate N", args->generate, 0, kMaxContextTokens,
              "generate up to N tokens after the prompt",
              "0 (--chat: the generation config's max_new_tokens, else 512)");
  cli::addText(app, "--dump-tokens FILE", args->dumpTokens,
               "write the generated ids, int32 [k], as .npy (--batch: a "
               "folder of <i>.npy)",
               "none");
  cli::addReal(app, "--temperature T", args->temperature, {0.0, FLT_MAX},
               "0: greedy (argmax, lowest id on ties); otherwise sample from "
               "softmax(logits / T)",
               "the artifact's, else 0");
  cli::addInt(app, "--top-k K", args->topK, 0, cli::kMaxTokenId,
              "keep the K most likely tokens (0: all; 1: greedy)",
              "the artifact's, else 0");
  cli::addReal(app, "--top-p P", args->topP, {0.0, 1.0, /*minOpen=*/true},
               "then keep the smallest prefix of them whose probability "
               "reaches P",
               "the artifact's, else 1");
  cli::addInt(app, "--seed S", args->seed, INT64_MIN, INT64_MAX,
              "sampler seed; the same seed gives the same tokens (--batch: "
              "prompt i samples with S + i)");
  cli::addIntList(app, "--stop-ids IDS", args->stopIds, 0, cli::kMaxTokenId,
                  "stop after emitting one of these ids");
  cli::addFlag(app, "--no-eos-stop", args->noEosStop,
               "do not stop at an end-of-sequence id");
  cli::addInt(app, "--max-context N", args->maxContext, 0, kMaxContextTokens,
              "the session's context capacity in tokens", "0 (the artifact's)");
  cli::addInt(app, "--threads N", args->threads, 0, cli::kMaxThreads,
              "host threads one call uses at most, of the process's worker "
              "pool (0: all cores)");
  cli::addDevice(app, args->device);
  cli::addFlag(app, "--no-cuda-graphs", args->noCudaGraphs,
               "--device cuda: launch decode steps one by one instead of "
               "replaying them as CUDA graphs");
  cli::addFlag(app, "--verify", args->verify,
               "check every stored weight's checksum at load (the CUDA device "
               "always does; a damaged weight is exit 1 naming it)");
  cli::addFlag(app, "--json", args->json,
               "with --tokens, --prompt or --batch: print one JSON object at "
               "the end instead of streaming (the tokens, text, stop reason "
               "and timings; with --batch a result per prompt)")
      ->excludes(chat);
  return [&app, args] { return runRun(app, *args); };
}

} // namespace

cli::Command runCommand() {
  return {
      "run", "run an artifact on token ids",
      "birkhoff run <artifact> --tokens <ids.npy | id,id,...> [options]\n"
      "birkhoff run <artifact> --prompt TEXT [--no-bos] [options]\n"
      "birkhoff run <artifact> --batch prompts.json [options]\n"
      "birkhoff run <artifact> --chat [--thinking] [--reasoning-effort "
      "low|high|max] [--system TEXT] [options]",
      "Loads the artifact, feeds the prompt, and optionally generates. With "
      "--tokens the generated ids go to stdout; with --prompt the generated "
      "text, as it comes. Timings and the stop reason go to stderr.\n\n"
      "Sampling: the artifact's generation config (stored by compile; "
      "`birkhoff inspect` shows it) gives the default of every sampling "
      "option not given: do_sample false is greedy, do_sample true samples "
      "with its temperature, top_p and top_k. Without one, greedy. Its "
      "eos_token_id list adds end-of-sequence ids.",
      declareRun};
}

} // namespace birkhoff::tools
