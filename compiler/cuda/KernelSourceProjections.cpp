//===- KernelSourceProjections.cpp - linear_rms_norm, grouped_linear, routing
//
// Generators of the projection-shaped kernels (templates/projections.cuh and
// templates/router.cuh). The GEMVs share `linear`'s split: a warp per output
// row, 32-token y-slices in 4-token register tiles.
//
//===----------------------------------------------------------------------===//
#include "KernelSourceInternal.h"

namespace birkhoff::cuda::detail {
namespace {

constexpr int kWarps = 8, kTokenTile = 4, kTokensPerY = 32;
// Blocks per cluster where a kernel needs a whole GEMV output before its
// epilogue (the largest portable cluster).
constexpr int kCluster = 8;

const std::initializer_list<DType> kMatrixTypes = {
    DType::F32, DType::BF16, DType::F8E4M3, DType::FP4E2M1x2};

Status checkFp4(const LaunchReader &r, DType t, int64_t k, const char *what) {
  if (t == DType::FP4E2M1x2 && k % 32)
    return invalidArgument(r.where() + "FP4 " + what + " " + i(k) +
                           " is not a multiple of its 32-blocks");
  return Status::ok();
}

} // namespace

Expected<Body> genLinearRmsNorm(const LinearRmsNormParams &p,
                                const LaunchReader &r,
                                const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t in, r.range(p, p.inFeatures));
  BK_ASSIGN_OR_RETURN(int64_t out, r.range(p, p.outFeatures));
  const double eps = p.eps;
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, kMatrixTypes));
  BK_ASSIGN_OR_RETURN(DType nw, r.weight(1, {DType::F32, DType::BF16}));
  BK_RETURN_IF_ERROR(r.shape(0, {out, in}));
  BK_RETURN_IF_ERROR(r.shape(1, {out}));
  BK_RETURN_IF_ERROR(checkFp4(r, w, in, "in_features"));
  BK_RETURN_IF_ERROR(r.variant({"cluster"}).status());
  const Schedule &s = r.schedule();
  if (s.stagedTokens < 1)
    return unsupported(r.where() + "in_features " + i(in) +
                       " does not fit a block's shared memory");
  Body b;
  b.include = "bk/projections.cuh";
  b.call = "bk::linearRmsNorm<" + i(in) + ", " + i(out) + ", " + dt(w) + ", " +
           dt(nw) + ", " + i(s.cluster) + ", " + i(s.warps) + ", " +
           i(s.stagedTokens) + ", " + i(s.tokensPerY) + ", " +
           i(kClusterPrefetch) + ">(args, " + f32(float(eps)) + ");";
  b.grid = {0, s.cluster, s.tokensPerY, int(32 * s.warps)};
  b.cluster = int(s.cluster);
  b.minBlocksPerSm = 1;
  return b;
}

Expected<Body> genGroupedLinear(const GroupedLinearParams &p,
                                const LaunchReader &r,
                                const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t groups, r.range(p, p.groups));
  BK_ASSIGN_OR_RETURN(int64_t inPer, r.range(p, p.inPerGroup));
  BK_ASSIGN_OR_RETURN(int64_t outPer, r.range(p, p.outPerGroup));
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, kMatrixTypes));
  if (groups * outPer > INT_MAX || groups * inPer > INT_MAX)
    return invalidArgument(r.where() + "groups are too large");
  BK_RETURN_IF_ERROR(r.shape(0, {groups * outPer, inPer}));
  BK_RETURN_IF_ERROR(checkFp4(r, w, inPer, "in_per_group"));
  const Schedule &s = r.schedule();
  // Official: wo_a dequantized to bf16, fp32 einsum, bf16 output.
  if (p.official() && s.variant == "mma")
    return linearBf16MmaBody(r, groups, inPer, outPer, w, /*round=*/true);
  BK_RETURN_IF_ERROR(r.variant({"gemv"}).status());
  if (s.prefetch < 1 || s.prefetch > 8)
    return invalidArgument(r.where() + "schedule prefetch " + i(s.prefetch) +
                           " is not in [1, 8]");
  Body b;
  b.include = "bk/projections.cuh";
  b.call = "bk::groupedLinear<" + i(groups) + ", " + i(inPer) + ", " +
           i(outPer) + ", " + dt(w) + ", " + i(s.warps) + ", " +
           i(s.tokenTile) + ", " + i(s.tokensPerY) + ", " +
           // Official: wo_a dequantized to bf16, fp32 einsum, bf16 output.
           flag(p.official()) + ", " + i(s.prefetch) + ">(args);";
  b.grid = {0, (groups * outPer + s.warps - 1) / s.warps, s.tokensPerY,
            int(32 * s.warps)};
  b.minBlocksPerSm = 3;
  return b;
}

Expected<Body> genRouterScores(const RouterScoresParams &p,
                               const LaunchReader &r,
                               const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.range(p, p.dim));
  BK_ASSIGN_OR_RETURN(int64_t experts, r.range(p, p.experts));
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, kMatrixTypes));
  BK_RETURN_IF_ERROR(r.shape(0, {experts, dim}));
  BK_RETURN_IF_ERROR(checkFp4(r, w, dim, "dim"));
  Body b;
  b.include = "bk/projections.cuh";
  b.call = "bk::routerScores<" + i(dim) + ", " + i(experts) + ", " + dt(w) +
           ", " + i(kWarps) + ", " + i(kTokenTile) + ", " + i(kTokensPerY) +
           ">(args);";
  b.grid = {0, (experts + kWarps - 1) / kWarps, kTokensPerY, 32 * kWarps};
  b.minBlocksPerSm = 3;
  return b;
}

namespace {

/// The routing parameters shared by route_select and router; `table` is the
/// launch index of the bias / tid2eid weight.
struct Routing {
  int64_t experts = 0, topk = 0, tableRows = 0;
  bool hash = false;
  DType table = DType::F32;
  double routeScale = 0;
  /// Template arguments "E, K, HASH", then "TDT, TROWS".
  std::string shape() const {
    return i(experts) + ", " + i(topk) + ", " + flag(hash);
  }
  std::string tableArgs() const {
    return dt(table) + ", " + i(tableRows) + "ll";
  }
};

/// route_select's or router's routing.
template <typename P>
Expected<Routing> routing(const P &p, const LaunchReader &r, size_t table) {
  Routing o;
  BK_ASSIGN_OR_RETURN(o.experts, r.range(p, p.experts, 1, 1024));
  BK_ASSIGN_OR_RETURN(o.topk, r.range(p, p.topk, 1, 32));
  o.routeScale = p.routeScale;
  if (o.topk > o.experts)
    return invalidArgument(r.where() + "topk " + i(o.topk) + " exceeds the " +
                           i(o.experts) + " experts");
  o.hash = p.hash;
  if (o.hash) {
    BK_ASSIGN_OR_RETURN(o.table, r.weight(table, {DType::I64, DType::I32}));
    std::vector<int64_t> s = r.shapeOf(table);
    if (s.size() != 2 || s[1] != o.topk)
      return invalidArgument(r.where() +
                             "needs the hash table's shape [vocab, " +
                             i(o.topk) + "] (ids are bounded by it)");
    o.tableRows = s[0];
  } else {
    BK_ASSIGN_OR_RETURN(o.table, r.weight(table, {DType::F32, DType::BF16}));
    BK_RETURN_IF_ERROR(r.shape(table, {o.experts}));
  }
  return o;
}

} // namespace

Expected<Body> genRouteSelect(const RouteSelectParams &p, const LaunchReader &r,
                              const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(Routing ro, routing(p, r, 0));
  Body b;
  b.include = "bk/router.cuh";
  b.call = "bk::routeSelect<" + ro.shape() + ", " + ro.tableArgs() + ", " +
           i(kWarps) + ">(args, " + f32(float(ro.routeScale)) + ");";
  b.grid = {0, 1, kWarps, 32 * kWarps};
  return b;
}

Expected<Body> genRouter(const RouterParams &p, const LaunchReader &r,
                         const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.range(p, p.dim));
  BK_ASSIGN_OR_RETURN(Routing ro, routing(p, r, 1));
  BK_ASSIGN_OR_RETURN(DType g, r.weight(0, kMatrixTypes));
  BK_RETURN_IF_ERROR(r.shape(0, {ro.experts, dim}));
  BK_RETURN_IF_ERROR(checkFp4(r, g, dim, "dim"));
  int64_t tg = stagedTokens(dim);
  if (tg < 1)
    return unsupported(r.where() + "dim " + i(dim) +
                       " does not fit a block's shared memory");
  BK_ASSIGN_OR_RETURN(std::string variant, r.variant({"cluster", "scored"}));
  if (variant == "scored") {
    if (r.maxTokens() < 1)
      return invalidArgument(r.where() + "the scored variant needs the "
                                         "entry's tokens per call");
    // A warp per gate row, 4 a block (64 blocks for 256 experts), then a
    // warp per token.
    constexpr int kScoreWarps = 4, kSelectWarps = 4;
    const int64_t stg = std::min(tg, r.maxTokens());
    Body scores;
    scores.include = "bk/router.cuh";
    scores.call = "bk::routerGateScores<" + i(dim) + ", " + i(ro.experts) +
                  ", " + dt(g) + ", " + i(kScoreWarps) + ", " + i(stg) + ", " +
                  i(kClusterPrefetch) + ">(args);";
    scores.grid = {0, (ro.experts + kScoreWarps - 1) / kScoreWarps, stg,
                   32 * kScoreWarps};
    scores.scratchBytes = uint64_t(r.maxTokens() * ro.experts * 4);
    Body select;
    select.include = scores.include;
    select.call = "bk::routerSelect<" + ro.shape() + ", " + ro.tableArgs() +
                  ", " + i(kSelectWarps) + ">(args, " +
                  f32(float(ro.routeScale)) + ");";
    select.grid = {0, 1, kSelectWarps, 32 * kSelectWarps};
    select.scratchBytes = scores.scratchBytes;
    scores.then.push_back(std::move(select));
    return scores;
  }
  Body b;
  b.include = "bk/router.cuh";
  b.call = "bk::router<" + i(dim) + ", " + ro.shape() + ", " + dt(g) + ", " +
           ro.tableArgs() + ", " + i(kCluster) + ", " + i(kWarps) + ", " +
           i(tg) + ", " + i(kTokensPerY) + ", " + i(kClusterPrefetch) +
           ">(args, " + f32(float(ro.routeScale)) + ");";
  b.grid = {0, kCluster, kTokensPerY, 32 * kWarps};
  b.cluster = kCluster;
  b.minBlocksPerSm = 1;
  return b;
}

} // namespace birkhoff::cuda::detail
