// A complete program using the Birkhoff session API: load an artifact, run two
// independent sessions, stream a greedy generation from one and a sampled
// generation from the other, then continue the first after more input.
//
// Build: link `birkhoff_runtime` (see test/golden/CMakeLists.txt, which builds
// and runs this file as part of the test suite).
// Usage: generate <artifact.bkart>

#include "birkhoff/Runtime.h"

#include <cstdio>
#include <vector>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <artifact>\n", argv[0]);
    return 2;
  }
  auto model = birkhoff::Model::load(argv[1]);
  if (!model) {
    std::fprintf(stderr, "load failed: %s\n", model.status().toString().c_str());
    return 1;
  }
  const birkhoff::ModelInfo &info = (*model)->info();
  std::printf("model %s: %lld layers, vocab %lld, %s numerics\n", info.modelName.c_str(),
              (long long)info.nLayers, (long long)info.vocabSize, info.numerics.c_str());

  // Two sessions share the model's weights but nothing else.
  auto greedy = birkhoff::Session::create(*model);
  auto sampled = birkhoff::Session::create(*model);
  if (!greedy || !sampled) {
    std::fprintf(stderr, "session failed\n");
    return 1;
  }

  std::vector<int32_t> prompt = {1, 5, 9, 2, 6, 5, 3, 5};
  birkhoff::GenerateOptions opts;
  opts.maxNewTokens = 8;
  opts.stopAtEos = false;
  std::printf("greedy:");
  auto first = (*greedy)->generate(prompt, opts, [](int32_t token) {
    std::printf(" %d", token); // streamed as each token is chosen
    return true;
  });
  std::printf("\n");
  if (!first) {
    std::fprintf(stderr, "generate failed: %s\n", first.status().toString().c_str());
    return 1;
  }

  birkhoff::GenerateOptions sampling = opts;
  sampling.temperature = 0.8f;
  sampling.topP = 0.95f;
  sampling.seed = 1234;
  auto second = (*sampled)->generate(prompt, sampling);
  if (!second)
    return 1;
  std::printf("sampled:");
  for (int32_t t : second->tokens)
    std::printf(" %d", t);
  std::printf("\n");

  // Continue the first session: more input, then one decode step by hand.
  std::vector<int32_t> more = {7, 7, 7};
  if (auto st = (*greedy)->prefill(more); !st.isOk()) {
    std::fprintf(stderr, "prefill failed: %s\n", st.toString().c_str());
    return 1;
  }
  std::vector<float> logits;
  if (auto st = (*greedy)->decode(4, &logits); !st.isOk())
    return 1;
  std::printf("position %lld, %zu logits for the last token\n",
              (long long)(*greedy)->position(), logits.size());

  // Errors are values, not crashes.
  auto bad = (*greedy)->decode(int32_t(info.vocabSize) + 10);
  std::printf("bad token: %s\n", bad.toString().c_str());
  return bad.isOk() ? 1 : 0;
}
