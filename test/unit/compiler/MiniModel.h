//===- MiniModel.h - A small model of today's CUDA kernels ------*- C++ -*-===//
//
// A hand-built bk program that uses only kernels the CUDA target generates
// (embed, mhc_pre_norm, linear in FP8/FP4/F32, head_rms_norm, rope with YaRN,
// rms_norm, mhc_post, mhc_head_norm) over a random checkpoint: a complete
// artifact (prefill + decode, vocab-wide logits) that the host backend runs
// and the CUDA backend can run on a GPU before every catalogue kernel exists.
// The compiler tests check its CUDA artifact; `make_mini_artifacts` writes
// both targets for the GPU machine (scripts/prepare-gpu-carry.sh).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TEST_UNIT_COMPILER_MINIMODEL_H
#define BIRKHOFF_TEST_UNIT_COMPILER_MINIMODEL_H

#include "compiler/ArtifactWriter.h"
#include "compiler/CudaTarget.h"

#include "birkhoff/Status.h"

#include <string>

namespace birkhoff::test {

inline constexpr int64_t kMiniVocab = 512, kMiniDim = 128, kMiniHc = 4;
inline constexpr int64_t kMiniMaxTokens = 16;

/// The catalogue kernels the mini model launches.
std::vector<std::string> miniModelKernels();

/// Writes the mini model's random checkpoint (`model.safetensors`) to `dir`.
Status writeMiniCheckpoint(const std::string &dir, uint32_t seed = 7);

struct MiniArtifact {
  ArtifactStats stats;
  CudaProgram cuda; // target "cuda" only
};

/// Compiles the mini program over the checkpoint in `checkpointDir` into an
/// artifact at `path` for `target` ("host" or "cuda"; cuda needs NVRTC).
Expected<MiniArtifact> writeMiniArtifact(const std::string &checkpointDir,
                                         const std::string &path,
                                         const std::string &target,
                                         const CudaTargetOptions &cuda = {},
                                         bool embedPtx = false);

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_UNIT_COMPILER_MINIMODEL_H
