//===- GpuKernelTest.cpp - Generated CUDA kernels against the host kernels
//-===//
//
// Each test fills a host KernelHarness (test/unit/runtime), runs the launch's
// generated kernel on the GPU on the same bytes, then the host kernel, and
// compares: bitwise for the element/row-local kernels (rms_norm, head_rms_norm,
// rope, embed, mhc_post), within one bf16 ulp of the host value otherwise.
// Skips without a CUDA driver or an sm_90 device (the cubins are sm_90a).
//
//===----------------------------------------------------------------------===//
#include "CudaCompiler.h"
#include "KernelSource.h"
#include "KernelTestUtil.h"
#include "host/Rope.h"

#include "birkhoff/Numerics.h"
#include "cuda/CudaDriverApi.h"
#include "cuda/LaunchAbi.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

namespace birkhoff::cuda {
namespace {

// This process both compiles (NVRTC) and launches (the driver). The driver
// reads CUDA_CACHE_DISABLE when it loads, before NVRTC sets it, and NVRTC
// then shares the driver's cache, where a repeated program gets no ptxas
// resource report. So the switch is set before main().
const bool kComputeCacheOff = ::setenv("CUDA_CACHE_DISABLE", "1", 1) == 0;

using birkhoff::test::KernelHarness;

struct Gpu {
  const CudaDriverApi *api = nullptr;
  CuDevice dev = 0;
  CuContext ctx = nullptr;
};

/// The device, or why there is none (the tests skip with it).
Expected<Gpu> gpu() {
  static Expected<Gpu> g = []() -> Expected<Gpu> {
    BK_ASSIGN_OR_RETURN(const CudaDriverApi *api, CudaDriverApi::get());
    Gpu g;
    g.api = api;
    int count = 0;
    BK_RETURN_IF_ERROR(
        api->check("cuDeviceGetCount", api->deviceGetCount(&count)));
    if (count == 0)
      return notFound("no CUDA device");
    BK_RETURN_IF_ERROR(api->check("cuDeviceGet", api->deviceGet(&g.dev, 0)));
    int major = 0, minor = 0;
    BK_RETURN_IF_ERROR(
        api->check("cuDeviceGetAttribute",
                   api->deviceGetAttribute(
                       &major, kCuDeviceAttrComputeCapabilityMajor, g.dev)));
    BK_RETURN_IF_ERROR(
        api->check("cuDeviceGetAttribute",
                   api->deviceGetAttribute(
                       &minor, kCuDeviceAttrComputeCapabilityMinor, g.dev)));
    if (major != 9 || minor != 0)
      return unsupported("device is sm_" + std::to_string(major * 10 + minor) +
                         "; the generated cubins are sm_90a");
    BK_RETURN_IF_ERROR(api->check("cuDevicePrimaryCtxRetain",
                                  api->primaryCtxRetain(&g.ctx, g.dev)));
    return g;
  }();
  return g;
}

#define REQUIRE_GPU()                                                          \
  auto gpuOrSkip = gpu();                                                      \
  if (!gpuOrSkip)                                                              \
    GTEST_SKIP() << gpuOrSkip.status().toString();                             \
  const Gpu &G = *gpuOrSkip;                                                   \
  ASSERT_TRUE(                                                                 \
      G.api->check("cuCtxSetCurrent", G.api->ctxSetCurrent(G.ctx)).isOk())

/// Device allocations of one test, freed at the end.
struct DeviceMemory {
  const CudaDriverApi *api;
  std::vector<CuDevicePtr> ptrs;
  ~DeviceMemory() {
    for (CuDevicePtr p : ptrs)
      api->memFree(p);
  }
  Expected<CuDevicePtr> upload(const void *data, size_t bytes) {
    CuDevicePtr p = 0;
    BK_RETURN_IF_ERROR(api->check(
        "cuMemAlloc", api->memAlloc(&p, std::max<size_t>(bytes, 16))));
    ptrs.push_back(p);
    if (bytes)
      BK_RETURN_IF_ERROR(
          api->check("cuMemcpyHtoD", api->memcpyHtoD(p, data, bytes)));
    return p;
  }
};

/// The launch spec of the harness's launch (params, weight formats/shapes).
CudaLaunchSpec specOf(const KernelHarness &h) {
  CudaLaunchSpec s;
  s.kernel = h.launch.kernel;
  s.params = h.launch.params.entries();
  for (int w : h.launch.weights) {
    const rt::WeightDesc &d = h.program.weights[size_t(w)];
    s.weight(d.dtype, d.shape);
  }
  return s;
}

/// Runs the harness's launch on the GPU (its buffers as they are now) and
/// returns the launch's output buffers.
Expected<std::vector<std::vector<float>>>
runOnGpu(const Gpu &g, const KernelHarness &h, int64_t tokens, int64_t start) {
  const CudaDriverApi &api = *g.api;
  BK_ASSIGN_OR_RETURN(KernelSource ks, generateKernelSource(specOf(h)));
  BK_ASSIGN_OR_RETURN(CompiledKernel k, compileCudaSource(ks.source, ks.entry));
  CuModule module = nullptr;
  BK_RETURN_IF_ERROR(api.check("cuModuleLoadData",
                               api.moduleLoadData(&module, k.cubin.data())));
  struct Unload {
    const CudaDriverApi &api;
    CuModule m;
    ~Unload() { api.moduleUnload(m); }
  } unload{api, module};
  CuFunction fn = nullptr;
  BK_RETURN_IF_ERROR(
      api.check("cuModuleGetFunction",
                api.moduleGetFunction(&fn, module, ks.entry.c_str())));
  DeviceMemory mem{&api, {}};
  BkLaunch L;
  L.tokens = tokens;
  L.start = start;
  std::vector<uint64_t> wptrs, sptrs;
  for (int w : h.launch.weights) {
    const rt::WeightDesc &d = h.program.weights[size_t(w)];
    const auto &bytes = h.weightBytes[size_t(w)];
    BK_ASSIGN_OR_RETURN(CuDevicePtr p, mem.upload(bytes.data(), bytes.size()));
    wptrs.push_back(p);
    uint64_t sp = 0;
    if (d.scale >= 0) {
      const auto &sb = h.weightBytes[size_t(d.scale)];
      BK_ASSIGN_OR_RETURN(CuDevicePtr q, mem.upload(sb.data(), sb.size()));
      sp = q;
    }
    sptrs.push_back(sp);
  }
  wptrs.push_back(0), sptrs.push_back(0); // never an empty array
  BK_ASSIGN_OR_RETURN(CuDevicePtr wa,
                      mem.upload(wptrs.data(), wptrs.size() * 8));
  BK_ASSIGN_OR_RETURN(CuDevicePtr sa,
                      mem.upload(sptrs.data(), sptrs.size() * 8));
  L.weights = reinterpret_cast<const void *const *>(wa);
  L.scales = reinterpret_cast<const void *const *>(sa);
  BK_ASSIGN_OR_RETURN(CuDevicePtr tok,
                      mem.upload(h.tokenIds.data(), h.tokenIds.size() * 4));
  L.tokenIds = reinterpret_cast<const int32_t *>(tok);
  for (size_t i = 0; i < h.launch.inputs.size(); ++i) {
    int b = h.launch.inputs[i];
    if (b < 0) {
      L.in[i] = L.tokenIds;
      continue;
    }
    const auto &buf = h.buffers[size_t(b)];
    BK_ASSIGN_OR_RETURN(CuDevicePtr p, mem.upload(buf.data(), buf.size() * 4));
    L.in[i] = reinterpret_cast<const void *>(p);
  }
  std::vector<CuDevicePtr> outs;
  for (size_t i = 0; i < h.launch.outputs.size(); ++i) {
    const auto &buf = h.buffers[size_t(h.launch.outputs[i])];
    BK_ASSIGN_OR_RETURN(CuDevicePtr p, mem.upload(buf.data(), buf.size() * 4));
    L.out[i] = reinterpret_cast<void *>(p);
    outs.push_back(p);
  }
  void *params[] = {&L};
  const GridRule &gr = ks.grid;
  BK_RETURN_IF_ERROR(api.check("cuLaunchKernel",
                               api.launchKernel(fn, unsigned(gr.gridX(tokens)),
                                                unsigned(gr.gridY(tokens)), 1,
                                                unsigned(gr.block), 1, 1, 0,
                                                nullptr, params, nullptr)));
  BK_RETURN_IF_ERROR(api.check("cuCtxSynchronize", api.ctxSynchronize()));
  std::vector<std::vector<float>> result;
  for (size_t i = 0; i < outs.size(); ++i) {
    std::vector<float> v(h.buffers[size_t(h.launch.outputs[i])].size());
    BK_RETURN_IF_ERROR(api.check(
        "cuMemcpyDtoH", api.memcpyDtoH(v.data(), outs[i], v.size() * 4)));
    result.push_back(std::move(v));
  }
  return result;
}

std::mt19937 &rng() {
  static std::mt19937 r(1234);
  return r;
}
std::vector<float> randomFloats(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng());
  return v;
}
std::vector<uint8_t> bf16Bytes(const std::vector<float> &v) {
  std::vector<uint8_t> b(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t h = floatToBf16(v[i]);
    std::memcpy(&b[2 * i], &h, 2);
  }
  return b;
}
std::vector<uint8_t> randomBytes(size_t n, int lo, int hi,
                                 bool avoidFp8Nan = false) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<uint8_t> v(n);
  for (uint8_t &x : v) {
    do
      x = uint8_t(d(rng()));
    while (avoidFp8Nan && (x & 0x7f) == 0x7f);
  }
  return v;
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

void expectBitwise(const std::vector<float> &gpuOut,
                   const std::vector<float> &host, const char *what) {
  ASSERT_EQ(gpuOut.size(), host.size());
  size_t bad = 0;
  for (size_t i = 0; i < host.size(); ++i)
    if (bits(gpuOut[i]) != bits(host[i]) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: gpu " << gpuOut[i] << " host "
                    << host[i];
  EXPECT_EQ(bad, 0u) << what;
}

/// |gpu - host| <= one bf16 ulp of max(|host|, 1e-3 · rms(host)): the floor
/// keeps heavily cancelled (near-zero) sums from demanding more than fp32
/// reassociation can give.
void expectWithinBf16Ulp(const std::vector<float> &gpuOut,
                         const std::vector<float> &host, const char *what) {
  ASSERT_EQ(gpuOut.size(), host.size());
  double ss = 0;
  for (float v : host)
    ss += double(v) * v;
  double floorMag = 1e-3 * std::sqrt(ss / std::max<size_t>(1, host.size()));
  size_t bad = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    double mag = std::max(std::fabs(double(host[i])), floorMag);
    double ulp = std::ldexp(1.0, std::ilogb(mag) - 7);
    if (!(std::fabs(double(gpuOut[i]) - host[i]) <= ulp) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: gpu " << gpuOut[i] << " host "
                    << host[i] << " (bf16 ulp " << ulp << ")";
  }
  EXPECT_EQ(bad, 0u) << what;
}

/// Runs GPU then host; returns {gpu outputs, host outputs}.
std::pair<std::vector<std::vector<float>>, std::vector<std::vector<float>>>
runBoth(const Gpu &g, KernelHarness &h, rt::HostKernelFn fn, int64_t tokens,
        int64_t start) {
  auto dev = runOnGpu(g, h, tokens, start);
  EXPECT_TRUE(dev.isOk()) << dev.status().toString();
  if (!dev)
    return {};
  Status s = h.run(fn, tokens, start);
  EXPECT_TRUE(s.isOk()) << s.toString();
  std::vector<std::vector<float>> host;
  for (int o : h.launch.outputs)
    host.push_back(h.buffers[size_t(o)]);
  return {dev.take(), host};
}

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

TEST(GpuKernels, MhcPostIsBitwise) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "mhc_post";
  int64_t dim = 4096, hc = 4, S = 3;
  int y = h.addBuffer(S * dim), x = h.addBuffer(S * hc * dim),
      post = h.addBuffer(S * hc), comb = h.addBuffer(S * hc * hc),
      out = h.addBuffer(S * hc * dim);
  h.buffers[size_t(y)] = randomFloats(size_t(S * dim));
  h.buffers[size_t(x)] = randomFloats(size_t(S * hc * dim));
  h.buffers[size_t(post)] = randomFloats(size_t(S * hc));
  h.buffers[size_t(comb)] = randomFloats(size_t(S * hc * hc), 0.3f);
  h.launch.inputs = {y, x, post, comb};
  h.launch.outputs = {out};
  h.param("dim", double(dim));
  h.param("hc", double(hc));
  auto [d, hst] = runBoth(G, h, rt::mhcPostKernel, S, 0);
  if (!d.empty())
    expectBitwise(d[0], hst[0], "mhc_post");
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

TEST(GpuKernels, MhcWithinOneBf16Ulp) {
  REQUIRE_GPU();
  struct Case {
    const char *kernel;
    rt::HostKernelFn fn;
  };
  for (Case c : {Case{"mhc_pre", rt::mhcPreKernel},
                 Case{"mhc_pre_norm", rt::mhcPreNormKernel},
                 Case{"mhc_head", rt::mhcHeadKernel},
                 Case{"mhc_head_norm", rt::mhcHeadNormKernel}}) {
    SCOPED_TRACE(c.kernel);
    std::string k = c.kernel;
    bool head = k.rfind("mhc_head", 0) == 0,
         norm = k.find("_norm") != std::string::npos;
    int64_t dim = 4096, hc = 4, S = 3, rows = head ? hc : (2 + hc) * hc;
    KernelHarness h;
    h.launch.kernel = k;
    int x = h.addBuffer(S * hc * dim);
    h.buffers[size_t(x)] = randomFloats(size_t(S * hc * dim));
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
    h.param("dim", double(dim));
    h.param("hc", double(hc));
    h.param("hc_eps", 1e-6);
    h.param("norm_eps", 1e-6);
    if (!head)
      h.param("iters", 20);
    if (norm)
      h.param("eps", 1e-6);
    auto [d, hst] = runBoth(G, h, c.fn, S, 0);
    for (size_t o = 0; o < d.size(); ++o)
      expectWithinBf16Ulp(d[o], hst[o],
                          (k + " output " + std::to_string(o)).c_str());
  }
}

} // namespace
} // namespace birkhoff::cuda
