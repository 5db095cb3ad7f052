//===- KernelSourceMoe.cpp - The moe kernel's generator -------------------===//
//
// templates/moe.cuh and the official moe kernels, in the variant and sizes of
// the launch's schedule (ScheduleMoe.cpp); the checks below keep each
// kernel's static shared memory under 48 KiB.
//
//===----------------------------------------------------------------------===//
#include "KernelSourceInternal.h"

#include <algorithm>

namespace birkhoff::cuda::detail {
namespace {

/// templates/moe_official.cuh: FP8/FP4 experts, each rank's h rows whole
/// 128-blocks of the FP8 activation quantization.
Expected<Body> genMoeOfficial(const LaunchReader &r, int64_t dim, int64_t inter,
                              int64_t experts, int64_t topk, double limit,
                              bool sharedClamp, DType routed13, DType routed2,
                              DType shared13, DType shared2) {
  for (DType t : {routed13, routed2, shared13, shared2})
    if (t != DType::F8E4M3 && t != DType::FP4E2M1x2)
      return unsupported(r.where() + "official experts of " +
                         std::string(dtypeName(t)) +
                         " are not generated (FP8 and FP4 are)");
  if (dim % 128 || inter % 128)
    return unsupported(r.where() + "dim " + i(dim) + " and inter " + i(inter) +
                       " are not whole 128-blocks");
  BK_ASSIGN_OR_RETURN(
      std::string variant,
      r.variant({"decode", "stream", "grouped", "grouped_mma", "cluster"}));
  const Schedule &sc = r.schedule();
  const int64_t cluster = sc.cluster, kWarps = sc.warps, kTile = sc.tokenTile;
  const int64_t kTg = sc.stagedTokens, kTb = sc.stagedHidden;
  const int64_t tpy = sc.tokensPerY;
  if (cluster < 1 || cluster > 8 || inter % cluster || (inter / cluster) % 128)
    return invalidArgument(r.where() + "schedule cluster " + i(cluster) +
                           " does not split inter " + i(inter) +
                           " into whole 128-blocks");
  if (kWarps < 1 || kTile < 1 || kTg < 1 || kTb < 1 || tpy < 1)
    return invalidArgument(r.where() + "schedule needs warps, token_tile, "
                                       "staged_tokens, staged_hidden and "
                                       "tokens_per_y");
  const int64_t sortN = moeSortSlots(tpy, topk);
  if (int64_t(experts + 1) * tpy * topk >= int64_t(UINT32_MAX))
    return unsupported(r.where() + "too many experts to sort");
  int64_t ipr = inter / cluster;
  int64_t smem =
      std::max(kTg * dim + kTg * dim / 128, kTb * inter + kTb * inter / 128) +
      kTile * ipr * 5 + kTile * ipr / 128 + sortN * 4 + kTile * 8;
  if (smem > 47 * 1024)
    return unsupported(r.where() + "dim " + i(dim) + " and inter " + i(inter) +
                       " need more shared memory than a block has");
  const int64_t maxTok = r.maxTokens();
  if (variant == "decode") {
    // moe_decode.cuh's kernels, whose weight streams spread over the whole
    // GPU: h rows, their quantization, then w2 rows by groups of `lanes`.
    const int64_t kHiddenRows = sc.rows, downLanes = sc.lanes;
    if (maxTok < 1 || kHiddenRows < 1 || inter % kHiddenRows || downLanes < 1 ||
        32 % downLanes || dim % (kWarps * 32 / downLanes))
      return invalidArgument(r.where() + "schedule rows " + i(kHiddenRows) +
                             " and lanes " + i(downLanes) +
                             " do not tile the decode kernels");
    const int64_t downRows = kWarps * 32 / downLanes;
    const int64_t nb = inter / 128;
    // Scratch per token and slot: h floats, codes, scale bytes padded to 16.
    const int64_t perSlot = 5 * inter + (nb + 15) / 16 * 16;
    const int64_t downSmem = (topk + 1) * (inter + nb) + 4 * topk;
    if (downSmem > 47 * 1024)
      return unsupported(r.where() + "the decode kernels of top-" + i(topk) +
                         " and inter " + i(inter) +
                         " need more shared memory than a block has");
    Body hidden;
    hidden.include = "bk/moe_decode.cuh";
    hidden.call = "bk::moeDecodeHidden<" + i(dim) + ", " + i(inter) + ", " +
                  i(experts) + ", " + i(topk) + ", " + dt(routed13) + ", " +
                  dt(shared13) + ", " + flag(sharedClamp) + ", " + i(kWarps) +
                  ", " + i(kHiddenRows) + ">(args, " + f32(float(limit)) + ");";
    hidden.grid = {(topk + 1) * (inter / kHiddenRows), 0, 0, int(32 * kWarps)};
    hidden.minBlocksPerSm = 3;
    hidden.scratchBytes = uint64_t(maxTok * (topk + 1) * perSlot);
    Body quantize;
    quantize.include = "bk/moe_decode.cuh";
    quantize.call = "bk::moeDecodeQuantize<" + i(inter) + ", " + i(experts) +
                    ", " + i(topk) + ", " + i(kWarps) + ">(args);";
    quantize.grid = {topk + 1, 0, 0, int(32 * kWarps)};
    quantize.scratchBytes = hidden.scratchBytes;
    Body down;
    down.include = "bk/moe_decode.cuh";
    down.call = "bk::moeDecodeDown<" + i(dim) + ", " + i(inter) + ", " +
                i(experts) + ", " + i(topk) + ", " + dt(routed2) + ", " +
                dt(shared2) + ", " + i(kWarps) + ", " + i(downLanes) +
                ">(args);";
    down.grid = {dim / downRows, 0, 0, int(32 * kWarps)};
    down.minBlocksPerSm = 3;
    down.scratchBytes = hidden.scratchBytes;
    hidden.then.push_back(std::move(quantize));
    hidden.then.push_back(std::move(down));
    return hidden;
  }
  if (variant == "stream") {
    // moe_stream.cuh's five kernels: the activations' integer forms, the
    // persistent h and w2 kernels that take (expert, rows) items from a
    // counter, the h rows' forms between them, and the per-token sum.
    if (maxTok < 1 || kWarps < 1 || inter % (4 * kWarps) ||
        dim % (8 * kWarps) || experts > 1024 || maxTok * topk > 4096)
      return invalidArgument(r.where() + "the stream kernels do not tile dim " +
                             i(dim) + ", inter " + i(inter) + " and " +
                             i(experts) + " experts in " + i(kWarps) +
                             " warps");
    // Scratch as moestream::Scratch lays it out.
    auto actRow = [](int64_t kd) {
      return (3 * kd + 4 * kd + kd / 8 + kd / 128 + 15) / 16 * 16;
    };
    const int64_t pairs = maxTok * (topk + 1);
    const uint64_t scratch =
        uint64_t(256 + maxTok * actRow(dim) + pairs * inter * 4 +
                 pairs * actRow(inter) + pairs * dim * 4);
    const std::string shape = i(dim) + ", " + i(inter) + ", " + i(experts) +
                              ", " + i(topk) + ", ";
    auto kernel = [&](std::string call, GridRule grid, int minBlocks) {
      Body b;
      b.include = "bk/moe_stream.cuh";
      b.call = std::move(call);
      b.grid = grid;
      b.minBlocksPerSm = minBlocks;
      b.scratchBytes = scratch;
      return b;
    };
    const int block = int(32 * kWarps);
    // Persistent grids of 528 blocks: four per SM of a 132-SM H100 or H200,
    // twice the two that 128 registers let reside; blocks that start once
    // the items are taken find the counter spent and leave.
    const GridRule persistent = {0, 528, 0, block};
    Body acts = kernel("bk::moeStreamActs<" + shape + i(maxTok) + ", " +
                           i(kWarps) + ", false>(args);",
                       {1, 0, 0, block}, 4);
    acts.then.push_back(kernel(
        "bk::moeStreamHidden<" + shape + dt(routed13) + ", " + dt(shared13) +
            ", " + flag(sharedClamp) + ", " + i(maxTok) + ", " + i(kWarps) +
            ">(args, " + f32(float(limit)) + ");",
        persistent, 2));
    acts.then.push_back(kernel("bk::moeStreamActs<" + shape + i(maxTok) +
                                   ", " + i(kWarps) + ", true>(args);",
                               {topk + 1, 0, 0, block}, 4));
    acts.then.push_back(kernel("bk::moeStreamDown<" + shape + dt(routed2) +
                                   ", " + dt(shared2) + ", " + i(maxTok) +
                                   ", " + i(kWarps) + ">(args);",
                               persistent, 2));
    acts.then.push_back(kernel("bk::moeStreamCombine<" + shape + i(maxTok) +
                                   ", " + i(kWarps) + ">(args);",
                               {1, 0, 0, block}, 4));
    return acts;
  }
  if (variant != "cluster") {
    if (maxTok < 1)
      return invalidArgument(r.where() + "the grouped variants need the "
                                         "entry's tokens per call");
    // Grouped by expert (moe_grouped.cuh): a cluster per routed expert and
    // one per 32 tokens of the shared expert, partial outputs in scratch.
    const int64_t nsh = std::clamp<int64_t>((maxTok + 31) / 32, 1, 16);
    // `split` clusters per expert, each a part of h (moe_grouped.cuh).
    const int64_t split = sc.split;
    if (variant == "grouped" && (split < 1 || split > 2 || ipr % (128 * split)))
      return invalidArgument(r.where() + "schedule split " + i(split) +
                             " does not halve the rank's h rows");
    const int64_t list = maxTok * topk * 4;
    if (smem - sortN * 4 + list > 47 * 1024)
      return unsupported(r.where() + "a " + i(maxTok) +
                         "-token entry needs more shared memory for its "
                         "expert lists than a block has");
    // Both grouped kernels take the expert formats, the clamp and the
    // cluster first; the rest is theirs.
    const std::string formats =
        i(dim) + ", " + i(inter) + ", " + i(experts) + ", " + i(topk) + ", " +
        dt(routed13) + ", " + dt(routed2) + ", " + dt(shared13) + ", " +
        dt(shared2) + ", " + flag(sharedClamp) + ", " + i(cluster);
    auto grouped = [&](const char *include, const std::string &call,
                       int64_t clustersPerExpert) {
      Body b;
      b.include = include;
      b.call = call + ">(args, " + f32(float(limit)) + ");";
      // A one-token entry (decode) launches a cluster group per slot, not
      // per expert: its K + 1 experts are all it runs.
      const int64_t groups = (maxTok == 1 ? topk : experts) + nsh;
      b.grid = {0, groups * clustersPerExpert * cluster, 0, int(32 * kWarps)};
      b.cluster = int(cluster);
      b.minBlocksPerSm = 1;
      b.scratchBytes = uint64_t(maxTok) * uint64_t(topk + 1) *
                           uint64_t(clustersPerExpert) * uint64_t(dim) * 4 +
                       uint64_t(maxTok) * 4;
      return b;
    };
    // grouped_mma: each expert's tiles of 16 tokens on the integer tensor
    // cores (moe_mma.cuh): the rank's h rows (inter / C) and w2 rows
    // (dim / C) split into 8 warps of whole n8 tiles inside one 128-row
    // scale block, at most 4 / 8 tiles a warp.
    const int64_t dout = dim / cluster;
    const int64_t mmaSmem = list +
                            std::max({ipr * 48, dout * 48, 16 * ipr * 4}) +
                            3 * 16 * 144 + 16 * ipr + 16 * (ipr / 128) + 512;
    if (variant == "grouped_mma") {
      if (!(dout % 128 == 0 && 128 % (ipr / 8) == 0 && 128 % (dout / 8) == 0 &&
            ipr / 64 <= 4 && dout / 64 <= 8 && mmaSmem <= 48 * 1024))
        return invalidArgument(r.where() +
                               "the tensor-core tiles do not fit "
                               "dim " +
                               i(dim) + " and inter " + i(inter) +
                               " in clusters of " + i(cluster));
      return grouped("bk/moe_mma.cuh",
                     "bk::moeOfficialGroupedMma<" + formats + ", " + i(maxTok) +
                         ", " + i(nsh),
                     1);
    }
    return grouped("bk/moe_grouped.cuh",
                   "bk::moeOfficialGrouped<" + formats + ", " + i(kWarps) +
                       ", " + i(kTg) + ", " + i(kTile) + ", " + i(kTb) + ", " +
                       i(maxTok) + ", " + i(nsh) + ", " + i(split),
                   split);
  }
  Body b;
  b.include = "bk/moe_official.cuh";
  b.call = "bk::moeOfficial<" + i(dim) + ", " + i(inter) + ", " + i(experts) +
           ", " + i(topk) + ", " + dt(routed13) + ", " + dt(routed2) + ", " +
           dt(shared13) + ", " + dt(shared2) + ", " + flag(sharedClamp) + ", " +
           i(cluster) + ", " + i(kWarps) + ", " + i(kTg) + ", " + i(kTile) +
           ", " + i(kTb) + ", " + i(tpy) + ", " + i(sortN) + ">(args, " +
           f32(float(limit)) + ");";
  b.grid = {0, cluster, tpy, int(32 * kWarps)};
  b.cluster = int(cluster);
  b.minBlocksPerSm = 1;
  return b;
}

} // namespace

Expected<Body> genMoe(const MoeParams &p, const LaunchReader &r,
                      const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.range(p, p.dim));
  BK_ASSIGN_OR_RETURN(int64_t inter, r.range(p, p.inter));
  BK_ASSIGN_OR_RETURN(int64_t experts, r.range(p, p.experts, 1, 4096));
  BK_ASSIGN_OR_RETURN(int64_t topk, r.range(p, p.topk, 1, 64));
  const double limit = p.swigluLimit;
  const bool sharedClamp = p.sharedClamp;
  size_t nw = r.spec().weightDTypes.size();
  if (int64_t(nw) != 3 * (experts + 1))
    return invalidArgument(r.where() + "has " + i(int64_t(nw)) +
                           " weights, expected 3 per expert and 3 shared (" +
                           i(3 * (experts + 1)) + ")");
  const std::initializer_list<DType> types = {DType::F32, DType::BF16,
                                              DType::F8E4M3, DType::FP4E2M1x2};
  // Every routed expert shares one format (one instantiation); the shared
  // expert has its own.
  DType routed13 = DType::F32, routed2 = DType::F32;
  DType shared13 = DType::F32, shared2 = DType::F32;
  for (int64_t e = 0; e <= experts; ++e) {
    size_t base = size_t(3 * e);
    BK_ASSIGN_OR_RETURN(DType w1, r.weight(base, types));
    BK_ASSIGN_OR_RETURN(DType w2, r.weight(base + 1, types));
    BK_ASSIGN_OR_RETURN(DType w3, r.weight(base + 2, types));
    if (w1 != w3)
      return unsupported(r.where() + "expert " + i(e) + " has w1 of " +
                         std::string(dtypeName(w1)) + " but w3 of " +
                         std::string(dtypeName(w3)));
    BK_RETURN_IF_ERROR(r.shape(base, {inter, dim}));
    BK_RETURN_IF_ERROR(r.shape(base + 1, {dim, inter}));
    BK_RETURN_IF_ERROR(r.shape(base + 2, {inter, dim}));
    if (e == experts) {
      shared13 = w1, shared2 = w2;
    } else if (e == 0) {
      routed13 = w1, routed2 = w2;
    } else if (w1 != routed13 || w2 != routed2) {
      return unsupported(r.where() + "routed expert " + i(e) +
                         " is stored differently from expert 0");
    }
  }
  for (DType t : {routed13, routed2, shared13, shared2})
    if (t == DType::FP4E2M1x2 && (dim % 32 || inter % 32))
      return invalidArgument(r.where() + "FP4 experts need dim and inter in "
                                         "whole 32-blocks");
  if (p.official())
    return genMoeOfficial(r, dim, inter, experts, topk, limit, sharedClamp,
                          routed13, routed2, shared13, shared2);
  BK_RETURN_IF_ERROR(r.variant({"cluster"}).status());
  const Schedule &sc = r.schedule();
  // Cluster: h rows split over the ranks in float4s.
  const int64_t cluster = sc.cluster;
  if (cluster < 1 || cluster > 8 || inter % cluster || (inter / cluster) % 4)
    return unsupported(r.where() + "inter " + i(inter) +
                       " is not a multiple of 4 (or of schedule cluster " +
                       i(cluster) + ")");
  const int64_t kWarps = sc.warps, kTile = sc.tokenTile, tpy = sc.tokensPerY;
  if (kWarps < 1 || kTile < 1 || tpy < 1)
    return invalidArgument(r.where() + "schedule needs warps, token_tile and "
                                       "tokens_per_y");
  const int64_t sortN = moeSortSlots(tpy, topk);
  if (int64_t(experts + 1) * tpy * topk >= int64_t(UINT32_MAX))
    return unsupported(r.where() + "too many experts to sort");
  // Static shared memory: a tile's h rows, the slot sort, the tile's tokens,
  // and the activation stage (TG x rows, then TB h rows).
  const int64_t tg = sc.stagedTokens, tb = sc.stagedHidden;
  if (tg < 1 || tb < 1 ||
      kTile * (inter / cluster) * 4 + sortN * 4 + kTile * 8 + 64 +
              4 * std::max(tg * dim, tb * inter) >
          47 * 1024)
    return unsupported(r.where() + "dim " + i(dim) + " and inter " + i(inter) +
                       " need more shared memory than a block has");
  Body b;
  b.include = "bk/moe.cuh";
  b.call = "bk::moe<" + i(dim) + ", " + i(inter) + ", " + i(experts) + ", " +
           i(topk) + ", " + dt(routed13) + ", " + dt(routed2) + ", " +
           dt(shared13) + ", " + dt(shared2) + ", " + flag(sharedClamp) + ", " +
           i(cluster) + ", " + i(kWarps) + ", " + i(tg) + ", " + i(kTile) +
           ", " + i(tb) + ", " + i(tpy) + ", " + i(sortN) + ", " +
           i(kClusterPrefetch) + ">(args, " + f32(float(limit)) + ");";
  b.grid = {0, cluster, tpy, int(32 * kWarps)};
  b.cluster = int(cluster);
  b.minBlocksPerSm = 1;
  return b;
}

} // namespace birkhoff::cuda::detail
