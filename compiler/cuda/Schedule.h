//===- Schedule.h - A CUDA launch's schedule choices ----------------------===//
//
// How a launch's kernel is tiled and split (its variant, warps, token tiles,
// lanes per weight row, cluster size, staged activation rows), chosen once by
// chooseSchedule from the launch's params, entry size and weight formats. The
// bk-choose-schedule pass writes it on every bk.launch as #bk.schedule; the
// generators (KernelSource.h) only read it. Plain C++, so birkhoff-kernelgen
// and the unit tests choose without MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_CUDA_SCHEDULE_H
#define BIRKHOFF_COMPILER_CUDA_SCHEDULE_H

#include "birkhoff/DType.h"
#include "birkhoff/KernelParams.h"

#include <cstdint>
#include <string>

namespace birkhoff::cuda {

struct CudaLaunchSpec;

/// One launch's schedule. A knob of 0 is one the variant does not use; which
/// knobs a variant reads is listed with each family's chooser (Schedule.cpp)
/// and in docs/cuda.md.
struct Schedule {
  /// The kernel family's variant ("gemv", "decode", "mma", ...); "fixed" for
  /// kernels whose generator has a single shape.
  std::string variant;
  int64_t warps = 0;        // warps per block
  int64_t tokenTile = 0;    // tokens a warp holds in registers
  int64_t tokensPerY = 0;   // tokens per grid y-slice
  int64_t lanes = 0;        // lanes of a warp per weight row
  int64_t rows = 0;         // weight rows per block
  int64_t cluster = 0;      // blocks per thread block cluster
  int64_t split = 0;        // clusters sharing one unit of work (an expert)
  int64_t stagedTokens = 0; // activation rows staged (or quantized) at once
  int64_t stagedHidden = 0; // hidden (h) rows staged at once
  int64_t prefetch = 0;     // weight chunks a lane loads before decoding

  bool operator==(const Schedule &) const = default;
};

// The family choosers chooseSchedule dispatches to. `maxTokens` is the
// entry's tokens per call (0: unknown); `w` the format of the launch's
// first weight.
Schedule chooseLinearSchedule(const LinearParams &p, int64_t maxTokens,
                              DType w);
Schedule chooseLinearRmsNormSchedule(const LinearRmsNormParams &p,
                                     int64_t maxTokens, DType w);
/// mhc_pre and mhc_pre_norm (head false), mhc_head and mhc_head_norm (true).
Schedule chooseMhcSchedule(int64_t hc, bool head, int64_t maxTokens);
/// indexer_topk: "cluster" or, for entries of few tokens, "scored".
Schedule chooseIndexerSchedule(const IndexerTopkParams &p, int64_t maxTokens);
/// Choices a compile makes for the whole program.
struct ScheduleOptions {
  /// Official sparse_attention in one-token entries runs "split" (keys over
  /// blocks, a KV entry read once for several heads): a decode step of one
  /// sequence about 0.6 ms faster on V4-Flash, but its attention is within 2
  /// bf16 ulps of the host kernel rather than bitwise, so a decode
  /// token's logits at batch 1 (this entry) and at batch 2..64 (the prefill
  /// entry's "fixed" attention) differ within that tolerance instead of
  /// being equal (`birkhoff compile --split-decode-attention`).
  bool splitDecodeAttention = false;
};

/// sparse_attention: "split" for official one-token entries when `split`
/// (ScheduleOptions::splitDecodeAttention), else "fixed".
Schedule chooseSparseAttentionSchedule(const SparseAttentionParams &p,
                                       int64_t maxTokens, bool split);
/// grouped_linear: "mma" for official bf16/fp8 weights of whole 64-column
/// rows, else "gemv".
Schedule chooseGroupedLinearSchedule(const GroupedLinearParams &p,
                                     int64_t maxTokens, DType w);
/// compressor: "projected" for entries of few tokens, else "cluster".
Schedule chooseCompressorSchedule(int64_t maxTokens);
/// router: "scored" for entries of few tokens, else "cluster".
Schedule chooseRouterSchedule(int64_t maxTokens);
/// moe (ScheduleMoe.cpp).
Schedule chooseMoeSchedule(const MoeParams &p, int64_t maxTokens);

/// The schedule of `spec`'s launch; `spec.schedule` is ignored. Choices that
/// cannot be met (a shape no variant handles) still give a schedule: the
/// generator then refuses the launch with its own error.
Schedule chooseSchedule(const CudaLaunchSpec &spec,
                        const ScheduleOptions &options = {});

} // namespace birkhoff::cuda

#endif // BIRKHOFF_COMPILER_CUDA_SCHEDULE_H
