//===- RunCommand.cpp - `birkhoff run`: feed tokens, dump logits, generate
//-===//
#include "Args.h"
#include "ChatLoop.h"
#include "Commands.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/JsonInput.h"
#include "birkhoff/Npy.h"
#include "birkhoff/Runtime.h"

#include <nlohmann/json.hpp>

#include <cfloat>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace birkhoff::tools {
namespace {

const char *kUsage =
    "usage: birkhoff run <artifact> (--tokens <ids.npy | id,id,...> |\n"
    "                                --prompt TEXT [--no-bos] |\n"
    "                                --batch prompts.json |\n"
    "                                --chat [--thinking] [--system TEXT])\n"
    "         [--chunks P,C] [--dump-logits out.npy] [--generate N]\n"
    "         [--dump-tokens out.npy] [--temperature T] [--top-k K] [--top-p "
    "P]\n"
    "         [--seed S] [--stop-ids a,b,...] [--no-eos-stop] [--max-context "
    "N]\n"
    "         [--threads N] [--device host|cuda|cuda:N] [--no-cuda-graphs]\n"
    "         [--verify] [--json]\n"
    "Without --chunks the prompt is one prefill call; with --chunks P,C the "
    "first P\n"
    "tokens are one call, the next C another, and the rest one token per "
    "call.\n"
    "--device cuda runs an artifact compiled with --target cuda on the GPU\n"
    "(default host); decode steps replay as CUDA graphs unless "
    "--no-cuda-graphs.\n"
    "--verify checks every stored weight's checksum at load (the CUDA device\n"
    "always does; exit 1 naming a damaged weight).\n"
    "--prompt encodes TEXT with the artifact's tokenizer (after the BOS token\n"
    "unless --no-bos) and --generate then prints the new text as it comes;\n"
    "--tokens prints the new ids. The stop reason follows on stderr.\n"
    "--json (with --tokens or --prompt) prints one JSON object instead: the\n"
    "tokens fed and generated, the text (with a tokenizer), the stop reason\n"
    "and the timings.\n"
    "--batch runs several prompts (a JSON list of token-id lists) as one\n"
    "batch: one engine step prefills them all, then each --generate step\n"
    "decodes every unfinished prompt together. --dump-logits DIR and\n"
    "--dump-tokens DIR then write DIR/<i>.npy per prompt: the logits of every\n"
    "token fed (the prompt, then each generated token fed back) and the\n"
    "generated ids.\n"
    "--chat chats on the terminal in DeepSeek-V4's chat format: one message\n"
    "per line, the reply streamed (its reasoning on stderr with --thinking);\n"
    "--generate bounds each reply (default: the generation config's\n"
    "max_new_tokens, else 512).\n"
    "Sampling: the artifact's defaults (the checkpoint's "
    "generation_config.json,\n"
    "stored by compile; `birkhoff inspect` shows them) apply to every "
    "sampling\n"
    "flag not given: do_sample false is greedy, do_sample true samples with "
    "its\n"
    "temperature, top_p and top_k. Without stored defaults, greedy\n"
    "(--temperature 0, --top-k 0, --top-p 1). A stored eos_token_id list adds\n"
    "end-of-sequence ids (--no-eos-stop ignores them all).\n";

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
      if (ids[i] < 0 || ids[i] > kMaxTokenId)
        return invalidArgument(spec + ": token id " + std::to_string(ids[i]) +
                               " at index " + std::to_string(i) +
                               " is outside [0, " +
                               std::to_string(kMaxTokenId) + "]");
      out.push_back(int32_t(ids[i]));
    }
    return out;
  }
  Expected<std::vector<int64_t>> ids = parseIntList(spec, 0, kMaxTokenId);
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
int runBatch(const ParsedArgs &args, std::shared_ptr<const Model> model,
             int64_t maxContext, const GenerateOptions &g) {
  auto prompts = readBatch(args.get("batch"));
  if (!prompts)
    return fail(prompts.status());
  const int n = int(prompts->size());
  EngineOptions eo;
  eo.maxSequences = n;
  eo.maxContext = maxContext;
  auto engine = Engine::create(model, eo);
  if (!engine)
    return fail(engine.status());
  const bool dumpLogits = args.has("dump-logits");
  const int64_t vocab = model->info().vocabSize;
  for (const char *flag : {"dump-logits", "dump-tokens"})
    if (args.has(flag)) {
      std::error_code ec;
      std::filesystem::create_directories(args.get(flag), ec);
      if (ec)
        return fail(ioError("--" + std::string(flag) + " " + args.get(flag) +
                            ": " + ec.message()));
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
  for (int i = 0; i < n; ++i) {
    std::printf("%d:", i);
    for (int32_t t : generated[size_t(i)])
      std::printf(" %d", t);
    std::printf("\n");
    std::fflush(stdout);
    if (stop[size_t(i)])
      std::fprintf(stderr, "prompt %d: %zu tokens, stop: %s\n", i,
                   generated[size_t(i)].size(), stopName(*stop[size_t(i)]));
    const std::string name = std::to_string(i) + ".npy";
    if (dumpLogits) {
      const int64_t rows = int64_t(logits[size_t(i)].size()) / vocab;
      Status st = writeNpyF32(
          (std::filesystem::path(args.get("dump-logits")) / name).string(),
          {rows, vocab}, logits[size_t(i)].data());
      if (!st.isOk())
        return fail(st);
    }
    if (args.has("dump-tokens")) {
      Status st = writeNpyI32(
          (std::filesystem::path(args.get("dump-tokens")) / name).string(),
          {int64_t(generated[size_t(i)].size())}, generated[size_t(i)].data());
      if (!st.isOk())
        return fail(st);
    }
  }
  std::fprintf(stderr,
               "batch: %d prompts, %lld prompt tokens in one step (%.3f s), "
               "%lld tokens decoded in %lld steps (%.3f s)\n",
               n, (long long)promptTokens, prefillSec, (long long)decoded,
               (long long)(steps - 1), total - prefillSec);
  return 0;
}

} // namespace

int runRunCommand(int argc, char **argv) {
  auto args = parseArgs(
      argc, argv,
      {"tokens", "prompt", "batch", "system", "reasoning-effort", "chunks",
       "dump-logits", "generate", "dump-tokens", "temperature", "top-k",
       "top-p", "seed", "stop-ids", "max-context", "threads", "device"},
      {"help", "no-eos-stop", "no-cuda-graphs", "no-bos", "chat", "thinking",
       "json", "verify"});
  if (!args) {
    std::fprintf(stderr, "birkhoff run: %s\n%s",
                 args.status().message().c_str(), kUsage);
    return 2;
  }
  if (args->has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const int inputs = int(args->has("tokens")) + int(args->has("prompt")) +
                     int(args->has("batch")) + int(args->has("chat"));
  if (args->positional.size() != 1 || inputs != 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // Every number is range-checked here, a usage error (exit 2) naming the
  // option and the value, so none reaches the runtime narrowed or wrapped.
  auto threads = args->getInt("threads", 0, 0, kMaxThreads);
  auto maxContext = args->getInt("max-context", 0, 0, kMaxContextTokens);
  auto generateN = args->getInt("generate", 0, 0, kMaxContextTokens);
  auto temperature = args->getDouble("temperature", 0.0, 0.0, FLT_MAX);
  auto topK = args->getInt("top-k", 0, 0, kMaxTokenId);
  auto topP = args->getDouble("top-p", 1.0, 0.0, 1.0);
  auto seed = args->getInt("seed", 0, INT64_MIN, INT64_MAX);
  auto stopIds = args->getIntList("stop-ids", 0, kMaxTokenId);
  // A --tokens list is a flag's value too; an .npy file is read (exit 1 when
  // bad) after the model loads.
  Expected<std::vector<int32_t>> listedTokens = std::vector<int32_t>();
  if (args->has("tokens") && !isNpyPath(args->get("tokens")))
    listedTokens = readTokens(args->get("tokens"));
  if (topP && *topP <= 0.0)
    topP = invalidArgument("--top-p expects a number in (0, 1], got '" +
                           args->get("top-p") + "'");
  for (const Status *st :
       {&threads.status(), &maxContext.status(), &generateN.status(),
        &temperature.status(), &topK.status(), &topP.status(), &seed.status(),
        &stopIds.status(), &listedTokens.status()})
    if (!st->isOk()) {
      std::fprintf(stderr, "birkhoff run: %s\n", st->message().c_str());
      return 2;
    }
  ModelOptions modelOptions;
  modelOptions.numThreads = int(*threads);
  modelOptions.device = args->get("device", "host");
  modelOptions.cudaGraphs = !args->has("no-cuda-graphs");
  modelOptions.verifyWeights = args->has("verify");
  auto model = Model::load(args->positional[0], modelOptions);
  if (!model)
    return fail(model.status());
  if (modelOptions.device != "host")
    std::fprintf(stderr, "device: %s\n", (*model)->info().device.c_str());
  // The artifact's generation defaults, then the flags given.
  const std::optional<GenerationConfig> &stored =
      (*model)->info().generationConfig;
  GenerateOptions g;
  if (stored)
    g = applyGenerationConfig(*stored, g);
  g.maxNewTokens = *generateN;
  if (args->has("temperature"))
    g.temperature = float(*temperature);
  if (args->has("top-k"))
    g.topK = *topK;
  if (args->has("top-p"))
    g.topP = float(*topP);
  g.seed = uint64_t(*seed);
  if (stored && (*generateN > 0 || args->has("chat")))
    std::fprintf(stderr,
                 "sampling: %s (the artifact's generation config where no "
                 "flag is given)\n",
                 samplingSummary(g).c_str());
  g.stopAtEos = !args->has("no-eos-stop");
  for (int64_t v : *stopIds)
    g.stopTokens.push_back(int32_t(v));
  // --json is one object for one prompt; a chat or a batch is not one.
  const bool json = args->has("json");
  if (json && (args->has("chat") || args->has("batch")))
    return fail(invalidArgument("--json takes --tokens or --prompt, not "
                                "--chat or --batch"));
  if (args->has("chat")) {
    SessionOptions so;
    so.maxContext = *maxContext;
    auto session = Session::create(*model, so);
    if (!session)
      return fail(session.status());
    ChatLoopOptions co;
    co.system = args->get("system", "");
    co.thinking = args->has("thinking");
    if (args->has("reasoning-effort")) {
      auto effort = chat::parseReasoningEffort(args->get("reasoning-effort"));
      if (!effort)
        return fail(effort.status());
      co.effort = *effort;
    }
    co.generate = g;
    if (!args->has("generate"))
      co.generate.maxNewTokens =
          stored && stored->maxNewTokens ? *stored->maxNewTokens : 512;
    Status st = runChatLoop(*model, **session, co);
    return st.isOk() ? 0 : fail(st);
  }
  if (args->has("batch")) {
    if (args->has("chunks") || args->has("no-bos"))
      return fail(
          invalidArgument("--batch takes neither --chunks nor --no-bos"));
    return runBatch(*args, *model, *maxContext, g);
  }
  SessionOptions sessionOptions;
  sessionOptions.maxContext = *maxContext;
  auto session = Session::create(*model, sessionOptions);
  if (!session)
    return fail(session.status());
  const bool text = args->has("prompt");
  if (args->has("no-bos") && !text)
    return fail(invalidArgument("--no-bos needs --prompt"));
  Expected<std::vector<int32_t>> tokens = std::vector<int32_t>();
  std::unique_ptr<TextDecoder> textOut;
  if (text) {
    if (!(*model)->hasTokenizer())
      return fail(unsupported(
          "--prompt needs a tokenizer, and " + args->positional[0] +
          " has none (it takes and gives token ids only: use --tokens, or "
          "compile with a tokenizer.json)"));
    auto encoded = (*model)->encode(args->get("prompt"));
    if (!encoded)
      return fail(encoded.status());
    if (!args->has("no-bos"))
      tokens->push_back((*model)->info().bosTokenId);
    tokens->insert(tokens->end(), encoded->begin(), encoded->end());
    auto decoder = TextDecoder::create(**model);
    if (!decoder)
      return fail(decoder.status());
    textOut = decoder.take();
  } else {
    tokens = isNpyPath(args->get("tokens")) ? readTokens(args->get("tokens"))
                                            : listedTokens;
  }
  if (!tokens)
    return fail(tokens.status());
  if (tokens->empty())
    return fail(invalidArgument(text ? "--prompt is empty (with --no-bos)"
                                     : "--tokens is empty"));

  std::vector<int64_t> split; // call sizes
  int64_t n = int64_t(tokens->size());
  if (args->has("chunks")) {
    auto pc = parseIntList(args->get("chunks"), 0, kMaxContextTokens);
    if (!pc || pc->size() != 2 || (*pc)[0] < 1 || (*pc)[1] < 0 ||
        (*pc)[0] + (*pc)[1] > n) {
      std::fprintf(stderr,
                   "birkhoff run: --chunks needs P,C with P >= 1 and "
                   "P + C <= %lld prompt tokens\n",
                   (long long)n);
      return 2;
    }
    split.push_back((*pc)[0]);
    if ((*pc)[1] > 0)
      split.push_back((*pc)[1]);
    for (int64_t i = (*pc)[0] + (*pc)[1]; i < n; ++i)
      split.push_back(1);
  } else {
    split.push_back(n);
  }

  int64_t vocab = (*model)->info().vocabSize;
  bool wantLogits = args->has("dump-logits");
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
  std::fprintf(stderr,
               "prompt: %lld tokens in %zu call(s), %.3f s (%.1f tokens/s)\n",
               (long long)n, split.size(), prefillSec, double(n) / prefillSec);
  if (wantLogits) {
    Status st = writeNpyF32(args->get("dump-logits"), {n, vocab}, all.data());
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
  if (*generateN > 0) {
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
    std::fprintf(stderr, "stop: %s\n", stopName(result->stop));
    double sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
            .count();
    std::fprintf(stderr, "generated %zu tokens in %.3f s (%.2f ms/token)\n",
                 result->tokens.size(), sec,
                 1e3 * sec /
                     double(std::max<size_t>(1, result->tokens.size())));
    const double count = double(result->tokens.size());
    out["generated_tokens"] = result->tokens.size();
    out["tokens"] = result->tokens;
    if (textOut)
      out["text"] = text;
    out["stop"] = stopKey(result->stop);
    out["decode_ms"] = 1e3 * sec;
    out["decode_ms_per_token"] = count > 0 ? 1e3 * sec / count : 0.0;
    out["decode_tokens_per_s"] = sec > 0 ? count / sec : 0.0;
    if (args->has("dump-tokens")) {
      Status st =
          writeNpyI32(args->get("dump-tokens"),
                      {int64_t(result->tokens.size())}, result->tokens.data());
      if (!st.isOk())
        return fail(st);
    }
  }
  // Invalid UTF-8 in the text (a cut multi-byte sequence) dumps as U+FFFD
  // rather than throwing.
  if (json)
    std::printf("%s\n", out.dump(2, ' ', false,
                                 nlohmann::json::error_handler_t::replace)
                            .c_str());
  return 0;
}

} // namespace birkhoff::tools
