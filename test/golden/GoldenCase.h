//===- GoldenCase.h - One case of ../shared/goldens -------------------------===//
#ifndef BIRKHOFF_TEST_GOLDEN_GOLDENCASE_H
#define BIRKHOFF_TEST_GOLDEN_GOLDENCASE_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace birkhoff::test {

struct LogitsFile {
  std::string name;
  std::vector<int32_t> tokens;
  std::vector<float> logits; // [tokens, vocab]
};

struct GoldenCase {
  std::string name, dir;
  std::vector<LogitsFile> prefills;
  LogitsFile cached; // tokens + logits of the chunked run
  int64_t cachedPrefill = 0, cachedChunk = 0;
  std::vector<int32_t> greedyPrompt, greedyIds;
};

Expected<GoldenCase> loadGoldenCase(const std::string &dir);

/// max|a - b| / max|b|.
double maxRelativeError(const std::vector<float> &a, const std::vector<float> &b);

/// Compiles `checkpoint` with the built `birkhoff` tool into `artifact` (reused
/// when it is newer than the tool). Returns the tool's output on failure.
Status compileArtifact(const std::string &checkpoint, const std::string &artifact,
                       const std::string &extraFlags = "");

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_GOLDEN_GOLDENCASE_H
