//===- ScheduleMoe.cpp - The moe kernel's schedule choices ----------------===//
//
// Reference: "cluster" (templates/moe.cuh): a cluster per y-slice of tokens,
// the h rows split over its ranks in float4s, the activation and h stages as
// large as the 47 KiB of static shared memory allow (at most 4 rows each).
//
// Official: "decode" (moe_decode.cuh's three kernels) for entries of at most
// 4 tokens, "stream" (moe_stream.cuh) for entries of up to 64 (decode
// batches), "grouped_mma" (moe_mma.cuh) or "grouped" (moe_grouped.cuh) for
// other entries of known size, "cluster" (moe_official.cuh) otherwise. Each
// rank's h rows are whole 128-blocks of the FP8 activation quantization.
//
//===----------------------------------------------------------------------===//
#include "KernelSourceInternal.h"
#include "Schedule.h"

namespace birkhoff::cuda {
namespace {

constexpr int64_t kWarps = 8, kTile = 8;
constexpr int64_t kSharedBudget = 47 * 1024;
// Entries of at most this many tokens (decode) run moe_decode.cuh: each
// token reads its own experts' weights, which pays only while the tokens of
// a call rarely share experts.
constexpr int64_t kDecodeMaxTokens = 4;
// Entries of at most this many tokens (decode batches) run moe_stream.cuh.
constexpr int64_t kStreamMaxTokens = 64;
// moe_decode.cuh's h rows per block.
constexpr int64_t kHiddenRows = 32;

/// Tokens per y-slice: 2048 (token, expert) pairs, at most 128 tokens.
int64_t tokensPerY(int64_t topk) {
  return std::max<int64_t>(1, std::min<int64_t>(128, 2048 / topk));
}

Schedule reference(const MoeParams &p) {
  Schedule s;
  s.variant = "cluster";
  s.warps = kWarps;
  s.tokenTile = kTile;
  s.tokensPerY = tokensPerY(p.topk);
  for (int64_t c : {8, 4, 2, 1})
    if (p.inter % c == 0 && (p.inter / c) % 4 == 0) {
      s.cluster = c;
      break;
    }
  if (!s.cluster)
    return s; // inter is not a multiple of 4: the generator refuses it
  // Static shared memory: a tile's h rows, the slot sort, the tile's tokens,
  // and the activation stage (TG x rows, then TB h rows).
  int64_t fixed = kTile * (p.inter / s.cluster) * 4 +
                  detail::moeSortSlots(s.tokensPerY, p.topk) * 4 + kTile * 8 +
                  64;
  int64_t stageFloats = (kSharedBudget - fixed) / 4;
  s.stagedTokens = std::min<int64_t>(4, stageFloats / p.dim);
  s.stagedHidden = std::min<int64_t>(4, stageFloats / p.inter);
  return s;
}

/// w2 rows of the decode kernels: a group of lanes per row as wide as its
/// 128-blocks allow (a power of two up to 32), so no lane idles at inter
/// 2048; wider groups (fewer rows a block) where a block's rows would not
/// tile dim (dim 128 with inter 128: 2 lanes, 128 rows a block).
int64_t downLanes(int64_t dim, int64_t inter) {
  int64_t lanes = 32;
  while (lanes > 1 && (inter / 128) % lanes)
    lanes /= 2;
  while (lanes < 32 && dim % (kWarps * 32 / lanes))
    lanes *= 2;
  return lanes;
}

Schedule official(const MoeParams &p, int64_t maxTokens) {
  const int64_t dim = p.dim, inter = p.inter, topk = p.topk;
  Schedule s;
  s.variant = "cluster";
  s.warps = kWarps;
  s.tokenTile = kTile;
  s.stagedTokens = 4;
  s.stagedHidden = 4;
  s.tokensPerY = tokensPerY(topk);
  s.cluster = 1;
  for (int64_t c : {8, 4, 2})
    if ((inter / c) % 128 == 0 && inter % c == 0) {
      s.cluster = c;
      break;
    }
  if (maxTokens < 1)
    return s;
  const int64_t lanes = downLanes(dim, inter);
  const int64_t nb = inter / 128;
  const int64_t downSmem = (topk + 1) * (inter + nb) + 4 * topk;
  if (maxTokens <= kDecodeMaxTokens && dim % (kWarps * 32 / lanes) == 0 &&
      downSmem <= kSharedBudget) {
    s.variant = "decode";
    s.lanes = lanes;
    s.rows = kHiddenRows;
    return s;
  }
  // Decode batches (the batch entry, up to 64 tokens) stream each routed
  // expert's weights once over the whole GPU, on CUDA cores.
  if (maxTokens <= kStreamMaxTokens && inter % (4 * kWarps) == 0 &&
      dim % (8 * kWarps) == 0 && p.experts <= 1024) {
    s.variant = "stream";
    return s;
  }
  // Entries of many tokens run each expert's tiles of 16 tokens on the
  // integer tensor cores where its tiling fits: the rank's h rows (inter /
  // C) and w2 rows (dim / C) split into 8 warps of whole n8 tiles inside one
  // 128-row scale block, at most 4 / 8 tiles a warp, within the static
  // shared memory limit (512: sa and the frame's).
  const int64_t ipr = inter / s.cluster, dout = dim / s.cluster;
  const int64_t list = maxTokens * topk * 4;
  const int64_t mmaSmem = list + std::max({ipr * 48, dout * 48, 16 * ipr * 4}) +
                          3 * 16 * 144 + 16 * ipr + 16 * (ipr / 128) + 512;
  if (maxTokens > 32 && dout % 128 == 0 && ipr >= 8 && 128 % (ipr / 8) == 0 &&
      dout >= 8 && 128 % (dout / 8) == 0 && ipr / 64 <= 4 && dout / 64 <= 8 &&
      mmaSmem <= 48 * 1024) {
    s.variant = "grouped_mma";
    s.split = 1;
    return s;
  }
  // Small entries (decode) run few experts: two clusters per expert, each
  // half of h, use twice the SMs. Large ones keep the GPU busy already and
  // would only double the scratch.
  s.variant = "grouped";
  s.split = maxTokens <= 32 && ipr % 256 == 0 ? 2 : 1;
  return s;
}

} // namespace

Schedule chooseMoeSchedule(const MoeParams &p, int64_t maxTokens) {
  if (p.dim < 1 || p.inter < 1 || p.topk < 1) {
    // Out of range: the generator refuses the params before the schedule.
    Schedule s;
    s.variant = "cluster";
    return s;
  }
  return p.official() ? official(p, maxTokens) : reference(p);
}

} // namespace birkhoff::cuda
