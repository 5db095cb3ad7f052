//===- GpuOfficialTest.cpp - Official-profile kernels against the host ----===//
//
// Launches with numerics = 1 (docs/kernels.md, "official"): the row-local
// kernels follow the host's roundings in order and are compared bitwise
// (rms_norm P1, head_rms_norm P2, rope with its after-rope quantization,
// head_rms_norm_rope, window_write's KV entries, mhc_post's bf16 streams);
// mhc_pre/head and grouped_linear within one bf16 ulp.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <cstring>
#include <string>

namespace birkhoff::cuda {
namespace {

using namespace gputest;

/// Random values already rounded to bf16 (official activations are bf16).
std::vector<float> randomBf16(size_t n, float scale = 1.0f) {
  std::vector<float> v = randomFloats(n, scale);
  for (float &x : v)
    x = roundBf16(x);
  return v;
}

void officialYarn(KernelHarness &h, int64_t rd) {
  for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
           {"numerics", 1},
           {"rope_dim", double(rd)},
           {"theta", 160000},
           {"yarn", 1},
           {"rope_factor", 16},
           {"original_seq_len", 65536},
           {"beta_fast", 32},
           {"beta_slow", 1}})
    h.param(k, v);
}

TEST(GpuOfficial, RmsNormIsBitwise) {
  REQUIRE_GPU();
  for (int64_t n : {4096, 1024, 24}) {
    KernelHarness h;
    h.launch.kernel = "rms_norm";
    int64_t S = 5;
    int in = h.addBuffer(S * n), out = h.addBuffer(S * n);
    h.buffers[size_t(in)] = randomBf16(size_t(S * n), 3.0f);
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    h.launch.weights = {h.addWeightRaw("norm", DType::BF16, {n},
                                       bf16Bytes(randomFloats(size_t(n))))};
    h.param("n", double(n));
    h.param("eps", 1e-6);
    h.param("numerics", 1);
    auto [d, hst] = runBoth(G, h, rt::rmsNormKernel, S, 0);
    if (!d.empty())
      expectBitwise(d[0], hst[0], "official rms_norm");
  }
}

TEST(GpuOfficial, HeadRmsNormIsBitwise) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "head_rms_norm";
  int64_t S = 3, H = 16, D = 512;
  int in = h.addBuffer(S * H * D), out = h.addBuffer(S * H * D);
  h.buffers[size_t(in)] = randomBf16(size_t(S * H * D), 2.0f);
  h.launch.inputs = {in};
  h.launch.outputs = {out};
  h.param("heads", double(H));
  h.param("head_dim", double(D));
  h.param("eps", 1e-6);
  h.param("numerics", 1);
  auto [d, hst] = runBoth(G, h, rt::headRmsNormKernel, S, 0);
  if (!d.empty())
    expectBitwise(d[0], hst[0], "official head_rms_norm");
}

struct RopeCase {
  int64_t heads, hd, rd, after;
  bool inverse, normFirst;
  const char *what;
};

TEST(GpuOfficial, RopeIsBitwise) {
  REQUIRE_GPU();
  for (const RopeCase &c :
       {RopeCase{8, 512, 64, 0, false, false, "q"},
        RopeCase{8, 512, 64, 0, true, false, "inverse (o)"},
        RopeCase{1, 512, 64, 1, false, false, "kv: FP8 leading dims"},
        RopeCase{64, 128, 64, 2, false, false, "indexer q: Hadamard + FP4"},
        RopeCase{8, 512, 64, 0, false, true, "head_rms_norm_rope"}}) {
    SCOPED_TRACE(c.what);
    KernelHarness h;
    h.launch.kernel = c.normFirst ? "head_rms_norm_rope" : "rope";
    int64_t S = 6, start = 70000;
    int in = h.addBuffer(S * c.heads * c.hd),
        out = h.addBuffer(S * c.heads * c.hd);
    h.buffers[size_t(in)] = randomBf16(size_t(S * c.heads * c.hd));
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    h.param("heads", double(c.heads));
    h.param("head_dim", double(c.hd));
    if (c.normFirst) {
      h.param("eps", 1e-6);
    } else {
      h.param("inverse", c.inverse ? 1 : 0);
      h.param("after_rope", double(c.after));
    }
    officialYarn(h, c.rd);
    auto [d, hst] =
        runBoth(G, h, c.normFirst ? rt::headRmsNormRopeKernel : rt::ropeKernel,
                S, start);
    if (!d.empty())
      expectBitwise(d[0], hst[0], "official rope");
  }
}

TEST(GpuOfficial, WindowWriteKvEntriesAreBitwise) {
  REQUIRE_GPU();
  auto layout = official::KvEntryLayout::make(512, 64);
  ASSERT_TRUE(layout.isOk());
  int64_t entry = int64_t(layout->entryBytes()), window = 8, D = 512;
  for (auto [S, start] : {std::pair<int64_t, int64_t>{3, 5}, {11, 0}}) {
    KernelHarness h;
    h.launch.kernel = "window_write";
    int kv = h.addBuffer(S * D);
    h.buffers[size_t(kv)] = randomBf16(size_t(S * D), 2.0f);
    h.launch.inputs = {kv};
    int ring = h.addStateBytes(window, entry);
    std::vector<uint8_t> junk = randomBytes(size_t(window * entry), 0, 255);
    std::memcpy(h.stateData[size_t(ring)].data(), junk.data(), junk.size());
    h.launch.states = {ring};
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"window", double(window)},
             {"head_dim", double(D)},
             {"numerics", 1},
             {"kv_format", 1},
             {"rope_dim", 64}})
      h.param(k, v);
    auto [d, hst] = runBothFull(G, h, rt::windowWriteKernel, S, start);
    if (!d.states.empty())
      expectBitwise(d.states[0], hst.states[0], "official window ring");
  }
}

TEST(GpuOfficial, MhcMatchesHost) {
  REQUIRE_GPU();
  struct Case {
    const char *kernel;
    rt::HostKernelFn fn;
  };
  for (Case c : {Case{"mhc_pre", rt::mhcPreKernel},
                 Case{"mhc_pre_norm", rt::mhcPreNormKernel},
                 Case{"mhc_head_norm", rt::mhcHeadNormKernel},
                 Case{"mhc_post", rt::mhcPostKernel}}) {
    SCOPED_TRACE(c.kernel);
    std::string k = c.kernel;
    bool post = k == "mhc_post", head = k.rfind("mhc_head", 0) == 0,
         norm = k.find("_norm") != std::string::npos;
    int64_t dim = 4096, hc = 4, S = 3, rows = head ? hc : (2 + hc) * hc;
    KernelHarness h;
    h.launch.kernel = k;
    h.param("dim", double(dim));
    h.param("hc", double(hc));
    h.param("numerics", 1);
    if (post) {
      int y = h.addBuffer(S * dim), x = h.addBuffer(S * hc * dim),
          pst = h.addBuffer(S * hc), comb = h.addBuffer(S * hc * hc),
          out = h.addBuffer(S * hc * dim);
      h.buffers[size_t(y)] = randomBf16(size_t(S * dim));
      h.buffers[size_t(x)] = randomBf16(size_t(S * hc * dim));
      h.buffers[size_t(pst)] = randomFloats(size_t(S * hc));
      h.buffers[size_t(comb)] = randomFloats(size_t(S * hc * hc), 0.3f);
      h.launch.inputs = {y, x, pst, comb};
      h.launch.outputs = {out};
      auto [d, hst] = runBoth(G, h, c.fn, S, 0);
      if (!d.empty())
        expectBitwise(d[0], hst[0], "official mhc_post");
      continue;
    }
    int x = h.addBuffer(S * hc * dim);
    h.buffers[size_t(x)] = randomBf16(size_t(S * hc * dim));
    h.launch.inputs = {x};
    h.launch.outputs = {h.addBuffer(S * dim)};
    if (!head)
      h.launch.outputs.push_back(h.addBuffer(S * hc)),
          h.launch.outputs.push_back(h.addBuffer(S * hc * hc));
    h.launch.weights = {
        h.addWeightF32("fn", {rows, hc * dim},
                       randomFloats(size_t(rows * hc * dim), 0.02f)),
        h.addWeightF32("base", {rows}, randomFloats(size_t(rows), 0.5f)),
        h.addWeightF32("scale", {head ? 1 : 3},
                       randomFloats(size_t(head ? 1 : 3), 1.0f))};
    if (norm)
      h.launch.weights.push_back(h.addWeightRaw(
          "norm", DType::BF16, {dim}, bf16Bytes(randomFloats(size_t(dim)))));
    h.param("hc_eps", 1e-6);
    h.param("norm_eps", 1e-6);
    if (!head)
      h.param("iters", 20);
    if (norm)
      h.param("eps", 1e-6);
    auto [d, hst] = runBoth(G, h, c.fn, S, 0);
    // The collapsed input u is rounded to bf16 before the norm: where the
    // mixing sums (within fp32 rounding of the host's) put u next to a bf16
    // rounding boundary, u moves by one bf16 ulp (up to 2^-7 relative) and
    // the normed, rounded output by up to 3 of its ulps.
    for (size_t o = 0; o < d.size(); ++o)
      expectWithinBf16Ulp(
          d[o], hst[o],
          ("official " + k + " output " + std::to_string(o)).c_str(),
          o == 0 && norm ? 3 : 1);
  }
}

TEST(GpuOfficial, GroupedLinearWithinOneBf16Ulp) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "grouped_linear";
  int64_t G8 = 8, in = 512, out = 128, S = 3;
  int o = h.addBuffer(S * G8 * in), z = h.addBuffer(S * G8 * out);
  h.buffers[size_t(o)] = randomBf16(size_t(S * G8 * in));
  h.launch.inputs = {o};
  h.launch.outputs = {z};
  h.launch.weights = {addFp8Weight(h, "wo_a", G8 * out, in)};
  h.param("groups", double(G8));
  h.param("in_per_group", double(in));
  h.param("out_per_group", double(out));
  h.param("numerics", 1);
  auto [d, hst] = runBoth(G, h, rt::groupedLinearKernel, S, 0);
  if (!d.empty())
    expectWithinBf16Ulp(d[0], hst[0], "official grouped_linear");
}

} // namespace
} // namespace birkhoff::cuda
