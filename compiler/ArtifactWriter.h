//===- ArtifactWriter.h - Serialize a bk module into an artifact -*- C++
//-*-===//
//
// Writes lib/schema/artifact.fbs: the size-prefixed flatbuffer ("BKA1",
// format_version 5), its checksum trailer, zero padding to a 4096-byte
// boundary, then the weight section. Weight bytes are streamed from the
// checkpoint's memory maps into the file, 64-byte aligned, one tensor at a
// time, each with its CRC-32C recorded in the program; or, for a model
// generated at load time, only each weight's recipe is written.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_ARTIFACTWRITER_H
#define BIRKHOFF_COMPILER_ARTIFACTWRITER_H

#include "birkhoff/GenerationConfig.h"
#include "birkhoff/Safetensors.h"
#include "birkhoff/Status.h"
#include "birkhoff/WeightSynthesis.h"
#include "deepseek_v4/ModelConfig.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace mlir {
class Operation;
}

namespace birkhoff {

struct CudaProgram;

struct ArtifactOptions {
  std::string modelName; // e.g. the checkpoint folder's name
  std::string numerics = "reference";
  std::string target = "host";
  int64_t maxContext = 4096;
  /// Target "cuda": the compiled kernels (compiler/CudaTarget.h); every launch
  /// of the module must have one. Must be null for target "host".
  const CudaProgram *cuda = nullptr;
  /// Store each CUDA kernel's PTX next to its cubin (off: saves space).
  bool embedPtx = false;
  /// When set, no weight bytes are stored: every weight is written as
  /// generated at load time from its recipe here (by tensor name; scales
  /// carry BlockScale), with offset 0, and the weight section is empty. The
  /// checkpoint then needs no bytes (Checkpoint::declared).
  const std::map<std::string, WeightRecipe> *generated = nullptr;
  /// The text of a tokenizer.json to store (Artifact.tokenizer_json); empty:
  /// none. The writer stores it as is (the compile command checks it).
  std::string tokenizerJson;
  /// The generation defaults to store (Artifact.generation_config); nullopt:
  /// none, and the table is left out. Stored as is (the compile command
  /// checks them).
  std::optional<GenerationConfig> generationConfig;
};

struct ArtifactStats {
  uint64_t flatbufferBytes = 0; // incl. the 4-byte size prefix
  uint64_t weightSectionOffset = 0;
  uint64_t weightSectionBytes = 0;
  uint64_t weights = 0, states = 0, launches = 0;
  uint64_t cudaKernels = 0, cubinBytes = 0;
  /// Weights generated at load time and the bytes they will take.
  uint64_t generatedWeights = 0, generatedBytes = 0;
};

/// runtime/ArtifactLoader.h says what each version added.
inline constexpr uint32_t kArtifactFormatVersion = 5;

/// Writes the artifact of `bkModule` (a ModuleOp after the lowering
/// pipeline) to `path`. Stored: the weights that launches reference and
/// their scales, then every checkpoint tensor named `mtp.*` (the MTP block,
/// which no launch uses yet) with its scale linked the same way; other
/// checkpoint tensors are left out.
Expected<ArtifactStats> writeArtifact(mlir::Operation *bkModule,
                                      const v4::ModelConfig &config,
                                      const Checkpoint &checkpoint,
                                      const ArtifactOptions &options,
                                      const std::string &path);

} // namespace birkhoff

#endif // BIRKHOFF_COMPILER_ARTIFACTWRITER_H
