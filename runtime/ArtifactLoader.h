//===- ArtifactLoader.h - Loading and verifying an artifact file
//-----------===//
#ifndef BIRKHOFF_RUNTIME_ARTIFACTLOADER_H
#define BIRKHOFF_RUNTIME_ARTIFACTLOADER_H

#include "Program.h"
#include "birkhoff/Safetensors.h"
#include "birkhoff/Status.h"

#include <memory>
#include <string>

namespace birkhoff::rt {

/// A verified artifact: the mapped file and the program that points into it.
struct LoadedArtifact {
  std::shared_ptr<MappedFile> file;
  Program program;
  /// The host memory of the weights generated at load time (null until
  /// materializeGeneratedWeights fills them, and without generated weights).
  std::shared_ptr<void> generated;
};

/// The format versions this runtime reads: 3 added Launch.cuda_then (a
/// launch of several CUDA kernels), which a version-2 reader would ignore;
/// a version-2 artifact has none and reads as before. 4 changed the CUDA
/// kernels' launch ABI to batches of sequences with paged state
/// (lib/cuda/LaunchAbi.h): the cubins of an older "cuda" artifact cannot run,
/// its host program still can. Artifact.generation_config came later without
/// a new version: it is an optional table at the end of Artifact, so an
/// artifact without it reads as before (no generation defaults), and a reader
/// of version 4 that predates it skips it and misreads nothing. 5 added the
/// checksums (the program's trailer, Weight.crc32c); an artifact without them
/// is refused ("rebuild the artifact"), since accepting one would accept any
/// damaged artifact whose damage reads as an older version.
inline constexpr uint32_t kArtifactFormatVersion = 5;
inline constexpr uint32_t kOldestArtifactFormatVersion = 5;

/// Maps `path`, checks the program's checksum, runs the flatbuffers
/// verifier, then the semantic checks
/// (version, weight ranges and sizes, scales, generator recipes, kernels and
/// their arities, buffer/weight/state indices, arena bounds). Errors name the
/// path and the offending table entry. Generated weights are left without
/// data (WeightGeneration.h fills them).
Expected<LoadedArtifact> loadArtifact(const std::string &path);

/// The same checks over bytes already in memory (for tests and fuzzing).
Expected<Program> parseArtifact(const uint8_t *data, uint64_t size,
                                const std::string &origin);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_ARTIFACTLOADER_H
