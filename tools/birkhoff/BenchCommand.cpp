//===- BenchCommand.cpp - `birkhoff bench`: prefill and decode timings ----===//
#include "Args.h"
#include "Commands.h"
#include "birkhoff/Runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace birkhoff::tools {
namespace {
double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
} // namespace

int runBenchCommand(int argc, char **argv) {
  const char *usage =
      "usage: birkhoff bench <artifact> [--prompt N] [--context N] [--decode N]\n"
      "         [--threads N] [--seed S] [--device host|cuda|cuda:N]\n"
      "Times a prefill of --prompt tokens, then fills the context to --context\n"
      "tokens and times --decode single-token steps there. --device cuda runs an\n"
      "artifact compiled with --target cuda on the GPU (default host).\n";
  auto args = parseArgs(argc, argv,
                        {"prompt", "context", "decode", "threads", "seed", "device"},
                        {"help"});
  if (args && args->has("help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (!args || args->positional.size() != 1) {
    std::fputs(usage, stderr);
    return 2;
  }
  auto prompt = args->getInt("prompt", 512);
  auto context = args->getInt("context", 0);
  auto decode = args->getInt("decode", 16);
  auto threads = args->getInt("threads", 0);
  auto seed = args->getInt("seed", 1);
  for (const Status *st : {&prompt.status(), &context.status(), &decode.status(),
                           &threads.status(), &seed.status()})
    if (!st->isOk()) {
      std::fprintf(stderr, "birkhoff bench: %s\n", st->message().c_str());
      return 2;
    }
  ModelOptions mo;
  mo.numThreads = int(*threads);
  mo.device = args->get("device", "host");
  auto model = Model::load(args->positional[0], mo);
  if (!model) {
    std::fprintf(stderr, "birkhoff bench: %s\n", model.status().toString().c_str());
    return 1;
  }
  int64_t ctx = std::max(*context, *prompt);
  SessionOptions so;
  so.maxContext = ctx + *decode;
  auto session = Session::create(*model, so);
  if (!session) {
    std::fprintf(stderr, "birkhoff bench: %s\n", session.status().toString().c_str());
    return 1;
  }
  int64_t vocab = (*model)->info().vocabSize;
  uint64_t state = uint64_t(*seed);
  auto nextToken = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return int32_t((state >> 33) % uint64_t(vocab));
  };
  std::vector<int32_t> tokens(static_cast<size_t>(ctx));
  for (auto &t : tokens)
    t = nextToken();

  auto t0 = std::chrono::steady_clock::now();
  Status st = (*session)->prefill(std::span<const int32_t>(tokens.data(), size_t(*prompt)));
  double prefillSec = seconds(t0);
  if (st.isOk() && ctx > *prompt)
    st = (*session)->prefill(
        std::span<const int32_t>(tokens.data() + *prompt, size_t(ctx - *prompt)));
  std::vector<double> steps;
  for (int64_t i = 0; st.isOk() && i < *decode; ++i) {
    auto t1 = std::chrono::steady_clock::now();
    st = (*session)->decode(nextToken());
    steps.push_back(seconds(t1));
  }
  if (!st.isOk()) {
    std::fprintf(stderr, "birkhoff bench: %s\n", st.toString().c_str());
    return 1;
  }
  std::sort(steps.begin(), steps.end());
  std::printf("device   %s\n", (*model)->info().device.c_str());
  double median = steps.empty() ? 0.0 : steps[steps.size() / 2];
  std::printf("prefill  %lld tokens  %.3f s  %.1f tokens/s\n", (long long)*prompt,
              prefillSec, double(*prompt) / prefillSec);
  if (!steps.empty())
    std::printf("decode   context %lld  median %.3f ms/step  min %.3f  max %.3f "
                "(%zu steps)\n",
                (long long)ctx, 1e3 * median, 1e3 * steps.front(), 1e3 * steps.back(),
                steps.size());
  std::printf("state    %llu bytes for %lld tokens of context\n",
              (unsigned long long)(*session)->stateBytes(), (long long)(*session)->capacity());
  return 0;
}

} // namespace birkhoff::tools
