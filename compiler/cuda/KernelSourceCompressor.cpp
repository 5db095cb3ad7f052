//===- KernelSourceCompressor.cpp - The compressor's generator ------------===//
//
// templates/compressor.cuh: one thread block cluster walks the call's tokens;
// the cluster size is the largest of 8, 4, 2, 1 that splits the head into
// whole RoPE pairs per block. The "projected" variant computes the tokens'
// projections over the whole GPU first.
//
//===----------------------------------------------------------------------===//
#include "KernelSourceInternal.h"

#include "birkhoff/OfficialNumerics.h"

namespace birkhoff::cuda::detail {

Expected<Body> genCompressor(const CompressorParams &p, const LaunchReader &r,
                             const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.range(p, p.dim));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim));
  BK_ASSIGN_OR_RETURN(int64_t ratio, r.range(p, p.ratio, 1, 1 << 20));
  const bool overlap = p.overlap;
  const double eps = p.eps;
  BK_ASSIGN_OR_RETURN(int64_t rd, r.range(p, p.ropeDim, 0));
  if (rd > hd || rd % 2 || hd % 2)
    return invalidArgument(r.where() + "rope_dim " + i(rd) +
                           " does not split head_dim " + i(hd) +
                           " into RoPE pairs");
  // Official numerics: entries stored as KV entries (entry_format 1) or FP4
  // indexer keys (2), the profile's own RoPE frequencies.
  const bool official = p.official();
  int64_t format = 0, entryBytes = 0;
  if (official) {
    BK_ASSIGN_OR_RETURN(format, r.range(p, p.entryFormat, 1, 2));
    int64_t epl = hd / 32;
    if (format == 1) {
      BK_ASSIGN_OR_RETURN(
          official::KvEntryLayout layout,
          official::KvEntryLayout::make(size_t(hd), size_t(rd)));
      if (hd % 64 || !(64 % epl == 0 || epl % 64 == 0))
        return unsupported(r.where() + "head_dim " + i(hd) +
                           " does not split into a warp's 64-blocks");
      entryBytes = int64_t(layout.entryBytes());
    } else {
      if ((hd & (hd - 1)) || hd < 64 || hd > 1024)
        return unsupported(r.where() + "FP4 keys of head_dim " + i(hd) +
                           " (a power of two from 64 to 1024 is generated)");
      entryBytes = int64_t(official::fp4KeyBytes(size_t(hd)));
    }
  } else if (p.entryFormat != 0) {
    return unsupported(r.where() + "entry_format belongs to the official "
                                   "numerics profile");
  }
  const std::vector<float> inv =
      official ? officialInvFreq(ropeSpecOf(p)) : ropeInvFreq(ropeSpecOf(p));
  const std::initializer_list<DType> matrices = {
      DType::F32, DType::BF16, DType::F8E4M3, DType::FP4E2M1x2};
  BK_ASSIGN_OR_RETURN(DType wkv, r.weight(0, matrices));
  BK_ASSIGN_OR_RETURN(DType wgate, r.weight(1, matrices));
  BK_ASSIGN_OR_RETURN(DType ape, r.weight(2, {DType::F32, DType::BF16}));
  BK_ASSIGN_OR_RETURN(DType norm, r.weight(3, {DType::F32, DType::BF16}));
  if (wkv != wgate)
    return unsupported(r.where() + "wkv and wgate are stored differently");
  int64_t width = (overlap ? 2 : 1) * hd;
  BK_RETURN_IF_ERROR(r.shape(0, {width, dim}));
  BK_RETURN_IF_ERROR(r.shape(1, {width, dim}));
  BK_RETURN_IF_ERROR(r.shape(2, {ratio, width}));
  BK_RETURN_IF_ERROR(r.shape(3, {hd}));
  if (wkv == DType::FP4E2M1x2 && dim % 32)
    return invalidArgument(r.where() + "FP4 dim " + i(dim) +
                           " is not a multiple of its 32-blocks");
  int cluster = 1;
  for (int c : {8, 4, 2})
    if (hd % (2 * c) == 0) {
      cluster = c;
      break;
    }
  // Static shared memory: TG staged activation rows, and the projections of
  // the tokens projected at once (both matrices, both halves with overlap).
  int64_t tg = std::min<int64_t>(2, stagedTokens(dim, 32 * 1024));
  int64_t rows = 2 * width / cluster;
  // Official: the rounded and final values per parity, rank 0's entry.
  int64_t extra = official ? (hd + 4 * (hd / cluster)) * 4 : 0;
  int tile = 0;
  for (int t : {32, 16, 8, 4, 2, 1})
    if (t >= tg && rows * t * 4 + tg * dim * 4 + extra <= 46 * 1024) {
      tile = t;
      break;
    }
  if (tg < 1 || !tile)
    return unsupported(r.where() + "dim " + i(dim) + " and head_dim " + i(hd) +
                       " need more shared memory than a block has");
  constexpr int kWarps = 8;
  BK_ASSIGN_OR_RETURN(std::string variant, r.variant({"cluster", "projected"}));
  const bool projected = variant == "projected";
  if (projected && r.maxTokens() < 1)
    return invalidArgument(r.where() +
                           "the projected variant needs the entry's tokens "
                           "per call");
  Body b;
  b.include = "bk/compressor.cuh";
  b.constants = invFreqConstant("bk_inv_freq", inv);
  b.call =
      "bk::compressor<" + i(dim) + ", " + i(hd) + ", " + i(ratio) + ", " +
      flag(overlap) + ", " + i(rd) + ", " + dt(wkv) + ", " + dt(ape) + ", " +
      dt(norm) + ", " + i(cluster) + ", " + i(kWarps) + ", " + i(tg) + ", " +
      i(tile) + ", " + i(kClusterPrefetch) +
      (official || projected
           ? ", " + i(format) + ", " + i(entryBytes) + ", " + flag(projected)
           : "") +
      ">(args, " + f32(float(eps)) + ", bk_inv_freq" +
      (official ? ", " + f32(float(std::pow(double(hd), -0.5))) : "") + ");";
  b.grid = {0, cluster, 0, 32 * kWarps};
  b.cluster = cluster;
  b.minBlocksPerSm = 1;
  if (!projected)
    return b;
  // The projections over the whole GPU first: a warp per row of [wkv;
  // wgate], tg tokens a y-slice, into scratch.
  const int64_t ptg = std::min(tg, r.maxTokens());
  Body project;
  project.include = b.include;
  project.call = "bk::compressorProject<" + i(dim) + ", " + i(width) + ", " +
                 dt(wkv) + ", " + i(kWarps) + ", " + i(ptg) + ", " +
                 i(kClusterPrefetch) + ">(args);";
  project.grid = {0, (2 * width + kWarps - 1) / kWarps, ptg, 32 * kWarps};
  project.minBlocksPerSm = 2;
  project.scratchBytes = uint64_t(r.maxTokens() * 2 * width * 4);
  b.scratchBytes = project.scratchBytes;
  project.then.push_back(std::move(b));
  return project;
}

} // namespace birkhoff::cuda::detail
