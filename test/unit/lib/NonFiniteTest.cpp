//===- NonFiniteTest.cpp - firstNonFinite over each stored dtype ----------===//
#include "birkhoff/NonFinite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace birkhoff {
namespace {

using Bytes = std::vector<uint8_t>;

std::vector<uint8_t> f32Bytes(const std::vector<float> &v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST(NonFinite, F32) {
  EXPECT_EQ(firstNonFinite(DType::F32, f32Bytes({0.f, -1.f, 3e38f, 1e-45f})),
            std::nullopt);
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(firstNonFinite(DType::F32, f32Bytes({0.f, 1.f, -inf})), 2);
  EXPECT_EQ(firstNonFinite(DType::F32, f32Bytes({std::nanf(""), 1.f})), 0);
}

TEST(NonFinite, BF16) {
  // Little-endian: 1.0 = 0x3f80, +inf = 0x7f80, NaN = 0x7fc0, -inf = 0xff80.
  EXPECT_EQ(firstNonFinite(DType::BF16, Bytes{0x80, 0x3f, 0x7f, 0x7f}),
            std::nullopt); // 1.0, the largest finite 0x7f7f
  EXPECT_EQ(firstNonFinite(DType::BF16, Bytes{0x80, 0x3f, 0x80, 0xff}), 1);
  EXPECT_EQ(firstNonFinite(DType::BF16, Bytes{0xc0, 0x7f}), 0);
}

TEST(NonFinite, Fp8AndScales) {
  // e4m3fn: 0x7e (448) and 0xfe (-448) are finite, 0x7f and 0xff are NaN.
  EXPECT_EQ(firstNonFinite(DType::F8E4M3, Bytes{0x00, 0x7e, 0xfe, 0x80}),
            std::nullopt);
  EXPECT_EQ(firstNonFinite(DType::F8E4M3, Bytes{0x00, 0x7e, 0xff}), 2);
  EXPECT_EQ(firstNonFinite(DType::F8E4M3, Bytes{0x7f}), 0);
  // e8m0: 0xff is NaN, 0xfe (2^127) is finite.
  EXPECT_EQ(firstNonFinite(DType::F8E8M0, Bytes{0x7f, 0xfe}), std::nullopt);
  EXPECT_EQ(firstNonFinite(DType::F8E8M0, Bytes{0x7f, 0xff}), 1);
}

TEST(NonFinite, FormatsWithoutNonFiniteCodes) {
  std::vector<uint8_t> ones(16, 0xff);
  EXPECT_EQ(firstNonFinite(DType::FP4E2M1x2, ones), std::nullopt);
  EXPECT_EQ(firstNonFinite(DType::I64, ones), std::nullopt);
  EXPECT_EQ(firstNonFinite(DType::I32, ones), std::nullopt);
  EXPECT_EQ(firstNonFinite(DType::I8, ones), std::nullopt);
}

} // namespace
} // namespace birkhoff
