//===- KernelSource.cpp ---------------------------------------------------===//
#include "KernelSource.h"
#include "KernelSourceInternal.h"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <optional>

namespace birkhoff::cuda {
namespace detail {

std::vector<float> ropeInvFreq(const RopeSpec &rope) {
  const int64_t ropeDim = rope.ropeDim;
  float base = float(rope.theta);
  int64_t half = ropeDim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k)
    inv[size_t(k)] = 1.0f / std::pow(base, float(2 * k) / float(ropeDim));
  if (!rope.yarn)
    return inv;
  double factor = rope.ropeFactor;
  double original = double(rope.originalSeqLen);
  double betaFast = rope.betaFast;
  double betaSlow = rope.betaSlow;
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

Expected<Body> genEmbed(const EmbedParams &p, const LaunchReader &r,
                        const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.range(p, p.dim));
  BK_ASSIGN_OR_RETURN(int64_t hc, r.range(p, p.hc, 1, 64));
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

Expected<Body> genRmsNorm(const RmsNormParams &p, const LaunchReader &r,
                          const CudaCodegenOptions &o) {
  BK_ASSIGN_OR_RETURN(int64_t n, r.range(p, p.n));
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16}));
  BK_RETURN_IF_ERROR(r.shape(0, {n}));
  Body b;
  b.include = "bk/norm.cuh";
  b.call = "bk::rmsNorm<" + i(n) + ", " + dt(w) + ", " + i(kBlock) + ", " +
           flag(o.hostOrderReductions) + ">(args, " + f32(float(p.eps)) + ");";
  b.grid = {1, 0, 0, kBlock};
  return b;
}

Expected<Body> genHeadRmsNorm(const HeadRmsNormParams &p, const LaunchReader &r,
                              const CudaCodegenOptions &o) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.range(p, p.heads));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim));
  constexpr int kHeadsPerBlock = 4;
  Body b;
  b.include = "bk/norm.cuh";
  b.call = "bk::headRmsNorm<" + i(heads) + ", " + i(hd) + ", " +
           i(kHeadsPerBlock) + ", " + flag(o.hostOrderReductions) + ">(args, " +
           f32(float(p.eps)) + ");";
  b.grid = {(heads + kHeadsPerBlock - 1) / kHeadsPerBlock, 0, 0,
            32 * kHeadsPerBlock};
  return b;
}

Expected<Body> genRope(const RopeParams &p, const LaunchReader &r,
                       const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t heads, r.range(p, p.heads));
  BK_ASSIGN_OR_RETURN(int64_t hd, r.range(p, p.headDim));
  BK_ASSIGN_OR_RETURN(int64_t rd, r.range(p, p.ropeDim, 0));
  if (rd > hd || rd % 2)
    return invalidArgument(r.where() + "rope_dim " + i(rd) +
                           " does not fit head_dim " + i(hd));
  std::vector<float> inv = ropeInvFreq(ropeSpecOf(p));
  Body b;
  b.include = "bk/rope.cuh";
  b.constants = invFreqConstant("bk_inv_freq", inv);
  b.call = "bk::rope<" + i(heads) + ", " + i(hd) + ", " + i(rd) + ", " +
           flag(p.inverse) + ", " + i(kBlock) + ">(args, bk_inv_freq);";
  b.grid = {1, 0, 0, kBlock};
  return b;
}

Expected<Body> genLinear(const LinearParams &p, const LaunchReader &r,
                         const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t in, r.range(p, p.inFeatures));
  BK_ASSIGN_OR_RETURN(int64_t out, r.range(p, p.outFeatures));
  BK_ASSIGN_OR_RETURN(DType w, r.weight(0, {DType::F32, DType::BF16,
                                            DType::F8E4M3, DType::FP4E2M1x2}));
  BK_RETURN_IF_ERROR(r.shape(0, {out, in}));
  if (w == DType::FP4E2M1x2 && in % 32)
    return invalidArgument(r.where() + "FP4 in_features " + i(in) +
                           " is not a multiple of its 32-blocks");
  BK_RETURN_IF_ERROR(r.variant({"gemv"}).status());
  const Schedule &s = r.schedule();
  Body b;
  b.include = "bk/linear.cuh";
  b.call = "bk::linear<" + i(in) + ", " + i(out) + ", " + dt(w) + ", " +
           i(s.warps) + ", " + i(s.tokenTile) + ", " + i(s.tokensPerY) +
           ">(args);";
  b.grid = warpRowGrid(out, s);
  b.minBlocksPerSm = 3; // <= 85 registers: FP4 decodes 32 values per chunk
  return b;
}

namespace {

/// The params of mhc_pre, mhc_pre_norm, mhc_head and mhc_head_norm.
struct Mhc {
  int64_t dim = 0, hc = 0, iters = 0;
  double hcEps = 0, normEps = 0, eps = 0;
  bool official = false;
};

/// The mhc kernels' params, range-checked (iters only where there is one,
/// eps only with the norm).
template <typename P> Expected<Mhc> mhcOf(const P &p, const LaunchReader &r) {
  Mhc m;
  BK_ASSIGN_OR_RETURN(m.dim, r.range(p, p.dim));
  BK_ASSIGN_OR_RETURN(m.hc, r.range(p, p.hc, 1, 8));
  m.hcEps = p.hcEps;
  m.normEps = p.normEps;
  if constexpr (requires { p.eps; })
    m.eps = p.eps;
  if constexpr (requires { p.iters; }) {
    BK_ASSIGN_OR_RETURN(m.iters, r.range(p, p.iters, 1, 1000));
  }
  m.official = p.official();
  return m;
}

Expected<Body> genMhc(const Mhc &m, const LaunchReader &r, bool head,
                      bool norm) {
  const int64_t dim = m.dim, hc = m.hc, iters = m.iters;
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
  std::string eps3 = f32(float(m.hcEps)) + ", " + f32(float(m.normEps)) + ", " +
                     f32(float(m.eps));
  BK_ASSIGN_OR_RETURN(std::string variant,
                      head ? r.variant({"cluster", "block"})
                           : r.variant({"split", "cluster", "block"}));
  // "split" (decode), mhc_pre(_norm): a block per mixing row (and one for
  // Σ x²) per token, then a block per token goes on from the sums in scratch
  // (mhcMixRow): the weights spread over rows + 1 SMs.
  if (variant == "split") {
    if (r.maxTokens() < 1)
      return invalidArgument(r.where() + "the split variant needs the "
                                         "entry's tokens per call");
    b.call = "bk::mhcMixRow<" + i(dim) + ", " + i(hc) + ", " + dt(fn) + ", " +
             i(kBlock) + ">(args);";
    b.grid = {rows + 1, 0, 0, kBlock};
    b.scratchBytes = uint64_t(r.maxTokens() * (rows + 1) * 4);
    Body rest;
    rest.include = "bk/mhc.cuh";
    rest.call = "bk::mhcPre<" + i(dim) + ", " + i(hc) + ", " + i(iters) + ", " +
                flag(norm) + ", " + dt(fn) + ", " + dt(base) + ", " +
                dt(scale) + ", " + dt(nw) + ", " + i(kBlock) + ", " +
                flag(m.official) + ", 1, true>(args, " + eps3 + ");";
    rest.grid = {1, 0, 0, kBlock};
    rest.scratchBytes = b.scratchBytes;
    rest.minBlocksPerSm = 3;
    b.then.push_back(std::move(rest));
    return b;
  }
  // "cluster" (small entries): a cluster of blocks per token splits the
  // mixing rows, so the ROWS·hc·dim fp32 weights are not read by one SM
  // alone. "block": one block per token.
  const int64_t cluster = variant == "cluster" ? r.schedule().cluster : 1;
  if (variant == "cluster" && (cluster < 2 || cluster > 8 || rows % cluster))
    return invalidArgument(r.where() + "schedule cluster " + i(cluster) +
                           " does not split the " + i(rows) + " mixing rows");
  // Official numerics: bf16 collapsed input and P1 norm (reference sources
  // of one block per token keep their text, and so their entry names).
  std::string tail = cluster > 1 ? flag(m.official) + ", " + i(cluster)
                                 : (m.official ? "true" : "");
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

} // namespace

Expected<Body> genMhcPre(const MhcPreParams &p, const LaunchReader &r,
                         const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(Mhc m, mhcOf(p, r));
  return genMhc(m, r, /*head=*/false, /*norm=*/false);
}
Expected<Body> genMhcPreNorm(const MhcPreNormParams &p, const LaunchReader &r,
                             const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(Mhc m, mhcOf(p, r));
  return genMhc(m, r, /*head=*/false, /*norm=*/true);
}
Expected<Body> genMhcHead(const MhcHeadParams &p, const LaunchReader &r,
                          const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(Mhc m, mhcOf(p, r));
  return genMhc(m, r, /*head=*/true, /*norm=*/false);
}
Expected<Body> genMhcHeadNorm(const MhcHeadNormParams &p, const LaunchReader &r,
                              const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(Mhc m, mhcOf(p, r));
  return genMhc(m, r, /*head=*/true, /*norm=*/true);
}

Expected<Body> genMhcPost(const MhcPostParams &p, const LaunchReader &r,
                          const CudaCodegenOptions &) {
  BK_ASSIGN_OR_RETURN(int64_t dim, r.range(p, p.dim));
  BK_ASSIGN_OR_RETURN(int64_t hc, r.range(p, p.hc, 1, 8));
  Body b;
  b.include = "bk/mhc.cuh";
  // Official numerics: the streams stay bf16.
  b.call = "bk::mhcPost<" + i(dim) + ", " + i(hc) + ", " + i(kBlock) +
           (p.official() ? ", true" : "") + ">(args);";
  b.grid = {(dim + 4 * kBlock - 1) / (4 * kBlock), 0, 0, kBlock};
  return b;
}

} // namespace detail

using namespace detail;
namespace {

/// A generator with its kernel's params struct taken out of the variant.
using AnyGenerator = Expected<Body> (*)(const KernelParams &,
                                        const LaunchReader &,
                                        const CudaCodegenOptions &);
template <typename P, Generator<P> G>
Expected<Body> callTyped(const KernelParams &p, const LaunchReader &r,
                         const CudaCodegenOptions &o) {
  return G(std::get<P>(p), r, o);
}
template <typename P, Generator<P> G> constexpr AnyGenerator anyGenerator() {
  if constexpr (G == nullptr)
    return nullptr;
  else
    return &callTyped<P, G>;
}

/// Kernel P's CUDA generators: specialized below for every kernel of
/// Kernels.def (the table instantiates it for each, so a kernel left out does
/// not compile). A kernel without a CUDA generator says so with
/// BK_CUDA_NOT_GENERATED.
template <typename P> struct CudaGenerators;

#define BK_CUDA_GENERATORS(Id, referenceGen, officialKind, officialGen)        \
  template <> struct CudaGenerators<Id##Params> {                              \
    static constexpr Generator<Id##Params> reference = referenceGen;           \
    static constexpr CudaOfficialGenerator official =                          \
        CudaOfficialGenerator::officialKind;                                   \
    static constexpr Generator<Id##Params> own = officialGen;                  \
  };
/// Kernel Id has one generator for both profiles: the numerics are the same,
/// or the generator reads `official()` itself.
#define BK_CUDA_BOTH_PROFILES(Id, gen)                                         \
  BK_CUDA_GENERATORS(Id, gen, Reference, nullptr)
/// Kernel Id's official profile has a generator of its own.
#define BK_CUDA_OWN_OFFICIAL(Id, gen, officialGen)                             \
  BK_CUDA_GENERATORS(Id, gen, Own, officialGen)
/// Kernel Id's official profile is not generated for CUDA.
#define BK_CUDA_REFERENCE_ONLY(Id, gen)                                        \
  BK_CUDA_GENERATORS(Id, gen, None, nullptr)
/// Kernel Id is not generated for CUDA (--target host runs it).
#define BK_CUDA_NOT_GENERATED(Id) BK_CUDA_GENERATORS(Id, nullptr, None, nullptr)

// Same numerics in both profiles (embed copies, routing is fp32 in the
// reference code too), or a generator that reads `numerics` itself.
BK_CUDA_BOTH_PROFILES(Embed, genEmbed)
BK_CUDA_BOTH_PROFILES(MhcPre, genMhcPre)
BK_CUDA_BOTH_PROFILES(MhcPreNorm, genMhcPreNorm)
BK_CUDA_BOTH_PROFILES(MhcPost, genMhcPost)
BK_CUDA_BOTH_PROFILES(MhcHead, genMhcHead)
BK_CUDA_BOTH_PROFILES(MhcHeadNorm, genMhcHeadNorm)
BK_CUDA_BOTH_PROFILES(Compressor, genCompressor)
BK_CUDA_BOTH_PROFILES(IndexerTopk, genIndexerTopk)
BK_CUDA_BOTH_PROFILES(SparseAttention, genSparseAttention)
BK_CUDA_BOTH_PROFILES(GroupedLinear, genGroupedLinear)
BK_CUDA_BOTH_PROFILES(RouterScores, genRouterScores)
BK_CUDA_BOTH_PROFILES(RouteSelect, genRouteSelect)
BK_CUDA_BOTH_PROFILES(Router, genRouter)
BK_CUDA_BOTH_PROFILES(Moe, genMoe)
// The official profile's own kernels (KernelSourceOfficial.cpp).
BK_CUDA_OWN_OFFICIAL(RmsNorm, genRmsNorm, genRmsNormOfficial)
BK_CUDA_OWN_OFFICIAL(Linear, genLinear, genLinearOfficial)
BK_CUDA_OWN_OFFICIAL(LinearRmsNorm, genLinearRmsNorm, genLinearRmsNormOfficial)
BK_CUDA_OWN_OFFICIAL(HeadRmsNorm, genHeadRmsNorm, genHeadRmsNormOfficial)
BK_CUDA_OWN_OFFICIAL(Rope, genRope, genRopeOfficial)
BK_CUDA_OWN_OFFICIAL(HeadRmsNormRope, genHeadRmsNormRope,
                     genHeadRmsNormRopeOfficial)
BK_CUDA_OWN_OFFICIAL(WindowWrite, genWindowWrite, genWindowWriteOfficial)

#undef BK_CUDA_GENERATORS
#undef BK_CUDA_BOTH_PROFILES
#undef BK_CUDA_OWN_OFFICIAL
#undef BK_CUDA_REFERENCE_ONLY
#undef BK_CUDA_NOT_GENERATED

struct GeneratorEntry {
  AnyGenerator reference; // nullptr: not generated for CUDA
  CudaOfficialGenerator official;
  AnyGenerator own; // the official generator when official == Own
};

template <typename P> constexpr GeneratorEntry entryOf() {
  using G = CudaGenerators<P>;
  static_assert((G::official == CudaOfficialGenerator::Own) ==
                    (G::own != nullptr),
                "an Own official profile needs its generator, and only it");
  static_assert(G::reference != nullptr ||
                    G::official == CudaOfficialGenerator::None,
                "a kernel without a generator has no official one either");
  return {anyGenerator<P, G::reference>(), G::official,
          anyGenerator<P, G::own>()};
}

/// Every catalogue kernel's generators, indexed by KernelId.
constexpr GeneratorEntry kGenerators[] = {
#define BK_KERNEL(Id, ...) entryOf<Id##Params>(),
#include "birkhoff/Kernels.def"
};
static_assert(std::size(kGenerators) == kNumKernels);

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

Expected<CudaLaunchSpec> launchSpecOf(std::string_view kernel,
                                      std::span<const ParamPair> pairs) {
  std::optional<KernelId> id = kernelIdByName(kernel);
  if (!id)
    return invalidArgument("unknown kernel '" + std::string(kernel) + "'");
  CudaLaunchSpec spec;
  BK_ASSIGN_OR_RETURN(spec.params, decodeParams(*id, pairs));
  return spec;
}

CudaKernelSupport cudaKernelSupport(KernelId id) {
  const GeneratorEntry &e = kGenerators[size_t(id)];
  return {e.reference != nullptr, e.official};
}

std::vector<std::string_view> cudaGeneratedKernels() {
  std::vector<std::string_view> names;
  for (size_t k = 0; k < kNumKernels; ++k)
    if (kGenerators[k].reference)
      names.push_back(kernelName(KernelId(k)));
  return names;
}

CudaLaunchSpec scheduled(CudaLaunchSpec spec) {
  if (!spec.schedule)
    spec.schedule = chooseSchedule(spec);
  return spec;
}

Expected<KernelSource> generateKernelSource(const CudaLaunchSpec &spec,
                                            const CudaCodegenOptions &opts) {
  if (spec.params.index() == 0)
    return invalidArgument("CUDA launch without decoded params");
  LaunchReader reader(spec);
  if (!spec.schedule)
    return invalidArgument(reader.where() +
                           "has no schedule (bk-choose-schedule chooses it)");
  const KernelId id = spec.kernel();
  const std::string name(kernelName(id));
  const GeneratorEntry &entry = kGenerators[size_t(id)];
  if (!entry.reference)
    return unsupported("kernel '" + name + "' is not yet generated for CUDA");
  // The decode checked every value's type; the generators also need finite
  // reals and a known profile.
  for (const EncodedParam &e : encodeParams(spec.params))
    if (e.type == ParamType::Real && !std::isfinite(e.value))
      return invalidArgument(reader.where() + "parameter '" +
                             std::string(e.key) + "' is not finite");
  const int64_t numerics = numericsOf(spec.params);
  if (numerics != 0 && numerics != 1)
    return invalidArgument(reader.where() + "parameter 'numerics' = " +
                           std::to_string(numerics) + " is not 0 or 1");
  // The official profile (KernelSourceOfficial.cpp): a kernel's own official
  // generator, or the reference one where it handles both profiles.
  AnyGenerator gen = entry.reference;
  if (numerics == 1) {
    switch (entry.official) {
    case CudaOfficialGenerator::Reference:
      break;
    case CudaOfficialGenerator::Own:
      gen = entry.own;
      break;
    case CudaOfficialGenerator::None:
      return unsupported(
          reader.where() +
          "the official numerics profile is not yet generated for CUDA");
    }
  }
  BK_ASSIGN_OR_RETURN(Body body, gen(spec.params, reader, opts));
  KernelSource ks = sourceOf(name, body);
  for (const Body &next : body.then) {
    if (!next.then.empty())
      return internalError(reader.where() + "a follow-up kernel has its own");
    ks.then.push_back(sourceOf(name, next));
  }
  return ks;
}

} // namespace birkhoff::cuda
