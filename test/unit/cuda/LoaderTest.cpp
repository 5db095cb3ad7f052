//===- LoaderTest.cpp - NVRTC and driver loading, ptxas log parsing -------===//
#include "CudaCompiler.h"
#include "cuda/CudaDriverApi.h"
#include "cuda/NvrtcApi.h"

#include <gtest/gtest.h>

namespace birkhoff::cuda {
namespace {

TEST(NvrtcApi, MissingLibraryIsANamedError) {
  auto api = NvrtcApi::load({"/nonexistent/libnvrtc.so.13"});
  ASSERT_FALSE(api.isOk());
  EXPECT_EQ(api.status().code(), StatusCode::NotFound);
  EXPECT_NE(api.status().message().find("NVRTC"), std::string::npos);
  EXPECT_NE(api.status().message().find("/nonexistent/libnvrtc.so.13"),
            std::string::npos);
}

TEST(NvrtcApi, MissingSymbolIsANamedError) {
  // libc is always there and has none of NVRTC's symbols.
  auto api = NvrtcApi::load({"libc.so.6"});
  ASSERT_FALSE(api.isOk());
  EXPECT_EQ(api.status().code(), StatusCode::NotFound);
  EXPECT_NE(api.status().message().find("nvrtcVersion"), std::string::npos)
      << api.status().toString();
}

TEST(NvrtcApi, LoadsWhereInstalled) {
  auto api = NvrtcApi::get();
  if (!api)
    GTEST_SKIP() << api.status().toString();
  EXPECT_GE((*api)->major, 12);
  EXPECT_FALSE((*api)->libraryPath.empty());
  // Repeated calls give the same instance.
  auto again = NvrtcApi::get();
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*api, *again);
}

TEST(CudaDriverApi, MissingDriverIsACleanStatus) {
  auto api = CudaDriverApi::load({"/nonexistent/libcuda.so.1"});
  ASSERT_FALSE(api.isOk());
  EXPECT_EQ(api.status().code(), StatusCode::NotFound);
  EXPECT_NE(api.status().message().find("no CUDA driver"), std::string::npos);
}

TEST(CudaDriverApi, GetNeverCrashes) {
  // No driver on CI/compile machines: a status; on a GPU machine: the API.
  auto api = CudaDriverApi::get();
  if (api)
    EXPECT_NE((*api)->launchKernel, nullptr);
  else
    EXPECT_FALSE(api.status().message().empty());
}

TEST(PtxasLog, ParsesTheEntryOnly) {
  const std::string log =
      "ptxas info    : 272 bytes gmem\n"
      "ptxas info    : Compiling entry function 'bk_x' for 'sm_90a'\n"
      "ptxas info    : Function properties for bk_x\n"
      "ptxas         .     40 bytes stack frame, 8 bytes spill stores, 12 "
      "bytes spill loads\n"
      "ptxas info    : Used 26 registers, used 1 barriers, 40 bytes cumulative "
      "stack size, 400 bytes smem\n"
      "ptxas info    : Function properties for "
      "__internal_trig_reduction_slowpathd\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes "
      "spill loads\n";
  CompiledKernel k;
  ASSERT_TRUE(parsePtxasResources(log, "bk_x", k).isOk());
  EXPECT_EQ(k.registers, 26);
  EXPECT_EQ(k.stackBytes, 40);
  EXPECT_EQ(k.spillStoreBytes, 8);
  EXPECT_EQ(k.spillLoadBytes, 12);
  EXPECT_EQ(k.sharedBytes, 400);
  CompiledKernel other;
  Status s = parsePtxasResources(log, "bk_y", other);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("bk_y"), std::string::npos);
}

} // namespace
} // namespace birkhoff::cuda
