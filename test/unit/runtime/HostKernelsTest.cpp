//===- HostKernelsTest.cpp - The host dispatch table and typed params -----===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

namespace birkhoff::test {
namespace {

TEST(HostKernels, EveryCatalogueKernelHasOne) {
  for (const KernelSignature &sig : kernelCatalog())
    EXPECT_NE(rt::hostKernel(sig.id), nullptr) << sig.name;
}

// The dispatcher hands a kernel only the params struct of its own id.
TEST(HostKernels, ParamsOfAnotherKernelAreAnInternalError) {
  rt::LaunchDesc launch;
  launch.id = KernelId::Linear;
  launch.params = RmsNormParams{};
  rt::KernelArgs a;
  a.launch = &launch;
  Status s = rt::hostKernel(KernelId::Linear)(a);
  EXPECT_EQ(s.code(), StatusCode::Internal);
  EXPECT_NE(s.message().find("'linear'"), std::string::npos) << s.message();
}

// The harness decodes its params for the kernel it runs: a key that kernel
// does not take fails the run before any kernel code.
TEST(KernelHarness, DecodesParamsForTheKernelItRuns) {
  KernelHarness h;
  h.param("in_features", 4);
  h.param("out_features", 3);
  h.param("eps", 1e-6);
  Status s = h.run(rt::linearKernel, 1, 0);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_EQ(s.message(), "kernel 'linear': parameter 'eps' is not a parameter "
                         "of this kernel");
  h.param("in_features", 4.5);
  s = h.run(rt::linearRmsNormKernel, 1, 0);
  EXPECT_EQ(s.message(), "kernel 'linear_rms_norm': parameter 'in_features' = "
                         "4.5 is not an integer");
}

} // namespace
} // namespace birkhoff::test
