// A program outside the tree that uses the installed runtime: only
// birkhoff/Runtime.h and libbirkhoff_runtime (test/install/install_consumer.sh
// builds it with find_package(Birkhoff), with pkg-config and under
// add_subdirectory).
// Usage: consumer [artifact]
// Prints the runtime's version (and fails when the headers are another
// build's); with an artifact, generates two tokens greedily with a Session,
// then the same two with an Engine, step by step, and fails unless they agree.

#include "birkhoff/Runtime.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

int fail(const char *what, const birkhoff::Status &status) {
  std::fprintf(stderr, "%s: %s\n", what, status.toString().c_str());
  return 1;
}

int32_t argmax(std::span<const float> logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) -
                 logits.begin());
}

} // namespace

int main(int argc, char **argv) {
  const birkhoff::BuildInfo &build = birkhoff::buildInfo();
  std::printf("runtime %s (git %s), headers %s\n", build.version.c_str(),
              build.revision.c_str(), BIRKHOFF_VERSION_STRING);
  if (build.version != BIRKHOFF_VERSION_STRING)
    return 1;
  if (argc < 2)
    return 0;

  auto model = birkhoff::Model::load(argv[1]);
  if (!model)
    return fail("load", model.status());
  const std::vector<int32_t> prompt = {1, 5, 9, 2};

  auto session = birkhoff::Session::create(*model);
  if (!session)
    return fail("session", session.status());
  birkhoff::GenerateOptions options;
  options.maxNewTokens = 2;
  options.stopAtEos = false;
  auto generated = (*session)->generate(prompt, options);
  if (!generated)
    return fail("generate", generated.status());
  std::printf("session:");
  for (int32_t token : generated->tokens)
    std::printf(" %d", token);
  std::printf("\n");

  auto engine = birkhoff::Engine::create(*model);
  if (!engine)
    return fail("engine", engine.status());
  auto sequence = (*engine)->addSequence();
  if (!sequence)
    return fail("sequence", sequence.status());
  birkhoff::Batch batch;
  for (size_t i = 0; i < prompt.size(); ++i)
    batch.add(prompt[i], *sequence, int64_t(i), i + 1 == prompt.size());
  std::vector<int32_t> stepped;
  birkhoff::StepResult result;
  while (stepped.size() < generated->tokens.size()) {
    if (auto st = (*engine)->step(batch, result); !st.isOk())
      return fail("step", st);
    stepped.push_back(argmax(result.logitsOf(int32_t(batch.size()) - 1)));
    int64_t next = batch.positions.back() + 1;
    batch.clear();
    batch.add(stepped.back(), *sequence, next, true);
  }
  std::printf("engine:");
  for (int32_t token : stepped)
    std::printf(" %d", token);
  std::printf("\n");
  return stepped == generated->tokens ? 0 : 1;
}
