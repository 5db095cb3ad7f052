//===- WeightGeneration.cpp - Filling an artifact's generated weights -----===//
#include "WeightGeneration.h"

#include "birkhoff/WeightSynthesis.h"
#include "birkhoff/WorkerPool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace birkhoff::rt {

Status materializeGeneratedWeights(LoadedArtifact &artifact, Workers workers,
                                   const ModelOptions::Progress &progress) {
  Program &prog = artifact.program;
  constexpr uint64_t kAlign = 64;
  std::vector<uint64_t> offset(prog.weights.size(), 0);
  uint64_t total = 0;
  for (size_t i = 0; i < prog.weights.size(); ++i) {
    if (!prog.weights[i].generated)
      continue;
    offset[i] = (total + kAlign - 1) / kAlign * kAlign;
    total = offset[i] + prog.weights[i].size;
  }
  if (total == 0)
    return Status::ok();

  // An anonymous mapping: page-aligned, zero-filled on first touch (so the
  // gaps cost nothing), and each page lands near the thread that fills it.
  void *block = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED)
    return outOfRange("cannot allocate " + std::to_string(total >> 20) +
                      " MiB of host memory for the generated weights: " +
                      std::strerror(errno));
  std::shared_ptr<void> owner(block, [total](void *p) { ::munmap(p, total); });
  // Fewer page faults for multi-GB models; only a hint.
  ::madvise(block, total, MADV_HUGEPAGE);
  uint8_t *base = static_cast<uint8_t *>(block);
  for (size_t i = 0; i < prog.weights.size(); ++i)
    if (prog.weights[i].generated) {
      prog.weights[i].data = base + offset[i];
      prog.weights[i].allocation = 1;
    }

  // Scales are filled by their weight (the loader checked the linkage).
  std::vector<std::unique_ptr<WeightGenerator>> generators;
  std::vector<GenerationTarget> targets;
  for (size_t i = 0; i < prog.weights.size(); ++i) {
    const WeightDesc &w = prog.weights[i];
    if (!w.generated || w.recipe.kind == SynthKind::BlockScale)
      continue;
    generators.push_back(
        std::make_unique<WeightGenerator>(w.recipe, w.dtype, w.shape));
    uint8_t *scale = w.scale >= 0 ? base + offset[size_t(w.scale)] : nullptr;
    targets.push_back({generators.back().get(), base + offset[i], scale});
  }
  uint64_t generated = 0; // the weights' bytes, scales left out
  for (const GenerationTarget &t : targets)
    generated += uint64_t(t.generator->rows() * t.generator->rowBytes());
  std::function<void(uint64_t)> done;
  if (progress)
    done = [&](uint64_t bytes) {
      progress("generating weights", bytes, generated);
    };
  generateWeights(targets, workers, int64_t(4) << 20, done);
  artifact.generated = std::move(owner);
  return Status::ok();
}

} // namespace birkhoff::rt
