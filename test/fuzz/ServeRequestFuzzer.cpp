//===- ServeRequestFuzzer.cpp - Fuzzes `birkhoff serve`'s request bodies --===//
//
// An input is the body of a POST: it is read both as a chat-completions body
// (through DeepSeek-V4's chat encoding and the tokenizer) and as a
// completions body, against a small model with a tokenizer (the artifact
// BIRKHOFF_FUZZ_ARTIFACT names; scripts/fuzz.sh and the suite compile
// `--synth-preset tiny` for it). Each read gives a request or an error; a
// request it accepts is one the scheduler can run: token ids inside the
// vocabulary, the prompt and max_tokens inside a sequence, sampling values
// inside their ranges.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "RequestParsing.h"
#include "birkhoff/Runtime.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace birkhoff;

namespace {

std::shared_ptr<const Model> model;
serve::ServeLimits limits;

void checkAccepted(const serve::ParsedRequest &r) {
  const serve::GenerationRequest &g = r.generation;
  const int64_t room = std::min(limits.capacity, limits.poolTokens);
  for (int32_t id : g.prompt)
    fuzz::check(id >= 0 && id < model->info().vocabSize,
                "a prompt id outside the vocabulary");
  fuzz::check(g.maxTokens >= 1 && int64_t(g.prompt.size()) < room &&
                  g.maxTokens <= room - int64_t(g.prompt.size()),
              "the prompt and max_tokens do not fit a sequence");
  fuzz::check(g.sampling.temperature >= 0 && g.sampling.temperature <= 2,
              "temperature outside [0, 2]");
  fuzz::check(g.sampling.topP >= 0 && g.sampling.topP <= 1,
              "top_p outside [0, 1]");
  fuzz::check(int64_t(g.stop.size()) <= limits.maxStopStrings,
              "too many stop strings");
  fuzz::check(r.stream || !r.includeUsage, "include_usage without stream");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  Expected<std::shared_ptr<const Model>> loaded =
      Model::load(fuzz::requiredEnv("BIRKHOFF_FUZZ_ARTIFACT"));
  if (!loaded || !(*loaded)->hasTokenizer()) {
    std::fprintf(stderr,
                 "fuzz: the artifact does not load with a tokenizer: %s\n",
                 loaded.status().toString().c_str());
    std::exit(1);
  }
  model = loaded.take();
  limits.modelName = model->info().modelName;
  // Small, so that long prompts and max_tokens meet the limits.
  limits.capacity = 256;
  limits.poolTokens = 192;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view body(reinterpret_cast<const char *>(data), size);
  const uint64_t seed = 1;
  if (auto chat = serve::parseChatCompletionRequest(body, *model, limits, seed))
    checkAccepted(*chat);
  if (auto completion =
          serve::parseCompletionRequest(body, *model, limits, seed))
    checkAccepted(*completion);
  return 0;
}
