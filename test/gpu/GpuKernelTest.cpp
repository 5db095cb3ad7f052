//===- GpuKernelTest.cpp - Generated CUDA kernels against the host kernels
//-===//
//
// Each test fills a host KernelHarness (test/unit/runtime), runs the launch's
// generated kernel on the GPU on the same bytes, then the host kernel, and
// compares: bitwise for the element/row-local kernels (rms_norm, head_rms_norm,
// rope, embed, mHC), within one bf16 ulp of the host value otherwise.
// Skips without a CUDA driver or an sm_90 device (the cubins are sm_90a).
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"
#include "Launches.h"

#include <string>

namespace birkhoff::cuda {
namespace {

using namespace gputest;

TEST(GpuKernels, RmsNormIsBitwise) {
  REQUIRE_GPU();
  for (int64_t n : {4096, 24, 13}) {
    KernelHarness h;
    h.launch.kernel = "rms_norm";
    int64_t S = 5;
    int in = h.addBuffer(S * n), out = h.addBuffer(S * n);
    h.buffers[size_t(in)] = randomFloats(size_t(S * n), 3.0f);
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    h.launch.weights = {h.addWeightRaw("norm", DType::BF16, {n},
                                       bf16Bytes(randomFloats(size_t(n))))};
    h.param("n", double(n));
    h.param("eps", 1e-6);
    auto [d, hst] = runBoth(G, h, rt::rmsNormKernel, S, 0);
    if (d.empty())
      return;
    expectBitwise(d[0], hst[0], "rms_norm");
  }
}

TEST(GpuKernels, HeadRmsNormIsBitwise) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "head_rms_norm";
  int64_t S = 3, H = 16, D = 512;
  int in = h.addBuffer(S * H * D), out = h.addBuffer(S * H * D);
  h.buffers[size_t(in)] = randomFloats(size_t(S * H * D), 2.0f);
  h.launch.inputs = {in};
  h.launch.outputs = {out};
  h.param("heads", double(H));
  h.param("head_dim", double(D));
  h.param("eps", 1e-6);
  auto [d, hst] = runBoth(G, h, rt::headRmsNormKernel, S, 0);
  if (!d.empty())
    expectBitwise(d[0], hst[0], "head_rms_norm");
}

TEST(GpuKernels, EmbedIsBitwise) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "embed";
  int64_t V = 1000, dim = 4096, hc = 4, S = 7;
  int out = h.addBuffer(S * hc * dim);
  h.launch.inputs = {-1};
  h.launch.outputs = {out};
  h.launch.weights = {h.addWeightRaw("embed", DType::BF16, {V, dim},
                                     bf16Bytes(randomFloats(size_t(V * dim))))};
  h.tokenIds = {0, 999, 5, 17, 17, 500, 3};
  h.param("dim", double(dim));
  h.param("hc", double(hc));
  auto [d, hst] = runBoth(G, h, rt::embedKernel, S, 0);
  if (!d.empty())
    expectBitwise(d[0], hst[0], "embed");
}

// Both backends evaluate cos/sin in double and round once, so RoPE is bitwise.
TEST(GpuKernels, RopeIsBitwise) {
  REQUIRE_GPU();
  for (bool inverse : {false, true}) {
    KernelHarness h;
    h.launch.kernel = "rope";
    int64_t S = 9, H = 8, D = 512, R = 64, start = 100000;
    int in = h.addBuffer(S * H * D), out = h.addBuffer(S * H * D);
    h.buffers[size_t(in)] = randomFloats(size_t(S * H * D));
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"heads", H},
             {"head_dim", D},
             {"inverse", inverse ? 1 : 0},
             {"rope_dim", R},
             {"theta", 160000},
             {"yarn", 1},
             {"rope_factor", 16},
             {"original_seq_len", 65536},
             {"beta_fast", 32},
             {"beta_slow", 1}})
      h.param(k, v);
    auto [d, hst] = runBoth(G, h, rt::ropeKernel, S, start);
    if (!d.empty())
      expectBitwise(d[0], hst[0], inverse ? "inverse rope" : "rope");
  }
}

struct LinearCase {
  DType dtype;
  int64_t in, out, tokens;
};

TEST(GpuKernels, LinearWithinOneBf16Ulp) {
  REQUIRE_GPU();
  for (LinearCase c :
       {LinearCase{DType::F8E4M3, 4096, 1024, 1},
        LinearCase{DType::F8E4M3, 4096, 1024, 37},
        LinearCase{DType::FP4E2M1x2, 4096, 2048, 5},
        LinearCase{DType::FP4E2M1x2, 2048, 4096, 2},
        LinearCase{DType::BF16, 4096, 1024, 3},
        LinearCase{DType::BF16, 30, 7, 3}, LinearCase{DType::F32, 13, 5, 6}}) {
    SCOPED_TRACE(std::string(dtypeName(c.dtype)) + " " + std::to_string(c.in) +
                 "->" + std::to_string(c.out) +
                 " S=" + std::to_string(c.tokens));
    KernelHarness h;
    h.launch.kernel = "linear";
    int x = h.addBuffer(c.tokens * c.in), y = h.addBuffer(c.tokens * c.out);
    h.buffers[size_t(x)] = randomFloats(size_t(c.tokens * c.in));
    h.launch.inputs = {x};
    h.launch.outputs = {y};
    int w = -1;
    switch (c.dtype) {
    case DType::F8E4M3: {
      int64_t sr = (c.out + 127) / 128, sc = (c.in + 127) / 128;
      int s = h.addWeightRaw("w.scale", DType::F8E8M0, {sr, sc},
                             randomBytes(size_t(sr * sc), 118, 124));
      w = h.addWeightRaw("w", DType::F8E4M3, {c.out, c.in},
                         randomBytes(size_t(c.out * c.in), 0, 255, true), s);
      break;
    }
    case DType::FP4E2M1x2: {
      int s = h.addWeightRaw("w.scale", DType::F8E8M0, {c.out, c.in / 32},
                             randomBytes(size_t(c.out * c.in / 32), 120, 128));
      w = h.addWeightRaw("w", DType::FP4E2M1x2, {c.out, c.in},
                         randomBytes(size_t(c.out * c.in / 2), 0, 255), s);
      break;
    }
    case DType::BF16:
      w = h.addWeightRaw("w", DType::BF16, {c.out, c.in},
                         bf16Bytes(randomFloats(size_t(c.out * c.in), 0.05f)));
      break;
    default:
      w = h.addWeightF32("w", {c.out, c.in},
                         randomFloats(size_t(c.out * c.in), 0.05f));
    }
    h.launch.weights = {w};
    h.param("in_features", double(c.in));
    h.param("out_features", double(c.out));
    auto [d, hst] = runBoth(G, h, rt::linearKernel, c.tokens, 0);
    if (!d.empty())
      expectWithinBf16Ulp(d[0], hst[0], "linear");
  }
}

/// Makes `h` an mHC launch over S tokens of hc streams of dim; official
/// launches get bf16 streams (as the official model keeps them).
void setUpMhc(KernelHarness &h, const std::string &kernel, int64_t dim,
              int64_t hc, int64_t S, bool official) {
  auto values = [&](int64_t n, float scale) {
    return official ? randomBf16(size_t(n), scale)
                    : randomFloats(size_t(n), scale);
  };
  h.launch.kernel = kernel;
  if (kernel == "mhc_post") {
    h.param("dim", double(dim));
    h.param("hc", double(hc));
  } else {
    for (const auto &[key, v] :
         encodeParamPairs(test::mhcSpec(kernel.c_str(), dim, hc).params))
      h.param(key, v);
  }
  h.param("numerics", official ? 1 : 0);
  if (kernel == "mhc_post") {
    int y = h.addBuffer(S * dim), x = h.addBuffer(S * hc * dim),
        post = h.addBuffer(S * hc), comb = h.addBuffer(S * hc * hc);
    h.buffers[size_t(y)] = values(S * dim, 1.0f);
    h.buffers[size_t(x)] = values(S * hc * dim, 1.0f);
    h.buffers[size_t(post)] = randomFloats(size_t(S * hc));
    h.buffers[size_t(comb)] = randomFloats(size_t(S * hc * hc), 0.3f);
    h.launch.inputs = {y, x, post, comb};
    h.launch.outputs = {h.addBuffer(S * hc * dim)};
    return;
  }
  const bool head = kernel.rfind("mhc_head", 0) == 0,
             norm = kernel.find("_norm") != std::string::npos;
  const int64_t rows = head ? hc : (2 + hc) * hc;
  int x = h.addBuffer(S * hc * dim);
  h.buffers[size_t(x)] = values(S * hc * dim, 1.0f);
  h.launch.inputs = {x};
  h.launch.outputs = {h.addBuffer(S * dim)};
  if (!head) {
    h.launch.outputs.push_back(h.addBuffer(S * hc));
    h.launch.outputs.push_back(h.addBuffer(S * hc * hc));
  }
  h.launch.weights = {
      h.addWeightF32("fn", {rows, hc * dim},
                     randomFloats(size_t(rows * hc * dim), 0.02f)),
      h.addWeightF32("base", {rows}, randomFloats(size_t(rows), 0.5f)),
      h.addWeightF32("scale", {head ? 1 : 3},
                     randomFloats(size_t(head ? 1 : 3), 1.0f))};
  if (norm)
    h.launch.weights.push_back(h.addWeightRaw(
        "norm", DType::BF16, {dim}, bf16Bytes(randomFloats(size_t(dim)))));
}

// Both backends sum the mixing and norm reductions in the same block-tree
// order and evaluate exp alike, so every mHC output (the collapsed input,
// post, comb, the next streams) is bitwise, in both profiles, whether a
// block, a cluster of blocks (entries of up to 32 tokens) or, for mhc_pre of
// entries of up to 4 tokens, a block per mixing row mixes a token.
// Dim 1001 with 3 streams (3003 values) takes the scalar paths.
TEST(GpuKernels, MhcIsBitwise) {
  REQUIRE_GPU();
  struct Case {
    const char *kernel;
    HostKernelRef fn;
  };
  for (bool official : {false, true})
    for (auto [dim, hc] : {std::pair<int64_t, int64_t>{4096, 4}, {1001, 3}})
      for (int64_t entry : {0, 3, 16})
        for (Case c : {Case{"mhc_pre", rt::mhcPreKernel},
                       Case{"mhc_pre_norm", rt::mhcPreNormKernel},
                       Case{"mhc_head", rt::mhcHeadKernel},
                       Case{"mhc_head_norm", rt::mhcHeadNormKernel},
                       Case{"mhc_post", rt::mhcPostKernel}}) {
          const std::string what = std::string(c.kernel) + " dim " +
                                   std::to_string(dim) +
                                   (official ? " official" : " reference") +
                                   (entry == 3   ? " (split per row)"
                                    : entry != 0 ? " (cluster per token)"
                                                 : "");
          SCOPED_TRACE(what);
          KernelHarness h;
          h.entryMaxTokens = entry;
          setUpMhc(h, c.kernel, dim, hc, 3, official);
          auto [d, hst] = runBoth(G, h, c.fn, 3, 0);
          for (size_t o = 0; o < d.size(); ++o) {
            const std::string out = what + " output " + std::to_string(o);
            expectBitwise(d[o], hst[o], out.c_str());
            expectNotAllZero(hst[o], out.c_str());
          }
        }
}

} // namespace
} // namespace birkhoff::cuda
