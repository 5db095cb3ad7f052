//===- CompileTest.cpp - Generated kernels compile for sm_90a, no spills --===//
#include "CudaCompiler.h"
#include "Launches.h"

#include "cuda/NvrtcApi.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

namespace birkhoff::cuda::test {
namespace {

class CudaCompile : public ::testing::TestWithParam<NamedLaunch> {
protected:
  void SetUp() override {
    auto api = NvrtcApi::get();
    if (!api)
      GTEST_SKIP() << "NVRTC not available: " << api.status().toString();
  }
};

TEST_P(CudaCompile, CompilesWithoutSpills) {
  const NamedLaunch &l = GetParam();
  auto launch = generateKernelSource(scheduled(l.spec));
  ASSERT_TRUE(launch.isOk()) << launch.status().toString();
  // Every kernel of the launch (KernelSource::then), the first one checked
  // for the GEMVs' vector loads.
  for (const KernelSource *next : launch->sequence()) {
    if (next == &*launch)
      continue;
    auto k = compileCudaSource(next->source, next->entry);
    ASSERT_TRUE(k.isOk()) << k.status().toString();
    EXPECT_EQ(k->spillStoreBytes, 0) << next->entry << "\n" << k->log;
    EXPECT_EQ(k->spillLoadBytes, 0) << next->entry << "\n" << k->log;
  }
  const KernelSource *ks = &*launch;
  auto k = compileCudaSource(ks->source, ks->entry);
  ASSERT_TRUE(k.isOk()) << k.status().toString();
  EXPECT_GT(k->cubin.size(), 0u);
  EXPECT_NE(k->ptx.find(".entry " + ks->entry), std::string::npos);
  EXPECT_GT(k->registers, 0);
  EXPECT_LE(k->registers, 255);
  EXPECT_EQ(k->spillStoreBytes, 0) << l.name << "\n" << k->log;
  EXPECT_EQ(k->spillLoadBytes, 0) << l.name << "\n" << k->log;
  // Resource table for the report (docs/cuda.md).
  std::printf("[resources] %-30s regs=%3d spills=%d/%d stack=%d smem=%d\n",
              l.name.c_str(), k->registers, k->spillStoreBytes,
              k->spillLoadBytes, k->stackBytes, k->sharedBytes);
  // Vector-friendly GEMV shapes read weights and activations in 16 bytes.
  const bool gemv = l.spec.kernel() == KernelId::Linear ||
                    (l.name.find("flash") != std::string::npos &&
                     (l.spec.kernel() == KernelId::LinearRmsNorm ||
                      l.spec.kernel() == KernelId::GroupedLinear ||
                      l.spec.kernel() == KernelId::RouterScores ||
                      l.spec.kernel() == KernelId::Router ||
                      l.spec.kernel() == KernelId::Moe ||
                      l.spec.kernel() == KernelId::Compressor));
  if (gemv && l.name.find("odd") == std::string::npos) {
    EXPECT_TRUE(std::regex_search(
        k->ptx, std::regex(R"(ld\.global\.nc\.v4\.(u32|b32|f32))")))
        << "weights not read as 16-byte vectors";
    // From global memory, or from a shared-memory stage filled in 16 bytes.
    EXPECT_TRUE(std::regex_search(
        k->ptx, std::regex(R"(ld\.(global(\.nc)?|shared)\.v4\.f32)")))
        << "activations not read as float4";
  }
}

INSTANTIATE_TEST_SUITE_P(Launches, CudaCompile,
                         ::testing::ValuesIn(representativeLaunches()),
                         [](const auto &info) { return info.param.name; });

TEST(CudaCompileErrors, SyntaxErrorsCarryTheLog) {
  if (!NvrtcApi::get())
    GTEST_SKIP() << "NVRTC not available";
  auto k = compileCudaSource(
      "extern \"C\" __global__ void bk_bad() { int x = ; }", "bk_bad");
  ASSERT_FALSE(k.isOk());
  EXPECT_NE(k.status().message().find("bk_bad"), std::string::npos);
  EXPECT_NE(k.status().message().find("error"), std::string::npos);
}

} // namespace
} // namespace birkhoff::cuda::test
