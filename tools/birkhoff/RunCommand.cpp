//===- RunCommand.cpp - `birkhoff run`: feed tokens, dump logits, generate -===//
#include "Args.h"
#include "Commands.h"
#include "birkhoff/Npy.h"
#include "birkhoff/Runtime.h"

#include <chrono>
#include <cstdio>

namespace birkhoff::tools {
namespace {

const char *kUsage =
    "usage: birkhoff run <artifact> (--tokens <ids.npy | id,id,...> |\n"
    "                                --prompt TEXT [--no-bos])\n"
    "         [--chunks P,C] [--dump-logits out.npy] [--generate N]\n"
    "         [--dump-tokens out.npy] [--temperature T] [--top-k K] [--top-p "
    "P]\n"
    "         [--seed S] [--stop-ids a,b,...] [--no-eos-stop] [--max-context "
    "N]\n"
    "         [--threads N] [--device host|cuda|cuda:N] [--no-cuda-graphs]\n"
    "Without --chunks the prompt is one prefill call; with --chunks P,C the "
    "first P\n"
    "tokens are one call, the next C another, and the rest one token per "
    "call.\n"
    "--device cuda runs an artifact compiled with --target cuda on the GPU\n"
    "(default host); decode steps replay as CUDA graphs unless "
    "--no-cuda-graphs.\n"
    "--prompt encodes TEXT with the artifact's tokenizer (after the BOS token\n"
    "unless --no-bos) and --generate then prints the new text as it comes;\n"
    "--tokens prints the new ids. The stop reason follows on stderr.\n";

Expected<std::vector<int32_t>> readTokens(const std::string &spec) {
  std::vector<int32_t> out;
  if (spec.size() > 4 && spec.substr(spec.size() - 4) == ".npy") {
    BK_ASSIGN_OR_RETURN(NpyArray arr, readNpy(spec));
    if (arr.descr != "<i4" && arr.descr != "<i8")
      return invalidArgument(spec + ": token ids must be int32 or int64, not " + arr.descr);
    for (int64_t v : arr.asInt64())
      out.push_back(int32_t(v));
    return out;
  }
  BK_ASSIGN_OR_RETURN(std::vector<int64_t> ids, parseIntList(spec));
  for (int64_t v : ids)
    out.push_back(int32_t(v));
  return out;
}

const char *stopName(GenerateResult::Stop stop) {
  switch (stop) {
  case GenerateResult::Stop::MaxTokens:
    return "max tokens";
  case GenerateResult::Stop::Eos:
    return "end of sequence";
  case GenerateResult::Stop::StopToken:
    return "stop token";
  case GenerateResult::Stop::Callback:
    return "callback";
  case GenerateResult::Stop::ContextFull:
    return "context full";
  }
  return "unknown";
}

int fail(const Status &st) {
  std::fprintf(stderr, "birkhoff run: %s\n", st.toString().c_str());
  return 1;
}

} // namespace

int runRunCommand(int argc, char **argv) {
  auto args =
      parseArgs(argc, argv,
                {"tokens", "prompt", "chunks", "dump-logits", "generate",
                 "dump-tokens", "temperature", "top-k", "top-p", "seed",
                 "stop-ids", "max-context", "threads", "device"},
                {"help", "no-eos-stop", "no-cuda-graphs", "no-bos"});
  if (!args) {
    std::fprintf(stderr, "birkhoff run: %s\n%s", args.status().message().c_str(), kUsage);
    return 2;
  }
  if (args->has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args->positional.size() != 1 ||
      args->has("tokens") == args->has("prompt")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto threads = args->getInt("threads", 0);
  auto maxContext = args->getInt("max-context", 0);
  auto generateN = args->getInt("generate", 0);
  auto temperature = args->getDouble("temperature", 0.0);
  auto topK = args->getInt("top-k", 0);
  auto topP = args->getDouble("top-p", 1.0);
  auto seed = args->getInt("seed", 0);
  for (const Status *st : {&threads.status(), &maxContext.status(), &generateN.status(),
                           &temperature.status(), &topK.status(), &topP.status(),
                           &seed.status()})
    if (!st->isOk()) {
      std::fprintf(stderr, "birkhoff run: %s\n", st->message().c_str());
      return 2;
    }
  ModelOptions modelOptions;
  modelOptions.numThreads = int(*threads);
  modelOptions.device = args->get("device", "host");
  modelOptions.cudaGraphs = !args->has("no-cuda-graphs");
  auto model = Model::load(args->positional[0], modelOptions);
  if (!model)
    return fail(model.status());
  if (modelOptions.device != "host")
    std::fprintf(stderr, "device: %s\n", (*model)->info().device.c_str());
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
    tokens = readTokens(args->get("tokens"));
  }
  if (!tokens)
    return fail(tokens.status());
  if (tokens->empty())
    return fail(invalidArgument(text ? "--prompt is empty (with --no-bos)"
                                     : "--tokens is empty"));

  std::vector<int64_t> split; // call sizes
  int64_t n = int64_t(tokens->size());
  if (args->has("chunks")) {
    auto pc = parseIntList(args->get("chunks"));
    if (!pc || pc->size() != 2 || (*pc)[0] < 1 || (*pc)[1] < 0 ||
        (*pc)[0] + (*pc)[1] > n) {
      std::fprintf(stderr, "birkhoff run: --chunks needs P,C with P >= 1 and "
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
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "prompt: %lld tokens in %zu call(s), %.3f s (%.1f tokens/s)\n",
               (long long)n, split.size(), prefillSec, double(n) / prefillSec);
  if (wantLogits) {
    Status st = writeNpyF32(args->get("dump-logits"), {n, vocab}, all.data());
    if (!st.isOk())
      return fail(st);
  }

  if (*generateN > 0) {
    GenerateOptions g;
    g.maxNewTokens = *generateN;
    g.temperature = float(*temperature);
    g.topK = *topK;
    g.topP = float(*topP);
    g.seed = uint64_t(*seed);
    g.stopAtEos = !args->has("no-eos-stop");
    if (args->has("stop-ids")) {
      auto ids = parseIntList(args->get("stop-ids"));
      if (!ids)
        return fail(ids.status());
      for (int64_t v : *ids)
        g.stopTokens.push_back(int32_t(v));
    }
    auto t1 = std::chrono::steady_clock::now();
    Status streamError = Status::ok();
    auto result = (*session)->generate({}, g, [&](int32_t tok) {
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
    if (textOut) {
      std::string rest = textOut->finish();
      std::fwrite(rest.data(), 1, rest.size(), stdout);
    }
    std::printf("\n");
    std::fflush(stdout);
    if (!result)
      return fail(result.status());
    if (!streamError.isOk())
      return fail(streamError);
    std::fprintf(stderr, "stop: %s\n", stopName(result->stop));
    double sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::fprintf(stderr, "generated %zu tokens in %.3f s (%.2f ms/token)\n",
                 result->tokens.size(), sec,
                 1e3 * sec / double(std::max<size_t>(1, result->tokens.size())));
    if (args->has("dump-tokens")) {
      Status st = writeNpyI32(args->get("dump-tokens"),
                              {int64_t(result->tokens.size())}, result->tokens.data());
      if (!st.isOk())
        return fail(st);
    }
  }
  return 0;
}

} // namespace birkhoff::tools
