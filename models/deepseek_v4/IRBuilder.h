//===- IRBuilder.h - DeepSeek-V4 checkpoint to `v4` IR ---------*- C++ -*-===//
//
// Builds the `v4` module of one validated checkpoint: every checkpoint tensor
// the forward pass uses becomes a `v4.weight` symbol (dtype and logical shape
// from the checkpoint), and `@prefill` / `@decode` hold the whole forward pass
// of V4_SPEC §3 as one `v4` op per model concept. The MTP block is not part of
// the program: no `mtp.*` tensor is referenced.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_IRBUILDER_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_IRBUILDER_H

#include "birkhoff/Safetensors.h"
#include "birkhoff/Status.h"
#include "deepseek_v4/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace birkhoff::v4 {

struct BuildOptions {
  /// "reference" (fp32 everywhere) or "official" (DeepSeek's numerics). The
  /// official profile stores KV entries as FP8 + bf16 RoPE dims and indexer
  /// keys as FP4, so it needs head_dim - rope_head_dim to be a positive
  /// multiple of 64 and (with CSA layers) index_head_dim a multiple of 32.
  std::string numerics = "reference";
  /// Clamp the shared expert's SwiGLU like the routed experts' (the later
  /// "V1" code, V4_SPEC §0.1); false reproduces the release-day behaviour.
  bool sharedExpertClamp = true;
};

/// Tokens per call of the `batch` entry (decode steps of many sequences):
/// the schedules of entries of at most 64 tokens run each kernel over the
/// whole GPU (docs/cuda.md).
inline constexpr int64_t kBatchEntryTokens = 64;

/// Loads the dialects the builder emits (v4, func) into `context`.
void loadIRBuilderDialects(mlir::MLIRContext &context);

/// Builds the module; errors name the missing tensor, the bad option or the
/// config dimensions the numerics profile cannot store.
/// `checkpoint` must have passed validateCheckpoint for `config`.
Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildV4Module(mlir::MLIRContext &context, const ModelConfig &config,
              const Checkpoint &checkpoint, const BuildOptions &options);

} // namespace birkhoff::v4

#endif // BIRKHOFF_MODELS_DEEPSEEK_V4_IRBUILDER_H
