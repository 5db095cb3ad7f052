//===- Program.h - A loaded artifact in plain C++ form --------------------===//
//
// The loader turns the artifact's flatbuffer into these structs once; the
// executor and the kernels read only them (and the mapped weight bytes).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_PROGRAM_H
#define BIRKHOFF_RUNTIME_PROGRAM_H

#include "birkhoff/CheckedMath.h"
#include "birkhoff/DType.h"
#include "birkhoff/GenerationConfig.h"
#include "birkhoff/KernelParams.h"
#include "birkhoff/WeightSynthesis.h"
#include "cuda/LaunchAbi.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace birkhoff {
class Tokenizer;
} // namespace birkhoff

namespace birkhoff::rt {

struct WeightDesc {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape; // logical (FP4: unpacked in-features)
  const uint8_t *data = nullptr;
  uint64_t size = 0;
  /// Stored weights: the CRC-32C of the `size` bytes at `data` as written
  /// (WeightVerification.h checks it); generated weights have none.
  uint32_t crc32c = 0;
  int scale = -1; // index of its e8m0 block scale
  /// Generated at load time from `recipe`: `data` is null until
  /// materializeGeneratedWeights (WeightGeneration.h) fills it.
  bool generated = false;
  WeightRecipe recipe;
  /// The host allocation `data` points into: 0 the mapped artifact, 1 the
  /// block of generated weights. Bytes between two weights may be read only
  /// when both lie in one allocation (the CUDA upload merges nearby weights).
  int allocation = 0;
};

struct BufferDesc {
  std::string name;
  int64_t elemsPerToken = 0;
  int64_t offsetPerToken = 0;
  bool isInt = false;
};

struct LaunchDesc {
  KernelId id = KernelId::Embed;
  std::string kernel; // kernelName(id), for messages
  int layer = -1;
  std::vector<int> inputs; // -1: the call's token ids
  std::vector<int> outputs;
  std::vector<int> weights; // -1: absent optional weight
  std::vector<int> states;
  /// Decoded and checked at load time (ArtifactLoader): holds the params
  /// struct of `id`.
  KernelParams params;
  int cudaKernel = -1; // target "cuda": index into Program::cudaKernels
  /// Target "cuda": kernels run after cudaKernel, in order, with the same
  /// arguments (an op lowered to several kernels).
  std::vector<int> cudaThen;

  /// Target "cuda": every kernel the launch runs, in order (cudaKernel, then
  /// cudaThen).
  std::vector<int> cudaKernelSequence() const {
    std::vector<int> all = {cudaKernel};
    all.insert(all.end(), cudaThen.begin(), cudaThen.end());
    return all;
  }
};

struct EntryDesc {
  std::string name;
  int maxTokens = 0;
  std::vector<BufferDesc> buffers;
  int64_t arenaElemsPerToken = 0;
  int logitsBuffer = -1;
  std::vector<LaunchDesc> launches;
  /// The first of the trailing launches that compute the logits row by row
  /// (the final mHC collapse, norm, LM head), or -1: a call that wants the
  /// logits of some rows only runs these on those rows. Derived at load
  /// (logitsTail), not stored in the artifact.
  int logitsTailBegin = -1;
  /// The buffers the logits tail reads that launches before it write: a call
  /// that wants some rows' logits gathers those rows of these buffers to the
  /// front (in order) and runs the tail on them. Derived at load.
  std::vector<int> tailInputs;
};

/// Where `entry`'s logits tail begins: the longest run of launches at its end
/// whose kernels map each token's rows to that token's rows (linear, rms_norm,
/// mhc_head, mhc_head_norm; no state, no token ids) and that writes the
/// logits buffer; -1 if there is none.
int logitsTail(const EntryDesc &entry);

/// The buffers the launches from `tailBegin` on read before writing them.
std::vector<int> tailInputs(const EntryDesc &entry, int tailBegin);

struct StateDesc {
  std::string name;
  int layer = -1;
  std::string kind;
  uint64_t bytesPerRow = 0;
  int64_t fixedRows = 0;
  int64_t tokensPerRow = 0;

  /// Grows with the context (compressed entries, indexer keys): lives in
  /// the engine's page pool. Otherwise fixed rows per sequence slot.
  bool growing() const { return tokensPerRow > 0; }
  /// Rows needed for a context of `tokens` tokens; OutOfRange for a
  /// negative context or one whose rows pass 64 bits.
  Expected<int64_t> rowsFor(int64_t tokens) const {
    std::optional<int64_t> rows;
    if (tokens >= 0)
      rows = checkedAdd<int64_t>(fixedRows,
                                 tokensPerRow > 0 ? tokens / tokensPerRow : 0);
    if (!rows)
      return outOfRange("state '" + name + "': rows for a context of " +
                        std::to_string(tokens) + " tokens");
    return *rows;
  }
  /// Bytes for a context of `tokens` tokens; OutOfRange, naming the state
  /// and the context, where they pass 64 bits (a context from a flag or a
  /// file is not trusted to be small).
  Expected<uint64_t> bytesFor(int64_t tokens) const {
    BK_ASSIGN_OR_RETURN(int64_t rows, rowsFor(tokens));
    std::optional<uint64_t> bytes =
        checkedMul<uint64_t>(bytesPerRow, uint64_t(rows));
    if (!bytes)
      return outOfRange("state '" + name + "': " + std::to_string(rows) +
                        " rows of " + std::to_string(bytesPerRow) +
                        " bytes for a context of " + std::to_string(tokens) +
                        " tokens overflow 64 bits");
    return *bytes;
  }
};

/// A compiled CUDA kernel of a "cuda" artifact. The cubin points into the
/// mapped file.
struct CudaKernelDesc {
  std::string name;   // entry function
  std::string kernel; // catalogue kernel
  std::string arch;   // "sm_90a"
  const uint8_t *cubin = nullptr;
  uint64_t cubinSize = 0;
  int registers = 0, spillBytes = 0, stackBytes = 0, sharedBytes = 0;
  cuda::GridRule grid;
  int cluster = 1;           // blocks per cluster along x (informative)
  uint64_t scratchBytes = 0; // device scratch per session (BkLaunch::scratch)
};

struct ConfigDesc {
  int64_t vocabSize = 0, dim = 0, nLayers = 0, nHeads = 0, headDim = 0;
  int64_t ropeHeadDim = 0, windowSize = 0, hcMult = 0;
  int64_t nRoutedExperts = 0, nActivatedExperts = 0;
  int64_t indexTopk = 0;
  std::vector<int> compressRatios;
  std::vector<int> layerKinds;
  int64_t bosTokenId = 0, eosTokenId = 1;
  /// The context the model was trained for (config.json's
  /// max_position_embeddings); 0: the artifact does not say.
  int64_t maxPositionEmbeddings = 0;
};

struct Program {
  uint32_t formatVersion = 0;
  std::string producer, modelName, numerics, target;
  ConfigDesc config;
  std::vector<WeightDesc> weights;
  std::vector<StateDesc> states;
  std::vector<EntryDesc> entries;
  std::vector<CudaKernelDesc> cudaKernels;
  int64_t maxContext = 0;
  uint64_t weightSectionSize = 0;
  /// Bytes of the weights generated at load time (not in the file).
  uint64_t generatedBytes = 0;
  /// The stored tokenizer (Artifact.tokenizer_json), parsed once at load;
  /// null when the artifact has none.
  std::shared_ptr<const Tokenizer> tokenizer;
  /// The stored generation defaults (Artifact.generation_config), checked at
  /// load; nullopt when the artifact has none.
  std::optional<GenerationConfig> generationConfig;

  const EntryDesc *entry(const std::string &name) const;
};

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_PROGRAM_H
