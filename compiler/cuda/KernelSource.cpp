//===- KernelSource.cpp ---------------------------------------------------===//
#include "KernelSource.h"
#include "KernelSourceInternal.h"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

namespace birkhoff::cuda {
namespace detail {

Expected<std::vector<float>> ropeInvFreq(const LaunchReader &r,
                                         int64_t ropeDim) {
  BK_ASSIGN_OR_RETURN(double theta, r.num("theta"));
  BK_ASSIGN_OR_RETURN(int64_t yarn, r.integer("yarn", 0, 1));
  float base = float(theta);
  int64_t half = ropeDim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k)
    inv[size_t(k)] = 1.0f / std::pow(base, float(2 * k) / float(ropeDim));
  if (!yarn)
    return inv;
  BK_ASSIGN_OR_RETURN(double factor, r.num("rope_factor"));
  BK_ASSIGN_OR_RETURN(double original, r.num("original_seq_len"));
  BK_ASSIGN_OR_RETURN(double betaFast, r.num("beta_fast"));
  BK_ASSIGN_OR_RETURN(double betaSlow, r.num("beta_slow"));
  double dim = double(ropeDim);
  auto correctionDim = [&](double rotations) {
    return dim * std::log(original / (rotations * 2.0 * M_PI)) /
           (2.0 * std::log(double(base)));
  };
  double low = std::max(std::floor(correctionDim(betaFast)), 0.0);
  double high = std::min(std::ceil(correctionDim(betaSlow)), dim - 1);
  if (low == high)
    high += 0.001;
  for (int64_t k = 0; k < half; ++k) {
    float ramp =
        std::clamp(float((double(k) - low) / (high - low)), 0.0f, 1.0f);
    float extrapolation = inv[size_t(k)];
    float interpolation = extrapolation / float(factor);
    inv[size_t(k)] = interpolation * ramp + extrapolation * (1.0f - ramp);
  }
  return inv;
}

std::string invFreqConstant(const std::string &name,
                            const std::vector<float> &inv) {
  std::string c = "__constant__ float " + name + "[" +
                  i(std::max<size_t>(1, inv.size())) + "] = {";
  for (size_t k = 0; k < inv.size(); ++k)
    c += (k ? ", " : "") + f32(inv[k]);
  if (inv.empty())
    c += "0.0f";
  return c + "};\n";
}

} // namespace detail

using namespace detail;
namespace {

using Generator = std::function<Expected<Body>(const LaunchReader &,
                                               const CudaCodegenOptions &)>;

Expected<Body> genEmbed(const LaunchReader &r, const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.integer("dim"));
  BK_ASSIGN_OR_RETURN(int64_t hc, r.integer("hc", 1, 64));
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16}));
  const auto &shapes = r.spec().weightShapes;
  if (shapes.empty() || shapes[0].size() != 2 || shapes[0][1] != dim)
    return invalidArgument(r.where() +
                           "needs the embedding table's shape [vocab, " +
                           i(dim) + "] (the kernel bounds token ids by it)");
  int64_t vocab = shapes[0][0];
  Body b;
  b.include = "bk/embed.cuh";
  b.call = "bk::embed<" + i(vocab) + ", " + i(dim) + ", " + i(hc) + ", " +
           dt(w) + ", " + i(kBlock) + ">(args);";
  b.grid = {1, 0, 0, kBlock};
  return b;
}

Expected<Body> genRmsNorm(const LaunchReader &r, const CudaCodegenOptions &o) {
  BK_ASSIGN_OR_RETURN(int64_t n, r.integer("n"));
  BK_ASSIGN_OR_RETURN(double eps, r.num("eps"));
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16}));
  BK_RETURN_IF_ERROR(r.shape(0, {n}));
  Body b;
  b.include = "bk/norm.cuh";
  b.call = "bk::rmsNorm<" + i(n) + ", " + dt(w) + ", " + i(kBlock) + ", " +
           flag(o.hostOrderReductions) + ">(args, " + f32(float(eps)) + ");";
  b.grid = {1, 0, 0, kBlock};
  return b;
}

Expected<Body> genHeadRmsNorm(const LaunchReader &r,
                              const CudaCodegenOptions &o) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.integer("heads"));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.integer("head_dim"));
  BK_ASSIGN_OR_RETURN(double eps, r.num("eps"));
  constexpr int kHeadsPerBlock = 4;
  Body b;
  b.include = "bk/norm.cuh";
  b.call = "bk::headRmsNorm<" + i(heads) + ", " + i(hd) + ", " +
           i(kHeadsPerBlock) + ", " + flag(o.hostOrderReductions) + ">(args, " +
           f32(float(eps)) + ");";
  b.grid = {(heads + kHeadsPerBlock - 1) / kHeadsPerBlock, 0, 0,
            32 * kHeadsPerBlock};
  return b;
}

Expected<Body> genRope(const LaunchReader &r, const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.integer("heads"));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.integer("head_dim"));
  BK_ASSIGN_OR_RETURN(int64_t rd, r.integer("rope_dim", 0));
  BK_ASSIGN_OR_RETURN(int64_t inverse, r.integer("inverse", 0, 1));
  if (rd > hd || rd % 2)
    return invalidArgument(r.where() + "rope_dim " + i(rd) +
                           " does not fit head_dim " + i(hd));
  BK_ASSIGN_OR_RETURN(std::vector<float> inv, ropeInvFreq(r, rd));
  Body b;
  b.include = "bk/rope.cuh";
  b.constants = invFreqConstant("bk_inv_freq", inv);
  b.call = "bk::rope<" + i(heads) + ", " + i(hd) + ", " + i(rd) + ", " +
           flag(inverse != 0) + ", " + i(kBlock) + ">(args, bk_inv_freq);";
  b.grid = {1, 0, 0, kBlock};
  return b;
}

Expected<Body> genLinear(const LaunchReader &r, const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t in, r.integer("in_features"));
  BK_ASSIGN_OR_RETURN(int64_t out, r.integer("out_features"));
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16,
                                            DType::F8E4M3, DType::FP4E2M1x2}));
  BK_RETURN_IF_ERROR(r.shape(0, {out, in}));
  if (w == DType::FP4E2M1x2 && in % 32)
    return invalidArgument(r.where() + "FP4 in_features " + i(in) +
                           " is not a multiple of its 32-blocks");
  constexpr int kWarps = 8, kTokenTile = 4, kTokensPerY = 32;
  Body b;
  b.include = "bk/linear.cuh";
  b.call = "bk::linear<" + i(in) + ", " + i(out) + ", " + dt(w) + ", " +
           i(kWarps) + ", " + i(kTokenTile) + ", " + i(kTokensPerY) +
           ">(args);";
  b.grid = {0, (out + kWarps - 1) / kWarps, kTokensPerY, 32 * kWarps};
  b.minBlocksPerSm = 3; // <= 85 registers: FP4 decodes 32 values per chunk
  return b;
}

Expected<Body> genMhc(const LaunchReader &r, bool head, bool norm) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.integer("dim"));
  BK_ASSIGN_OR_RETURN(int64_t hc, r.integer("hc", 1, 8));
  BK_ASSIGN_OR_RETURN(double hcEps, r.num("hc_eps"));
  BK_ASSIGN_OR_RETURN(double normEps, r.num("norm_eps"));
  double eps = 0.0;
  if (norm) {
    BK_ASSIGN_OR_RETURN(double e, r.num("eps"));
    eps = e;
  }
  int64_t iters = 0;
  if (!head) {
    BK_ASSIGN_OR_RETURN(int64_t it, r.integer("iters", 1, 1000));
    iters = it;
  }
  std::initializer_list<DType> small = {DType::F32, DType::BF16};
  BK_ASSIGN_OR_RETURN(DType fn, r.weight(0, small));
  BK_ASSIGN_OR_RETURN(DType base, r.weight(1, small));
  BK_ASSIGN_OR_RETURN(DType scale, r.weight(2, small));
  DType nw = DType::F32;
  if (norm) {
    BK_ASSIGN_OR_RETURN(DType t, r.weight(3, small));
    nw = t;
    BK_RETURN_IF_ERROR(r.shape(3, {dim}));
  }
  int64_t rows = head ? hc : (2 + hc) * hc;
  BK_RETURN_IF_ERROR(r.shape(0, {rows, hc * dim}));
  BK_RETURN_IF_ERROR(r.shape(1, {rows}));
  Body b;
  b.include = "bk/mhc.cuh";
  std::string eps3 =
      f32(float(hcEps)) + ", " + f32(float(normEps)) + ", " + f32(float(eps));
  // Entries of very few tokens (decode), mhc_pre(_norm): a block per mixing
  // row (and one for Σ x²) per token, then a block per token goes on from
  // the sums in scratch (mhcMixRow): the weights spread over rows + 1 SMs.
  constexpr int64_t kSplitMaxTokens = 4;
  if (!head && r.maxTokens() > 0 && r.maxTokens() <= kSplitMaxTokens) {
    b.call = "bk::mhcMixRow<" + i(dim) + ", " + i(hc) + ", " + dt(fn) + ", " +
             i(kBlock) + ">(args);";
    b.grid = {rows + 1, 0, 0, kBlock};
    b.scratchBytes = uint64_t(r.maxTokens() * (rows + 1) * 4);
    Body rest;
    rest.include = "bk/mhc.cuh";
    rest.call = "bk::mhcPre<" + i(dim) + ", " + i(hc) + ", " + i(iters) + ", " +
                flag(norm) + ", " + dt(fn) + ", " + dt(base) + ", " +
                dt(scale) + ", " + dt(nw) + ", " + i(kBlock) + ", " +
                flag(isOfficial(r)) + ", 1, true>(args, " + eps3 + ");";
    rest.grid = {1, 0, 0, kBlock};
    rest.scratchBytes = b.scratchBytes;
    rest.minBlocksPerSm = 3;
    b.then.push_back(std::move(rest));
    return b;
  }
  // Small entries (decode): a cluster of blocks per token splits the mixing
  // rows, so the ROWS·hc·dim fp32 weights are not read by one SM alone.
  int64_t cluster = 1;
  if (r.maxTokens() > 0 && r.maxTokens() <= 32)
    for (int64_t c : {8, 6, 4, 3, 2})
      if (rows % c == 0) {
        cluster = c;
        break;
      }
  // Official numerics: bf16 collapsed input and P1 norm (reference sources
  // of one block per token keep their text, and so their entry names).
  std::string tail = cluster > 1 ? flag(isOfficial(r)) + ", " + i(cluster)
                                 : (isOfficial(r) ? "true" : "");
  if (!tail.empty())
    tail = ", " + tail;
  if (head)
    b.call = "bk::mhcHead<" + i(dim) + ", " + i(hc) + ", " + flag(norm) + ", " +
             dt(fn) + ", " + dt(base) + ", " + dt(scale) + ", " + dt(nw) +
             ", " + i(kBlock) + tail + ">(args, " + eps3 + ");";
  else
    b.call = "bk::mhcPre<" + i(dim) + ", " + i(hc) + ", " + i(iters) + ", " +
             flag(norm) + ", " + dt(fn) + ", " + dt(base) + ", " + dt(scale) +
             ", " + dt(nw) + ", " + i(kBlock) + tail + ">(args, " + eps3 + ");";
  b.grid = {cluster, 0, 0, kBlock};
  b.cluster = int(cluster);
  b.minBlocksPerSm = 3; // <= 85 registers: (2+hc)·hc mixing sums per thread
  return b;
}

Expected<Body> genMhcPost(const LaunchReader &r, const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.integer("dim"));
  BK_ASSIGN_OR_RETURN(int64_t hc, r.integer("hc", 1, 8));
  Body b;
  b.include = "bk/mhc.cuh";
  // Official numerics: the streams stay bf16.
  b.call = "bk::mhcPost<" + i(dim) + ", " + i(hc) + ", " + i(kBlock) +
           (isOfficial(r) ? ", true" : "") + ">(args);";
  b.grid = {(dim + 4 * kBlock - 1) / (4 * kBlock), 0, 0, kBlock};
  return b;
}

const std::map<std::string_view, Generator> &generators() {
  static const std::map<std::string_view, Generator> table = {
      {"embed", genEmbed},
      {"rms_norm", genRmsNorm},
      {"head_rms_norm", genHeadRmsNorm},
      {"rope", genRope},
      {"linear", genLinear},
      {"mhc_pre", [](auto &r, auto &) { return genMhc(r, false, false); }},
      {"mhc_pre_norm", [](auto &r, auto &) { return genMhc(r, false, true); }},
      {"mhc_head", [](auto &r, auto &) { return genMhc(r, true, false); }},
      {"mhc_head_norm", [](auto &r, auto &) { return genMhc(r, true, true); }},
      {"mhc_post", genMhcPost},
      // The rest of the catalogue (KernelSourceInternal.h).
      {"linear_rms_norm", genLinearRmsNorm},
      {"grouped_linear", genGroupedLinear},
      {"router_scores", genRouterScores},
      {"route_select", genRouteSelect},
      {"router", genRouter},
      {"moe", genMoe},
      {"compressor", genCompressor},
      {"head_rms_norm_rope", genHeadRmsNormRope},
      {"indexer_topk", genIndexerTopk},
      {"sparse_attention", genSparseAttention},
      {"window_write", genWindowWrite},
  };
  return table;
}

/// FNV-1a, for stable entry names.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

/// One kernel's source: its body in an extern "C" entry named after the
/// kernel and a hash of the text, so identical kernels share one name.
KernelSource sourceOf(const std::string &kernelName, const Body &body) {
  std::string kernel = "#include \"bk/abi.cuh\"\n#include \"" + body.include +
                       "\"\n\n" + body.constants;
  std::string signature = "(const BkLaunch args) {\n  " + body.call + "\n}\n";
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016" PRIx64, fnv1a(kernel + signature));
  KernelSource ks;
  ks.entry = "bk_" + kernelName + "_" + hash;
  // A compile-time cluster shape: plain cuLaunchKernel launches then form
  // clusters of `cluster` consecutive blocks along x.
  std::string clusterDims =
      body.cluster > 1
          ? "__cluster_dims__(" + std::to_string(body.cluster) + ", 1, 1) "
          : "";
  ks.source = "// Birkhoff CUDA kernel: " + kernelName + " (generated)\n" +
              kernel + "\nextern \"C\" __global__ void " + clusterDims +
              "__launch_bounds__(" + std::to_string(body.grid.block) + ", " +
              std::to_string(body.minBlocksPerSm) + ") " + ks.entry + signature;
  ks.grid = body.grid;
  ks.cluster = body.cluster;
  ks.scratchBytes = body.scratchBytes;
  return ks;
}

} // namespace

std::vector<std::string_view> cudaGeneratedKernels() {
  std::vector<std::string_view> names;
  for (const auto &[name, gen] : generators())
    names.push_back(name);
  return names;
}

Expected<KernelSource> generateKernelSource(const CudaLaunchSpec &spec,
                                            const CudaCodegenOptions &opts) {
  LaunchReader reader(spec);
  auto it = generators().find(spec.kernel);
  if (it == generators().end())
    return unsupported("kernel '" + spec.kernel +
                       "' is not yet generated for CUDA");
  double numerics = reader.numOr("numerics", 0);
  if (numerics != 0 && numerics != 1)
    return invalidArgument(reader.where() + "parameter 'numerics' = " +
                           std::to_string(numerics) + " is not 0 or 1");
  // The official profile (KernelSourceOfficial.cpp): a kernel's own official
  // generator, or the reference one where it handles both profiles.
  Generator gen = it->second;
  if (numerics == 1 && !officialUsesReferenceGenerator(spec.kernel)) {
    GeneratorFn official = officialGenerator(spec.kernel);
    if (!official)
      return unsupported(
          reader.where() +
          "the official numerics profile is not yet generated for CUDA");
    gen = official;
  }
  BK_ASSIGN_OR_RETURN(Body body, gen(reader, opts));
  KernelSource ks = sourceOf(spec.kernel, body);
  for (const Body &next : body.then) {
    if (!next.then.empty())
      return internalError(reader.where() + "a follow-up kernel has its own");
    ks.then.push_back(sourceOf(spec.kernel, next));
  }
  return ks;
}

} // namespace birkhoff::cuda
